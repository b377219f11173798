"""kill -9 of a service mid-stream loses and doubles nothing (issue 13's fault behaviour, kept over the runtime).

The pipeline runs as `make run` runs it: the supervisor and one process per service on the embedded broker
and the Salesforce emulator. While leads stream in, each of the five pipeline services (intake, enrich, score,
route and crm-sync, one after the other) is killed with SIGKILL in the middle of its batches; the supervisor
restarts them; every lead must end as exactly one Lead in Salesforce, with its owner.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from leadflow_contracts import topics
from leadflow_platform.testing.system import System, running_system
from leadflow_salesforce import SalesforceSettings, connect
from pydantic import SecretStr

pytestmark = pytest.mark.e2e

SERVICES = ("kafka", "salesforce", "intake", "enrich", "score", "route", "crm-sync")
VICTIMS = ("leadflow_intake", "leadflow_enrich", "leadflow_score", "leadflow_route", "leadflow_crm_sync")
LEADS = 600


def _lead(run: str, i: int) -> tuple[bytes, bytes]:
    lead_id = f"k9-{run}-{i:04d}"
    body = {
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, lead_id)),
        "lead_id": lead_id,
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": {"system": "e2e-kill9"},
        "lead_source": "web_form",
        "person": {"first_name": "Ida", "last_name": f"Kill{i}", "email": f"ida.{run}.{i}@firma{i % 50}.example"},
        "company": {"name": f"Firma {i % 50} AS", "country": "NO"},
        "consent": {"may_call": True, "may_email": True},
    }
    return json.dumps(body).encode(), lead_id.encode()


def _salesforce(system: System) -> SalesforceSettings:
    return SalesforceSettings(
        login_url=system.emulator_url,
        username="integration@leadflow.example",
        password=SecretStr("leadflow-pass"),
        security_token=SecretStr("LEADFLOWTOKEN"),
        ca_bundle=system.ca,
        timeout=30.0,
    )


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory):
    with running_system(Path(tmp_path_factory.mktemp("e2e-kill9")), SERVICES) as running:
        yield running


async def test_kill_9_of_each_service_mid_stream_loses_and_doubles_no_lead(system: System) -> None:
    run = uuid.uuid4().hex[:6]
    producer = AIOKafkaProducer(bootstrap_servers=system.bootstrap, linger_ms=5)
    await producer.start()
    killed: list[str] = []
    try:
        for i in range(LEADS):
            value, key = _lead(run, i)
            await producer.send(topics.LEADS_INBOUND, value, key=key)
            if i and i % (LEADS // (len(VICTIMS) + 1)) == 0 and len(killed) < len(VICTIMS):
                victim = VICTIMS[len(killed)]
                os.kill(system.child_pid(victim), signal.SIGKILL)  # mid-batch: leads are flowing through it
                killed.append(victim)
            await asyncio.sleep(0.01)
        await producer.flush()
    finally:
        await producer.stop()
    assert killed == list(VICTIMS)

    sf = connect(_salesforce(system))
    soql = f"SELECT Id, Leadflow_Id__c, OwnerId FROM Lead WHERE Leadflow_Id__c LIKE 'k9-{run}-%'"
    deadline = time.monotonic() + 300
    while True:
        records = await asyncio.to_thread(lambda: list(sf.query_all_iter(soql)))
        if len({r["Leadflow_Id__c"] for r in records}) >= LEADS or time.monotonic() > deadline:
            break
        await asyncio.sleep(2)

    per_lead = Counter(r["Leadflow_Id__c"] for r in records)
    lost = LEADS - len(per_lead)
    doubled = sum(1 for n in per_lead.values() if n > 1)
    print(f"kill -9 of {', '.join(killed)}: {LEADS} leads sent, lost {lost}, doubled {doubled}")
    assert lost == 0, system.tail()
    assert doubled == 0
    assert all(r["OwnerId"] for r in records)
    restarts = [line for line in system.lines if "restarting in" in line]
    assert len(restarts) >= len(VICTIMS), system.tail()
