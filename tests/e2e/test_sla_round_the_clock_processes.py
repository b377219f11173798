"""A round-the-clock SLA policy, supplied by settings only, on a running system.

route and sla-monitor run as processes (``python -m …``, as ``make run`` starts them) over the embedded
broker, with a 24/7 calendars file and an SLA policy file given through their settings (no code change)
and the demo clock started at 03:30 on a Sunday night in Oslo — when every office calendar of the
repository is closed. A lead routed then gets its clocks, a warning, a breach, and the escalation ladder
(team leader notified, reassignment requested and carried out by route).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaProducer
from leadflow_contracts import topics
from leadflow_contracts.pipeline import LeadRouted, ReassignRequested
from leadflow_contracts.sla import SlaEvent
from leadflow_platform.embedded_kafka import free_port
from leadflow_platform.testing.fixtures import TopicNamespace, consume, wait_for
from leadflow_route.testing import scored_event

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SUNDAY_NIGHT = datetime(2026, 12, 6, 2, 30, tzinfo=UTC)  # 03:30 in Oslo, a Sunday
SCALE = 60  # one demo minute per real second

CALENDARS = {
    "version": "24x7-1",
    "default": "shifts",
    "teams": {"Nordics": "shifts", "DACH": "shifts", "Benelux": "shifts", "UK & Ireland": "shifts"},
    "calendars": {
        # what an inbound team on shifts writes: every day 00:00-24:00, holidays included
        "shifts": {
            "timezone": "Europe/Oslo",
            "hours": {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
        }
    },
}
POLICIES = {
    "version": "24x7-1",
    "kind": "sla-policies",
    "policies": [
        {
            "name": "round-the-clock",
            "calendar": "team",
            "hours_calendar": "shifts",
            "first_touch_minutes": 10,
            "qualify_days": 1,
            "warn_at": 0.5,
            "escalation": [
                {"action": "notify_team_leader", "delay_minutes": 0},
                {"action": "reassign", "delay_minutes": 5},
            ],
            "reset_on_reassign": True,
        }
    ],
}


@contextlib.contextmanager
def service(module: str, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=ROOT,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def ready(port: int) -> bool:
    try:
        async with httpx.AsyncClient(timeout=1) as client:
            return (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
    except httpx.HTTPError:
        return False


async def test_round_the_clock_policy_warns_breaches_and_escalates_at_any_hour(
    kafka_bootstrap: str, topic_namespace: TopicNamespace, tmp_path: Path
) -> None:
    calendars, policies = tmp_path / "calendars.yaml", tmp_path / "sla-policies.yaml"
    calendars.write_text(yaml.safe_dump(CALENDARS))
    policies.write_text(yaml.safe_dump(POLICIES))
    anchor = datetime.now(UTC)
    demo = {
        "LEADFLOW_DEMO_CLOCK_SCALE": str(SCALE),
        "LEADFLOW_DEMO_CLOCK_ANCHOR": anchor.isoformat(),
        "LEADFLOW_DEMO_CLOCK_START": SUNDAY_NIGHT.isoformat(),
    }
    route_port, sla_port = free_port(), free_port()
    route_env = {
        **demo,
        "ROUTE_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "ROUTE_TOPIC_PREFIX": topic_namespace.prefix,
        "ROUTE_HTTP_PORT": str(route_port),
        "ROUTE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'route.db'}",
        "ROUTE_ROSTER_FIXTURE": str(ROOT / "services/salesforce-emulator/fixtures/demo_org.json"),
        "ROUTE_SLA_POLICIES": str(policies),
        "ROUTE_CALENDARS": str(calendars),
    }
    sla_env = {
        **demo,
        "SLA_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "SLA_TOPIC_PREFIX": topic_namespace.prefix,
        "SLA_HTTP_PORT": str(sla_port),
        "SLA_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'sla.db'}",
        "SLA_CALENDARS_FILE": str(calendars),
        "SLA_POLICIES_FILE": str(policies),
        "SLA_SCHEDULER_LEASE_SECONDS": str(30 * SCALE),
    }
    with (
        service("leadflow_route", route_env, tmp_path / "route.log"),
        service("leadflow_sla_monitor", sla_env, tmp_path / "sla.log") as sla_proc,
    ):
        try:
            await wait_for(lambda: ready(route_port), timeout=90, interval=0.5)
            await wait_for(lambda: ready(sla_port), timeout=90, interval=0.5)
            demo_now = SUNDAY_NIGHT + (datetime.now(UTC) - anchor) * SCALE
            scored = scored_event("night-owl", country="NO", language="no", at=demo_now)
            producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
            await producer.start()
            try:
                await producer.send_and_wait(
                    topic_namespace(topics.LEADS_SCORED), scored.to_json_bytes(), key=scored.kafka_key()
                )
            finally:
                await producer.stop()

            async def sla_kinds() -> list[tuple[str, str, str | None]]:
                records = await consume(kafka_bootstrap, topic_namespace(topics.SLA_EVENTS), 1000, timeout=0.5)
                events = [SlaEvent.model_validate_json(r.value) for r in records]
                return [(e.clock, e.kind.value, e.escalation_action) for e in events if e.lead_id == "night-owl"]

            async def escalated_twice() -> bool:
                kinds = await sla_kinds()
                return ("first_touch", "escalated", "reassign") in kinds

            # 10 demo minutes of first touch + 5 before the reassignment = 15 s of real time (plus start-up).
            await wait_for(escalated_twice, timeout=120, interval=0.5)
            kinds = await sla_kinds()

            async def routed_again() -> list[LeadRouted]:
                records = await consume(kafka_bootstrap, topic_namespace(topics.LEADS_ROUTED), 100, timeout=0.5)
                found = [LeadRouted.model_validate_json(r.value) for r in records]
                return found if any(r.reassignment >= 1 for r in found) else []

            # route carries the reassignment out: the lead is routed again (to someone else or the team queue).
            routed = await wait_for(routed_again, timeout=60, interval=0.5)
        except Exception:
            sla_proc.terminate()
            raise AssertionError(
                "route log:\n"
                + (tmp_path / "route.log").read_text()[-4000:]
                + "\nsla log:\n"
                + (tmp_path / "sla.log").read_text()[-4000:]
            ) from None

    first = [k for k in kinds if k[0] == "first_touch"]
    assert first[:5] == [
        ("first_touch", "started", None),
        ("first_touch", "warning", None),
        ("first_touch", "breached", None),
        ("first_touch", "escalated", "notify_team_leader"),
        ("first_touch", "escalated", "reassign"),
    ], kinds
    assert ("qualify", "started", None) in kinds
    initial = next(r for r in routed if r.reassignment == 0)
    # Route stamped the due time in the 24/7 calendar: ten wall minutes after routing, on a Sunday night.
    assert initial.sla.first_touch_due == initial.occurred_at + timedelta(minutes=10)
    assert initial.occurred_at.astimezone(UTC).weekday() == 6
    reassigns = await consume(kafka_bootstrap, topic_namespace(topics.LEADS_REASSIGN), 1, timeout=10)
    request: Any = ReassignRequested.model_validate_json(reassigns[0].value)
    assert request.lead_id == "night-owl" and request.target == "any"
    again = next(r for r in routed if r.reassignment >= 1)
    assert again.assignment.owner_id != initial.assignment.owner_id or again.assignment.owner_type != "user"
