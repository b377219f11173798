"""structlog set-up: JSON off a TTY, console on one; bound context; PII and secrets redacted centrally."""

from __future__ import annotations

import hashlib
import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

PII_KEYS = frozenset(
    {
        "email",
        "phone",
        "phone_e164",
        "mobile",
        "first_name",
        "last_name",
        "firstname",
        "lastname",
        "full_name",
        "name",
        "person",
        "street",
        "address",
        "postcode",
        "message",
    }
)
SECRET_MARKERS = ("password", "secret", "token", "api_key", "apikey", "authorization", "session_id", "signature")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?<![\w.\-])\+?\d[\d ()\-.]{6,}\d(?![\w.\-])")


def fingerprint(value: str) -> str:
    """A short, stable, non-reversible tag so the same value can be correlated across log lines."""
    return hashlib.sha256(value.encode()).hexdigest()[:8]


_NOT_PHONE = re.compile(r"\d{1,3}(\.\d{1,3}){3}|\d{4}-\d{2}-\d{2}\b.*|\d{1,2}:\d{2}(:\d{2})?")


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(c.isdigit() for c in text)
    if digits < 7 or _NOT_PHONE.fullmatch(text) or (text.count(".") >= 2 and "+" not in text):
        return text  # an IP address, a date, a time or a version number, not a phone
    return f"<phone:{fingerprint(text)}>"


def mask_text(text: str) -> str:
    """Replace emails and phone numbers inside free text."""
    text = _EMAIL.sub(lambda m: f"<email:{fingerprint(m.group(0).lower())}>", text)
    return _PHONE.sub(_phone, text)


def _redact(key: str, value: Any) -> Any:
    lowered = key.lower()
    if any(marker in lowered for marker in SECRET_MARKERS):
        return "[secret]"
    if lowered in PII_KEYS and value is not None:
        return f"<{lowered}:{fingerprint(str(value))}>" if isinstance(value, str) else "<redacted>"
    if isinstance(value, str):
        return mask_text(value)
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


def configure_logging(service: str, *, level: str = "INFO", json: bool | None = None, stream: Any = None) -> None:
    """Configure structlog and the stdlib root logger once per process."""
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
        cache_logger_on_first_use=False,
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
