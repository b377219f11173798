"""Where the roster comes from: the ``RosterSource`` port and its adapters (Salesforce, a fixture file, fixed)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from leadflow_salesforce import SalesforceSettings, connect
from leadflow_salesforce.fields import USER_ROUTING_FIELDS

from leadflow_route.domain.roster import Queue, Rep, Roster, queue_from_record, rep_from_record

USER_FIELDS = (
    "Id",
    "Name",
    "Username",
    "IsActive",
    "TimeZoneSidKey",
    *USER_ROUTING_FIELDS,
)
USER_SOQL = f"SELECT {', '.join(USER_FIELDS)} FROM User"  # noqa: S608 - constant field list
QUEUE_SOQL = "SELECT Id, Name, DeveloperName FROM Group WHERE Type = 'Queue'"


class RosterSource(Protocol):
    async def fetch(self) -> Roster: ...


def roster_from_records(users: Iterable[dict[str, Any]], groups: Iterable[dict[str, Any]]) -> Roster:
    queues = [queue_from_record(g) for g in groups if g.get("Type", "Queue") == "Queue"]
    return Roster([rep_from_record(u) for u in users], queues)


class SalesforceRosterSource:
    """Two SOQL queries (Users, Queues) through ``leadflow_salesforce.connect``; the client is sync, so a thread."""

    def __init__(self, settings: SalesforceSettings) -> None:
        self.settings = settings
        self.calls = 0

    def _fetch_sync(self) -> Roster:
        sf = connect(self.settings)
        users = sf.query_all(USER_SOQL)["records"]
        groups = sf.query_all(QUEUE_SOQL)["records"]
        self.calls += 2
        return roster_from_records(users, groups)

    async def fetch(self) -> Roster:
        return await asyncio.to_thread(self._fetch_sync)


class FixtureRosterSource:
    """Users and Groups from a file shaped like the emulator's ``demo_org.json`` (records.User, records.Group)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def fetch(self) -> Roster:
        data = json.loads(await asyncio.to_thread(self.path.read_text))
        records = data.get("records", data)
        return roster_from_records(records.get("User", []), records.get("Group", []))


class StaticRosterSource:
    """A fixed roster (tests, benchmarks). ``fail`` makes ``fetch`` raise, like an unreachable org."""

    def __init__(self, reps: Iterable[Rep] = (), queues: Iterable[Queue] = (), *, fail: bool = False) -> None:
        self.roster = Roster(reps, queues)
        self.fail = fail
        self.fetches = 0

    async def fetch(self) -> Roster:
        self.fetches += 1
        if self.fail:
            raise ConnectionError("roster source unavailable")
        return self.roster
