"""``python -m leadflow_ops``: the ops console (consumers + web app) on OPS_HTTP_PORT."""

from __future__ import annotations

from leadflow_platform.logging import configure_logging
from leadflow_platform.service import serve

from leadflow_ops.app import create_app
from leadflow_ops.settings import OpsSettings


def main() -> None:
    settings = OpsSettings()
    configure_logging(settings.service_name, level=settings.log_level, json=settings.log_json)
    app = create_app(settings)
    print(f"ops console: http://{settings.http_host}:{settings.http_port}/  (login with a user from OPS_USERS_FILE)")
    serve(app, settings)


if __name__ == "__main__":
    main()
