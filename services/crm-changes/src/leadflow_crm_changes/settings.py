"""crm-changes settings: env prefix ``CRMCHANGES_``; Salesforce ones nested (``CRMCHANGES_SALESFORCE__USERNAME``)."""

from __future__ import annotations

from leadflow_platform.settings import ServiceSettings
from leadflow_salesforce import SalesforceSettings
from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from leadflow_crm_changes.domain.feed import DEFAULT_OBJECTS, SNAPSHOT_OBJECTS, FeedObject


class CrmChangesSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="CRMCHANGES_", env_file=".env", extra="ignore", env_nested_delimiter="__"
    )

    service_name: str = "crm-changes"
    http_port: int = 8006
    database_url: str = "sqlite+aiosqlite:///./var/crm-changes.db"

    salesforce: SalesforceSettings = Field(default_factory=SalesforceSettings)
    objects: list[FeedObject] = Field(
        default_factory=lambda: [o.model_copy() for o in DEFAULT_OBJECTS],
        description="What to poll, in order (Lead before Task so a Task's WhoId resolves to a lead seen this poll).",
    )
    poll_interval_seconds: float = Field(default=3.0, gt=0, description="Pause between two polls of every object.")
    overlap_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How late a Salesforce transaction may commit after its SystemModstamp; the cursor only moves "
        "past a change once a poll that started this long after it has read it.",
    )
    start_from: str = Field(
        default="latest",
        description="First start only: 'latest' (changes after the newest existing record), 'beginning' (every "
        "record, as a flood of created events) or an ISO-8601 datetime.",
    )
    snapshot_objects: list[str] = Field(
        default_factory=lambda: list(SNAPSHOT_OBJECTS),
        description="Objects published in full on a fresh start (every existing record, then changes), whatever "
        "start_from says, and never filtered as echoes: the roster (User, Group queues).",
    )
    integration_user_ids: list[str] = Field(
        default_factory=list,
        description="Users whose writes are leadflow's own (echoes, not emitted). The logged-in API user is added.",
    )
    lease_name: str = "crm-changes"
    lease_ttl_seconds: float = Field(
        default=15.0, gt=0, description="A standby takes over this long after the active instance stopped renewing."
    )
    page_size: int = Field(default=2000, ge=200, le=2000, description="Sforce-Query-Options batchSize.")
    error_backoff_seconds: float = Field(default=5.0, ge=0)

    @field_validator("start_from")
    @classmethod
    def _start(cls, v: str) -> str:
        from datetime import datetime

        if v in ("latest", "beginning"):
            return v
        try:
            parsed = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("start_from must be 'latest', 'beginning' or an ISO-8601 datetime") from None
        if parsed.tzinfo is None:
            raise ValueError("start_from datetime needs a time zone (e.g. Z)")
        return v
