import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest
from leadflow_contracts import LeadSubmitted
from leadflow_importer.mapping import MappingFile, detect, normalise_header
from leadflow_importer.reader import RowSource
from leadflow_importer.rows import build, stable_ids
from openpyxl import Workbook
from pydantic import ValidationError

pytestmark = pytest.mark.unit
NOW = datetime(2026, 4, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "target"),
    [
        ("E-mail", "person.email"),
        ("E-post", "person.email"),
        ("Courriel", "person.email"),
        ("Telefon", "person.phone"),
        ("Tlf.", "person.phone"),
        ("Téléphone", "person.phone"),
        ("Firma", "company.name"),
        ("Bedrift", "company.name"),
        ("Bedrijf", "company.name"),
        ("Companie", "company.name"),
        ("Société", "company.name"),
        ("Fornavn", "person.first_name"),
        ("Nachname", "person.last_name"),
        ("Postleitzahl", "company.postcode"),
        ("Land", "company.country"),
        ("Stilling", "person.job_title"),
        ("\ufeffEmail Address", "person.email"),
        ("first_name", "person.first_name"),
    ],
)
def test_headers_in_many_languages_are_recognised(header, target):
    assert detect([header]) == {0: target}


def test_mapping_file_overrides_and_ignores_and_rejects_unknown_targets():
    mapping = MappingFile(columns={"Kontakt-Mail": "person.email", "Firma": "ignore"})
    assert detect(["Kontakt-Mail", "Firma", "Telefon"], mapping) == {0: "person.email", 2: "person.phone"}
    with pytest.raises(ValidationError, match=r"unknown target 'person\.shoe_size'"):
        MappingFile(columns={"Shoe": "person.shoe_size"})


def test_normalise_header_strips_accents_punctuation_and_bom():
    assert normalise_header("\ufeff  Téléphone_Nº ") == "telephone no"


def _write(path: Path, text: str, encoding: str) -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize(
    ("encoding", "sep", "bom"),
    [("utf-8", ",", False), ("utf-8", ";", True), ("latin-1", ";", False), ("cp1252", "\t", False)],
)
def test_csv_encodings_separators_bom_and_quoted_newlines(tmp_path, encoding, sep, bom):
    text = (
        f"Fornavn{sep}Etternavn{sep}E-post{sep}Bedrift{sep}Kommentar\n"
        f'Åse{sep}Ødegård{sep}ase@fjord.example{sep}Fjord AS{sep}"line one\nline two"\n'
        f"René{sep}Müller{sep}rene@example.com{sep}Café Crème SARL{sep}\n"
    )
    raw = ("\ufeff" if bom else "") + text
    path = _write(tmp_path / "list.csv", raw, encoding)
    source = RowSource(path)
    rows = list(source.rows())
    assert source.info.delimiter == sep
    assert source.info.headers[0] == "Fornavn"
    assert [r[1][0] for r in rows] == ["Åse", "René"]
    assert rows[0][1][4] == "line one\nline two"
    assert rows[1][1][3] == "Café Crème SARL"
    assert source.progress() == 1.0


def test_xlsx_rows(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["Name", "Telefon", "Firma", "Ansatte"])
    ws.append(["Kari Nordmann", "+47 912 34 567", "Nord AS", 42])
    ws.append([None, None, None, None])
    ws.append(["Ola Hansen", "+47 22 33 44 55", "Sør AS", 7.0])
    wb.save(tmp_path / "list.xlsx")
    source = RowSource(tmp_path / "list.xlsx")
    rows = list(source.rows())
    assert [r[1] for r in rows] == [
        ["Kari Nordmann", "+47 912 34 567", "Nord AS", "42"],
        ["Ola Hansen", "+47 22 33 44 55", "Sør AS", "7"],
    ]
    mapping = detect(source.info.headers)
    built = build(rows[0][0], rows[0][1], mapping, source_kind="webinar", source_system="xlsx", campaign="c", now=NOW)
    lead = LeadSubmitted.model_validate_json(built.payload)
    assert (lead.person.first_name, lead.person.last_name) == ("Kari", "Nordmann")
    assert lead.company.employees == 42 and lead.lead_source == "webinar"


def test_rows_become_contract_payloads_or_local_rejections_with_the_field():
    headers = ["Email", "Phone", "Company", "Do not call", "Employees"]
    mapping = detect(headers)

    def b(values):
        return build(7, values, mapping, source_kind="list_upload", source_system="s", campaign="c", now=NOW)

    ok = b(["a@b.example", "", "Acme", "yes", "12"])
    lead = LeadSubmitted.model_validate_json(ok.payload)
    assert lead.consent.may_call is False and lead.person.email == "a@b.example"
    assert lead.source.campaign.utm_campaign == "c"
    assert b(["", "", "Acme", "", ""]).reason == "no_contact"
    bad = b(["not-an-email", "", "Acme", "", ""])
    assert (bad.reason, bad.field) == ("invalid_email", "person.email")
    assert b(["a@b.example", "", "Acme", "maybe", ""]).field == "consent.do_not_call"
    assert b(["a@b.example", "", "Acme", "", "lots"]).reason == "schema_violation"


def test_stable_ids_depend_on_row_content_only():
    a = stable_ids("s", "c", ["x", " y "])
    assert a == stable_ids("s", "c", ["x", "y"])
    assert a != stable_ids("s", "c", ["x", "z"])
    assert a != stable_ids("s", "other", ["x", "y"])


def test_large_file_streams_in_bounded_memory(tmp_path):
    import tracemalloc

    path = tmp_path / "big.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Email", "Company"])
        for i in range(100_000):
            w.writerow([f"user{i}@example.com", f"Company {i}"])
    tracemalloc.start()
    count = sum(1 for _ in RowSource(path).rows())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == 100_000
    assert peak < 5 * 1024 * 1024, f"peak {peak} bytes while streaming a {path.stat().st_size}-byte file"


def test_row_is_the_first_physical_line_of_a_record_with_quoted_newlines(tmp_path):
    path = tmp_path / "multi.csv"
    path.write_text(
        'Email,Notes\na@b.example,"line one\nline two\nline three"\n\nc@d.example,plain\ne@f.example,"x\ny"\n',
        encoding="utf-8",
    )
    rows = [(n, v[0]) for n, v in RowSource(path).rows()]
    assert rows == [(2, "a@b.example"), (6, "c@d.example"), (7, "e@f.example")]


def test_each_run_writes_its_own_rejects_and_summary(tmp_path):
    from datetime import UTC, datetime

    from leadflow_importer.runner import run_paths

    path = tmp_path / "leads.csv"
    started = datetime(2026, 12, 4, 16, 32, 5, tzinfo=UTC)
    rejects, summary = run_paths(path, started)
    assert (rejects.name, summary.name) == (
        "leads.rejects.20261204T163205Z.csv",
        "leads.rejects.20261204T163205Z.summary.txt",
    )
    rejects.write_text("earlier run")
    again, _ = run_paths(path, started)  # a second run in the same second never overwrites the first
    assert again.name == "leads.rejects.20261204T163205Z-1.csv"
    assert rejects.read_text() == "earlier run"


def test_the_importer_uses_intakes_rule_a_bad_email_with_a_valid_phone_is_published():
    mapping = detect(["Email", "Phone", "Country"])

    def b(values, **kw):
        return build(3, values, mapping, source_kind="list_upload", source_system="s", campaign="c", now=NOW, **kw)

    kept = b(["eva@@bad", "+47 912 34 567", "NO"])
    assert kept.payload is not None and kept.reason is None
    assert kept.contact == ("invalid", "verified")
    unstorable = b(["chloé@exemple.fr", "01 23 45 67 89", "France"])
    assert unstorable.payload is not None and unstorable.contact == ("not_storable", "verified")
    assert b(
        ["chloé@exemple.fr", "01 23 45 67 89", "France"],
        email_policy=__import__("leadflow_intake.domain.emails", fromlist=["EmailPolicy"]).EmailPolicy(
            internationalized=True
        ),
    ).contact == ("stored", "verified")
    # a national number with a country intake cannot read is not verified, and alone it is no contact
    alone = b(["", "0721 234 567", "Atlantis"], default_region="DE")
    assert (alone.reason, alone.field) == ("invalid_phone", "person.phone")
    assert b(["", "0721 234 567", "România"], default_region="DE").contact == (None, "verified")
