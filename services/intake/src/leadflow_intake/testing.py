"""Helpers for intake's tests (and anyone writing leads by hand): sample leads, a source registry
with known credentials, signed request headers."""

from __future__ import annotations

import json
from typing import Any

from pydantic import SecretStr

from leadflow_intake.adapters.config_files import SourceRegistry
from leadflow_intake.domain.signatures import api_key_hash
from leadflow_intake.domain.sources import SourceConfig, SourcesFile
from leadflow_intake.sign import sign_headers

TEST_SOURCE = "web-forms"
TEST_KEY = "test-api-key"
TEST_SECRET = "test-signing-secret"  # noqa: S105 (test fixture)
UNSIGNED_SOURCE = "list-upload"
UNSIGNED_KEY = "list-upload-key"
SECRETLESS_SOURCE = "misconfigured"
SECRETLESS_KEY = "misconfigured-key"


def sample_lead(n: int = 1, **overrides: Any) -> dict[str, Any]:
    lead: dict[str, Any] = {
        "event_id": f"evt-{n}",
        "occurred_at": "2026-11-26T09:30:00Z",
        "source": {"system": TEST_SOURCE, "campaign": {"utm_source": "newsletter"}},
        "lead_source": "web_form",
        "person": {
            "first_name": "anna",
            "last_name": "SCHMIDT",
            "email": f"anna.{n}@acme-industries.de",
            "phone": "030 1234567",
        },
        "company": {"name": "Acme Industries", "country": "DE", "website": "https://www.acme-industries.de"},
        "consent": {"may_call": True, "may_email": True},
    }
    lead.update(overrides)
    return lead


def lead_bytes(n: int = 1, **overrides: Any) -> bytes:
    return json.dumps(sample_lead(n, **overrides)).encode()


def demo_registry() -> SourceRegistry:
    spec = SourcesFile(
        sources={
            TEST_SOURCE: SourceConfig(
                api_key_sha256=api_key_hash(TEST_KEY),
                signing_secret_env="TEST_SECRET",  # noqa: S106
                default_region="DE",
            ),
            UNSIGNED_SOURCE: SourceConfig(
                api_key_sha256=api_key_hash(UNSIGNED_KEY), require_signature=False, default_region="GB"
            ),
            SECRETLESS_SOURCE: SourceConfig(
                api_key_sha256=api_key_hash(SECRETLESS_KEY),
                signing_secret_env="UNSET_SECRET",  # noqa: S106 - the name of an unset variable, not a secret
            ),
        }
    )
    return SourceRegistry.build(spec, {"TEST_SECRET": SecretStr(TEST_SECRET)})


def signed(
    body: bytes, timestamp: int, *, source: str = TEST_SOURCE, key: str = TEST_KEY, secret: str = TEST_SECRET
) -> dict[str, str]:
    return sign_headers(source=source, api_key=key, secret=secret.encode(), body=body, timestamp=timestamp)
