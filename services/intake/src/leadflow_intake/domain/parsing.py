"""Raw bytes → ``LeadSubmitted``, or a rejection that says exactly what is wrong.

Order of checks: size (> limit: ``too_large``), UTF-8 (``invalid_utf8``), JSON (``invalid_json``),
shape (``too_deep`` beyond ``JsonLimits.max_depth`` levels of nesting, ``too_many_items`` for an
array/object with more than ``max_items`` entries, ``string_too_long`` for a text over
``max_string_chars``), a JSON object (``schema_violation``), the contract (``missing_field`` when a
required field is absent, ``string_too_long``/``too_many_items`` when a field's length limit is
exceeded, else ``schema_violation``), each naming the field by its dotted path.

A submission without ``event_id`` gets one derived from the SHA-256 of its bytes, so replaying
the same bytes is recognised as a replay.

Read as their writers mean them (``as_meant``): ``null`` for a field that has a default is "not given" (many JSON
writers emit every key: ``"company": null``, ``"consent": null``, ``"lead_source": null``), and ``lead_source`` is
read in any case with spaces or hyphens (``"Web Form"``, ``"CALLBACK-REQUEST"``). A required field that is
``null`` is still named (``occurred_at``), and a value of the wrong type is still ``schema_violation``.
"""

from __future__ import annotations

import hashlib
import json
import re
import types
import typing
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from leadflow_contracts import LeadSourceKind, LeadSubmitted, RejectionReason
from pydantic import BaseModel, ValidationError

from leadflow_intake.domain.rejections import Rejection

INTAKE_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://leadflow.dev/intake")
MAX_LISTED_ERRORS = 20


@dataclass(frozen=True, slots=True)
class JsonLimits:
    """How much structure intake reads before naming the problem instead of guessing."""

    max_depth: int = 32
    max_items: int = 1000
    max_string_chars: int = 32000


def shape_problem(value: Any, limits: JsonLimits, *, depth: int = 1, path: str = "") -> Rejection | None:
    """The first way ``value`` (parsed JSON) exceeds ``limits``, walked without recursion."""
    stack: list[tuple[Any, int, str]] = [(value, depth, path)]
    while stack:
        node, level, where = stack.pop()
        if isinstance(node, dict | list):
            if level > limits.max_depth:
                return Rejection(
                    RejectionReason.TOO_DEEP,
                    f"{where or '(root)'}: JSON is nested more than {limits.max_depth} levels deep",
                    where or "(root)",
                )
            if len(node) > limits.max_items:
                return Rejection(
                    RejectionReason.TOO_MANY_ITEMS,
                    f"{where or '(root)'} has {len(node)} entries; the limit is {limits.max_items}",
                    where or "(root)",
                )
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, child in items:
                stack.append((child, level + 1, f"{where}.{key}" if where else str(key)))
        elif isinstance(node, str) and len(node) > limits.max_string_chars:
            return Rejection(
                RejectionReason.STRING_TOO_LONG,
                f"{where or '(root)'} is {len(node)} characters long; the limit is {limits.max_string_chars}",
                where or "(root)",
            )
    return None


@dataclass(frozen=True, slots=True)
class Parsed:
    lead: LeadSubmitted
    event_id_derived: bool


@dataclass(frozen=True, slots=True)
class Unparsed:
    """A submission that could not become a ``LeadSubmitted``, with whatever ids could be read."""

    rejection: Rejection
    event_id: str | None = None
    lead_id: str | None = None
    source_system: str | None = None


def content_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def derived_event_id(raw: bytes) -> str:
    return str(uuid.uuid5(INTAKE_NAMESPACE, "content:" + content_hash(raw)))


def field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(root)"


def _rejection_from_validation(exc: ValidationError) -> Rejection:
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    listed = tuple(
        {"field": field_path(e["loc"]), "type": e["type"], "message": e["msg"]} for e in errors[:MAX_LISTED_ERRORS]
    )
    missing = [e for e in errors if e["type"] == "missing"]
    first = missing[0] if missing else errors[0]
    field = field_path(first["loc"])
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    if missing:
        message = f"required field {field} is missing{more}"
        return Rejection(RejectionReason.MISSING_FIELD, message, field, listed)
    message = f"{field}: {first['msg']}{more}"
    reason = _LENGTH_REASONS.get(first["type"], RejectionReason.SCHEMA_VIOLATION)
    return Rejection(reason, message, field, listed)


_LENGTH_REASONS = {
    "string_too_long": RejectionReason.STRING_TOO_LONG,
    "too_long": RejectionReason.TOO_MANY_ITEMS,
    "recursion_loop": RejectionReason.TOO_DEEP,
}


_SEPARATORS = re.compile(r"[\s\-]+")
_LEAD_SOURCES = {kind.value for kind in LeadSourceKind}
_FREE_FORM = frozenset({"original", "custom_answers"})
"""Keys whose content is the publisher's own (kept as sent inside: a null there may mean something)."""


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The contract model a field holds (``Person``, ``CallbackWindow | None`` → ``CallbackWindow``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return next((m for a in typing.get_args(annotation) if (m := _model_in(a)) is not None), None)
    return None


def as_meant(data: dict[str, Any], model: type[BaseModel] = LeadSubmitted) -> dict[str, Any]:
    """``data`` without the ``null``s that stand for "not given" (fields with a default, at every level of the
    contract), with ``lead_source`` in its canonical spelling when it names a known kind."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        field = model.model_fields.get(key)
        if field is None:
            out[key] = value
            continue
        if value is None and not field.is_required():
            continue
        sub = None if key in _FREE_FORM else _model_in(field.annotation)
        if sub is not None and isinstance(value, dict):
            value = as_meant(value, sub)
        out[key] = value
    source = out.get("lead_source")
    if model is LeadSubmitted and isinstance(source, str):
        spelled = _SEPARATORS.sub("_", source.strip()).lower()
        if spelled in _LEAD_SOURCES:
            out["lead_source"] = spelled
    return out


def _str_or_none(value: Any) -> str | None:
    return value[:128] if isinstance(value, str) and value else None


def parse_submission(
    raw: bytes, *, max_bytes: int, defaults: Mapping[str, Any] | None = None, limits: JsonLimits | None = None
) -> Parsed | Unparsed:
    """Turn ``raw`` into a ``LeadSubmitted``. ``defaults`` fill top-level keys the payload lacks
    (the HTTP entry point supplies the authenticated ``source`` and the receive time)."""
    limits = limits or JsonLimits()
    if len(raw) > max_bytes:
        return Unparsed(
            Rejection(RejectionReason.TOO_LARGE, f"payload is {len(raw)} bytes; the limit is {max_bytes} bytes")
        )
    if defaults is None:
        # Fast path (the common case on Kafka): pydantic's own JSON parser, no intermediate dict.
        try:
            lead = LeadSubmitted.model_validate_json(raw)
        except ValidationError:
            pass  # classify below, with the precise reason
        else:
            # Typed fields have their own limits; the free-form ``original`` is checked here.
            problem = shape_problem(lead.original, limits, depth=2, path="original") if lead.original else None
            if problem is None:
                return _with_event_id(lead, raw)
            return Unparsed(
                problem, event_id=lead.event_id or None, lead_id=lead.lead_id or None, source_system=lead.source.system
            )
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark (.NET, PowerShell and Notepad write one) is not content
    except UnicodeDecodeError as exc:
        return Unparsed(
            Rejection(RejectionReason.INVALID_UTF8, f"payload is not valid UTF-8 (byte {exc.start}: {exc.reason})")
        )
    try:
        data = json.loads(text)
    except RecursionError:
        return Unparsed(
            Rejection(RejectionReason.TOO_DEEP, f"payload is nested more than {limits.max_depth} levels deep")
        )
    except json.JSONDecodeError as exc:
        return Unparsed(
            Rejection(
                RejectionReason.INVALID_JSON,
                f"payload is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            )
        )
    problem = shape_problem(data, limits)
    if problem is not None:
        ids = data if isinstance(data, dict) else {}
        return Unparsed(problem, event_id=_str_or_none(ids.get("event_id")), lead_id=_str_or_none(ids.get("lead_id")))
    if not isinstance(data, dict):
        return Unparsed(
            Rejection(
                RejectionReason.SCHEMA_VIOLATION,
                f"payload must be a JSON object, not {type(data).__name__}",
                "(root)",
            )
        )
    if defaults:  # a null is "not given" here too: the default (receipt time, the authenticated source) applies
        data = {**defaults, **{k: v for k, v in data.items() if v is not None or k not in defaults}}
    data = as_meant(data)
    source = data.get("source")
    hints = {
        "event_id": _str_or_none(data.get("event_id")),
        "lead_id": _str_or_none(data.get("lead_id")),
        "source_system": _str_or_none(source.get("system")) if isinstance(source, dict) else None,
    }
    try:
        lead = LeadSubmitted.model_validate(data)
    except ValidationError as exc:
        return Unparsed(_rejection_from_validation(exc), **hints)
    return _with_event_id(lead, raw)


def _with_event_id(lead: LeadSubmitted, raw: bytes) -> Parsed:
    if "event_id" in lead.model_fields_set:
        return Parsed(lead, event_id_derived=False)
    return Parsed(lead.model_copy(update={"event_id": derived_event_id(raw)}), event_id_derived=True)
