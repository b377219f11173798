"""Every example of the "Publishing leads" guide (services/intake/docs/examples) runs as a user would
run it — a subprocess — against the real embedded broker and a real intake (uvicorn socket, the
demo sources file of `make run`), and its lead reaches leads.accepted. One intake for the module
(one consumer-group join)."""

import asyncio
import contextlib
import json
import os
import shutil
import sys
from pathlib import Path

import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from leadflow_contracts import LeadAccepted, LeadSubmitted
from leadflow_intake.adapters.config_files import SourceRegistry, load_sources_file
from leadflow_intake.app import create_app
from leadflow_intake.settings import IntakeSettings
from leadflow_platform.embedded_kafka import free_port
from leadflow_platform.testing.fixtures import TopicNamespace, wait_for
from pydantic import SecretStr

pytestmark = pytest.mark.integration

INTAKE = Path(__file__).resolve().parents[2]
EXAMPLES = INTAKE / "docs" / "examples"
SOURCES_FILE = INTAKE / "config" / "sources.example.yaml"
DEMO_SOURCE, DEMO_KEY, DEMO_SECRET = "demo-webform", "demo-webform-key", "demo-webform-secret"  # run.yaml's demo


@pytest.fixture(scope="module")
async def live(kafka_bootstrap, tmp_path_factory):
    ns = TopicNamespace(kafka_bootstrap)
    await ns.create()
    port = free_port()
    db = tmp_path_factory.mktemp("intake-examples") / "intake.db"
    settings = IntakeSettings(
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=ns.prefix,
        http_port=port,
        database_url=f"sqlite+aiosqlite:///{db}",
        consumer_group=f"{ns.prefix}intake",
        batch_timeout_ms=20,
        _env_file=None,
    )
    sources = SourceRegistry.build(
        load_sources_file(SOURCES_FILE), {"INTAKE_SOURCE_SECRET_DEMO_WEBFORM": SecretStr(DEMO_SECRET)}
    )
    app = create_app(settings, sources=sources)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    await wait_for(lambda: server.started, timeout=30)
    # pay the consumer group's first assignment once, here
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(ns("leads.inbound"), _lead_bytes("warm-up"), key=b"warm-up")
    finally:
        await producer.stop()
    await wait_for(lambda: app.state.intake.service.counts["accepted"] >= 1, timeout=60)
    yield ns, port, app
    server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 30)


def _lead_bytes(tag: str) -> bytes:
    """The guide's lead.json with its ids made unique for this test (intake de-duplicates by event id)."""
    lead = json.loads((EXAMPLES / "lead.json").read_text())
    lead["event_id"] = f"{lead['event_id']}-{tag}"
    lead["lead_id"] = f"{lead['lead_id']}-{tag}"
    return json.dumps(lead, indent=2).encode()


def _lead_file(tmp_path: Path, tag: str) -> tuple[Path, str]:
    path = tmp_path / "lead.json"
    path.write_bytes(_lead_bytes(tag))
    return path, json.loads(path.read_bytes())["lead_id"]


async def _run(*argv: str | Path, env: dict[str, str] | None = None) -> str:
    proc = await asyncio.create_subprocess_exec(
        *map(str, argv),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
        cwd=EXAMPLES,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode == 0, f"{argv[0]} failed ({proc.returncode}): {err.decode()} {out.decode()}"
    return out.decode()


async def _records(bootstrap: str, topic: str, key: str, timeout: float = 30):
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        async with asyncio.timeout(timeout):
            async for record in consumer:
                if record.key == key.encode():
                    return record
    finally:
        await consumer.stop()
    raise AssertionError("unreachable")


async def _accepted(bootstrap: str, topic: str, lead_id: str) -> LeadAccepted:
    return LeadAccepted.model_validate_json((await _records(bootstrap, topic, lead_id, timeout=60)).value)


async def _assert_published_as_the_guide_says(bootstrap: str, topic: str, path: Path, lead_id: str) -> None:
    """One record, the file's bytes as they are, keyed by the lead_id, content-type header."""
    inbound = await _records(bootstrap, topic, lead_id)
    assert inbound.value == path.read_bytes()
    assert ("content-type", b"application/json") in list(inbound.headers)


def _assert_is_the_example(event: LeadAccepted, lead_id: str) -> None:
    example = LeadSubmitted.model_validate_json((EXAMPLES / "lead.json").read_bytes())
    assert event.lead_id == lead_id
    assert event.lead.email == example.person.email
    assert event.lead.phone_e164 == "+49301234567"
    assert event.lead.source.system == DEMO_SOURCE
    assert event.lead.callback == example.callback
    assert event.trace[-1].decision == "accepted"


async def test_the_example_lead_is_a_valid_lead_submitted():
    lead = LeadSubmitted.model_validate_json((EXAMPLES / "lead.json").read_bytes())
    assert lead.lead_id and lead.event_id and lead.source.system == DEMO_SOURCE
    # every top-level field of the contract is shown in the full example
    assert set(json.loads((EXAMPLES / "lead.json").read_text())) == set(LeadSubmitted.model_fields) - {"trace"}


async def test_aiokafka_example_reaches_leads_accepted(kafka_bootstrap, live, tmp_path):
    ns, _port, _app = live
    path, lead_id = _lead_file(tmp_path, "aiokafka")
    out = await _run(
        sys.executable,
        EXAMPLES / "publish_aiokafka.py",
        path,
        "--bootstrap",
        kafka_bootstrap,
        "--topic",
        ns("leads.inbound"),
    )
    assert f"published {lead_id}" in out
    _assert_is_the_example(await _accepted(kafka_bootstrap, ns("leads.accepted"), lead_id), lead_id)
    await _assert_published_as_the_guide_says(kafka_bootstrap, ns("leads.inbound"), path, lead_id)


async def test_confluent_kafka_example_reaches_leads_accepted(kafka_bootstrap, live, tmp_path):
    pytest.importorskip("confluent_kafka", reason="confluent-kafka is in intake's dev dependencies (make install)")
    ns, _port, _app = live
    path, lead_id = _lead_file(tmp_path, "confluent")
    out = await _run(
        sys.executable,
        EXAMPLES / "publish_confluent.py",
        path,
        "--bootstrap",
        kafka_bootstrap,
        "--topic",
        ns("leads.inbound"),
    )
    assert f"published {lead_id}" in out
    _assert_is_the_example(await _accepted(kafka_bootstrap, ns("leads.accepted"), lead_id), lead_id)
    await _assert_published_as_the_guide_says(kafka_bootstrap, ns("leads.inbound"), path, lead_id)


def _kcat_library_path(tmp_path: Path) -> dict[str, str]:
    """Debian bookworm's kcat 1.7.1 links librdkafka 2.0.2, which cannot parse the embedded (Tansu)
    broker's ApiVersion v3 response ("Read underflow"; Apache Kafka is fine). When confluent-kafka's
    wheel is installed, run the same kcat binary with the newer librdkafka the wheel bundles (the
    librdkafka ABI is stable across 2.x)."""
    try:
        import confluent_kafka
    except ImportError:
        return {}
    libs = sorted((Path(confluent_kafka.__file__).parent.parent / "confluent_kafka.libs").glob("librdkafka*.so.1"))
    if not libs:
        return {}
    link_dir = tmp_path / "librdkafka"
    link_dir.mkdir()
    (link_dir / "librdkafka.so.1").symlink_to(libs[0])
    return {"LD_LIBRARY_PATH": str(link_dir)}


async def test_kcat_example_reaches_leads_accepted(kafka_bootstrap, live, tmp_path):
    if shutil.which("kcat") is None:
        pytest.skip("kcat is not on PATH: install Debian's package (apt-get install kcat) to run this example")
    ns, _port, _app = live
    path, lead_id = _lead_file(tmp_path, "kcat")
    env = {"BOOTSTRAP": kafka_bootstrap, "TOPIC": ns("leads.inbound"), **_kcat_library_path(tmp_path)}
    out = await _run("bash", EXAMPLES / "publish_kcat.sh", path, env=env)
    assert f"published {lead_id}" in out
    _assert_is_the_example(await _accepted(kafka_bootstrap, ns("leads.accepted"), lead_id), lead_id)
    await _assert_published_as_the_guide_says(kafka_bootstrap, ns("leads.inbound"), path, lead_id)


async def test_curl_example_is_signed_accepted_and_reaches_leads_accepted(kafka_bootstrap, live, tmp_path):
    ns, port, _app = live
    path, lead_id = _lead_file(tmp_path, "curl")
    env = {
        "INTAKE_URL": f"http://127.0.0.1:{port}/v1/leads",
        "INTAKE_SOURCE": DEMO_SOURCE,
        "INTAKE_API_KEY": DEMO_KEY,
        "INTAKE_SIGNING_SECRET": DEMO_SECRET,
    }
    out = await _run("bash", EXAMPLES / "post_curl.sh", path, env=env)
    answer = json.loads(out)
    assert answer["status"] == "accepted" and answer["lead_id"] == lead_id
    _assert_is_the_example(await _accepted(kafka_bootstrap, ns("leads.accepted"), lead_id), lead_id)
    # the same request again is a harmless duplicate
    assert json.loads(await _run("bash", EXAMPLES / "post_curl.sh", path, env=env))["status"] == "duplicate"


async def test_curl_example_with_a_wrong_secret_is_refused_and_publishes_nothing(live, tmp_path):
    _ns, port, app = live
    path, _lead_id = _lead_file(tmp_path, "curl-wrong-secret")
    env = {
        "INTAKE_URL": f"http://127.0.0.1:{port}/v1/leads",
        "INTAKE_SOURCE": DEMO_SOURCE,
        "INTAKE_API_KEY": DEMO_KEY,
        "INTAKE_SIGNING_SECRET": "not-the-secret",
    }
    before = dict(app.state.intake.service.counts)
    proc = await asyncio.create_subprocess_exec(
        "bash",
        str(EXAMPLES / "post_curl.sh"),
        str(path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **env},
    )
    out, _err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode != 0  # curl --fail-with-body: a 401 fails the script
    assert json.loads(out.decode().strip())["reason"] == "invalid_signature"
    assert app.state.intake.service.counts == before
