"""One feature extraction for training and serving: the same lead read from the history (CSV export) and
seen live (the LeadEnriched the score service gets) gives identical feature rows and probabilities.

Both paths are built from the same records: every row of the shared X Education export, published the way
its web form would publish it, and generated leads (hypothesis) written both as an export row and an event.
"""

from __future__ import annotations

import csv
import io
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from leadflow_contracts import (
    Campaign,
    Engagement,
    Enrichment,
    LeadEnriched,
    LeadSourceKind,
    NormalizedLead,
    SourceInfo,
)
from leadflow_model.features import encode
from leadflow_model.history import country_code, read_csv_history
from leadflow_model.intake import IntakeExtractor
from leadflow_model.mapping import Mapping
from leadflow_model.registry import ModelRegistry

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
# What the X Education form publishes as the lead-source kind for each origin of the export.
KIND_OF_ORIGIN = {
    "Landing Page Submission": LeadSourceKind.WEB_FORM,
    "Lead Add Form": LeadSourceKind.AD_PLATFORM,
    "Lead Import": LeadSourceKind.LIST_UPLOAD,
    "API": LeadSourceKind.PARTNER,
}
ANSWER_COLUMNS = {
    "specialization": "Specialization",
    "occupation": "What is your current occupation",
    "heard_from": "How did you hear about X Education",
    "course_priority": "What matters most to you in choosing a course",
}


def _blank(v: str) -> bool:
    return v.strip() in ("", "Select")


def event_from_row(row: dict[str, str], mapping: Mapping, i: int = 0) -> LeadEnriched:
    """The lead as the X Education form would publish it, after intake (answers validated, country ISO)."""
    visits = None if _blank(row["TotalVisits"]) else int(float(row["TotalVisits"]))
    ppv = None if _blank(row["Page Views Per Visit"]) else float(row["Page Views Per Visit"])
    page_views = None if visits is None or ppv is None else round(ppv * visits)
    seconds = None if _blank(row["Total Time Spent on Website"]) else float(row["Total Time Spent on Website"])
    answers = {k: row[col] for k, col in ANSWER_COLUMNS.items() if not _blank(row[col])}
    assert mapping.custom_answers is not None
    answers, problems = mapping.custom_answers.validate_answers(answers)
    assert not problems, problems
    lead = NormalizedLead(
        source_event_id=f"src-{i}",
        submitted_at=NOW,
        accepted_at=NOW,
        source=SourceInfo(
            system="x-education-web",
            campaign=Campaign(utm_source=None if _blank(row["Lead Source"]) else row["Lead Source"]),
        ),
        lead_source=KIND_OF_ORIGIN[row["Lead Origin"]],
        do_not_email=row["Do Not Email"] == "Yes",
        do_not_call=row["Do Not Call"] == "Yes",
        country=None if _blank(row["Country"]) else country_code(row["Country"]),
        engagement=Engagement(
            visits=visits,
            page_views=page_views,
            time_on_site_seconds=seconds,
            content_downloads=1 if row["A free copy of Mastering The Interview"] == "Yes" else 0,
        ),
        custom_answers=answers,
    )
    return LeadEnriched(
        event_id=f"enriched-{i}", lead_id=f"lead-{i}", occurred_at=NOW, lead=lead, enrichment=Enrichment()
    )


def _assert_same(history_rec: dict[str, Any], live_rec: dict[str, Any], fields: list[str], where: str) -> None:
    for f in fields:
        a, b = history_rec[f], live_rec[f]
        same = (a is None and b is None) or (
            a is not None and b is not None and (a == b or (isinstance(a, float) and math.isclose(a, b, abs_tol=0)))
        )
        assert same, f"{where}: {f}: history {a!r} != live {b!r}"


def test_every_export_row_gives_the_same_features_and_probability_live_and_from_history(
    xedu_csv: Path, xedu_mapping: Mapping, registry: ModelRegistry
) -> None:
    history = read_csv_history(xedu_csv, xedu_mapping)
    by_id = {r["Id"]: r for r in history.records}
    extractor = IntakeExtractor(xedu_mapping.columns, xedu_mapping.intake, xedu_mapping.missing_values)
    with open(xedu_csv, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    compared = skipped = 0
    events: list[LeadEnriched] = []
    ids: list[str] = []
    for i, row in enumerate(rows):
        if row["Lead Origin"] not in KIND_OF_ORIGIN:  # "Quick Add Form" (1 lead): no live channel publishes it
            skipped += 1
            continue
        ev = event_from_row(row, xedu_mapping, i)
        live = extractor.record(ev)
        _assert_same(by_id[row["Prospect ID"]], live, xedu_mapping.fields, row["Prospect ID"])
        events.append(ev)
        ids.append(row["Prospect ID"])
        compared += 1
    assert compared >= len(rows) - 1 and skipped <= 1
    # the score service's scorer on the live events == the published model on the history rows, every lead
    scores = registry.score_batch(events)
    slot = registry._state.active
    assert slot is not None
    offline = slot.loaded.model.predict_proba(encode(slot.loaded.manifest.spec, [by_id[i] for i in ids]))[:, 1]
    live_p = np.asarray([s.probability if s is not None else math.nan for s in scores])
    assert np.count_nonzero(live_p != offline) == 0


def test_unknown_engagement_is_unknown_and_zero_is_zero(xedu_mapping: Mapping, make_lead) -> None:
    extractor = IntakeExtractor(xedu_mapping.columns, xedu_mapping.intake, xedu_mapping.missing_values)
    ev = make_lead()
    unknown = ev.model_copy(update={"lead": ev.lead.model_copy(update={"engagement": Engagement()})})
    rec = extractor.record(unknown)
    assert rec["Web_Visits__c"] is None and rec["Web_Time_On_Site__c"] is None
    assert rec["Web_Page_Views_Per_Visit__c"] is None
    zero = ev.model_copy(
        update={
            "lead": ev.lead.model_copy(
                update={"engagement": Engagement(visits=0, page_views=0, time_on_site_seconds=0)}
            )
        }
    )
    rec0 = extractor.record(zero)
    assert rec0["Web_Visits__c"] == 0.0 and rec0["Web_Page_Views_Per_Visit__c"] == 0.0


def test_no_utm_source_is_no_lead_source_never_the_publishing_system(xedu_mapping: Mapping, make_lead) -> None:
    extractor = IntakeExtractor(xedu_mapping.columns, xedu_mapping.intake, xedu_mapping.missing_values)
    ev = make_lead(utm_source=None)
    assert ev.lead.source.system == "web"
    assert extractor.record(ev)["LeadSource"] is None
    assert extractor.record(make_lead(utm_source="GOOGLE"))["LeadSource"] == "Google"


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Accountant", "unknown"),
        ("Chief Happiness Officer", "unknown"),
        ("MBA student", "Student"),
        ("", None),
        (None, None),
    ],
)
def test_an_unmapped_job_title_is_unknown_not_a_guessed_occupation(
    xedu_mapping: Mapping, make_lead, title: str | None, expected: str | None
) -> None:
    extractor = IntakeExtractor(xedu_mapping.columns, xedu_mapping.intake, xedu_mapping.missing_values)
    assert extractor.record(make_lead(job_title=title))["Occupation__c"] == expected
    # the form's own answer wins over the job title
    answered = make_lead(job_title="Accountant", custom_answers={"occupation": "Working Professional"})
    assert extractor.record(answered)["Occupation__c"] == "Working Professional"


# ---- generated leads: one record → an export row and an event ------------------------------------------------
_ORIGINS = list(KIND_OF_ORIGIN)
_SOURCES = [
    "Google",
    "google",
    "Direct Traffic",
    "Olark Chat",
    "Organic Search",
    "Reference",
    "Welingak Website",
    "Facebook",
    "bing",
    "Click2call",
    "Live Chat",
    "blog",
    "NC_EDM",
    "",
]


@st.composite
def lead_facts(draw: Any, mapping: Mapping) -> dict[str, Any]:
    assert mapping.custom_answers is not None
    visits = draw(st.one_of(st.none(), st.integers(0, 60)))
    page_views = None if visits is None else (0 if visits == 0 else draw(st.integers(0, 12 * visits)))
    answers = {
        key: draw(st.one_of(st.just(""), st.sampled_from(spec.values)))
        for key, spec in mapping.custom_answers.answers.items()
    }
    return {
        "origin": draw(st.sampled_from(_ORIGINS)),
        "source": draw(st.sampled_from(_SOURCES)),
        "dne": draw(st.booleans()),
        "dnc": draw(st.booleans()),
        "visits": visits,
        "page_views": page_views,
        "seconds": draw(st.one_of(st.none(), st.integers(0, 3000))) if visits is not None else None,
        "download": draw(st.booleans()),
        "country": draw(st.sampled_from(["India", "United States", "Singapore", "Germany", "unknown", ""])),
        "answers": answers,
        "converted": draw(st.booleans()),
    }


def _export_row(i: int, f: dict[str, Any]) -> dict[str, str]:
    v, pv = f["visits"], f["page_views"]
    ppv = "" if v is None else ("0" if v == 0 else f"{round(pv / v, 2)}")
    row = {
        "Prospect ID": f"p-{i}",
        "Lead Number": str(1000 + i),
        "Lead Origin": f["origin"],
        "Lead Source": f["source"],
        "Do Not Email": "Yes" if f["dne"] else "No",
        "Do Not Call": "Yes" if f["dnc"] else "No",
        "Converted": "1" if f["converted"] else "0",
        "TotalVisits": "" if v is None else f"{float(v)}",
        "Total Time Spent on Website": "" if f["seconds"] is None else str(f["seconds"]),
        "Page Views Per Visit": ppv,
        "Country": f["country"],
        "A free copy of Mastering The Interview": "Yes" if f["download"] else "No",
    }
    for key, col in ANSWER_COLUMNS.items():
        row[col] = f["answers"].get(key) or "Select"
    return row


@pytest.fixture(scope="module")
def registry(trained_versions, tmp_path_factory: pytest.TempPathFactory) -> ModelRegistry:
    import shutil

    from leadflow_model.artifacts import ActivePointer, write_active

    root = tmp_path_factory.mktemp("parity-models")
    shutil.copytree(trained_versions.root / trained_versions.v1, root / trained_versions.v1)
    write_active(root, ActivePointer(active=trained_versions.v1))
    return ModelRegistry(root, explain=False)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_generated_leads_give_identical_rows_and_probabilities(
    data: st.DataObject, xedu_mapping: Mapping, registry: ModelRegistry, tmp_path: Path
) -> None:
    facts = data.draw(st.lists(lead_facts(xedu_mapping), min_size=1, max_size=25))
    rows = [_export_row(i, f) for i, f in enumerate(facts)]
    header = list(rows[0])
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=header)
    w.writeheader()
    w.writerows(rows)
    path = tmp_path / "export.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    history = read_csv_history(path, xedu_mapping)
    by_id = {r["Id"]: r for r in history.records}
    extractor = IntakeExtractor(xedu_mapping.columns, xedu_mapping.intake, xedu_mapping.missing_values)
    events = []
    for i, (row, f) in enumerate(zip(rows, facts, strict=True)):
        ev = event_from_row(row, xedu_mapping, i)
        assert ev.lead.engagement.page_views == f["page_views"]
        _assert_same(by_id[row["Prospect ID"]], extractor.record(ev), xedu_mapping.fields, row["Prospect ID"])
        events.append(ev)
    # identical probabilities: the live scorer vs the trained model on the history rows
    live = [s.probability for s in registry.score_batch(events) if s is not None]
    slot = registry._state.active
    assert slot is not None
    x = encode(slot.loaded.manifest.spec, [by_id[r["Prospect ID"]] for r in rows])
    offline = slot.loaded.model.predict_proba(x)[:, 1]
    np.testing.assert_array_equal(np.asarray(live), offline)
