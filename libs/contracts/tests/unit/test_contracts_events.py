from datetime import UTC, datetime, timedelta, timezone

import pytest
from leadflow_contracts import (
    EVENT_TYPES,
    CallbackWindow,
    LeadSubmitted,
    SourceInfo,
    topics,
)
from leadflow_contracts.export import render_all
from pydantic import ValidationError

pytestmark = pytest.mark.unit


def test_events_are_frozen_and_ignore_unknown_fields():
    ev = LeadSubmitted.model_validate(
        {
            "event_id": "e1",
            "occurred_at": "2026-01-01T10:00:00+01:00",
            "source": {"system": "web"},
            "a_field_from_the_future": 1,
        }
    )
    assert ev.occurred_at == datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    assert ev.occurred_at.tzinfo == UTC
    with pytest.raises(ValidationError):
        ev.event_id = "x"  # type: ignore[misc]


def test_naive_datetimes_are_refused():
    with pytest.raises(ValidationError) as err:
        LeadSubmitted(event_id="e", occurred_at=datetime(2026, 1, 1), source=SourceInfo(system="x"))
    assert "occurred_at" in str(err.value)


def test_callback_end_before_start_is_refused():
    start = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    with pytest.raises(ValidationError, match=r"callback\.end"):
        CallbackWindow(start=start, end=start - timedelta(minutes=1))


def test_every_event_has_the_envelope():
    for cls in EVENT_TYPES.values():
        for name in ("event_id", "lead_id", "occurred_at", "schema_version", "trace"):
            assert name in cls.model_fields, (cls.__name__, name)


def test_topic_names_follow_the_convention():
    assert len(set(topics.ALL_TOPICS)) == len(topics.ALL_TOPICS)
    for name in topics.ALL_TOPICS:
        assert name.split(".")[0] in {"leads", "crm", "sla"}


def test_exported_json_schemas_are_up_to_date():
    from pathlib import Path

    target = Path(__file__).resolve().parents[4] / "deploy" / "schemas"
    expected = render_all()
    stale = [n for n, text in expected.items() if not (target / n).exists() or (target / n).read_text() != text]
    extra = sorted(p.name for p in target.glob("*.json") if p.name not in expected)
    assert not stale and not extra, f"run `make schemas`: stale={stale} extra={extra}"


def test_no_event_gets_a_random_id():
    import pydantic
    from leadflow_contracts import EVENT_TYPES, LeadSubmitted, derive_event_id

    for name, cls in EVENT_TYPES.items():
        field = cls.model_fields["event_id"]
        assert field.default_factory is None, name
        if cls is not LeadSubmitted:  # outside producers may omit it: intake derives it from the bytes
            assert field.is_required(), name
    with pytest.raises(pydantic.ValidationError, match="event_id"):
        EVENT_TYPES["DeadLetter"].model_validate(
            {
                "lead_id": "L1",
                "occurred_at": "2026-01-01T00:00:00Z",
                "service": "s",
                "topic": "t",
                "reason": "r",
                "message": "m",
                "original_base64": "",
            }
        )
    assert derive_event_id("e-1", "scored") == derive_event_id("e-1", "scored")
    assert (
        len({derive_event_id("e-1", "scored"), derive_event_id("e-1", "routed"), derive_event_id("e-2", "scored")}) == 3
    )
