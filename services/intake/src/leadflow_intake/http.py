"""The HTTP entry point: ``POST /v1/leads`` for web forms and "call me back" webhooks.

Authentication (before anything is read or published):
- ``X-Leadflow-Source``: the source system, as named in the sources file;
- ``X-Leadflow-Key: <key>`` or ``Authorization: Bearer <key>``: that source's API key;
- ``X-Leadflow-Timestamp`` (unix seconds) and ``X-Leadflow-Signature: sha256=<hex>`` (HMAC-SHA256
  of ``f"{timestamp}.{raw_body}"`` with the source's secret) unless the source opts out.
Failures answer 401 and publish nothing. Then the body runs through the same ``IntakeService`` as
Kafka messages: 202 ``{"lead_id", "event_id", "status"}``, or 400/413/422 with the reason code (the
rejection is published to ``leads.rejected`` as well).

A missing top-level ``source`` defaults to the authenticated source and a missing
``occurred_at`` to the time of receipt, so a web form need not send them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from leadflow_platform.clock import Clock
from leadflow_platform.logging import get_logger
from structlog.contextvars import bound_contextvars

from leadflow_intake.adapters.config_files import SourceRegistry
from leadflow_intake.domain.rejections import HTTP_STATUS
from leadflow_intake.domain.signatures import AuthFailure, api_key_hash, check_api_key, check_signature
from leadflow_intake.service import IntakeService, Submission
from leadflow_intake.settings import IntakeSettings

log = get_logger("leadflow_intake.http")
_DUMMY_HASH = api_key_hash("not-a-real-key")


class _BodyTooLarge(Exception):
    pass


def _unauthorized(failure: AuthFailure) -> JSONResponse:
    return JSONResponse(
        {"status": "unauthorized", "reason": failure.code, "message": failure.message},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="leadflow-intake"'},
    )


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        {"status": "rejected", "reason": "too_large", "message": f"the body is larger than {limit} bytes"},
        status_code=413,
    )


async def _read_body(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _presented_key(request: Request) -> str | None:
    key = request.headers.get("x-leadflow-key")
    if key:
        return key.strip()
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def build_router(service: IntakeService, sources: SourceRegistry, settings: IntakeSettings, clock: Clock) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/v1/leads",
        status_code=202,
        summary="Submit one lead (LeadSubmitted JSON)",
        responses={400: {}, 401: {}, 413: {}, 422: {}, 503: {}},
    )
    async def post_lead(request: Request) -> JSONResponse:
        name = request.headers.get("x-leadflow-source", "").strip()
        source = sources.get(name) if name else None
        expected = source.config.api_key_sha256 if source and source.config.api_key_sha256 else _DUMMY_HASH
        failure = check_api_key(_presented_key(request), expected)
        if failure is None and (source is None or source.config.api_key_sha256 is None):
            # An unknown source answers exactly like a wrong key: no probing for source names.
            failure = AuthFailure("invalid_api_key", "the API key is not valid for this source")
        if failure is not None:
            log.warning("http_auth_failed", source=name or None, code=failure.code)
            return _unauthorized(failure)
        assert source is not None
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > settings.http_read_limit_bytes:
            return _too_large(settings.http_read_limit_bytes)
        try:
            raw = await _read_body(request, settings.http_read_limit_bytes)
        except _BodyTooLarge:
            return _too_large(settings.http_read_limit_bytes)
        if source.config.require_signature:
            if source.secret is None:
                failure = AuthFailure("no_secret_configured", "this source has no signing secret configured")
            else:
                failure = check_signature(
                    secret=source.secret.get_secret_value().encode(),
                    body=raw,
                    timestamp_header=request.headers.get("x-leadflow-timestamp"),
                    signature_header=request.headers.get("x-leadflow-signature"),
                    now=clock.now().timestamp(),
                    tolerance=settings.signature_tolerance_seconds,
                )
            if failure is not None:
                log.warning("http_auth_failed", source=name, code=failure.code)
                return _unauthorized(failure)

        defaults: dict[str, Any] = {"source": {"system": name}, "occurred_at": clock.now().isoformat()}
        submission = Submission(raw=raw, channel="http", authenticated_source=name, defaults=defaults)
        try:
            [outcome] = await service.process([submission])
        except Exception as exc:
            log.error("http_intake_unavailable", source=name, error=type(exc).__name__, exc_info=True)
            return JSONResponse(
                {"status": "unavailable", "message": "intake cannot store or publish right now; retry later"},
                status_code=503,
                headers={"Retry-After": "5"},
            )
        with bound_contextvars(lead_id=outcome.lead_id, event_id=outcome.event_id):
            if outcome.rejection is not None:
                log.info("http_lead_rejected", source=name, reason=outcome.rejection.reason.value)
                return JSONResponse(
                    {
                        "status": "rejected",
                        "reason": outcome.rejection.reason.value,
                        "field": outcome.rejection.field,
                        "message": outcome.rejection.message,
                        "errors": list(outcome.rejection.errors),
                        "lead_id": outcome.lead_id,
                        "event_id": outcome.event_id,
                        "rejection_id": outcome.published_event_id,
                    },
                    status_code=HTTP_STATUS[outcome.rejection.reason],
                )
            log.info("http_lead_received", source=name, status=outcome.status)
            body: dict[str, Any] = {
                "lead_id": outcome.lead_id,
                "event_id": outcome.event_id,
                "status": outcome.status,
            }
            if outcome.dropped:
                body["dropped_fields"] = list(outcome.dropped)
            if outcome.contact:
                body["contact"] = outcome.contact
            if outcome.notes:
                body["notes"] = list(outcome.notes)
            return JSONResponse(body, status_code=202)

    return router
