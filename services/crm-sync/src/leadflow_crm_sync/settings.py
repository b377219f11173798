"""crm-sync settings: environment variables with the ``CRMSYNC_`` prefix (nested: ``CRMSYNC_SALESFORCE__USERNAME``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from leadflow_platform.settings import ServiceSettings
from leadflow_salesforce import SalesforceSettings
from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict


class CrmSyncSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CRMSYNC_", env_file=".env", extra="ignore", env_nested_delimiter="__")

    service_name: str = "crm-sync"
    http_port: int = 8005
    database_url: str = "sqlite+aiosqlite:///./var/crm-sync.db"
    consumer_group: str = "leadflow-crm-sync"

    salesforce: SalesforceSettings = Field(default_factory=SalesforceSettings)
    policy_file: Path | None = Field(default=None, description="crm-sync policy YAML; None = the bundled one")
    custom_answers_file: Path | None = Field(
        default=None,
        description="The org's declared custom form answers (deploy/custom-answers.yaml): answers are written "
        "to their Lead custom fields. None = custom answers are not written.",
    )

    consumers: int = Field(
        default=1,
        ge=1,
        le=12,
        description="Kafka consumers in this process (partitions in parallel; writes still share Collections calls)",
    )
    batch_max_records: int = Field(default=1000, ge=1, description="Kafka records per handler call")
    parallel_parts: int = Field(
        default=2,
        ge=1,
        le=12,
        description="A batch of at least parallel_min_records is handled in this many groups of whole"
        " partitions side by side, so one group's Salesforce calls overlap another's planning (1: never).",
    )
    parallel_min_records: int = Field(default=400, ge=1)
    # The consumer runtime's group options (leadflow_platform.consumer.group_options), crm-sync's values:
    partition_assignment_strategy: Literal["range", "roundrobin", "sticky"] | None = Field(
        default="range",
        description="range: a member gets the same partition numbers of leads.routed, sla.events and "
        "crm.changes, so one lead's routed, SLA and change events (keyed by lead_id) reach one consumer, in order",
    )
    max_poll_interval_ms: int | None = Field(default=300_000, ge=10_000)
    session_timeout_ms: int | None = Field(
        default=45_000,
        ge=6_000,
        description="Kafka group session: a large batch "
        "(backlog mode) keeps the event loop busy for seconds; heartbeats must survive it",
    )
    flush_size: int = Field(default=200, ge=1, le=200, description="records per sObject Collections call")
    linger_ms: float = Field(
        default=0.0,
        ge=0,
        description=(
            "How long a Collections call waits for more writes. 0: it goes out at the end of the event-loop turn,"
            " so every write a batch (or several consumers in the same turn) submits together still shares one call."
            " A wait only helps when other consumers of this process (CRMSYNC_CONSUMERS > 1) submit a moment"
            " later, and it is paid by every call: at 20 leads/s, where each batch holds one lead and makes a"
            " Lead then a Task call, 5 ms gave publish -> CrmSynced p50 75 ms vs 55 ms at 0 (2026-12-06)."
        ),
    )
    salesforce_concurrency: int = Field(default=2, ge=1, le=16)

    retry_base_seconds: float = Field(default=0.5, gt=0)
    retry_cap_seconds: float = Field(default=30.0, gt=0)
    rate_limit_base_seconds: float = Field(default=5.0, gt=0)
    rate_limit_cap_seconds: float = Field(default=300.0, gt=0)
    hold_seconds: float = Field(default=60.0, gt=0, description="hold a batch this long before rewinding Kafka")
    max_record_retries: int = Field(default=8, ge=0)

    bulk_threshold: int = Field(
        default=2000,
        ge=0,
        description="Backlog (writes in the batch + records still "
        "in Kafka) from which Lead/Task upserts go through Bulk API 2.0 ingest; 0 = never",
    )
    bulk_min_records: int = Field(
        default=1000,
        ge=1,
        description="In backlog mode, upserts of one object in a "
        "batch from this many on make one Bulk job (fewer go through Collections)",
    )

    deferred_interval_seconds: float = Field(default=30.0, gt=0)
    budget_probe_seconds: float = Field(
        default=300.0,
        gt=0,
        description="while writes wait for the API budget "
        "and nothing else calls Salesforce, ask /limits this often (1 API call)",
    )
    directory_ttl_seconds: float = Field(default=900.0, gt=0)

    shadow_mode: bool = Field(
        default=False,
        description="Decide, record and publish (CrmSynced.shadow), show on "
        "GET /shadow, and write nothing to Salesforce (reads still go to the org). Unless set, "
        "the database and consumer group get a -shadow suffix, so switching it off writes "
        "every lead from the start",
    )

    @model_validator(mode="after")
    def _shadow_defaults(self) -> CrmSyncSettings:
        if self.shadow_mode:
            if "database_url" not in self.model_fields_set:
                self.database_url = self.database_url.replace("crm-sync.db", "crm-sync-shadow.db")
            if "consumer_group" not in self.model_fields_set:
                self.consumer_group = f"{self.consumer_group}-shadow"
        return self
