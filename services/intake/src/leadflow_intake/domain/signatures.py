"""Webhook authentication: an API key per source system and an HMAC-SHA256 signature.

The signature covers ``f"{timestamp}.".encode() + raw_body`` with the source's secret and is sent
as ``X-Leadflow-Signature: sha256=<hex>`` next to ``X-Leadflow-Timestamp: <unix seconds>``.
Timestamps more than ``tolerance`` seconds in the past or future are refused (replay window).
Every comparison is constant-time. Nothing here reads a clock: ``now`` is passed in.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

SIGNATURE_PREFIX = "sha256="
DEFAULT_TOLERANCE_SECONDS = 300


def api_key_hash(api_key: str) -> str:
    """What the sources file stores instead of the key itself."""
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The ``X-Leadflow-Signature`` header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret, str(timestamp).encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


@dataclass(frozen=True, slots=True)
class AuthFailure:
    """Why a request was refused (never echoes the presented credentials)."""

    code: str
    message: str


def check_api_key(presented: str | None, expected_sha256: str) -> AuthFailure | None:
    if not presented:
        return AuthFailure("missing_api_key", "X-Leadflow-Key (or Authorization: Bearer) is required")
    if not hmac.compare_digest(api_key_hash(presented), expected_sha256.lower()):
        return AuthFailure("invalid_api_key", "the API key is not valid for this source")
    return None


def check_signature(
    *,
    secret: bytes,
    body: bytes,
    timestamp_header: str | None,
    signature_header: str | None,
    now: float,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> AuthFailure | None:
    """``None`` when the signature is valid and fresh, else the failure."""
    if not timestamp_header or not signature_header:
        return AuthFailure(
            "missing_signature", "X-Leadflow-Timestamp and X-Leadflow-Signature are required for this source"
        )
    try:
        timestamp = int(timestamp_header.strip())
    except ValueError:
        return AuthFailure("invalid_timestamp", "X-Leadflow-Timestamp must be unix seconds")
    if abs(now - timestamp) > tolerance:
        return AuthFailure(
            "stale_timestamp", f"X-Leadflow-Timestamp is more than {tolerance} seconds away from the server time"
        )
    presented = signature_header.strip()
    if not presented.startswith(SIGNATURE_PREFIX):
        return AuthFailure("invalid_signature", "X-Leadflow-Signature must look like sha256=<hex>")
    expected = sign(secret, timestamp, body)
    if not hmac.compare_digest(presented.lower().encode("ascii", "replace"), expected.encode("ascii")):
        return AuthFailure("invalid_signature", "the signature does not match the body and timestamp")
    return None
