"""telesales-sim settings: env prefix ``TSIM_``; Salesforce ones nested (``TSIM_SALESFORCE__USERNAME``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leadflow_platform.settings import ServiceSettings
from leadflow_salesforce import SalesforceSettings
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict


class TelesalesSimSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TSIM_", env_file=".env", extra="ignore", env_nested_delimiter="__")

    service_name: str = "telesales-sim"
    http_port: int = 8009
    database_url: str = "sqlite+aiosqlite:///./var/telesales-sim.db"

    salesforce: SalesforceSettings = Field(
        default_factory=SalesforceSettings,
        description="Reads go through this user; each rep logs in with its own username (same password and "
        "token in the emulator, or rep_passwords).",
    )
    rep_roles: list[str] = Field(
        default_factory=lambda: ["Seller", "Team Leader", "Key Account Manager"],
        description="Active users with these User.Role_Name__c are simulated.",
    )
    rep_usernames: list[str] = Field(default_factory=list, description="Simulate exactly these users instead.")
    rep_passwords: dict[str, SecretStr] = Field(default_factory=dict, description="username → password (real org)")
    time_scale: float = Field(default=60.0, gt=0, description="Simulated seconds per real second (60: a minute/s).")
    poll_interval_seconds: float = Field(default=2.0, gt=0)
    seed: int = Field(default=20250602, description="RNG seed: the same seed gives the same decisions.")
    behaviour_file: Path | None = Field(default=None, description="YAML like the packaged behaviour.yaml")
    behaviour: dict[str, Any] = Field(default_factory=dict, description="Overrides of single behaviour fields.")
    error_backoff_seconds: float = Field(default=5.0, ge=0)
    follow_up_subjects: list[str] = Field(
        default_factory=lambda: ["Follow up"],
        description="Open Tasks whose Subject starts with one of these (crm-sync's 'Follow up: new inquiry' on the "
        "Lead or Contact a repeat inquiry went into) are worked like new leads. Empty: only Leads are worked.",
    )
