"""``python -m leadflow_crm_sync``: run the service."""

from __future__ import annotations

from leadflow_platform.logging import configure_logging
from leadflow_platform.service import serve

from leadflow_crm_sync.app import create_app
from leadflow_crm_sync.settings import CrmSyncSettings


def main() -> None:
    settings = CrmSyncSettings()
    configure_logging(settings.service_name, level=settings.log_level, json=settings.log_json)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
