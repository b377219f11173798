"""Test helpers shipped with the package: a hand-written fake Salesforce gateway and event builders.

The fake keeps records in memory with the rules crm-sync relies on (upsert by external id, update by Id,
required Lead fields, converted leads refusing updates, convertLead) and records every call, so tests
assert on what was sent, not on mocks.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from leadflow_contracts import (
    AccountMatch,
    Assignment,
    CallbackWindow,
    CrmChange,
    DuplicateOf,
    Enrichment,
    FieldChange,
    Grade,
    LeadRouted,
    LeadSourceKind,
    NormalizedLead,
    Rating,
    Score,
    ScoreReason,
    SlaEvent,
    SlaEventKind,
    SlaTarget,
    SourceInfo,
)
from leadflow_contracts.crm import ChangeType
from leadflow_contracts.pipeline import ClientType
from leadflow_salesforce import LeadConvert, LeadConvertError, LeadConvertResult

from leadflow_crm_sync.adapters.gateway import SalesforceCallError
from leadflow_crm_sync.domain.budget import ApiUsage

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
_PREFIX = {"Lead": "00Q", "Task": "00T", "Account": "001", "Contact": "003", "Opportunity": "006"}


@dataclass
class Call:
    operation: str
    sobject: str | None
    records: list[dict[str, Any]]


@dataclass
class FakeSalesforce:
    """An in-memory org behind the SalesforceGateway port."""

    users: list[dict[str, Any]] = field(default_factory=list)
    usage_value: ApiUsage | None = None
    """What the last call's Sforce-Limit-Info said."""
    org_usage: ApiUsage | None = None
    """What /limits would say now (set it to let a probe see the budget recover)."""
    calls: list[Call] = field(default_factory=list)
    records: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    fail_calls: list[SalesforceCallError] = field(default_factory=list)
    """Raised, in order, by the next calls (whole-request failures)."""
    record_errors: dict[str, list[tuple[str, str]] | list[tuple[str, str, list[str]]]] = field(default_factory=dict)
    """key (external id or Id) → errors (statusCode, message[, fields]) returned for its next attempts."""
    field_rules: dict[str, Callable[[Any], str | None]] = field(default_factory=dict)
    """"Lead.Email" → a check returning the statusCode Salesforce answers for a value it refuses (else None):
    every refused field of a record is reported as one error, as a validating org does."""
    on_call: Callable[[Call], None] | None = None
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _index: dict[tuple[str, Any], str] = field(default_factory=dict)

    def _new_id(self, sobject: str) -> str:
        n = next(self._ids)
        return f"{_PREFIX.get(sobject, '0XX')}{n:012d}AAA"

    def table(self, sobject: str) -> dict[str, dict[str, Any]]:
        return self.records.setdefault(sobject, {})

    def by_field(self, sobject: str, name: str, value: Any) -> dict[str, Any] | None:
        if name.endswith("__c") and name.startswith("Leadflow_"):  # external ids: indexed, like the real org
            rid = self._index.get((sobject, value))
            return self.table(sobject).get(rid) if rid else None
        return next((r for r in self.table(sobject).values() if r.get(name) == value), None)

    def _record_call(self, call: Call) -> None:
        self.calls.append(call)
        if self.on_call is not None:
            self.on_call(call)
        if self.fail_calls:
            raise self.fail_calls.pop(0)

    def writes(self, sobject: str | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.operation in ("upsert", "update", "bulk_upsert") and (sobject is None or c.sobject == sobject)
        ]

    # ---- the port --------------------------------------------------------------------------------
    async def save(
        self, mode: Literal["upsert", "update"], sobject: str, ext_field: str | None, records: list[dict[str, Any]]
    ) -> list[Any]:
        self._record_call(Call(mode, sobject, [dict(r) for r in records]))
        return self._save(mode, ext_field, records)

    def _save(
        self, mode: Literal["upsert", "update"], ext_field: str | None, records: list[dict[str, Any]]
    ) -> list[Any]:
        out: list[Any] = []
        for rec in records:
            obj = rec["attributes"]["type"]
            values = {k: v for k, v in rec.items() if k != "attributes"}
            key = values.get("Id") if mode == "update" else values.get(ext_field or "")
            errs = self.record_errors.get(str(key))
            if errs:
                code, msg, *where = errs.pop(0)
                out.append(
                    {
                        "success": False,
                        "errors": [{"statusCode": code, "message": msg, "fields": list(where[0]) if where else []}],
                    }
                )
                continue
            refused = [
                (name, rule(value))
                for name, value in values.items()
                if (rule := self.field_rules.get(f"{obj}.{name}")) is not None
            ]
            if any(code for _, code in refused):
                out.append(
                    {
                        "success": False,
                        "errors": [
                            {"statusCode": code, "message": f"{name}: bad value: {values[name]}", "fields": [name]}
                            for name, code in refused
                            if code
                        ],
                    }
                )
                continue
            if mode == "update":
                existing = self.table(obj).get(values["Id"])
                if existing is None:
                    out.append(
                        {
                            "id": values["Id"],
                            "success": False,
                            "errors": [
                                {
                                    "statusCode": "INVALID_CROSS_REFERENCE_KEY",
                                    "message": "invalid cross reference id",
                                    "fields": [],
                                }
                            ],
                        }
                    )
                    continue
                if obj == "Lead" and existing.get("IsConverted"):
                    out.append(
                        {
                            "id": values["Id"],
                            "success": False,
                            "errors": [
                                {
                                    "statusCode": "CANNOT_UPDATE_CONVERTED_LEAD",
                                    "message": "cannot reference converted lead",
                                    "fields": [],
                                }
                            ],
                        }
                    )
                    continue
                existing.update(values)
                out.append({"id": existing["Id"], "success": True, "errors": []})
                continue
            existing = self.by_field(obj, ext_field or "", key)
            if existing is not None:
                if obj == "Lead" and existing.get("IsConverted"):
                    out.append(
                        {
                            "success": False,
                            "errors": [
                                {
                                    "statusCode": "CANNOT_UPDATE_CONVERTED_LEAD",
                                    "message": "cannot reference converted lead",
                                    "fields": [],
                                }
                            ],
                        }
                    )
                    continue
                existing.update(values)
                out.append({"id": existing["Id"], "success": True, "errors": [], "created": False})
                continue
            if obj == "Lead" and (not values.get("LastName") or not values.get("Company")):
                out.append(
                    {
                        "success": False,
                        "errors": [
                            {
                                "statusCode": "REQUIRED_FIELD_MISSING",
                                "message": "Required fields are missing: [LastName, Company]",
                                "fields": ["LastName", "Company"],
                            }
                        ],
                    }
                )
                continue
            rid = self._new_id(obj)
            self.table(obj)[rid] = {"Id": rid, **values}
            self._index[(obj, key)] = rid
            out.append({"id": rid, "success": True, "errors": [], "created": True})
        return out

    async def bulk_upsert(self, sobject: str, ext_field: str, records: list[dict[str, Any]]) -> list[Any]:
        """Bulk API 2.0 ingest: the same rules as Collections upsert, recorded as one ``bulk_upsert`` call."""
        self._record_call(Call("bulk_upsert", sobject, [dict(r) for r in records]))
        return self._save("upsert", ext_field, records)

    async def convert(self, converts: list[LeadConvert]) -> list[LeadConvertResult]:
        self._record_call(Call("convert", "Lead", [c.model_dump() for c in converts]))
        out = []
        for c in converts:
            lead = self.table("Lead").get(c.lead_id)
            if lead is None:
                out.append(
                    LeadConvertResult(
                        lead_id=c.lead_id,
                        success=False,
                        errors=[
                            LeadConvertError(
                                status_code="INVALID_CROSS_REFERENCE_KEY", message="invalid cross reference id"
                            )
                        ],
                    )
                )
                continue
            if lead.get("IsConverted"):
                out.append(
                    LeadConvertResult(
                        lead_id=c.lead_id,
                        success=False,
                        errors=[
                            LeadConvertError(
                                status_code="CANNOT_UPDATE_CONVERTED_LEAD", message="This lead was already converted."
                            )
                        ],
                    )
                )
                continue
            account = c.account_id or self._new_id("Account")
            self.table("Account").setdefault(account, {"Id": account, "Name": lead.get("Company")})
            contact = c.contact_id or self._new_id("Contact")
            self.table("Contact").setdefault(contact, {"Id": contact, "AccountId": account})
            opp = None
            if not c.do_not_create_opportunity:
                opp = self._new_id("Opportunity")
                self.table("Opportunity")[opp] = {
                    "Id": opp,
                    "Name": c.opportunity_name,
                    "AccountId": account,
                    "OwnerId": c.owner_id or lead.get("OwnerId"),
                }
            lead.update(
                {
                    "IsConverted": True,
                    "ConvertedAccountId": account,
                    "ConvertedContactId": contact,
                    "ConvertedOpportunityId": opp,
                    "Status": c.converted_status,
                }
            )
            out.append(
                LeadConvertResult(
                    lead_id=c.lead_id, success=True, account_id=account, contact_id=contact, opportunity_id=opp
                )
            )
        return out

    async def query(self, soql: str) -> list[dict[str, Any]]:
        self._record_call(Call("query", None, [{"soql": soql}]))
        if " FROM User " in soql:
            return list(self.users)
        if " FROM Lead " in soql:
            lid = soql.rsplit("'", 2)[-2]
            lead = self.table("Lead").get(lid)
            return [lead] if lead else []
        if " FROM Contact " in soql:
            acc = soql.split("AccountId = '", 1)[1].split("'", 1)[0]
            email = soql.split("Email = '", 1)[1].split("'", 1)[0]
            return [c for c in self.table("Contact").values() if c.get("AccountId") == acc and c.get("Email") == email]
        return []

    async def contacts_for(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        self._record_call(Call("query", "Contact", [{"pairs": list(pairs)}]))
        out: dict[tuple[str, str], str] = {}
        for c in self.table("Contact").values():
            key = (str(c.get("AccountId")), str(c.get("Email") or "").lower())
            if key in pairs and key not in out:
                out[key] = c["Id"]
        return out

    async def converted_leads(self, lead_ids: list[str]) -> dict[str, dict[str, Any]]:
        self._record_call(Call("query", "Lead", [{"ids": list(lead_ids)}]))
        return {i: dict(self.table("Lead")[i]) for i in lead_ids if i in self.table("Lead")}

    def usage(self) -> ApiUsage | None:
        return self.usage_value

    async def refresh_usage(self) -> ApiUsage | None:
        self._record_call(Call("limits", None, []))
        if self.org_usage is not None:
            self.usage_value = self.org_usage
        return self.usage_value

    async def close(self) -> None:
        return None


# ---- event builders ---------------------------------------------------------------------------------
_EVENT_SEQ = itertools.count(1)


def _next_event_id(kind: str, lead_id: str) -> str:
    """Each built event is a new event (as each upstream publish is); pass ``event_id`` for a redelivery."""
    return f"{kind}-{lead_id}-{next(_EVENT_SEQ)}"[:128]


def routed(
    lead_id: str = "lead-1",
    *,
    owner_id: str = "005000000000001AAA",
    owner_type: str = "user",
    team: str | None = "Nordics",
    score: float = 72.0,
    rating: Rating = Rating.HOT,
    grade: Grade = Grade.A,
    first_name: str | None = "Kari",
    last_name: str | None = "Hansen",
    job_title: str | None = "Head of Logistics",
    city: str | None = "Oslo",
    company: str | None = "Fjord Logistics AS",
    email: str | None = "kari@fjord.example",
    source: LeadSourceKind = LeadSourceKind.WEB_FORM,
    callback_at: datetime | None = None,
    duplicate_of: DuplicateOf | None = None,
    client_type: ClientType = ClientType.NEW,
    account_id: str | None = None,
    account_owner_id: str | None = None,
    key_account: bool = False,
    do_not_call: bool = False,
    do_not_email: bool = False,
    reassignment: int = 0,
    occurred_at: datetime = T0,
    event_id: str | None = None,
    campaign: str | None = "spring-promo",
) -> LeadRouted:
    from leadflow_contracts import Campaign

    callback = CallbackWindow(start=callback_at, timezone="Europe/Oslo") if callback_at else None
    lead = NormalizedLead(
        source_event_id=f"src-{lead_id}",
        submitted_at=occurred_at - timedelta(seconds=5),
        accepted_at=occurred_at - timedelta(seconds=4),
        source=SourceInfo(system="webforms", campaign=Campaign(utm_campaign=campaign)),
        lead_source=source,
        first_name=first_name,
        last_name=last_name,
        email=email,
        phone_e164="+4791234567",
        job_title=job_title,
        language="no",
        company_name=company,
        company_domain="fjord.example",
        employees=120,
        industry="Shipping",
        country="NO",
        city=city,
        do_not_call=do_not_call,
        do_not_email=do_not_email,
        message="Please call me about fleet tracking",
        callback=callback,
    )
    enrichment = Enrichment(
        match=AccountMatch(
            account_id=account_id, account_name=company, owner_id=account_owner_id, key_account=key_account
        ),
        duplicate_of=duplicate_of,
        client_type=client_type,
        timezone="Europe/Oslo",
    )
    sc = Score(
        score=score,
        fit=40,
        engagement=score - 40,
        grade=grade,
        rating=rating,
        ruleset_version="rules-1",
        reasons=(
            ScoreReason(component="fit", points=20, reason="title seniority: head"),
            ScoreReason(component="engagement", points=12, reason="callback requested"),
        ),
    )
    return LeadRouted(
        event_id=event_id or _next_event_id("routed", lead_id),
        lead_id=lead_id,
        occurred_at=occurred_at,
        lead=lead,
        enrichment=enrichment,
        score=sc,
        assignment=Assignment(
            owner_id=owner_id,
            owner_type=owner_type,
            team=team,
            policy="round_robin",
            reason="weighted round-robin in Nordics",
        ),
        sla=SlaTarget(
            policy="hot-web",
            first_touch_due=occurred_at + timedelta(minutes=30),
            callback_due=callback_at,
            calendar="NO",
            timezone="Europe/Oslo",
        ),
        reassignment=reassignment,
    )


def sla_event(
    lead_id: str = "lead-1",
    kind: SlaEventKind = SlaEventKind.BREACHED,
    *,
    owner_id: str | None = None,
    team: str | None = "Nordics",
    step: int = 0,
    action: str | None = None,
    occurred_at: datetime = T0 + timedelta(minutes=31),
) -> SlaEvent:
    return SlaEvent(
        event_id=_next_event_id("sla", lead_id),
        lead_id=lead_id,
        occurred_at=occurred_at,
        kind=kind,
        clock="first_touch",
        policy="hot-web",
        due_at=T0 + timedelta(minutes=30),
        owner_id=owner_id,
        team=team,
        started_at=T0,
        escalation_step=step,
        escalation_action=action,
    )


def lead_change(
    lead_id: str,
    record_id: str,
    *,
    status: str | None = "Closed - Converted",
    changed_by: str | None = "005000000000009AAA",
    record: dict[str, Any] | None = None,
    converted: bool = False,
) -> CrmChange:
    rec = {"Id": record_id, "Status": status, "IsConverted": converted, **(record or {})}
    changes = (FieldChange(field="Status", old="Open - Not Contacted", new=status),) if status else ()
    return CrmChange(
        event_id=_next_event_id("change", lead_id),
        lead_id=lead_id,
        occurred_at=T0 + timedelta(hours=1),
        object="Lead",
        record_id=record_id,
        change_type=ChangeType.UPDATED,
        changed_fields=changes,
        record=rec,
        changed_by=changed_by,
        changed_at=T0 + timedelta(hours=1),
        system_modstamp=T0 + timedelta(hours=1),
    )


# ---- a component-test harness: the app on TestKafkaBroker with the fake org ---------------------------
@dataclass
class Harness:
    """create_app wired to a FakeSalesforce and a FakeClock; collects crm.synced and leads.deadletter."""

    app: Any
    broker: Any
    fake: FakeSalesforce
    settings: Any
    synced: list[dict[str, Any]] = field(default_factory=list)
    dead: list[dict[str, Any]] = field(default_factory=list)

    @property
    def service(self) -> Any:
        return self.app.state.service

    async def publish(self, event: Any, topic: str) -> None:
        body = event if isinstance(event, bytes) else event.to_json_bytes()
        await self.broker.publish(body, topic=self.settings.topic(topic), key=b"k")


def build_harness(database_url: str, fake: FakeSalesforce | None = None, **overrides: Any) -> Harness:
    """Build (not start) the harness; use ``async with TestKafkaBroker(h.broker)`` around the test."""
    import uuid

    from leadflow_contracts import topics
    from leadflow_platform.broker import make_broker
    from leadflow_platform.clock import FakeClock

    from leadflow_crm_sync.app import create_app
    from leadflow_crm_sync.settings import CrmSyncSettings

    opts: dict[str, Any] = {
        "database_url": database_url,
        "topic_prefix": f"c{uuid.uuid4().hex[:6]}.",
        "retry_base_seconds": 0.01,
        "retry_cap_seconds": 0.05,
        "rate_limit_base_seconds": 0.02,
        "rate_limit_cap_seconds": 0.1,
        "hold_seconds": 1.0,
        "linger_ms": 1.0,
    }
    opts.update(overrides)
    settings = CrmSyncSettings(**opts)
    fake = fake or FakeSalesforce()
    broker = make_broker(settings)
    app = create_app(settings, broker=broker, gateway=fake, clock=FakeClock(T0 + timedelta(hours=2)))
    h = Harness(app=app, broker=broker, fake=fake, settings=settings)

    @broker.subscriber(settings.topic(topics.CRM_SYNCED))
    async def _synced(body: dict[str, Any]) -> None:
        h.synced.append(body)

    @broker.subscriber(settings.topic(topics.LEADS_DEADLETTER))
    async def _dead(body: dict[str, Any]) -> None:
        h.dead.append(body)

    return h
