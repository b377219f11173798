"""Salesforce for the simulator: reads through the integration session, writes through each rep's own session.

A rep's session makes Salesforce stamp ``CreatedById``/``LastModifiedById`` with the rep, so the change feed
sees the rep's work as a rep change, never as leadflow's own echo. In the emulator every active user logs in
with the org's password and token; a real org needs each rep's credentials (``rep_passwords``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol, TypeVar, cast

from leadflow_platform.metrics import SALESFORCE_CALLS
from leadflow_salesforce import SalesforceSettings, connect
from pydantic import SecretStr
from simple_salesforce.api import Salesforce, SFType
from simple_salesforce.format import format_soql

SERVICE = "telesales-sim"
T = TypeVar("T")


@dataclass(frozen=True)
class Rep:
    user_id: str
    username: str


@dataclass(frozen=True)
class QueuedLead:
    lead_id: str
    owner_id: str
    status: str


@dataclass(frozen=True)
class FollowUp:
    """An open follow-up Task a rep owns: a repeat inquiry filed on the Lead or Contact ``who_id``."""

    task_id: str
    who_id: str
    owner_id: str


class SimulatorPort(Protocol):
    async def reps(self, roles: list[str], usernames: list[str]) -> list[Rep]: ...

    async def lead_statuses(self) -> set[str]: ...

    async def queued_leads(self, owner_ids: list[str], statuses: list[str]) -> list[QueuedLead]: ...

    async def open_follow_ups(self, owner_ids: list[str], subjects: list[str]) -> list[FollowUp]: ...

    async def log_call(self, rep: Rep, lead_id: str, disposition: str, seconds: int, day: date) -> str: ...

    async def complete_task(self, rep: Rep, task_id: str) -> None: ...

    async def set_status(self, rep: Rep, lead_id: str, status: str) -> None: ...


_OPEN_FOLLOW_UPS = (
    "SELECT Id, WhoId, OwnerId FROM Task WHERE IsClosed = false AND WhoId != null AND OwnerId IN {} "
    "AND (<subjects>) ORDER BY CreatedDate, Id"
)


def _sobject(sf: Salesforce, name: str) -> SFType:
    return cast(SFType, getattr(sf, name))


class SimpleSalesforceSimulator:
    def __init__(
        self,
        settings: SalesforceSettings,
        *,
        rep_passwords: dict[str, SecretStr] | None = None,
        factory: Callable[[SalesforceSettings], Salesforce] = connect,
    ) -> None:
        self.settings = settings
        self.rep_passwords = rep_passwords or {}
        self._factory = factory
        self._integration: Salesforce | None = None
        self._sessions: dict[str, Salesforce] = {}

    async def _call(self, operation: str, fn: Callable[[], T]) -> T:
        try:
            result = await asyncio.to_thread(fn)
        except Exception:
            SALESFORCE_CALLS.labels(SERVICE, operation, "error").inc()
            raise
        SALESFORCE_CALLS.labels(SERVICE, operation, "ok").inc()
        return result

    async def _reader(self) -> Salesforce:
        if self._integration is None:
            self._integration = await self._call("login", lambda: self._factory(self.settings))
        return self._integration

    async def _as(self, rep: Rep) -> Salesforce:
        sf = self._sessions.get(rep.user_id)
        if sf is None:
            override: dict[str, Any] = {"username": rep.username, "auth": "soap"}
            if rep.username in self.rep_passwords:
                override["password"] = self.rep_passwords[rep.username]
            rep_settings = self.settings.model_copy(update=override)
            sf = await self._call("login", lambda: self._factory(rep_settings))
            self._sessions[rep.user_id] = sf
        return sf

    async def reps(self, roles: list[str], usernames: list[str]) -> list[Rep]:
        sf = await self._reader()
        if usernames:
            q = format_soql(
                "SELECT Id, Username FROM User WHERE IsActive = true AND Username IN {} ORDER BY Username", usernames
            )
        else:
            q = format_soql(
                "SELECT Id, Username FROM User WHERE IsActive = true AND Role_Name__c IN {} ORDER BY Username", roles
            )
        rows = await self._call("query", lambda: sf.query_all(q))
        return [Rep(r["Id"], r["Username"]) for r in rows["records"]]

    async def lead_statuses(self) -> set[str]:
        sf = await self._reader()
        desc = await self._call("describe", lambda: _sobject(sf, "Lead").describe())
        for f in desc["fields"]:
            if f["name"] == "Status":
                return {p["value"] for p in f.get("picklistValues") or [] if p.get("active", True)}
        return set()

    async def queued_leads(self, owner_ids: list[str], statuses: list[str]) -> list[QueuedLead]:
        if not owner_ids:
            return []
        sf = await self._reader()
        q = format_soql(
            "SELECT Id, OwnerId, Status FROM Lead WHERE IsConverted = false AND Status IN {} "
            "AND OwnerId IN {} ORDER BY CreatedDate, Id",
            statuses,
            owner_ids,
        )
        rows = await self._call("query", lambda: sf.query_all(q))
        return [QueuedLead(r["Id"], r["OwnerId"], r["Status"]) for r in rows["records"]]

    async def open_follow_ups(self, owner_ids: list[str], subjects: list[str]) -> list[FollowUp]:
        """Open Tasks with a WhoId, owned by ``owner_ids``, whose Subject starts with one of ``subjects``."""
        if not owner_ids or not subjects:
            return []
        sf = await self._reader()
        starts = " OR ".join(["Subject LIKE '{:like}%'"] * len(subjects))  # placeholders only: values bound below
        template = _OPEN_FOLLOW_UPS.replace("<subjects>", starts)
        q = format_soql(template, owner_ids, *subjects)
        rows = await self._call("query", lambda: sf.query_all(q))
        return [FollowUp(r["Id"], r["WhoId"], r["OwnerId"]) for r in rows["records"]]

    async def complete_task(self, rep: Rep, task_id: str) -> None:
        sf = await self._as(rep)
        await self._call("update", lambda: _sobject(sf, "Task").update(task_id, {"Status": "Completed"}))

    async def log_call(self, rep: Rep, lead_id: str, disposition: str, seconds: int, day: date) -> str:
        sf = await self._as(rep)
        body = {
            "WhoId": lead_id,
            "Subject": "Call",
            "TaskSubtype": "Call",
            "Status": "Completed",
            "Priority": "Normal",
            "CallType": "Outbound",
            "CallDisposition": disposition,
            "CallDurationInSeconds": seconds,
            "ActivityDate": day.isoformat(),
            "OwnerId": rep.user_id,
        }
        res = await self._call("create", lambda: _sobject(sf, "Task").create(body))
        return str(res["id"])

    async def set_status(self, rep: Rep, lead_id: str, status: str) -> None:
        sf = await self._as(rep)
        await self._call("update", lambda: _sobject(sf, "Lead").update(lead_id, {"Status": status}))
