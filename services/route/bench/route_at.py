"""Run the route service with its clock fixed at ``--at`` (benchmarks: the same shifts on every run).

Settings come from ROUTE_* environment variables, as for ``python -m leadflow_route``.
"""

from __future__ import annotations

import argparse
from datetime import datetime

from leadflow_platform.clock import FakeClock
from leadflow_platform.logging import configure_logging
from leadflow_platform.service import serve
from leadflow_route.app import create_app
from leadflow_route.settings import RouteSettings


class FrozenClock(FakeClock):
    """``now`` never moves; ``sleep`` really sleeps (background loops must not spin)."""

    async def sleep(self, seconds: float) -> None:
        import asyncio

        await asyncio.sleep(seconds)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--at", required=True)
    args = parser.parse_args()
    settings = RouteSettings()
    configure_logging(settings.service_name, level=settings.log_level, json=True)
    app = create_app(settings, clock=FrozenClock(datetime.fromisoformat(args.at)))
    serve(app, settings)


if __name__ == "__main__":
    main()
