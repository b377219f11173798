"""The console's dead-letter masking uses the shared personal-data definition (leadflow_platform.pii):
non-ASCII e-mails are masked whole, booleans/timestamps/ids are shown as they are."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from leadflow_ops.domain import masking
from leadflow_platform import pii

pytestmark = pytest.mark.unit

LETTERS = "àáâãäåçèéêëñòóöøùúüąćęłńśźżășțабвгдежзийклмнпрстуαβγδεζηθικλμνξπρστ王李张刘陈杨黄赵"


def test_the_console_and_the_logs_share_one_definition():
    assert masking.PERSONAL_KEYS is pii.PERSONAL_KEYS


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    local=st.text(alphabet=LETTERS, min_size=3, max_size=12), domain=st.text(alphabet=LETTERS, min_size=2, max_size=8)
)
def test_a_non_ascii_email_in_free_text_is_masked_whole(local, domain):
    email = f"{local}@{domain}.de"
    masked = masking.mask_text(f"please write to {email} today")
    assert email not in masked and local[1:] not in masked and masking.MASK_MARK in masked


def test_dead_letter_payload_masks_people_not_flags_times_or_ids():
    raw = json.dumps(
        {
            "event_id": "3f1c2b8e-1234-5678-9abc-123456789012",
            "occurred_at": "2026-12-04T16:32:05.123456+00:00",
            "person": {"email": "chloé.garcía@exemple.fr", "phone": "+33 1 23 45 67 89", "first_name": "Chloé"},
            "consent": {"do_not_email": True, "may_call": False},
            "original": {"notes": "call me on 0721 234 567 after 2026-12-05 10:00"},
        }
    ).encode()
    text, is_json = masking.mask_payload(raw)
    shown = json.loads(text)
    assert is_json
    assert shown["event_id"] == "3f1c2b8e-1234-5678-9abc-123456789012"
    assert shown["occurred_at"] == "2026-12-04T16:32:05.123456+00:00"
    assert shown["consent"] == {"do_not_email": True, "may_call": False}
    assert "garc" not in text and "chlo" not in text.lower().replace("c•••", "")
    assert "0721 234 567" not in text and "2026-12-05 10:00" in shown["original"]["notes"]
    # an untouched masked payload replays to the original bytes' content
    assert json.loads(masking.restore_payload(text, raw)) == json.loads(raw)
