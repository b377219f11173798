"""``python -m leadflow_intake``: run the intake service (Kafka consumer + HTTP API)."""

from __future__ import annotations

from leadflow_platform.logging import configure_logging
from leadflow_platform.service import serve

from leadflow_intake.app import create_app
from leadflow_intake.settings import IntakeSettings


def main() -> None:
    settings = IntakeSettings()
    configure_logging(settings.service_name, level=settings.log_level, json=settings.log_json)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
