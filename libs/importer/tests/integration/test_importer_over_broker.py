"""An import over the real embedded broker whose leads reach leads.accepted through the intake service."""

import asyncio
import csv
import io

import pytest
from leadflow_contracts import topics
from leadflow_importer.runner import ImportOptions, run_import
from leadflow_platform.testing.fixtures import consume

pytestmark = pytest.mark.integration


@pytest.fixture
async def intake(kafka_bootstrap, topic_namespace, sqlite_url):
    from leadflow_intake.app import create_app
    from leadflow_intake.settings import IntakeSettings

    settings = IntakeSettings(
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topic_namespace.prefix,
        database_url=sqlite_url,
        consumer_group=f"intake-{topic_namespace.prefix}",
        batch_timeout_ms=20,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


async def test_import_reaches_accepted_and_writes_a_rejects_file_and_reimport_publishes_nothing(
    kafka_bootstrap, topic_namespace, intake, tmp_path
):
    path = tmp_path / "webinar.csv"
    rows = [
        ["Fornavn", "Etternavn", "E-post", "Telefon", "Bedrift", "Land"],
        ["Kari", "Nordmann", "kari@fjordkraft.example", "+47 912 34 567", "Fjordkraft AS", "Norge"],
        ["Ola", "Hansen", "ola@nordlys.example", "", "Nordlys AS", "NO"],
        ["Per", "Uten", "", "", "Kontaktløs AS", "NO"],  # no contact: rejected locally
        ["Eva", "Feil", "eva@@bad", "", "Feil AS", "NO"],  # bad e-mail: rejected locally
    ]
    with path.open("w", encoding="latin-1", newline="") as fh:
        csv.writer(fh, delimiter=";").writerows(rows)
    ledger = tmp_path / "ledger.sqlite"
    opts = ImportOptions(
        path=path,
        campaign="oslo-webinar",
        source_kind="webinar",
        bootstrap=kafka_bootstrap,
        topic_prefix=topic_namespace.prefix,
        wait_seconds=60,
        ledger=ledger,
        progress_stream=io.StringIO(),
    )
    summary = await run_import(opts)
    assert (summary.read, summary.published, summary.rejected_locally) == (4, 2, 2)
    assert summary.accepted == 2 and summary.no_verdict == 0
    accepted = await consume(kafka_bootstrap, topic_namespace(topics.LEADS_ACCEPTED), 2)
    emails = sorted(__import__("json").loads(r.value)["lead"]["email"] for r in accepted)
    assert emails == ["kari@fjordkraft.example", "ola@nordlys.example"]
    rejects = list(csv.reader(summary.rejects_file.open(encoding="utf-8-sig")))
    assert rejects[0][:4] == ["row", "reject_reason", "reject_field", "reject_message"]
    assert {(r[1], r[4]) for r in rejects[1:]} == {("no_contact", "Per"), ("invalid_email", "Eva")}

    again = await run_import(ImportOptions(**{**opts.__dict__, "wait_seconds": 1}))
    assert again.published == 0 and again.already_imported == 2
    # each run has its own rejects file and summary: the first run's are still there
    assert again.rejects_file != summary.rejects_file and summary.rejects_file.exists()
    assert again.summary_file.exists() and summary.summary_file.exists()
    assert "rejected locally 2" in summary.summary_file.read_text()
    await asyncio.sleep(0.5)
    inbound = await consume(kafka_bootstrap, topic_namespace(topics.LEADS_INBOUND), 3, timeout=3)
    assert len(inbound) == 2, "nothing published twice"


async def test_the_3200_lead_corpus_imported_gets_intakes_verdict_row_by_row(
    kafka_bootstrap, topic_namespace, sqlite_url, tmp_path
):
    """The issue-11 corpus as a UTF-8 CSV through `leadflow import` and a live intake (default region DE)."""
    from leadflow_intake.app import create_app
    from leadflow_intake.settings import IntakeSettings
    from leadflow_intake.testing_corpus import DEFAULT_REGION, build_corpus

    corpus = build_corpus()
    path = tmp_path / "corpus.csv"
    first_lines, line = [], 2
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(list(corpus[0].row()))
        for lead in corpus:
            writer.writerow(list(lead.row().values()))
            first_lines.append(line)
            line += 1 + sum(v.count("\n") for v in lead.row().values())
    settings = IntakeSettings(
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topic_namespace.prefix,
        database_url=sqlite_url,
        consumer_group=f"intake-{topic_namespace.prefix}",
        batch_timeout_ms=20,
        default_region=DEFAULT_REGION,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        summary = await run_import(
            ImportOptions(
                path=path,
                campaign="corpus",
                bootstrap=kafka_bootstrap,
                topic_prefix=topic_namespace.prefix,
                wait_seconds=180,
                progress_stream=io.StringIO(),
                default_region=DEFAULT_REGION,
            )
        )
    expected_rejected = {first_lines[c.index]: c.expected.reason for c in corpus if c.expected.status == "rejected"}
    assert summary.read == len(corpus)
    assert summary.accepted == len(corpus) - len(expected_rejected) and summary.no_verdict == 0
    assert summary.rejected_by_intake == 0, "the importer publishes only what intake accepts"
    rejects = list(csv.reader(summary.rejects_file.open(encoding="utf-8-sig")))[1:]
    assert {int(r[0]): r[1] for r in rejects} == expected_rejected
    assert summary.contact_notes["phone unverified (kept as given)"] == sum(
        1 for c in corpus if c.expected.status == "accepted" and c.expected.phone_unverified
    )
