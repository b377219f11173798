from __future__ import annotations

from leadflow_platform.logging import configure_logging
from leadflow_platform.service import serve

from leadflow_demo.app import create_app
from leadflow_demo.settings import DemoSettings


def main() -> None:
    settings = DemoSettings()
    configure_logging(settings.service_name, level=settings.log_level, json=settings.log_json)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
