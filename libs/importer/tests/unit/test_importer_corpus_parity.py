"""Importer = intake: every row of the 3,200-lead corpus written as CSV (UTF-8 and Latin-1) and XLSX
gets, from the importer, the verdict intake gives the same lead sent as JSON."""

import csv
import itertools
import json
from datetime import UTC, datetime

import pytest
from leadflow_contracts import LeadSubmitted
from leadflow_importer.mapping import detect
from leadflow_importer.reader import RowSource
from leadflow_importer.rows import build
from leadflow_intake.domain.decide import Accepted, DecisionContext, decide
from leadflow_intake.testing_corpus import DEFAULT_REGION, build_corpus

pytestmark = pytest.mark.unit
NOW = datetime(2026, 12, 4, tzinfo=UTC)
CORPUS = build_corpus()
HEADERS = list(CORPUS[0].row())


def intake_verdict(payload) -> tuple:
    result = decide(LeadSubmitted.model_validate(payload), DecisionContext(now=NOW, default_region=DEFAULT_REGION))
    if isinstance(result, Accepted):
        return ("accepted", result.email_decision, result.phone_status, result.lead.country, result.lead.language)
    return ("rejected", result.reason.value)


def importer_verdicts(path) -> list[tuple[int, tuple]]:
    source = RowSource(path)
    rows = list(source.rows())
    mapping = detect(source.info.headers)
    assert sorted(mapping.values()) == sorted(
        ["person.first_name", "person.last_name", "person.email", "person.phone", "person.language", "company.name",
         "company.country", "message"]
    )  # fmt: skip
    out = []
    for row_number, values in rows:
        built = build(row_number, values, mapping, source_kind="list_upload", source_system="corpus", campaign="c",
                      now=NOW, default_region=DEFAULT_REGION)  # fmt: skip
        if built.payload is None:
            out.append((row_number, ("rejected", built.reason)))
        else:
            lead = LeadSubmitted.model_validate(json.loads(built.payload))
            accepted = decide(lead, DecisionContext(now=NOW, default_region=DEFAULT_REGION))
            assert isinstance(accepted, Accepted), "the importer publishes only what intake accepts"
            out.append((row_number, ("accepted", *built.contact, accepted.lead.country, accepted.lead.language)))
    return out


def _latin1(lead) -> bool:
    try:
        "".join(lead.row().values()).encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_csv_rows_get_intakes_verdict(tmp_path, encoding):
    leads = [c for c in CORPUS if encoding == "utf-8" or _latin1(c)]
    assert len(leads) > 1000
    path = tmp_path / f"corpus-{encoding}.csv"
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh, delimiter=";" if encoding == "latin-1" else ",")
        writer.writerow(HEADERS)
        for lead in leads:
            writer.writerow(list(lead.row().values()))
    got = importer_verdicts(path)
    assert len(got) == len(leads), "no row lost"
    assert [v for _, v in got] == [intake_verdict(c.payload) for c in leads]
    # the row is the first line of each record (a message may span lines): the line a spreadsheet shows
    first_lines, line = [], 2
    for lead in leads:
        first_lines.append(line)
        line += 1 + sum(value.count("\n") for value in lead.row().values())
    assert [n for n, _ in got] == first_lines
    assert any(b - a > 1 for a, b in itertools.pairwise(first_lines))


def test_xlsx_rows_get_intakes_verdict(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(HEADERS)
    for lead in CORPUS:
        ws.append(list(lead.row().values()))
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # text, not a formula: "=HYPERLINK(…)" is a name here
    path = tmp_path / "corpus.xlsx"
    wb.save(path)
    got = importer_verdicts(path)
    assert [n for n, _ in got] == list(range(2, len(CORPUS) + 2))
    assert [v for _, v in got] == [intake_verdict(c.payload) for c in CORPUS]
