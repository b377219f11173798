import json

import pytest
from leadflow_contracts import RejectionReason
from leadflow_intake.domain.parsing import Parsed, Unparsed, derived_event_id, parse_submission

pytestmark = pytest.mark.unit

LIMIT = 64 * 1024


def lead(**overrides):
    base = {
        "event_id": "evt-1",
        "occurred_at": "2026-11-26T09:30:00Z",
        "source": {"system": "hubspot-forms"},
        "person": {"email": "anna@example.com"},
    }
    base.update(overrides)
    return base


def raw(obj) -> bytes:
    return json.dumps(obj).encode()


def test_a_valid_submission_parses():
    result = parse_submission(raw(lead()), max_bytes=LIMIT)
    assert isinstance(result, Parsed)
    assert result.lead.event_id == "evt-1"
    assert result.lead.source.system == "hubspot-forms"
    assert not result.event_id_derived


def test_missing_event_id_is_derived_from_the_bytes_so_replays_match():
    body = raw({k: v for k, v in lead().items() if k != "event_id"})
    first = parse_submission(body, max_bytes=LIMIT)
    second = parse_submission(body, max_bytes=LIMIT)
    assert isinstance(first, Parsed) and isinstance(second, Parsed)
    assert first.event_id_derived
    assert first.lead.event_id == second.lead.event_id == derived_event_id(body)
    other = parse_submission(body.replace(b"anna", b"bert"), max_bytes=LIMIT)
    assert isinstance(other, Parsed) and other.lead.event_id != first.lead.event_id


def test_oversized_payload_is_too_large_before_anything_else():
    body = b"\xff" * (LIMIT + 1)
    result = parse_submission(body, max_bytes=LIMIT)
    assert isinstance(result, Unparsed)
    assert result.rejection.reason is RejectionReason.TOO_LARGE
    assert str(LIMIT + 1) in result.rejection.message


def test_exactly_the_limit_is_not_too_large():
    body = raw(lead(message="x"))
    padded = body[:-1] + b" " * (LIMIT - len(body)) + b"}"
    assert len(padded) == LIMIT
    assert isinstance(parse_submission(padded, max_bytes=LIMIT), Parsed)


def test_invalid_utf8_names_the_byte():
    body = b'{"event_id": "x\xff", "source": {"system": "s"}}'
    result = parse_submission(body, max_bytes=LIMIT)
    assert isinstance(result, Unparsed)
    assert result.rejection.reason is RejectionReason.INVALID_UTF8
    assert "byte 15" in result.rejection.message


def test_bad_json_gives_line_and_column():
    result = parse_submission(b'{"event_id": "x",\n  "source": }', max_bytes=LIMIT)
    assert isinstance(result, Unparsed)
    assert result.rejection.reason is RejectionReason.INVALID_JSON
    assert "line 2" in result.rejection.message


@pytest.mark.parametrize("body", [b"[]", b'"a lead"', b"42", b"null"])
def test_json_that_is_not_an_object_is_a_schema_violation(body):
    result = parse_submission(body, max_bytes=LIMIT)
    assert isinstance(result, Unparsed)
    assert result.rejection.reason is RejectionReason.SCHEMA_VIOLATION
    assert result.rejection.field == "(root)"


def test_missing_required_field_is_named():
    body = raw({k: v for k, v in lead().items() if k != "occurred_at"})
    result = parse_submission(body, max_bytes=LIMIT)
    assert isinstance(result, Unparsed)
    assert result.rejection.reason is RejectionReason.MISSING_FIELD
    assert result.rejection.field == "occurred_at"
    assert "occurred_at" in result.rejection.message
    assert result.event_id == "evt-1"
    assert result.source_system == "hubspot-forms"


def test_missing_nested_field_is_named_by_dotted_path():
    result = parse_submission(raw(lead(source={"record_id": "42"})), max_bytes=LIMIT)
    assert isinstance(result, Unparsed)
    assert result.rejection.reason is RejectionReason.MISSING_FIELD
    assert result.rejection.field == "source.system"


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"person": "Anna"}, "person"),
        ({"company": {"employees": "many"}}, "company.employees"),
        ({"engagement": {"page_views": -1}}, "engagement.page_views"),
        ({"occurred_at": "2026-11-26T09:30:00"}, "occurred_at"),
        ({"lead_source": "carrier pigeon"}, "lead_source"),
        ({"person": {"email": 42}}, "person.email"),
    ],
)
def test_wrong_types_are_schema_violations_naming_the_field(patch, field):
    result = parse_submission(raw(lead(**patch)), max_bytes=LIMIT)
    assert isinstance(result, Unparsed)
    assert result.rejection.reason is RejectionReason.SCHEMA_VIOLATION
    assert result.rejection.field == field
    assert result.rejection.message.startswith(field)
    assert result.rejection.errors[0]["field"] == field


def test_error_list_never_echoes_input_values():
    result = parse_submission(raw(lead(person={"email": ["secret@example.com"]})), max_bytes=LIMIT)
    assert isinstance(result, Unparsed)
    assert "secret@example.com" not in json.dumps(result.rejection.errors)
    assert "secret@example.com" not in result.rejection.message


def test_defaults_fill_only_missing_keys():
    body = raw({"person": {"email": "anna@example.com"}})
    result = parse_submission(
        body, max_bytes=LIMIT, defaults={"source": {"system": "web"}, "occurred_at": "2026-11-26T10:00:00Z"}
    )
    assert isinstance(result, Parsed)
    assert result.lead.source.system == "web"
    kept = parse_submission(raw(lead()), max_bytes=LIMIT, defaults={"source": {"system": "web"}})
    assert isinstance(kept, Parsed) and kept.lead.source.system == "hubspot-forms"


# ---- null = not given; lead_source in any spelling -------------------------------------------------------------
def _optional_paths(model, prefix=()):
    """Every field with a default, at every level of the contract (``("company", "employees")``…)."""
    from leadflow_intake.domain.parsing import _model_in

    for name, field in model.model_fields.items():
        path = (*prefix, name)
        if not field.is_required():
            yield path
        sub = _model_in(field.annotation)
        if sub is not None and name not in ("original", "custom_answers"):
            yield from _optional_paths(sub, path)


def _full_lead():
    return lead(
        lead_id="lead-1",
        lead_source="callback_request",
        source={"system": "hubspot-forms", "record_id": "r-1", "campaign": {"utm_source": "x", "form_id": "f"}},
        person={"first_name": "Anna", "last_name": "Berg", "email": "anna@example.com", "phone": "+4722123456"},
        company={"name": "Acme", "country": "NO", "employees": 12, "city": "Oslo"},
        consent={"may_call": True, "may_email": False},
        engagement={"page_views": 3, "visits": 1, "content_downloads": 2},
        callback={"start": "2026-11-27T10:00:00+01:00", "timezone": "Europe/Oslo"},
        message="hi",
        original={"a": None},
        custom_answers={"occupation": "Student"},
    )


def _set(obj, path, value):
    node = obj
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value


def _drop(obj, path):
    node = obj
    for key in path[:-1]:
        node = node.get(key, {})
    node.pop(path[-1], None)


def test_every_optional_field_sent_as_null_is_read_as_not_given():
    """Many JSON writers emit every key (Jackson, .NET, form tools): ``"company": null`` is no reason to lose a
    lead. The sweep covers every field with a default at every level; each gives the lead without that key."""
    from leadflow_contracts import LeadSubmitted

    paths = list(_optional_paths(LeadSubmitted))
    assert ("company", "employees") in paths and ("source", "campaign", "utm_source") in paths
    for path in paths:
        with_null, without = _full_lead(), _full_lead()
        _set(with_null, path, None)
        _drop(without, path)
        got, expected = (
            parse_submission(raw(with_null), max_bytes=LIMIT),
            parse_submission(raw(without), max_bytes=LIMIT),
        )
        assert isinstance(got, Parsed), (path, got)
        assert isinstance(expected, Parsed), (path, expected)
        assert got.lead.model_dump(exclude={"event_id"}) == expected.lead.model_dump(exclude={"event_id"}), path
    # inside the publisher's own payload a null is kept as sent
    kept = parse_submission(raw(_full_lead()), max_bytes=LIMIT)
    assert isinstance(kept, Parsed) and kept.lead.original == {"a": None}


@pytest.mark.parametrize("field", ["occurred_at", "source"])
def test_a_required_field_sent_as_null_is_still_named(field):
    result = parse_submission(raw(lead(**{field: None})), max_bytes=LIMIT)
    assert isinstance(result, Unparsed) and result.rejection.field == field


def test_lead_source_is_read_in_any_case_with_spaces_or_hyphens_and_an_unknown_one_is_named():
    from leadflow_contracts import LeadSourceKind

    for kind in LeadSourceKind:
        words = kind.value.split("_")
        for spelled in (
            kind.value.upper(),
            " ".join(w.capitalize() for w in words),
            "-".join(words),
            f"  {' '.join(words).title()}  ",
        ):
            result = parse_submission(raw(lead(lead_source=spelled)), max_bytes=LIMIT)
            assert isinstance(result, Parsed) and result.lead.lead_source is kind, spelled
    unknown = parse_submission(raw(lead(lead_source="Carrier Pigeon")), max_bytes=LIMIT)
    assert isinstance(unknown, Unparsed) and unknown.rejection.field == "lead_source"


def test_a_utf8_byte_order_mark_is_not_content():
    """.NET's Encoding.UTF8, PowerShell and Notepad write one: the lead is the same lead, with the same id."""
    body = raw(lead())
    with_bom = parse_submission(b"\xef\xbb\xbf" + body, max_bytes=LIMIT)
    assert isinstance(with_bom, Parsed)
    plain = parse_submission(body, max_bytes=LIMIT)
    assert isinstance(plain, Parsed) and with_bom.lead == plain.lead
