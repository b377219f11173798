"""Route's settings (env prefix ``ROUTE_``; nested Salesforce settings as ``ROUTE_SALESFORCE__USERNAME`` …)."""

from __future__ import annotations

from pathlib import Path

from leadflow_platform.settings import ServiceSettings
from leadflow_salesforce import SalesforceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class RouteSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTE_", env_file=".env", extra="ignore", env_nested_delimiter="__")

    service_name: str = "route"
    http_port: int = 8004
    database_url: str = "sqlite+aiosqlite:///./var/route.db"

    routing_config: Path = Field(default=Path("services/route/config/routing.yaml"))
    sla_policies: Path = Field(default=Path("deploy/policies/sla-policies.yaml"))
    calendars: Path = Field(default=Path("deploy/policies/calendars.yaml"))

    topics_file: Path | None = Field(default=None, description="deploy/topics.yaml; None = found above the code.")

    salesforce: SalesforceSettings | None = Field(
        default=None, description="Where to load Users and Queues from; None = only the cached roster / fixture."
    )
    roster_fixture: Path | None = Field(
        default=None, description="Load the roster from a demo_org.json-shaped file instead of Salesforce."
    )
    roster_refresh_seconds: float = Field(default=300.0, gt=0)
    decision_retention_days: float = Field(
        default=8.0, gt=0, description="Keep produced LeadRouted this long for replays (> the topics' 7-day retention)."
    )
    retry_backoff_max_seconds: float = 5.0
