"""The two sides' I/O: leadflow's topics read to their true end, and Salesforce by paged SOQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer
from leadflow_contracts import CrmChange, CrmSynced, DeadLetter, LeadRouted, SlaEvent, topics
from leadflow_platform.offsets import end_offsets, partitions_of
from pydantic import ValidationError
from simple_salesforce.api import Salesforce
from simple_salesforce.format import format_soql

from leadflow_cli.reconcile.belief import Belief
from leadflow_cli.reconcile.compare import SalesforceView, is_touch_task, sf_time

TOPICS: dict[str, tuple[type[Any], str]] = {
    topics.LEADS_ROUTED: (LeadRouted, "routed"),
    topics.CRM_SYNCED: (CrmSynced, "synced"),
    topics.LEADS_DEADLETTER: (DeadLetter, "dead_letter"),
    topics.SLA_EVENTS: (SlaEvent, "sla"),
    topics.CRM_CHANGES: (CrmChange, "change"),
}
_IN_CHUNK = 200


async def read_belief(bootstrap: str, prefix: str = "", *, timeout: float = 120.0) -> Belief:
    """Fold every record of leadflow's topics, from the beginning to the end offsets taken at the start."""
    belief = Belief()
    names = {prefix + name: spec for name, spec in TOPICS.items()}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, max_partition_fetch_bytes=1 << 22
    )
    await consumer.start()
    try:
        tps = await partitions_of(consumer, names)
        ends = await end_offsets(consumer, tps)
        todo = {tp: end for tp, end in ends.items() if end > 0}
        if not todo:
            return belief
        consumer.assign(list(todo))
        await consumer.seek_to_beginning(*todo)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while todo:
            if loop.time() > deadline:
                raise TimeoutError(f"topics not read to the end within {timeout:.0f} s: {sorted(map(str, todo))}")
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            for tp, records in batch.items():
                model, method = names[tp.topic]
                for rec in records:
                    if tp in todo and rec.offset < todo[tp]:
                        _fold(belief, model, method, rec.value, rec.timestamp)
            for tp in list(todo):
                if await consumer.position(tp) >= todo[tp]:
                    del todo[tp]
                    consumer.pause(tp)
    finally:
        await consumer.stop()
    return belief


_SEEN_AT = frozenset({"routed", "synced", "change"})
"""Belief methods that order facts by when they reached the topics (see ``belief``'s module note)."""


def _fold(belief: Belief, model: type[Any], method: str, raw: bytes | None, timestamp_ms: int | None = None) -> None:
    try:
        event = model.model_validate_json(raw or b"")
    except ValidationError:
        belief.counts["unreadable records"] = belief.counts.get("unreadable records", 0) + 1
        return
    if method in _SEEN_AT and timestamp_ms is not None and timestamp_ms >= 0:
        getattr(belief, method)(event, datetime.fromtimestamp(timestamp_ms / 1000, UTC))
    else:
        getattr(belief, method)(event)


def _chunks(ids: Iterable[str], size: int = _IN_CHUNK) -> Iterator[list[str]]:
    items = sorted(set(ids))
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _query(sf: Salesforce, soql: str) -> Iterator[dict[str, Any]]:
    """Every row of a query, page by page (``query`` + ``query_more`` through ``nextRecordsUrl``)."""
    for row in sf.query_all_iter(soql):
        yield {k: v for k, v in row.items() if k != "attributes"}


def read_salesforce(sf: Salesforce, belief: Belief) -> tuple[SalesforceView, int]:
    """Leadflow's Leads, the records leads were merged into, and touch evidence; returns (view, queries)."""
    view = SalesforceView()
    queries = 1
    for lead in _query(
        sf,
        "SELECT Id, Leadflow_Id__c, OwnerId, Status, IsConverted, CreatedDate FROM Lead WHERE Leadflow_Id__c != null",
    ):
        view.leads_by_ext[str(lead["Leadflow_Id__c"])] = lead
    merged = [b.duplicate_of for b in belief.merged_leads()]
    lead_ids = {d.record_id for d in merged if d is not None and d.object == "Lead" and not d.leadflow_id}
    contact_ids = {d.record_id for d in merged if d is not None and d.object == "Contact"}
    for part in _chunks(lead_ids):
        queries += 1
        for lead in _query(sf, format_soql("SELECT Id, OwnerId, Status, IsConverted FROM Lead WHERE Id IN {}", part)):
            view.records_by_id[str(lead["Id"])] = lead
    for part in _chunks(contact_ids):
        queries += 1
        for contact in _query(sf, format_soql("SELECT Id, OwnerId FROM Contact WHERE Id IN {}", part)):
            view.records_by_id[str(contact["Id"])] = contact
    who = {str(v["Id"]) for v in view.leads_by_ext.values()} | set(view.records_by_id)
    for part in _chunks(who):
        queries += 1
        soql = format_soql(
            "SELECT WhoId, Status, IsClosed, TaskSubtype, Subject, LastModifiedDate FROM Task WHERE WhoId IN {}", part
        )
        for task in _query(sf, soql):
            if is_touch_task(task):
                record_id = str(task["WhoId"])
                view.touched.add(record_id)
                at = sf_time(task.get("LastModifiedDate"))
                if at is not None:
                    view.touched_at.setdefault(record_id, []).append(at)
    return view, queries


def connect_salesforce(settings: Any) -> Salesforce:
    from leadflow_salesforce import connect

    sf: Salesforce = connect(settings)
    return sf
