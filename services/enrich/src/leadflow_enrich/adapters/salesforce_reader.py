"""The ``SalesforceReader`` port and its simple-salesforce adapter.

Full loads of the large objects (Account, Contact, Lead) use a Bulk 2.0 query (CSV pages); the small ones
(User, Queue = Group of Type Queue) and every incremental fetch (SystemModstamp > cursor, deletions
included through queryAll) use SOQL ``query_all``. simple-salesforce is synchronous: calls run in a thread.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from leadflow_enrich.domain.records import SALESFORCE_FIELDS, SALESFORCE_SOBJECT, MirrorObject

BULK_OBJECTS: frozenset[MirrorObject] = frozenset({"Account", "Contact", "Lead"})


class SalesforceReader(Protocol):
    """Reads mirror objects from Salesforce. Records are dicts keyed by Salesforce field names."""

    async def full(self, obj: MirrorObject) -> list[dict[str, Any]]:
        """Every live record of ``obj``."""
        ...

    async def changed_since(self, obj: MirrorObject, since: datetime) -> list[dict[str, Any]]:
        """Records with SystemModstamp > ``since``, deleted ones included (``IsDeleted`` true)."""
        ...


def soql_datetime(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_soql(obj: MirrorObject, since: datetime | None = None, *, with_deleted: bool = False) -> str:
    fields = list(SALESFORCE_FIELDS[obj])
    if with_deleted:
        fields.append("IsDeleted")
    where: list[str] = []
    if obj == "Queue":
        where.append("Type = 'Queue'")
    if since is not None:
        where.append(f"SystemModstamp > {soql_datetime(since)}")
    soql = f"SELECT {', '.join(fields)} FROM {SALESFORCE_SOBJECT[obj]}"  # noqa: S608 - constants only
    if where:
        soql += " WHERE " + " AND ".join(where)
    if since is not None:
        soql += " ORDER BY SystemModstamp, Id"
    return soql


def parse_bulk_csv(pages: Iterable[str | int]) -> list[dict[str, Any]]:
    """Bulk 2.0 query pages (CSV text) to dicts; empty cells are nulls."""
    out: list[dict[str, Any]] = []
    for page in pages:
        if not isinstance(page, str) or not page.strip():
            continue
        for row in csv.DictReader(io.StringIO(page, newline="")):
            out.append({k: (v if v != "" else None) for k, v in row.items()})
    return out


class SimpleSalesforceReader:
    """Adapter over a ``simple_salesforce.Salesforce`` made by ``connect`` (logged in lazily, once)."""

    def __init__(
        self, connect: Callable[[], Any], *, bulk_wait_seconds: float = 1.0, bulk_page_size: int = 50000
    ) -> None:
        self._connect = connect
        self._sf: Any = None
        self._wait = bulk_wait_seconds
        self._page = bulk_page_size
        self.calls = 0

    def _client(self) -> Any:
        if self._sf is None:
            self._sf = self._connect()
        return self._sf

    def _full(self, obj: MirrorObject) -> list[dict[str, Any]]:
        sf = self._client()
        soql = build_soql(obj)
        self.calls += 1
        if obj in BULK_OBJECTS:
            handler = getattr(sf.bulk2, SALESFORCE_SOBJECT[obj])
            return parse_bulk_csv(handler.query(soql, max_records=self._page, wait=self._wait))
        return [_strip(r) for r in sf.query_all(soql)["records"]]

    def _changed(self, obj: MirrorObject, since: datetime) -> list[dict[str, Any]]:
        sf = self._client()
        self.calls += 1
        return [
            _strip(r) for r in sf.query_all(build_soql(obj, since, with_deleted=True), include_deleted=True)["records"]
        ]

    async def full(self, obj: MirrorObject) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._full, obj)

    async def changed_since(self, obj: MirrorObject, since: datetime) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._changed, obj, since)


def _strip(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "attributes"}
