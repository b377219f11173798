"""``python -m leadflow_score``: run the score service."""

from __future__ import annotations

from leadflow_platform.logging import configure_logging
from leadflow_platform.service import serve

from leadflow_score.app import create_app
from leadflow_score.settings import ScoreSettings


def main() -> None:
    settings = ScoreSettings()
    configure_logging(settings.service_name, level=settings.log_level, json=settings.log_json)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
