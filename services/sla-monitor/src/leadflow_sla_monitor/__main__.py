"""``python -m leadflow_sla_monitor``: run the sla-monitor service (Kafka consumers + scheduler + HTTP)."""

from __future__ import annotations

from leadflow_platform.logging import configure_logging
from leadflow_platform.service import serve

from leadflow_sla_monitor.app import create_app
from leadflow_sla_monitor.settings import SlaSettings


def main() -> None:
    settings = SlaSettings()
    configure_logging(settings.service_name, level=settings.log_level, json=settings.log_json)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
