"""Score settings (env prefix ``SCORE_``). ``os.environ`` is read here and nowhere else."""

from __future__ import annotations

from pathlib import Path

from leadflow_platform.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class ScoreSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SCORE_", env_file=".env", extra="ignore")

    service_name: str = "score"
    http_port: int = 8003
    database_url: str = Field(
        default="sqlite+aiosqlite:///./var/score.db",
        description="Not used yet: scoring is a pure transform (rule set + optional model). Kept for the layout.",
    )
    ruleset_file: Path | None = Field(default=None, description="None = the bundled rules/ruleset-v1.yaml.")
    model_dir: Path | None = Field(
        default=None,
        description="Model artifacts directory with active.json (leadflow scoring train); None = rules only.",
    )
    model_check_seconds: float = Field(default=2.0, gt=0, description="How often active.json is checked (hot reload).")
    model_weight: float = Field(default=0.3, ge=0, le=1, description="Blend weight of the model, when one is set.")
    batch_max_records: int = 1000
