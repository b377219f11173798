"""``python -m leadflow_route``: run the route service (GC tuning: ``leadflow_platform.service.tune_gc``)."""

from __future__ import annotations

from leadflow_platform.logging import configure_logging
from leadflow_platform.service import serve

from leadflow_route.app import create_app
from leadflow_route.settings import RouteSettings


def main() -> None:
    settings = RouteSettings()
    configure_logging(settings.service_name, level=settings.log_level, json=settings.log_json)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
