from __future__ import annotations

from leadflow_platform.settings import ServiceSettings
from leadflow_salesforce.client import SalesforceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class DemoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_", env_file=".env", extra="ignore", env_nested_delimiter="__")

    service_name: str = "demo-generator"
    http_port: int = 8010
    rate: float = Field(default=4.0, gt=0, description="Leads per second.")
    total: int = Field(default=0, ge=0, description="Stop after this many (0 = run until stopped).")
    seed: int = 7
    bad_ratio: float = Field(default=0.04, ge=0, le=1)
    replay_ratio: float = Field(default=0.03, ge=0, le=1)
    progress_interval: float = Field(default=3.0, gt=0)
    fetch_max_wait_ms: int = Field(
        default=10, ge=0, description="Its watcher reports pipeline latency: a short fetch wait adds little of its own."
    )
    salesforce: SalesforceSettings | None = Field(
        default=None, description="Where to read real account/contact names from; None = built-in names only."
    )
