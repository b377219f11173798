"""``python -m leadflow_route``: run the route service."""

from __future__ import annotations

import gc

from leadflow_platform.logging import configure_logging
from leadflow_platform.service import serve

from leadflow_route.app import create_app
from leadflow_route.settings import RouteSettings


def tune_gc() -> None:
    """Routing allocates many short-lived pydantic objects; with the default thresholds the cyclic GC
    rescans the long-lived start-up objects (holiday tables, config, SQLAlchemy metadata) again and
    again. Freeze those and collect the young generation less often: measured ~2x leads/s."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def main() -> None:
    settings = RouteSettings()
    configure_logging(settings.service_name, level=settings.log_level, json=settings.log_json)
    app = create_app(settings)
    tune_gc()
    serve(app, settings)


if __name__ == "__main__":
    main()
