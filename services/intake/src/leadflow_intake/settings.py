"""Intake settings (env prefix ``INTAKE_``). ``os.environ`` is read here and nowhere else."""

from __future__ import annotations

from pathlib import Path

from leadflow_platform.settings import ServiceSettings
from pydantic import Field, SecretStr, create_model
from pydantic_settings import BaseSettings, SettingsConfigDict


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", env_file=".env", extra="ignore")

    service_name: str = "intake"
    http_port: int = 8001
    database_url: str = "sqlite+aiosqlite:///./var/intake.db"

    sources_file: Path | None = Field(
        default=None,
        description="YAML of source systems (API-key hashes, signing-secret env names, default regions). "
        "Without it HTTP intake refuses every request (401); Kafka intake still works.",
    )
    custom_answers_file: Path | None = Field(
        default=None,
        description="YAML of the org's declared custom form answers (deploy/custom-answers.yaml). Without it "
        "every custom answer is dropped from the lead and named in the trace.",
    )
    suppression_file: Path | None = Field(
        default=None, description="File of SHA-256 hashes of suppressed e-mails / E.164 phones, one a line."
    )
    default_region: str | None = Field(
        default=None, description="ISO 3166 alpha-2 for national phone numbers of sources without their own."
    )
    strict_contact: bool = Field(
        default=False, description="Reject a lead with any invalid e-mail/phone instead of dropping that field."
    )
    email_address_internationalization: bool = Field(
        default=False,
        description="The Salesforce org has Email Address Internationalization (EAI) switched on, so e-mails with a "
        "non-ASCII part before @ can be stored. Off (Salesforce's default): such addresses are not stored in "
        "Email; the lead keeps them in email_original.",
    )
    max_json_depth: int = Field(default=32, ge=4, description="Deeper JSON nesting is rejected (too_deep).")
    max_json_items: int = Field(
        default=1000, ge=10, description="An array/object with more entries is rejected (too_many_items)."
    )
    max_payload_bytes: int = Field(default=64 * 1024, ge=1024)
    max_original_bytes: int = Field(
        default=512 * 1024,
        ge=1024,
        description="A rejection carries at most this many original bytes (the rest is named by SHA-256 and "
        "topic/partition/offset), so it always fits in a broker message.",
    )
    http_read_limit_bytes: int = Field(
        default=1024 * 1024, description="Bodies beyond this are refused (413) without being read or published."
    )
    signature_tolerance_seconds: int = Field(default=300, ge=1)
    batch_max_records: int = 1000
    create_topics: bool = Field(default=True, description="Create missing topics from deploy/topics.yaml at start.")


class _SecretsBase(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")


def read_secrets(env_names: list[str]) -> dict[str, SecretStr | None]:
    """Read the named environment variables (the sources' signing secrets) as ``SecretStr``,
    through pydantic-settings so a ``.env`` file works the same way as for every other setting."""
    if not env_names:
        return {}
    fields: dict[str, object] = {name.lower(): (SecretStr | None, None) for name in env_names}
    model = create_model("SourceSecrets", __base__=_SecretsBase, **fields)  # type: ignore[call-overload]
    values = model()
    return {name: getattr(values, name.lower()) for name in env_names}
