"""structlog set-up: JSON off a TTY, console on one; bound context; PII and secrets redacted centrally."""

from __future__ import annotations

import hashlib
import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

from leadflow_platform.pii import PERSONAL_KEYS, Found, is_identifier_key, is_personal_value, replace_pii

PII_KEYS = PERSONAL_KEYS
"""Kept for importers; the definition lives in ``leadflow_platform.pii`` (shared with the ops console)."""
SECRET_MARKERS = ("password", "secret", "token", "api_key", "apikey", "authorization", "session_id", "signature")


def fingerprint(value: str) -> str:
    """A short, stable, non-reversible tag so the same value can be correlated across log lines."""
    return hashlib.sha256(value.encode()).hexdigest()[:8]


def _tag(found: Found) -> str:
    value = found.text.lower() if found.kind == "email" else found.text
    return f"<{found.kind}:{fingerprint(value)}>"


def mask_text(text: str) -> str:
    """Replace e-mail addresses (any script) and phone numbers inside free text (see ``pii.find_pii``)."""
    return replace_pii(text, _tag)


def _redact(key: str, value: Any) -> Any:
    lowered = key.lower()
    if any(marker in lowered for marker in SECRET_MARKERS):
        return "[secret]"
    if is_personal_value(key, value) and not isinstance(value, Mapping | list | tuple):
        return f"<{lowered}:{fingerprint(str(value))}>" if isinstance(value, str) else "<redacted>"
    if lowered == "person" and isinstance(value, Mapping | list | tuple):
        return "<redacted>"
    if isinstance(value, str):
        return value if is_identifier_key(key) else mask_text(value)
    if isinstance(value, Mapping):
        return {k: _redact(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(key, v) for v in value]
    return value


def redact_pii(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: personal data and secrets never leave the process in a log line."""
    for key in list(event_dict):
        event_dict[key] = _redact(key, event_dict[key]) if key != "event" else event_dict[key]
    event = event_dict.get("event")
    if isinstance(event, str):
        event_dict["event"] = mask_text(event)
    return event_dict


def configure_logging(
    service: str, *, level: str = "INFO", json: bool | None = None, stream: Any = None, cache: bool = True
) -> None:
    """Configure structlog and the stdlib root logger once per process.

    ``cache``: each logger resolves its processor chain on first use and keeps it (structlog's
    ``cache_logger_on_first_use``), which saves the per-call look-up on the hot path; a later
    ``configure_logging`` does not reach loggers already used (pass ``cache=False`` in tests that reconfigure)."""
    out = stream or sys.stdout
    as_json = (not out.isatty()) if json is None else json
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_pii,
    ]
    renderer: Any = structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=cache,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
    # Third-party stdlib logging (aiokafka, uvicorn) goes through the same redaction.
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if level.upper() == "INFO" else level.upper())


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)


def bind(**values: Any) -> None:
    """Bind ``lead_id``, ``event_id``, ``trace_id``… for the rest of this task's log lines."""
    structlog.contextvars.bind_contextvars(**values)


def unbind(*keys: str) -> None:
    structlog.contextvars.unbind_contextvars(*keys)
