import io
import json

import pytest
import structlog
from leadflow_platform.logging import bind, configure_logging, get_logger, mask_text

pytestmark = pytest.mark.unit


def _log_lines(emit):
    out = io.StringIO()
    configure_logging("test", json=True, stream=out)
    emit(get_logger("t"))
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_an_email_never_reaches_the_log_output():
    out = io.StringIO()
    configure_logging("test", json=True, stream=out)
    log = get_logger("t")
    log.info("lead_accepted", email="Jane.Doe@Example.com", note="write to jane.doe@example.com today")
    log.info("free text mentions jane.doe@example.com")
    text = out.getvalue()
    assert "jane.doe@example.com" not in text.lower()
    assert "<email:" in text


def test_phones_names_and_secrets_are_redacted_but_ids_are_kept():
    lines = _log_lines(
        lambda log: log.info(
            "x",
            phone="+47 912 34 567",
            first_name="Ola",
            password="hunter2",
            api_key="k-123",
            lead_id="L-1",
            nested={"last_name": "Nordmann", "count": 3},
        )
    )
    line = lines[0]
    assert "+47 912 34 567" not in json.dumps(line)
    assert line["first_name"].startswith("<first_name:")
    assert line["password"] == "[secret]" and line["api_key"] == "[secret]"
    assert line["lead_id"] == "L-1"
    assert line["nested"]["last_name"].startswith("<last_name:") and line["nested"]["count"] == 3


def test_bound_context_travels_with_every_line():
    def emit(log):
        bind(lead_id="L-9", event_id="E-9")
        log.info("one")
        log.warning("two")

    lines = _log_lines(emit)
    assert [(line["lead_id"], line["event_id"], line["service"]) for line in lines] == [("L-9", "E-9", "test")] * 2
    structlog.contextvars.clear_contextvars()


def test_mask_text_keeps_ordinary_numbers():
    assert mask_text("order 42 shipped in 2026") == "order 42 shipped in 2026"
    assert "+4791234567" not in mask_text("call +4791234567 now")


@pytest.mark.parametrize(
    "text", ["127.0.0.1:19092", "on 2026-11-26 at 10:29:00", "version 1.12.10", "port 8443", "policy 2026-11-26.1"]
)
def test_addresses_dates_and_versions_are_not_mistaken_for_phones(text):
    assert mask_text(text) == text


@pytest.mark.parametrize("phone", ["+47 912 34 567", "+49 (30) 1234-5678", "0049 30 12345678", "+44.20.7946.0958"])
def test_phone_formats_are_masked(phone):
    assert "<phone:" in mask_text(f"call {phone} today")


def test_ids_with_digit_groups_are_not_mistaken_for_phones():
    text = "lead demo-1234-5678 event 3f1c2b8e-1234-5678-9abc-123456789012"
    assert mask_text(text) == text
