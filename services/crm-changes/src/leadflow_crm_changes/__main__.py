"""``python -m leadflow_crm_changes``: run the change feed service."""

from __future__ import annotations

from leadflow_platform.logging import configure_logging
from leadflow_platform.service import serve

from leadflow_crm_changes.app import create_app
from leadflow_crm_changes.settings import CrmChangesSettings


def main() -> None:
    settings = CrmChangesSettings()
    configure_logging(settings.service_name, level=settings.log_level, json=settings.log_json)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
