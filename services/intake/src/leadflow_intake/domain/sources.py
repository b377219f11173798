"""The sources file: which systems may post leads, their API-key hashes, their signing secrets'
environment variable names and their default phone region. Versioned, validated by pydantic
(errors name the bad field, e.g. ``sources.demo-webform.default_region``)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from leadflow_intake.domain.contact import ContactError
from leadflow_intake.domain.geo import normalise_country

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class SourceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    api_key_sha256: str | None = Field(
        default=None, description="SHA-256 hex of the source's API key; without it the source cannot use HTTP."
    )
    signing_secret_env: str | None = Field(
        default=None, description="Name of the environment variable that holds the HMAC signing secret."
    )
    require_signature: bool = Field(default=True, description="HTTP posts must carry a valid signature.")
    default_region: str | None = Field(
        default=None, description="ISO 3166 alpha-2 used to read national phone numbers."
    )

    @field_validator("api_key_sha256")
    @classmethod
    def _hex(cls, value: str | None) -> str | None:
        if value is not None and not _HEX64.match(value):
            raise ValueError("must be 64 hex characters (sha256 of the API key)")
        return value.lower() if value else value

    @field_validator("signing_secret_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError("must be an environment variable name (A-Z, 0-9, _)")
        return value

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return normalise_country(value)
        except ContactError as exc:
            raise ValueError(f"{value!r} is not an ISO 3166 country") from exc


class SourcesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    sources: dict[str, SourceConfig] = Field(default_factory=dict)
