"""Emulator settings: environment variables with the `SFEMU_` prefix, or passed in by tests."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class EmulatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SFEMU_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8443
    data: str = Field(default=":memory:", description="SQLite file, or :memory:")
    api_version: str = "59.0"
    tls: bool = True
    cert_dir: Path = Path(".run/sfemu-certs")
    cert_hosts: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "localhost", "::1"],
        description="Names/IPs in the server certificate (add the compose service name, e.g. 'salesforce').",
    )
    seed: str | None = Field(default=None, description="fixture file to load into an empty org ('demo' = built-in)")
    schema_path: Path | None = None

    org_id: str = "00D8d000000LFlwEAG"
    timezone: str = "UTC"
    session_ttl_seconds: int = 7200
    daily_api_limit: int = 1_000_000
    max_body_bytes: int = 20 * 1024 * 1024

    username: str = "integration@leadflow.example"
    password: SecretStr = SecretStr("leadflow-pass")
    security_token: SecretStr = SecretStr("LEADFLOWTOKEN")
    consumer_key: str = "leadflow-connected-app"
    consumer_secret: SecretStr = SecretStr("leadflow-connected-secret")
    jwt_public_key_path: Path | None = None

    duplicate_rule: bool = False
    email_internationalization: bool = False
    """Setup → Email Internationalization: when off (the default, as in a new org) Email fields take ASCII only."""
    log_level: str = "info"
