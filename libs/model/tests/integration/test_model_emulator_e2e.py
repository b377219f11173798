"""End to end on the real Salesforce emulator: export → history Leads → Bulk 2.0 query → train → publish →
ModelRegistry scores LeadEnriched events. Also the CLI over the same path."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from leadflow_contracts import LeadSourceKind
from leadflow_model.artifacts import read_active
from leadflow_model.cli import Progress
from leadflow_model.emulator import OrgFieldsMissing, check_org_fields, extended_schema, seed_history
from leadflow_model.history import History, fetch_salesforce_history
from leadflow_model.mapping import Mapping
from leadflow_model.registry import ModelRegistry
from leadflow_model.train import TrainConfig
from leadflow_model.workflow import publish, train_and_write
from leadflow_salesforce import connect
from leadflow_salesforce.testing import EmulatorHandle, running_emulator

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def history_org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorHandle]:
    schema = extended_schema(tmp_path_factory.mktemp("sfemu-schema") / "sobjects.json")
    with running_emulator(env={"SFEMU_SCHEMA_PATH": str(schema)}) as emu:
        yield emu


@pytest.fixture(scope="module")
def loaded(history_org: EmulatorHandle, small_history: History, xedu_mapping: Mapping) -> EmulatorHandle:
    history_org.reset()
    n = seed_history(history_org._http, history_org.url, small_history, xedu_mapping, chunk=1000)
    assert n == len(small_history)
    sf = connect(history_org.salesforce_settings())
    # two leads still being worked: their outcome is unknown, so training must leave them out
    for i in range(2):
        sf.Lead.create({"LastName": f"Open {i}", "Company": "Acme", "Status": "Working - Contacted"})
    return history_org


def test_history_round_trips_through_bulk_2_query(
    loaded: EmulatorHandle, small_history: History, xedu_mapping: Mapping
) -> None:
    sf = connect(loaded.salesforce_settings())
    check_org_fields(sf, xedu_mapping)
    bar = io.StringIO()
    got = fetch_salesforce_history(sf, xedu_mapping, page_size=500, wait=0, progress=Progress("q", stream=bar))
    assert len(got) == len(small_history)
    assert got.skipped == {"Working - Contacted": 2}
    assert got.labels == small_history.labels  # same order (CreatedDate), same outcomes
    assert got.created == small_history.created
    for a, b in zip(got.records[:200], small_history.records[:200], strict=True):
        for field in xedu_mapping.fields:
            assert a[field] == b[field], (field, a[field], b[field])
    total = len(small_history) + 2
    assert f"{total}/{total}" in bar.getvalue().replace(" ", "")  # the progress bar reached the end


def test_train_from_the_org_then_score_live_leads(
    loaded: EmulatorHandle, xedu_mapping: Mapping, tmp_path: Path, make_lead
) -> None:
    sf = connect(loaded.salesforce_settings())
    history = fetch_salesforce_history(sf, xedu_mapping, wait=0)
    cfg = TrainConfig(cv_folds=3, param_grid=({"max_iter": 40},), baseline=False)
    outcome = train_and_write(history, xedu_mapping, tmp_path, cfg)
    assert outcome.trained.metrics["holdout"]["roc_auc"] > 0.8
    assert history.source == "salesforce:Lead"
    publish(tmp_path, outcome.version, evaluation=outcome.holdout)
    reg = ModelRegistry(tmp_path)
    leads = [
        make_lead(lead_id="ad", kind=LeadSourceKind.AD_PLATFORM, seconds=1400, visits=4, page_views=10),
        make_lead(lead_id="chat", utm_source="olark", seconds=0, visits=0, page_views=0, job_title=None),
    ]
    ad, chat = reg.score_batch(leads)
    assert ad.model_version == chat.model_version == outcome.version
    assert ad.probability > chat.probability
    assert ad.contributions and all(r.reason.endswith(" %") for r in ad.contributions)


def test_an_org_without_the_history_fields_is_named(xedu_mapping: Mapping) -> None:
    class Org:
        class Lead:
            @staticmethod
            def describe() -> dict[str, list[dict[str, str]]]:
                return {"fields": [{"name": "LeadSource"}, {"name": "Country"}]}

    with pytest.raises(OrgFieldsMissing) as err:
        check_org_fields(Org(), xedu_mapping)
    assert "Lead_Origin__c" in err.value.missing and "Country" not in err.value.missing


def test_cli_trains_from_salesforce_and_publishes(
    loaded: EmulatorHandle, xedu_mapping: Mapping, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from leadflow_cli.main import main

    mapping = Path(__file__).resolve().parents[4] / "deploy" / "model" / "x-education-mapping.yaml"
    argv = [
        "scoring",
        "train",
        "--from-salesforce",
        "--emulator",
        loaded.url,
        "--emulator-ca",
        str(loaded.ca_path),
        "--mapping",
        str(mapping),
        "--artifacts",
        str(tmp_path),
        "--quick",
        "--publish",
        "--bulk-wait",
        "0",
        "--since",
        "2024-01-01T00:00:00Z",
    ]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "holdout newest 20% by time" in out and "ROC AUC" in out and "published" in out
    n = int(err.split("history: ")[1].split(" leads")[0])
    assert 400 < n < 1200  # only leads created since 2024-01-01
    assert "bulk 2.0 query: Lead" in err
    assert read_active(tmp_path).active is not None
    assert main(["scoring", "status", "--artifacts", str(tmp_path)]) == 0
    assert "active" in capsys.readouterr().out
