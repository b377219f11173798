"""Enrich settings (env prefix ``ENRICH_``). ``os.environ`` is read here and nowhere else."""

from __future__ import annotations

from pathlib import Path

from leadflow_platform.settings import ServiceSettings
from leadflow_salesforce import SalesforceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class EnrichSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ENRICH_", env_file=".env", extra="ignore", env_nested_delimiter="__")

    service_name: str = "enrich"
    http_port: int = 8002
    database_url: str = "sqlite+aiosqlite:///./var/enrich.db"

    policy_file: Path | None = Field(default=None, description="Enrichment policy YAML; None = the bundled v1.")
    dormant_after_months: int | None = Field(
        default=None, ge=0, description="Overrides the policy's client_type.dormant_after_months (0 = off)."
    )
    reference_file: Path | None = Field(default=None, description="Firmographics CSV; None = the bundled file.")

    salesforce: SalesforceSettings | None = Field(
        default=None,
        description="ENRICH_SALESFORCE__USERNAME=… etc. None = no Salesforce: the mirror is what the "
        "database holds plus crm.changes.",
    )
    mirror_load_on_start: bool = Field(default=True, description="Full load (first start) or catch-up from the cursor.")
    mirror_poll_seconds: float = Field(
        default=0.0, ge=0, description="Incremental SystemModstamp query interval; 0 = rely on crm.changes only."
    )
    mirror_poll_overlap_seconds: float = Field(default=120.0, ge=0, description="Re-read this much before the cursor.")
    bulk_wait_seconds: float = Field(default=1.0, ge=0, description="simple-salesforce bulk2 first poll delay.")
    consume_crm_changes: bool = True
    identity_in_flight: bool = Field(
        default=True,
        description="Claim each new lead's e-mail/phone in the shared identity_claims table, so a "
        "second submission of the same person before the first reaches Salesforce updates the first lead.",
    )

    batch_max_records: int = 1000

    def mirror_group_id(self) -> str:
        """Each replica keeps its own in-memory index, so each reads every change: one group per instance."""
        return "leadflow-enrich-mirror" + (f"-{self.instance_id}" if self.instance_id else "")
