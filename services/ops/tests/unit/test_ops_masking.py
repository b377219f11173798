"""Personal data masking in the dead-letter browser, and restoring it on replay."""

from __future__ import annotations

import json

import pytest
from leadflow_ops.domain.masking import MASK_MARK, MaskedValueError, mask_payload, mask_text, restore_payload

pytestmark = pytest.mark.unit

ORIGINAL = {
    "event_id": "e1",
    "person": {
        "first_name": "Anna",
        "last_name": "Schmidt",
        "email": "anna.schmidt@example",
        "phone": "+49 30 1234567",
    },
    "company": {"country": "Germany", "employees": 40},
    "message": "Call me on +49 171 5551234 or anna@example.com",
    "contacts": [{"email": "x.y@example.org"}],
}
RAW = json.dumps(ORIGINAL).encode()


def test_masked_payload_contains_no_personal_data() -> None:
    masked, is_json = mask_payload(RAW)
    assert is_json
    for secret in ("Anna", "Schmidt", "anna.schmidt", "1234567", "5551234", "x.y@example.org", "anna@example.com"):
        assert secret not in masked
    parsed = json.loads(masked)
    assert parsed["person"]["email"] == f"a{MASK_MARK}@e{MASK_MARK}"
    assert parsed["person"]["phone"] == f"{MASK_MARK}67"
    assert parsed["company"] == {"country": "Germany", "employees": 40}  # not personal: shown as is


def test_free_text_and_non_json_payloads_are_masked() -> None:
    assert "anna@example.com" not in mask_text("write to anna@example.com")
    masked, is_json = mask_payload(b"not json, phone +44 20 7946 0958")
    assert not is_json and "7946" not in masked
    masked, is_json = mask_payload(b"\xff\xfe broken bytes")
    assert not is_json


def test_untouched_masks_are_restored_and_edits_win() -> None:
    masked, _ = mask_payload(RAW)
    edited = json.loads(masked)
    edited["company"]["country"] = "DE"  # the fix
    edited["person"]["email"] = "anna.schmidt@example.com"  # the operator typed a full value
    restored = json.loads(restore_payload(json.dumps(edited), RAW))
    assert restored["company"]["country"] == "DE"
    assert restored["person"]["email"] == "anna.schmidt@example.com"
    assert restored["person"]["first_name"] == "Anna" and restored["person"]["phone"] == "+49 30 1234567"
    assert restored["message"] == ORIGINAL["message"]
    assert restored["contacts"] == ORIGINAL["contacts"]


def test_a_half_edited_mask_is_refused_with_the_field_named() -> None:
    masked, _ = mask_payload(RAW)
    edited = json.loads(masked)
    edited["person"]["last_name"] = f"Sch{MASK_MARK}"
    with pytest.raises(MaskedValueError, match="last_name"):
        restore_payload(json.dumps(edited), RAW)


def test_invalid_json_edit_is_refused() -> None:
    with pytest.raises(ValueError, match="not valid JSON"):
        restore_payload("{oops", RAW)


def test_non_json_original_needs_full_values() -> None:
    raw = b"name=Anna;email=anna@example.com"
    masked, _ = mask_payload(raw)
    assert restore_payload(masked, raw) == raw  # unchanged: the original goes out
    assert restore_payload('{"fixed": true}', raw) == b'{"fixed": true}'
    with pytest.raises(MaskedValueError):
        restore_payload(masked + " extra", raw)
