"""Personal data masking for the dead-letter browser, and restoring it when an operator replays.

The browser never shows personal data: every value under a personal key (``email``, ``phone``,
``first_name`` …) is replaced by a mask that keeps a hint (first character, e-mail domain's first
letter, last two digits). An operator fixes the payload in the masked form; on replay, every value
that still equals its mask is put back from the original, so untouched personal data survives and
anything the operator typed over it wins.
"""

from __future__ import annotations

import json
import re
from typing import Any

from leadflow_platform.pii import PERSONAL_KEYS as PII_PERSONAL_KEYS
from leadflow_platform.pii import is_identifier_key, is_personal_key, is_personal_value, replace_pii

PERSONAL_KEYS = PII_PERSONAL_KEYS
"""The shared definition (``leadflow_platform.pii``), the same one the log redactor uses."""
MASK_MARK = "•••"


class MaskedValueError(ValueError):
    """A replay payload still holds a mask that cannot be restored from the original."""


def _is_personal(key: str) -> bool:
    return is_personal_key(key)


def mask_value(value: Any) -> Any:
    """The masked form of one personal value (strings keep a hint; other types become a mark)."""
    if value is None or value == "":
        return value
    if not isinstance(value, str):
        return MASK_MARK
    if "@" in value:
        local, _, domain = value.partition("@")
        return f"{local[:1]}{MASK_MARK}@{domain[:1]}{MASK_MARK}"
    digits = re.sub(r"\D", "", value)
    if len(digits) >= 6 and len(digits) >= len(value) // 2:
        return f"{MASK_MARK}{digits[-2:]}"
    return f"{value[:1]}{MASK_MARK}"


def mask_text(text: str) -> str:
    """Mask e-mail addresses (any script) and phone numbers inside free text (non-JSON payloads, messages)."""
    return replace_pii(text, lambda found: mask_value(found.text))


def mask_json(value: Any, key: str = "") -> Any:
    if key and is_personal_value(key, value) and not isinstance(value, dict | list):
        return mask_value(value)
    if isinstance(value, dict):
        return {k: mask_json(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_json(v, key if key and _is_personal(key) else "") for v in value]
    if isinstance(value, str):
        return value if key and is_identifier_key(key) else mask_text(value)
    return value


def mask_payload(raw: bytes) -> tuple[str, bool]:
    """Masked, human-readable text of a payload and whether it was JSON."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", errors="replace")
        return mask_text(text), False
    try:
        parsed = json.loads(text)
    except ValueError:
        return mask_text(text), False
    return json.dumps(mask_json(parsed), indent=2, ensure_ascii=False), True


def _restore(edited: Any, original: Any, key: str = "") -> Any:
    if isinstance(edited, dict):
        source = original if isinstance(original, dict) else {}
        return {k: _restore(v, source.get(k), str(k)) for k, v in edited.items()}
    if isinstance(edited, list):
        items = original if isinstance(original, list) else []
        return [_restore(v, items[i] if i < len(items) else None, key) for i, v in enumerate(edited)]
    if isinstance(edited, str) and MASK_MARK in edited:
        if original is not None and mask_json(original, key) == edited:
            return original
        raise MaskedValueError(
            f"field {key or '(value)'!r} still holds a masked value that does not match the original: "
            "type the full value or leave the mask untouched"
        )
    return edited


def restore_payload(edited_text: str, original: bytes) -> bytes:
    """The bytes to republish: the operator's edit with untouched masks restored from ``original``.

    Raises ``MaskedValueError`` when a mask cannot be restored and ``ValueError`` for invalid JSON
    when the original was JSON.
    """
    try:
        original_json = json.loads(original.decode("utf-8"))
        was_json = True
    except (UnicodeDecodeError, ValueError):
        original_json = None
        was_json = False
    if not was_json:
        if MASK_MARK in edited_text:
            masked_original, _ = mask_payload(original)
            if edited_text.strip() == masked_original.strip():
                return original
            raise MaskedValueError("the payload is not JSON: replace every masked value with the full value")
        return edited_text.encode("utf-8")
    try:
        edited = json.loads(edited_text)
    except ValueError as exc:
        raise ValueError(f"the edited payload is not valid JSON: {exc}") from exc
    restored = _restore(edited, original_json)
    return json.dumps(restored, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
