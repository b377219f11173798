"""Ops console settings (env prefix ``OPS_``)."""

from __future__ import annotations

from pathlib import Path

from leadflow_platform.settings import ServiceSettings
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict


class OpsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OPS_", env_file=".env", extra="ignore")

    service_name: str = "ops"
    http_port: int = 8080
    database_url: str = "sqlite+aiosqlite:///./var/ops.db"
    sqlite_inline: bool = Field(
        default=False,
        description=(
            "Off for the console: its page queries scan up to 100k leads (make bench-ops), and on the loop's"
            " thread they would hold up every other request and the event consumer; aiosqlite's pool of"
            " connections reads side by side instead."
        ),
    )

    users_file: Path | None = Field(
        default=None, description="YAML with users and roles (see services/ops/config/users.demo.yaml)."
    )
    session_secret: SecretStr | None = Field(
        default=None, description="Signs session cookies. Unset: a random one per process (sessions end on restart)."
    )
    session_max_age_seconds: int = Field(default=8 * 3600, ge=60)
    cookie_secure: bool = Field(default=False, description="Set true behind HTTPS.")

    salesforce_instance_url: str = Field(
        default="https://127.0.0.1:8443", description="Breach links go to <instance>/lightning/r/Lead/<id>/view."
    )

    lag_interval_seconds: float = Field(default=5.0, gt=0)
    lag_group_prefix: str = Field(default="leadflow-", description="Consumer groups whose lag is shown.")

    rep_open_cap: int = Field(default=25, ge=1, description="Open leads a rep may hold (route's cap).")
    rep_caps: dict[str, int] = Field(default_factory=dict, description="Per-rep caps by Salesforce user id.")
    team_load_days: int = Field(default=7, ge=1, le=90)

    staffing_aht_seconds: float = Field(default=360.0, gt=0, description="Average handling time of a lead.")
    staffing_target_seconds: float = Field(default=300.0, ge=0)
    staffing_target_level: float = Field(default=0.8, gt=0, lt=1)
    staffing_roster: int | None = Field(default=None, ge=0, description="Override the available-rep count.")

    crm_sync_metrics_url: str | None = Field(
        default="http://127.0.0.1:8005/metrics",
        description="crm-sync's Prometheus endpoint: the Salesforce API budget it last read. Empty: not shown.",
    )
    reconcile_result_file: Path | None = Field(
        default=Path("var/reconcile/last.json"),
        description="Where `leadflow reconcile` writes its last result (JSON); shown on Pipeline health.",
    )
    staffing_window_hours: int = Field(default=24, ge=1, le=48, description="Arrival-rate window.")

    sse_interval_seconds: float = Field(default=1.0, gt=0)
    sse_max_seconds: float = Field(default=300.0, gt=0, description="Streams end after this; browsers reconnect.")
