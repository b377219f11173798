"""sla-monitor settings (env prefix ``SLA_``)."""

from __future__ import annotations

from pathlib import Path

from leadflow_platform.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class SlaSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SLA_", env_file=".env", extra="ignore")

    service_name: str = "sla-monitor"
    http_port: int = 8007
    database_url: str = "sqlite+aiosqlite:///./var/sla-monitor.db"

    calendars_file: Path = Path("deploy/policies/calendars.yaml")
    policies_file: Path = Path("deploy/policies/sla-policies.yaml")

    scheduler_enabled: bool = True
    scheduler_batch_size: int = Field(default=500, ge=1, description="Timers claimed per round.")
    scheduler_poll_seconds: float = Field(default=0.1, gt=0, description="Pause between rounds when idle.")
    scheduler_lease_seconds: float = Field(default=30.0, gt=0, description="A claimed timer is retried after this.")

    untouched_statuses: tuple[str, ...] = ("Open - Not Contacted",)
    qualified_statuses: tuple[str, ...] = (
        "Qualified",
        "Unqualified",
        "Closed - Converted",
        "Closed - Not Converted",
    )
    touch_task_types: tuple[str, ...] = ("Call", "Email")
    follow_up_subjects: tuple[str, ...] = Field(
        default=("Follow up",),
        description="A completed Task whose Subject starts with one of these (crm-sync's follow-up Task for a "
        "merged lead or Contact inquiry) is a touch.",
    )


def find_file(path: Path) -> Path:
    """``path`` as given if it exists (or is absolute); else the same relative path above this package
    (so ``deploy/policies/…`` is found when running from a sub-directory of the repository)."""
    if path.is_absolute() or path.exists():
        return path
    for parent in Path(__file__).resolve().parents:
        candidate = parent / path
        if candidate.exists():
            return candidate
    return path
