"""Every good lead in Salesforce exactly once, and leadflow agrees with Salesforce (issue 12), end to end.

The services run as `make run` starts them: separate processes under the supervisor (its own broker,
emulator, ports and databases in a temporary tree; the demo clock off). The test sends > 2,000 varied
leads (non-ASCII names and e-mails, over-long e-mails, callbacks), the same person 2-5 times within
100 ms / 0.5 s / 2 s / 10 s (each repeat from another country than the first submission, so routing it on
its own would pick another team), leads that repeat an open Lead of the org, repeats of org Leads a rep is
already working (their owners mostly off shift at test time), follow-ups of existing Contacts; then reps act
in Salesforce (calls logged, statuses changed) on the records leads were merged into.

It asserts: every submission is accounted for (none lost), one Lead per new person (repeats update it),
none for a person who is already a Lead or a Contact, one owner per person (every repeat routed to the owner
of the person's record, which a duplicate never moves: issue 12), every merged lead's first-touch clock met by
the activity on its record after its inquiry, and `leadflow reconcile` finds 0 differences. It prints lost /
duplicated / fields dropped by reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from leadflow_contracts import topics
from leadflow_platform.testing.system import System, running_system
from leadflow_salesforce import SalesforceSettings, connect
from pydantic import SecretStr

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("kafka", "salesforce", "intake", "enrich", "score", "route", "crm-sync", "crm-changes", "sla-monitor")
SEED = 20261204
SINGLES = 1400
REPEATED_PEOPLE = 160
WINDOWS = (0.1, 0.5, 2.0, 10.0)
FIRST = [
    "Åse",
    "Bjørn",
    "Zoë",
    "Jürgen",
    "Renée",
    "Łukasz",
    "Søren",
    "Ingrid",
    "Olav",
    "María",
    "José",
    "Chloé",
    "Dmitri",
    "Ελένη",
    "Анна",
    "Hanne",
    "Kari",
    "Nils",
    "Greta",
    "Siobhán",
    "Ömer",
    "Nguyễn",
    "Ana",
]
LAST = [
    "Bølgen",
    "Müller",
    "Ødegård",
    "Nowak",
    "García",
    "Dubois",
    "Haugen",
    "Иванова",
    "Παπαδοπούλου",
    "Berg",
    "Lund",
    "Ó Briain",
    "Yılmaz",
    "Trần",
    "Ferreira",
    "Kowalczyk",
    "Nieminen",
    "Dahl",
]
PHONES = ("+47 9{:07d}", "+49 151 {:08d}", "+46 70 {:07d}", "+33 6 {:08d}", "+44 74{:08d}")
COUNTRIES = ("NO", "DE", "SE", "FR", "GB", "AT", "DK")
DOMAINS = ["fjordtech.example", "rheinwerk.example", "nordlys.example", "bølgen.example", "maisonclair.example"]


# ---- the system, as make run starts it (leadflow_platform.testing.system) -----------------------------
def _salesforce(system: System, username: str = "integration@leadflow.example") -> SalesforceSettings:
    return SalesforceSettings(
        login_url=system.emulator_url,
        username=username,
        password=SecretStr("leadflow-pass"),
        security_token=SecretStr("LEADFLOWTOKEN"),
        ca_bundle=system.ca,
        timeout=30.0,
    )


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with running_system(Path(tmp_path_factory.mktemp("e2e-identity")), SERVICES) as running:
        yield running


# ---- the leads -------------------------------------------------------------------------------------------
@dataclass
class Person:
    key: str
    kind: str  # new | repeat | lead (an open Lead of the org) | worked (one a rep works) | contact (a Contact)
    email: str
    phone: str | None
    target: str | None = None  # the org's Lead/Contact Id for kind lead/contact
    window: float = 0.0
    lead_ids: list[str] = field(default_factory=list)


def _phone(pattern: str, i: int) -> str:
    number = pattern.format(i)
    assert phonenumbers.is_valid_number(phonenumbers.parse(number)), number
    return number


def _email(rng: random.Random, i: int) -> str:
    roll = rng.random()
    if roll < 0.04:  # over-long (valid for the contract, longer than Salesforce's 80)
        label = "".join(rng.choice("abcdefghij") for _ in range(50))
        return f"person.{i}@{label}.{label[:30]}.example"
    if roll < 0.08:  # internationalised: non-ASCII local part or domain
        return rng.choice([f"åse.{i}@bølgen.example", f"zoë.{i}@fjordtech.example", f"jürgen.{i}@müller.example"])
    return f"p{i}.{rng.choice(['kari', 'nils', 'greta', 'olav'])}@{rng.choice(DOMAINS[:3] + DOMAINS[4:])}"


def _submission(
    rng: random.Random,
    person: Person,
    *,
    email: str | None = None,
    phone: str | None = None,
    callback: bool = False,
    country: str | None = None,
) -> dict[str, Any]:
    lead_id = f"e2e-{uuid.uuid4().hex[:16]}"
    person.lead_ids.append(lead_id)
    country = country or rng.choice(COUNTRIES)
    body: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "lead_id": lead_id,
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": {"system": "e2e-identity", "campaign": {"utm_campaign": "issue-12"}},
        "lead_source": "callback_request" if callback else rng.choice(["web_form", "web_form", "partner", "webinar"]),
        "consent": {"may_call": True, "may_email": True},
        "person": {
            "first_name": rng.choice(FIRST),
            "last_name": rng.choice(LAST),
            "email": email or person.email,
            "phone": (phone if phone is not None else person.phone) or None,
            "job_title": rng.choice(["CEO", "Head of Sales", "Buyer", "Leiter Einkauf", "Responsable achats"]),
        },
        "company": {
            "name": f"{rng.choice(LAST)} {rng.choice(['AS', 'GmbH', 'AB', 'SARL', 'Ltd'])}",
            "country": country,
            "employees": rng.choice([5, 40, 250, 1200]),
        },
    }
    if callback:
        start = datetime.now(UTC) + timedelta(hours=rng.randint(2, 30))
        body["callback"] = {"start": start.replace(microsecond=0).isoformat(), "timezone": "Europe/Oslo"}
    return body


def _people(
    rng: random.Random,
    org_leads: list[dict[str, Any]],
    contacts: list[dict[str, Any]],
    worked: list[dict[str, Any]] = (),  # type: ignore[assignment]
) -> tuple[list[Person], list[dict[str, Any]], list[tuple[float, dict[str, Any]]]]:
    people: list[Person] = []
    now_batch: list[dict[str, Any]] = []
    later: list[tuple[float, dict[str, Any]]] = []  # (delay seconds, submission)
    n = 0
    for _ in range(SINGLES):
        n += 1
        p = Person(f"single-{n}", "new", _email(rng, n), _phone(rng.choice(PHONES), n))
        people.append(p)
        now_batch.append(_submission(rng, p, callback=rng.random() < 0.1))
    for k in range(REPEATED_PEOPLE):
        n += 1
        window = WINDOWS[k % len(WINDOWS)]
        p = Person(f"repeat-{n}", "repeat", _email(rng, n), _phone("+47 4{:07d}", n), window=window)
        people.append(p)
        times = 2 + k % 4  # 2..5 submissions within the window
        by_phone = k % 3 == 0  # what every submission of this person shares: the phone, else the e-mail
        first_country = COUNTRIES[k % len(COUNTRIES)]
        for j in range(times):
            delay = window * j / (times - 1)
            # every repeat from another country: routed on its own it would go to another team (issue 12)
            other = COUNTRIES[(k + j) % len(COUNTRIES)] if j else first_country
            if j == 0:
                sub = _submission(rng, p, country=first_country)
            elif by_phone:  # the same phone, written differently, with another e-mail each time
                d = (p.phone or "").replace(" ", "")
                phone = d if j % 2 else f"{d[:3]} {d[3:6]} {d[6:8]} {d[8:]}"
                sub = _submission(rng, p, email=f"other.{n}.{j}@private.example", phone=phone, country=other)
            elif j % 2:  # the same e-mail, in capitals, no phone
                email = p.email.upper() if p.email.isascii() else p.email
                sub = _submission(rng, p, email=email, phone="", country=other)
            else:  # the same e-mail with another phone
                sub = _submission(rng, p, phone=_phone("+47 4{:07d}", 5_000_000 + n * 10 + j), country=other)
            later.append((delay, sub))
    for rec in org_leads:
        p = Person(f"lead-{rec['Id']}", "lead", rec["Email"], None, target=rec["Id"])
        people.append(p)
        now_batch.append(_submission(rng, p, phone=""))
    for rec in contacts:
        p = Person(f"contact-{rec['Id']}", "contact", rec["Email"], None, target=rec["Id"])
        people.append(p)
        now_batch.append(_submission(rng, p, phone=""))
    for rec in worked:  # a new inquiry from someone a rep is already working
        p = Person(f"worked-{rec['Id']}", "worked", rec["Email"], None, target=rec["Id"])
        people.append(p)
        now_batch.append(_submission(rng, p, phone=""))
    return people, now_batch, later


# ---- reading the outputs --------------------------------------------------------------------------------
class Outputs:
    """crm.synced, leads.rejected, leads.deadletter and sla.events, read from the beginning in the background."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.synced: dict[str, list[dict[str, Any]]] = {}
        self.rejected: dict[str, dict[str, Any]] = {}
        self.dead: dict[str, dict[str, Any]] = {}
        self.met: set[tuple[str, str]] = set()
        self.duplicate_of: dict[str, dict[str, Any] | None] = {}
        self.routed: dict[str, list[dict[str, Any]]] = {}
        """lead id → its LeadRouted events' assignments (with ``reassignment``), in arrival order."""
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        names = [
            topics.CRM_SYNCED,
            topics.LEADS_REJECTED,
            topics.LEADS_DEADLETTER,
            topics.SLA_EVENTS,
            topics.LEADS_ENRICHED,
            topics.LEADS_ROUTED,
        ]
        consumer = AIOKafkaConsumer(
            *names,
            bootstrap_servers=self.bootstrap,
            group_id=f"e2e-{uuid.uuid4().hex}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()

        async def run() -> None:
            try:
                while True:
                    batch = await consumer.getmany(timeout_ms=200, max_records=5000)
                    for tp, records in batch.items():
                        for r in records:
                            self._take(tp.topic, json.loads(r.value))
            finally:
                await consumer.stop()

        self._task = asyncio.create_task(run())

    def _take(self, topic: str, ev: dict[str, Any]) -> None:
        lead_id = ev.get("lead_id", "")
        if topic == topics.CRM_SYNCED and not ev.get("shadow"):
            self.synced.setdefault(lead_id, []).append(ev)
        elif topic == topics.LEADS_REJECTED:
            self.rejected[lead_id] = ev
        elif topic == topics.LEADS_DEADLETTER:
            self.dead[lead_id] = ev
        elif topic == topics.SLA_EVENTS and ev.get("kind") == "met":
            self.met.add((lead_id, ev["clock"]))
        elif topic == topics.LEADS_ENRICHED:
            self.duplicate_of[lead_id] = ev["enrichment"].get("duplicate_of")
        elif topic == topics.LEADS_ROUTED:
            self.routed.setdefault(lead_id, []).append({**ev["assignment"], "reassignment": ev["reassignment"]})

    def first_owner(self, lead_id: str) -> str | None:
        first = [a for a in self.routed.get(lead_id, []) if a["reassignment"] == 0]
        return first[0]["owner_id"] if first else None

    def latest_owner(self, lead_id: str) -> str | None:
        routings = self.routed.get(lead_id, [])
        return max(routings, key=lambda a: a["reassignment"])["owner_id"] if routings else None

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def accounted(self, lead_id: str) -> bool:
        return lead_id in self.synced or lead_id in self.rejected or lead_id in self.dead


async def _until(predicate: Any, timeout: float, what: str, system: System) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout:.0f} s\n{system.tail()}")
        await asyncio.sleep(0.5)


def _all(sf: Any, soql: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "attributes"} for r in sf.query_all_iter(soql)]


# ---- the test ---------------------------------------------------------------------------------------------
async def test_every_person_is_one_lead_merged_clocks_are_met_and_reconcile_agrees(system: System) -> None:
    t0 = time.monotonic()
    rng = random.Random(SEED)
    sf = connect(_salesforce(system))
    open_leads = _all(
        sf, "SELECT Id, Email FROM Lead WHERE Email != null AND IsConverted = false AND Status = 'Open - Not Contacted'"
    )
    by_email = Counter(str(r["Email"]).lower() for r in open_leads)
    org_leads = [r for r in open_leads if by_email[str(r["Email"]).lower()] == 1][:30]
    all_contacts = _all(sf, "SELECT Id, Email FROM Contact WHERE Email != null")
    contact_emails = Counter(str(r["Email"]).lower() for r in all_contacts)
    org_leads = [r for r in org_leads if str(r["Email"]).lower() not in contact_emails]
    contacts = [
        r
        for r in all_contacts
        if str(r["Email"]).lower() not in by_email and contact_emails[str(r["Email"]).lower()] == 1
    ][:30]
    taken = {str(r["Email"]).lower() for r in org_leads} | set(contact_emails)
    working = _all(
        sf,
        "SELECT Id, Email, OwnerId FROM Lead WHERE Email != null AND IsConverted = false "
        "AND Status = 'Working - Contacted'",
    )
    worked_emails = Counter(str(r["Email"]).lower() for r in working)
    worked = [
        r
        for r in working
        if worked_emails[str(r["Email"]).lower()] == 1
        and str(r["Email"]).lower() not in taken
        and by_email[str(r["Email"]).lower()] == 0
        and str(r["OwnerId"]).startswith("005")
    ][:20]
    assert worked, "the demo org has Leads a rep is working"
    owner_before = {r["Id"]: r["OwnerId"] for r in worked}
    people, now_batch, later = _people(rng, org_leads, contacts, worked)
    submissions = len(now_batch) + len(later)
    assert submissions >= 2000

    outputs = Outputs(system.bootstrap)
    await outputs.start()
    producer = AIOKafkaProducer(bootstrap_servers=system.bootstrap, linger_ms=5)
    await producer.start()
    try:

        async def send(body: dict[str, Any]) -> None:
            await producer.send(
                topics.LEADS_INBOUND, json.dumps(body, ensure_ascii=False).encode(), key=body["lead_id"].encode()
            )

        async def send_later(delay: float, body: dict[str, Any]) -> None:
            await asyncio.sleep(delay)
            await send(body)

        await asyncio.gather(*(send(b) for b in now_batch), *(send_later(d, b) for d, b in later))
        await producer.flush()
    finally:
        await producer.stop()
    all_ids = [lid for p in people for lid in p.lead_ids]
    await _until(lambda: all(outputs.accounted(i) for i in all_ids), 240, "every submission accounted for", system)
    processed = time.monotonic() - t0

    # ---- exactly one Lead per person ----
    ours = {
        r["Leadflow_Id__c"]: r
        for r in _all(sf, "SELECT Id, Leadflow_Id__c, OwnerId, Email FROM Lead WHERE Leadflow_Id__c LIKE 'e2e-%'")
    }
    lost = [i for i in all_ids if i not in outputs.synced]
    duplicated: list[str] = []
    wrong_target: list[str] = []
    for p in people:
        leads = [ours[i]["Id"] for i in p.lead_ids if i in ours]
        expected = 1 if p.kind in ("new", "repeat") else 0  # lead / worked / contact: the record exists
        if len(leads) > expected:
            duplicated.append(p.key)
        record = leads[0] if leads else p.target
        for i in p.lead_ids:
            got = {s["salesforce_id"] for s in outputs.synced.get(i, [])}
            if got and got != {record}:
                wrong_target.append(f"{p.key}:{i}:{sorted(got)}!={record}")
    dropped = Counter(
        (d["field"], d["reason"]) for evs in outputs.synced.values() for e in evs for d in e.get("dropped_fields") or ()
    )
    print(
        f"\nissue-12 e2e: {submissions} submissions of {len(people)} people processed in {processed:.0f} s; "
        f"lost {len(lost)}, duplicated people {len(duplicated)}, rejected {len(outputs.rejected)}, "
        f"dead-lettered {len(outputs.dead)}, wrong record {len(wrong_target)}"
    )
    print(
        "fields dropped by reason: " + (", ".join(f"{f}/{r}: {n}" for (f, r), n in sorted(dropped.items())) or "none")
    )
    if outputs.rejected:
        email_of = {i: p.email for p in people for i in p.lead_ids}
        reasons = Counter(f"{r.get('reason')}:{r.get('field')}" for r in outputs.rejected.values())
        print(
            f"rejected by reason: {dict(reasons)}; e.g. "
            f"{[(email_of.get(i), r.get('message')) for i, r in list(outputs.rejected.items())[:5]]}"
        )
    by_key = {p.key: p for p in people}
    for k in duplicated[:5]:  # what enrich decided for each submission of a person who became two Leads
        p = by_key[k]
        print(
            f"duplicated {p.kind}/{p.window}/{p.email[:40]}: "
            f"{[(i, i in ours, outputs.duplicate_of.get(i)) for i in p.lead_ids]}"
        )
    if wrong_target:
        print(f"wrong record: {wrong_target[:5]}")
    assert duplicated == [], duplicated[:10]
    assert wrong_target == [], wrong_target[:10]
    unaccounted = [i for i in lost if i not in outputs.rejected]
    assert unaccounted == [], unaccounted[:10]

    # ---- one person, one owner: a duplicate follows its record and never moves it (issue 12) ----
    await _until(
        lambda: all(outputs.first_owner(i) for p in people for i in p.lead_ids if i in outputs.synced),
        60,
        "every routing read",
        system,
    )
    sf_owner = {
        r["Id"]: r["OwnerId"]
        for r in _all(
            sf, "SELECT Id, OwnerId FROM Lead WHERE Leadflow_Id__c LIKE 'e2e-%' OR Status = 'Working - Contacted'"
        )
    }
    split: list[str] = []
    repeats_routed = first_was_a_repeat = 0
    for p in people:
        if p.kind != "repeat":
            continue
        root = next((i for i in p.lead_ids if i in ours), None)
        assert root is not None, p.key
        firsts = {i: outputs.first_owner(i) for i in p.lead_ids}
        if len(set(firsts.values())) != 1:
            split.append(f"{p.key}: {firsts}")
        if outputs.latest_owner(root) != sf_owner.get(ours[root]["Id"]):
            split.append(
                f"{p.key}: root {root} routed to {outputs.latest_owner(root)}, Lead owned by "
                f"{sf_owner.get(ours[root]['Id'])}"
            )
        repeats_routed += len(p.lead_ids) - 1
        policies = {i: outputs.routed[i][0]["policy"] for i in p.lead_ids}
        first_was_a_repeat += policies[p.lead_ids[0]] == "duplicate"
    moved: list[str] = []
    for p in people:
        if p.kind != "worked":
            continue
        assert p.target is not None
        if sf_owner.get(p.target) != owner_before[p.target]:
            moved.append(f"{p.key}: owner {owner_before[p.target]} -> {sf_owner.get(p.target)}")
        for i in p.lead_ids:
            a = outputs.routed[i][0]
            if (a["owner_id"], a["policy"]) != (owner_before[p.target], "duplicate"):
                moved.append(f"{p.key}:{i} routed to {a['owner_id']} by {a['policy']}: {a['reason']}")
    print(
        f"one person, one owner: {repeats_routed} repeats of {REPEATED_PEOPLE} people routed to their first "
        f"lead's owner (for {first_was_a_repeat} people a repeat reached route first); {len(worked)} worked "
        f"Leads kept their owner; disagreements {len(split) + len(moved)}"
    )
    assert split == [], split[:10]
    assert moved == [], moved[:10]

    # ---- reps act on the records leads were merged into ----
    reps = [
        u["Username"]
        for u in _all(sf, "SELECT Username, IsActive FROM User WHERE IsActive = true")
        if str(u["Username"]).endswith("@leadflow-demo.example")
    ]
    rep_sf = connect(_salesforce(system, reps[0]))
    touched = [p for p in people if p.kind == "repeat"][:40] + [
        p for p in people if p.kind in ("lead", "contact", "worked")
    ]
    for k, p in enumerate(touched):
        record = next(ours[i]["Id"] for i in p.lead_ids if i in ours) if p.kind == "repeat" else p.target
        assert record is not None
        if p.kind == "lead" and k % 2:
            await asyncio.to_thread(rep_sf.Lead.update, record, {"Status": "Working - Contacted"})
        else:
            subtype = "Email" if k % 3 == 0 else "Call"
            await asyncio.to_thread(
                rep_sf.Task.create,
                {"WhoId": record, "Subject": f"{subtype} with prospect", "TaskSubtype": subtype, "Status": "Completed"},
            )
    expected_met = {(i, "first_touch") for p in touched for i in p.lead_ids}
    await _until(lambda: expected_met <= outputs.met, 120, "merged leads' first-touch clocks met", system)
    print(
        f"merged clocks met: {len(expected_met)} leads on {len(touched)} records "
        f"({sum(1 for p in touched if p.kind == 'contact')} Contacts)"
    )

    # ---- leadflow reconcile finds nothing ----
    s = _salesforce(system)
    env = {
        **os.environ,
        "RECONCILE_KAFKA_BOOTSTRAP": system.bootstrap,
        "RECONCILE_SALESFORCE__LOGIN_URL": system.emulator_url,
        "RECONCILE_SALESFORCE__USERNAME": str(s.username),
        "RECONCILE_SALESFORCE__PASSWORD": "leadflow-pass",
        "RECONCILE_SALESFORCE__SECURITY_TOKEN": "LEADFLOWTOKEN",
        "RECONCILE_SALESFORCE__CA_BUNDLE": str(system.ca),
    }
    leadflow = str(Path(sys.executable).parent / "leadflow")
    done = await asyncio.to_thread(
        subprocess.run, [leadflow, "reconcile", "--json"], env=env, capture_output=True, text=True, timeout=180
    )
    await outputs.stop()
    assert done.stdout, done.stderr
    report = json.loads(done.stdout)
    print(f"leadflow reconcile: {json.dumps(report['summary'])}; total {time.monotonic() - t0:.0f} s")
    assert report["differences"] == [], report["differences"][:20]
    assert done.returncode == 0
    # a good lead is never lost to a value Salesforce would refuse: over-long and internationalised e-mails
    # are valid in the contract; the lead is written without the refused value (crm-sync's field fallback)
    assert not outputs.rejected, sorted({f"{r.get('reason')}: {r.get('message')}" for r in outputs.rejected.values()})
    long_ones = [p for p in people if p.kind == "new" and len(p.email) > 80]
    assert long_ones and all(p.lead_ids[0] in ours for p in long_ones)
