"""Field-level fallback: a value Salesforce refuses costs that value, never the record (pure + writer)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from leadflow_crm_sync.domain.backoff import Backoff
from leadflow_crm_sync.domain.fallback import (
    CUT_TO_FIT,
    NOTE_FIELDS,
    UNDROPPABLE_CODES,
    _extends,
    fit,
    precheck,
    utf16_length,
    without_refused,
)
from leadflow_crm_sync.domain.ids import LEAD_EXTERNAL_ID
from leadflow_crm_sync.domain.outcomes import classify_save_result
from leadflow_crm_sync.domain.policy import WriteKind
from leadflow_crm_sync.domain.writes import Outcome, RecordWrite, SaveResult
from leadflow_crm_sync.testing import FakeSalesforce
from leadflow_crm_sync.writer import FIELDS_DROPPED, BatchWriter, WriterConfig

pytestmark = pytest.mark.unit
NOTE = NOTE_FIELDS["Lead"]
PLACEHOLDERS = {("Lead", "LastName"): "[not provided]", ("Lead", "Company"): "[not provided]"}
FIELD_CODES = [
    "INVALID_EMAIL_ADDRESS",
    "STRING_TOO_LONG",
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
    "INVALID_TYPE_ON_FIELD_IN_RECORD",
    "FIELD_CUSTOM_VALIDATION_EXCEPTION",
    "INVALID_CROSS_REFERENCE_KEY",
    "MALFORMED_ID",
    "NUMBER_OUTSIDE_VALID_RANGE",
    "FIELD_INTEGRITY_EXCEPTION",
]
OPTIONAL = ["Email", "Phone", "Title", "Industry", "Rating", "OwnerId", "Country", "Language__c", "Score__c"]


def lead(key: str = "lead-1", **fields: Any) -> RecordWrite:
    return RecordWrite(
        "Lead",
        "upsert",
        key,
        {"LastName": "Nordmann", "Company": "Acme", **fields},
        WriteKind.NEW_LEAD,
        ext_field=LEAD_EXTERNAL_ID,
    )


def refused(code: str, *names: str, message: str = "") -> SaveResult:
    return classify_save_result(
        {
            "success": False,
            "errors": [
                {
                    "statusCode": code,
                    "message": message or f"{names[0] if names else 'x'}: bad value",
                    "fields": list(names),
                }
            ],
        },
        "upsert",
    )


# ---- pure ------------------------------------------------------------------------------------------------
@given(
    values=st.dictionaries(st.sampled_from(OPTIONAL), st.text(min_size=1, max_size=30), min_size=1),
    data=st.data(),
    code=st.sampled_from(FIELD_CODES),
)
def test_refused_fields_are_dropped_and_kept_for_the_rep(
    values: dict[str, str], data: st.DataObject, code: str
) -> None:
    write = lead(**values)
    bad = data.draw(st.lists(st.sampled_from(sorted(values)), min_size=1, unique=True))
    smaller = without_refused(write, refused(code, *bad), PLACEHOLDERS)
    assert smaller is not None
    assert set(smaller.fields) == set(write.fields) - set(bad) | {NOTE}
    assert [d.field for d in smaller.dropped] == bad
    assert all(d.code == code and d.value == values[d.field] for d in smaller.dropped)
    for name in bad:
        assert f"- {name} = {values[name]} ({code}" in smaller.fields[NOTE]
    assert smaller.key == write.key and smaller.ext_field == write.ext_field
    assert smaller.record()[LEAD_EXTERNAL_ID] == "lead-1"


@given(
    values=st.dictionaries(st.sampled_from(OPTIONAL), st.text(min_size=1, max_size=10), min_size=1),
    order=st.randoms(use_true_random=False),
)
def test_fallback_always_ends(values: dict[str, str], order: Any) -> None:
    """Salesforce refusing one more field each round: at most one round per field, then written or given up."""
    write = lead(**values)
    rounds = 0
    while True:
        candidates = [k for k in write.fields if k not in ("LastName", "Company", NOTE)]
        if not candidates:
            break
        nxt = without_refused(write, refused("FIELD_CUSTOM_VALIDATION_EXCEPTION", order.choice(candidates)))
        if nxt is None:
            break
        write, rounds = nxt, rounds + 1
    assert rounds == len(values)
    assert {d.field for d in write.dropped} == set(values)


@pytest.mark.parametrize("code", sorted(UNDROPPABLE_CODES))
def test_errors_that_dropping_cannot_fix_are_not_retried(code: str) -> None:
    assert without_refused(lead(Email="a@b.io"), refused(code, "Email")) is None


def test_nothing_to_drop_means_no_retry() -> None:
    write = lead(Email="a@b.io")
    assert without_refused(write, refused("FIELD_CUSTOM_VALIDATION_EXCEPTION")) is None  # no fields named
    assert without_refused(write, refused("INVALID_EMAIL_ADDRESS", "NotInTheWrite__c")) is None
    assert without_refused(write, refused("DUPLICATE_VALUE", LEAD_EXTERNAL_ID)) is None
    assert without_refused(write, refused("STRING_TOO_LONG", LEAD_EXTERNAL_ID)) is None  # the key stays
    ok = classify_save_result({"success": True, "id": "00Q1", "created": True}, "upsert")
    assert without_refused(write, ok) is None


def test_required_fields_get_the_placeholder_once() -> None:
    write = lead(Email="a@b.io")
    first = without_refused(write, refused("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Company"), PLACEHOLDERS)
    assert first is not None and first.fields["Company"] == "[not provided]"
    assert "Company = Acme" in first.fields[NOTE]
    assert without_refused(first, refused("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Company"), PLACEHOLDERS) is None


def test_field_names_match_case_insensitively_and_the_message_loses_the_value() -> None:
    write = lead(Email="jürgen@example.de")
    smaller = without_refused(
        write, refused("INVALID_EMAIL_ADDRESS", "email", message="Email: invalid email address: jürgen@example.de")
    )
    assert smaller is not None and "Email" not in smaller.fields
    assert smaller.dropped[0].message == "Email: invalid email address: …"
    assert smaller.dropped[0].value == "jürgen@example.de"


def test_a_refused_note_is_not_written_again() -> None:
    write = without_refused(lead(Email="x@y.io"), refused("INVALID_EMAIL_ADDRESS", "Email"))
    assert write is not None
    again = without_refused(write, refused("STRING_TOO_LONG", NOTE))
    assert again is not None and NOTE not in again.fields and "Email" not in again.fields


def test_several_errors_in_one_answer_drop_all_their_fields() -> None:
    res = classify_save_result(
        {
            "success": False,
            "errors": [
                {"statusCode": "INVALID_EMAIL_ADDRESS", "message": "Email: invalid", "fields": ["Email"]},
                {"statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "message": "bad phone", "fields": ["Phone"]},
            ],
        },
        "upsert",
    )
    smaller = without_refused(lead(Email="x", Phone="+47 ???"), res)
    assert smaller is not None and {d.field for d in smaller.dropped} == {"Email", "Phone"}


@given(local=st.text(alphabet="abcdefghij.+-_0123456789", min_size=1, max_size=120))
def test_precheck_leaves_out_only_emails_longer_than_salesforce_takes(local: str) -> None:
    email = f"{local}@example.com"
    write = precheck(lead(Email=email))
    if len(email) > 80:
        assert "Email" not in write.fields and write.dropped[0].code == "STRING_TOO_LONG"
        assert email in write.fields[NOTE]
    else:
        assert write.fields["Email"] == email and not write.dropped and NOTE not in write.fields


# ---- the writer: the next call without the refused values ---------------------------------------------------
def _ascii_email(value: Any) -> str | None:
    return None if isinstance(value, str) and value.isascii() and "@" in value else "INVALID_EMAIL_ADDRESS"


def _phone(value: Any) -> str | None:
    return None if isinstance(value, str) and value.startswith("+") else "FIELD_CUSTOM_VALIDATION_EXCEPTION"


FAST = WriterConfig(
    linger_seconds=0.001, backoff=Backoff(base=0.01, cap=0.05), hold_seconds=2.0, placeholders=PLACEHOLDERS
)


def _dropped_count(field: str, reason: str) -> float:
    return FIELDS_DROPPED.labels("Lead", field, reason)._value.get()


async def test_writer_retries_without_refused_values_in_the_next_call() -> None:
    fake = FakeSalesforce(field_rules={"Lead.Email": _ascii_email, "Lead.Phone": _phone})
    before = _dropped_count("Email", "INVALID_EMAIL_ADDRESS")
    writer = BatchWriter(fake, FAST)
    writes = [
        lead("ok", Email="a@b.io", Phone="+4712345678"),
        lead("bad-email", Email="jürgen@example.de"),
        lead("bad-both", Email="nope", Phone="12 34"),
        lead("bad-phone", Email="c@d.io", Phone="x"),
    ]
    results = await writer.write(writes)
    assert all(isinstance(r, SaveResult) and r.ok for r in results)
    # One call for all four; then one call for the three that failed, each without its refused values.
    assert [len(c.records) for c in fake.writes()] == [4, 3]
    stored = {r[LEAD_EXTERNAL_ID]: r for r in fake.table("Lead").values()}
    assert stored["ok"]["Email"] == "a@b.io" and NOTE not in stored["ok"]
    assert "Email" not in stored["bad-email"] and "jürgen@example.de" in stored["bad-email"][NOTE]
    assert "Email" not in stored["bad-both"] and "Phone" not in stored["bad-both"]
    assert stored["bad-phone"]["Email"] == "c@d.io" and "Phone = x" in stored["bad-phone"][NOTE]
    by_key = dict(zip([w.key for w in writes], results, strict=True))
    assert [d.field for d in by_key["bad-both"].dropped] == ["Email", "Phone"]  # type: ignore[union-attr]
    assert by_key["ok"].dropped == ()  # type: ignore[union-attr]
    assert _dropped_count("Email", "INVALID_EMAIL_ADDRESS") == before + 2
    assert writer.stats.dropped_fields == 4


async def test_a_record_that_cannot_be_written_at_all_fails_after_dropping_what_it_could() -> None:
    fake = FakeSalesforce(
        field_rules={"Lead.Email": _ascii_email},
        record_errors={
            "dup": [("INVALID_EMAIL_ADDRESS", "bad", ["Email"]), ("DUPLICATES_DETECTED", "Use one of these records?")]
        },
    )
    writer = BatchWriter(fake, FAST)
    (res,) = await writer.write([lead("dup", Email="x@y.io")])
    assert isinstance(res, SaveResult) and res.outcome is Outcome.FAILED
    assert res.status_code == "DUPLICATES_DETECTED" and [d.field for d in res.dropped] == ["Email"]
    assert len(fake.writes()) == 2 and not fake.table("Lead")


def test_the_note_lists_every_refused_field_even_next_to_a_huge_value() -> None:
    huge = "y" * 40_000
    write = without_refused(lead(Description=huge, Email="bad@"), refused("STRING_TOO_LONG", "Description"))
    assert write is not None
    write = without_refused(write, refused("INVALID_EMAIL_ADDRESS", "Email"))
    assert write is not None
    note = write.fields[NOTE]
    assert len(note) < 32768 and "(40000 characters)" in note and "- Email = bad@ (INVALID_EMAIL_ADDRESS" in note


# ---- values longer than their standard field: cut to what fits, kept whole for the rep ----------------------
# Scripts and the characters that make cutting hard: accents written as combining marks, emoji outside the BMP
# (Salesforce counts them as 2), skin tones, ZWJ families, flags (two regional indicators), CJK, Greek, Cyrillic.
_HARD = [
    "a",
    "Ø",
    "é",
    "e\u0301",
    "ш",
    "λ",
    "山",
    "😀",
    "👍🏽",
    "👨\u200d👩\u200d👧",
    "🇳🇴",
    "❤\ufe0f",
    " ",
    "𠮟",
]


@given(parts=st.lists(st.sampled_from(_HARD), min_size=1, max_size=200), limit=st.integers(min_value=1, max_value=90))
def test_fit_keeps_the_longest_start_salesforce_stores_and_never_half_a_character(parts: list[str], limit: int) -> None:
    value = "".join(parts)
    short = fit(value, limit)
    assert utf16_length(short) <= limit
    assert value.startswith(short)
    if utf16_length(value) <= limit:
        assert short == value
        return
    # never half a character: what follows the cut starts a new one (no mark, joiner, selector or skin tone) …
    rest = value[len(short) :].lstrip()
    assert rest and not _extends(rest[0]) and not short.endswith("\u200d")
    # … and a flag is kept whole or not at all
    flags = sum(1 for ch in short if 0x1F1E6 <= ord(ch) <= 0x1F1FF)
    assert flags % 2 == 0
    # the longest such start: every whole part that fits (parts are whole characters here), trailing spaces gone
    built = ""
    for p in parts:
        if utf16_length(built + p) > limit:
            break
        built += p
    assert short == built.rstrip()


def test_fit_cuts_plain_text_at_the_limit_and_counts_an_emoji_as_two() -> None:
    assert fit("x" * 129, 128) == "x" * 128
    assert fit("Head of sales " + "x" * 200, 14) == "Head of sales"  # trailing space gone
    assert utf16_length("😀" * 40) == 80 and fit("😀" * 41, 80) == "😀" * 40
    assert fit("😀" * 41, 81) == "😀" * 40  # 81 units: the 41st emoji would need 82
    assert fit("Zoe\u0301" * 20, 4) == "Zoe\u0301"  # "Zoé" written with a combining accent: 4 units
    assert fit("Zoe\u0301" * 20, 3) == "Zo"  # not an "e" without its accent
    assert fit("Ab🇳🇴🇸🇪", 5) == "Ab"  # 2 + one flag (4 units) = 6 > 5


def test_precheck_cuts_long_names_titles_and_companies_and_keeps_them_whole_in_the_note() -> None:
    title = "Head of " + "Digital Transformation and Customer Experience, " * 4
    first = "Maria-Magdalena-Alexandra-Konstantina-Theodora"
    company = "Ø" * 300
    write = precheck(lead(Title=title, FirstName=first, Company=company, City="Oslo", Email="a" * 81 + "@x.no"))
    assert write.fields["Title"] == fit(title, 128) and len(write.fields["Title"]) <= 128
    assert write.fields["FirstName"] == first[:40]
    assert write.fields["Company"] == "Ø" * 255
    assert write.fields["City"] == "Oslo"
    assert "Email" not in write.fields  # a cut address would be a wrong one: left out, as before
    by_field = {d.field: d for d in write.dropped}
    assert set(by_field) == {"Title", "FirstName", "Company", "Email"}
    assert by_field["Title"].value == title and by_field["Title"].code == "STRING_TOO_LONG"
    assert "cut to its first" in by_field["Title"].message
    note = write.fields[NOTE]
    assert title.strip() in note and first in note and company in note


@given(
    field=st.sampled_from(sorted(name for obj, name in CUT_TO_FIT if obj == "Lead")),
    text=st.text(min_size=1, max_size=400).filter(lambda t: t.strip() == t and t),
)
def test_precheck_cuts_every_standard_text_field_only_when_it_is_too_long(field: str, text: str) -> None:
    limit = CUT_TO_FIT[("Lead", field)]
    write = precheck(lead(**{field: text}))
    if utf16_length(text) <= limit:
        assert write.fields[field] == text and not write.dropped
    else:
        assert utf16_length(write.fields[field]) <= limit and text.startswith(write.fields[field])
        assert [d.field for d in write.dropped] == [field] and write.dropped[0].value == text
