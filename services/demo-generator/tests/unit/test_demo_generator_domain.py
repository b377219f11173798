import json
from collections import Counter
from datetime import UTC, datetime

import pytest
from leadflow_contracts import LeadSubmitted
from leadflow_demo.domain.generator import KnownContact, LeadFactory
from leadflow_demo.domain.progress import Progress, percentile
from pydantic import ValidationError

pytestmark = pytest.mark.unit
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
KNOWN = [KnownContact("Freja", "Kelly", "freja.kelly@alpenretail.example", "Alpen Retail AS", "Norway")]


def _stream(n=600, seed=1):
    f = LeadFactory(seed, KNOWN, bad_ratio=0.05, replay_ratio=0.05)
    return [f.next(NOW) for _ in range(n)]


def test_same_seed_same_stream_and_a_realistic_mix():
    a, b = _stream(), _stream()
    assert [g.value for g in a] == [g.value for g in b]
    kinds = Counter(g.kind for g in a)
    assert kinds["good"] > 450 and kinds["bad"] > 10 and kinds["replay"] > 10
    sources = Counter(json.loads(g.value)["lead_source"] for g in a if g.kind == "good")
    assert {"web_form", "callback_request", "list_upload", "webinar"} <= set(sources)
    assert any(b"alpenretail.example" in g.value for g in a), "some leads come from known org contacts"


def test_good_leads_are_valid_contracts_and_callbacks_are_in_the_future():
    for g in _stream():
        if g.kind != "good":
            continue
        lead = LeadSubmitted.model_validate_json(g.value)
        assert lead.lead_id == g.lead_id and g.key == g.lead_id.encode()
        assert lead.person.email or lead.person.phone
        if lead.lead_source == "callback_request":
            assert lead.callback is not None and lead.callback.start > NOW and lead.callback.timezone


def _depth(value, level=0):
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    return level


def test_bad_records_really_are_bad_messages_not_unusual_contact_data():
    bad = [g for g in _stream() if g.kind == "bad"]
    labels = Counter(g.label for g in bad)
    assert {"bad: truncated JSON", "bad: nested too deep", "bad: string too long", "bad: wrong types"} == set(labels)
    for g in bad:
        try:
            lead = LeadSubmitted.model_validate_json(g.value)
        except (ValidationError, ValueError):
            continue
        # parses as a contract, but is nested beyond what intake reads (too_deep)
        assert _depth(lead.original) > 32


def test_replays_repeat_an_earlier_message_byte_for_byte():
    stream = _stream()
    good_values = {g.value for g in stream if g.kind == "good"}
    replays = [g for g in stream if g.kind == "replay"]
    assert replays and all(r.value in good_values for r in replays)


def test_progress_latency_percentiles():
    p = Progress()
    for i in range(100):
        p.published(f"L{i}", at=100.0, kind="good")
        p.seen("synced", f"L{i}", at=100.0 + (i + 1) / 1000)
    assert percentile(list(p.latencies_ms), 50) == pytest.approx(50)
    assert percentile(list(p.latencies_ms), 99) == pytest.approx(99)
    assert "in Salesforce 100 (writes 100)" in p.line() and "p50 50 ms" in p.line()
    p.seen("synced", "L1", at=200.0)  # a later write for the same lead (e.g. SLA status)
    assert "in Salesforce 100 (writes 101)" in p.line()
    assert percentile([], 50) is None
