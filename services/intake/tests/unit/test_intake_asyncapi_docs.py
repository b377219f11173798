"""The committed AsyncAPI documents (deploy/asyncapi) are what the apps generate today, and intake
serves the public one as a self-contained HTML page at /docs/events."""

import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from leadflow_contracts import LeadSubmitted, RejectionReason
from leadflow_intake.app import create_app
from leadflow_intake.settings import IntakeSettings

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[4]
ASYNCAPI_DIR = ROOT / "deploy" / "asyncapi"


def _load_generator():
    spec = importlib.util.spec_from_file_location("leadflow_asyncapi_generate", ASYNCAPI_DIR / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generator():
    return _load_generator()


@pytest.fixture(scope="module")
def rendered(generator):
    return generator.render_all()


def test_committed_asyncapi_documents_are_up_to_date(generator, rendered):
    stale = generator.stale_files(ASYNCAPI_DIR, expected=rendered)
    assert stale == [], f"stale AsyncAPI documents {stale}: run `make asyncapi` and commit deploy/asyncapi"


def test_a_changed_or_missing_or_extra_document_is_reported_stale(generator, rendered, tmp_path):
    for name in rendered:
        shutil.copy(ASYNCAPI_DIR / name, tmp_path / name)
    assert generator.stale_files(tmp_path, expected=rendered) == []
    (tmp_path / "intake.yaml").write_text((tmp_path / "intake.yaml").read_text().replace("leads.inbound", "x"))
    (tmp_path / "score.yaml").unlink()
    (tmp_path / "retired-service.yaml").write_text("asyncapi: 3.0.0\n")
    assert generator.stale_files(tmp_path, expected=rendered) == ["intake.yaml", "retired-service.yaml", "score.yaml"]


def test_every_kafka_service_has_a_document_and_intakes_lists_what_it_consumes_and_publishes(rendered):
    assert {
        "intake.yaml",
        "enrich.yaml",
        "score.yaml",
        "route.yaml",
        "sla-monitor.yaml",
        "ops.yaml",
        "public.yaml",
    } <= set(rendered)
    intake = yaml.safe_load(rendered["intake.yaml"])
    by_address = {ch["address"]: ch for ch in intake["channels"].values()}
    assert set(by_address) == {"leads.inbound", "leads.accepted", "leads.rejected"}
    actions = {
        intake["channels"][op["channel"]["$ref"].removeprefix("#/channels/")]["address"]: op["action"]
        for op in intake["operations"].values()
    }
    assert actions == {"leads.inbound": "receive", "leads.accepted": "send", "leads.rejected": "send"}
    messages = intake["components"]["messages"]
    payloads = {m["payload"]["$ref"].rsplit("/", 1)[-1] for m in messages.values()}
    assert payloads == {"LeadSubmitted", "LeadAccepted", "LeadRejected"}


@pytest.fixture(scope="module")
async def docs_client(tmp_path_factory):
    db = tmp_path_factory.mktemp("docs") / "intake.db"
    app = create_app(IntakeSettings(database_url=f"sqlite+aiosqlite:///{db}", _env_file=None))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake") as client:
        yield client


async def test_events_page_renders_channels_messages_and_schemas_without_external_resources(docs_client):
    response = await docs_client.get("/docs/events")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    for topic in ("leads.inbound", "leads.rejected", "sla.events", "crm.synced"):
        assert f"<code>{topic}</code>" in page
    for name in ("LeadSubmitted", "LeadRejected", "SlaEvent", "CrmSynced", "Person", "Company", "Consent"):
        assert f'id="schema-{name}"' in page
    submitted = page.split('id="schema-LeadSubmitted"', 1)[1].split("<h3", 1)[0]
    for field in LeadSubmitted.model_fields:
        assert f"<td><code>{field}</code></td>" in submitted
    for reason in RejectionReason:
        assert f"<code>{reason.value}</code>" in page
    assert '<a href="/docs/events.json">' in page and '<a href="/docs">' in page
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "the page must not load anything remote"
    # every in-page link points at an anchor the page has
    anchors = set(re.findall(r'id="([^"]+)"', page))
    assert set(re.findall(r'href="#([^"]+)"', page)) <= anchors


async def test_raw_document_is_served_and_equals_the_committed_public_document(docs_client):
    committed = yaml.safe_load((ASYNCAPI_DIR / "public.yaml").read_text())
    as_json = await docs_client.get("/docs/events.json")
    assert as_json.status_code == 200 and as_json.headers["content-type"] == "application/json"
    assert json.loads(as_json.text) == committed
    as_yaml = await docs_client.get("/docs/events.yaml")
    assert as_yaml.status_code == 200 and yaml.safe_load(as_yaml.text) == committed


async def test_fastapi_docs_for_the_http_api_still_work_and_the_events_page_is_not_in_openapi(docs_client):
    assert (await docs_client.get("/docs")).status_code == 200
    paths = (await docs_client.get("/openapi.json")).json()["paths"]
    assert "/v1/leads" in paths
    assert not any(p.startswith("/docs/events") for p in paths)
