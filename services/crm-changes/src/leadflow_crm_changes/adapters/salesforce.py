"""The Salesforce port the poller needs, and its simple-salesforce adapter (blocking calls run in a thread).

Every call is counted in ``leadflow_salesforce_api_calls_total{service="crm-changes",operation,outcome}``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from leadflow_platform.metrics import SALESFORCE_BUDGET, SALESFORCE_CALLS
from leadflow_salesforce import SalesforceSettings, connect
from simple_salesforce.api import Salesforce
from simple_salesforce.format import format_soql

SERVICE = "crm-changes"
T = TypeVar("T")


@dataclass(frozen=True)
class Page:
    records: list[dict[str, Any]]
    next_url: str | None
    total_size: int


class SalesforcePort(Protocol):
    async def login(self) -> None: ...

    async def current_user_id(self) -> str | None: ...

    async def query(self, soql: str, *, include_deleted: bool) -> Page: ...

    async def query_more(self, next_url: str) -> Page: ...


def _page(result: dict[str, Any]) -> Page:
    return Page(
        records=list(result.get("records") or []),
        next_url=None if result.get("done", True) else result.get("nextRecordsUrl"),
        total_size=int(result.get("totalSize") or 0),
    )


class SimpleSalesforceGateway:
    """simple-salesforce over leadflow_salesforce.connect (verified TLS); one session, re-logged in on 401."""

    def __init__(
        self,
        settings: SalesforceSettings,
        *,
        page_size: int = 2000,
        factory: Callable[[SalesforceSettings], Salesforce] = connect,
    ) -> None:
        self.settings = settings
        self.page_size = page_size
        self._factory = factory
        self._sf: Salesforce | None = None

    @property
    def connected(self) -> bool:
        return self._sf is not None

    async def _call(self, operation: str, fn: Callable[[], T]) -> T:
        try:
            result = await asyncio.to_thread(fn)
        except Exception:
            SALESFORCE_CALLS.labels(SERVICE, operation, "error").inc()
            raise
        SALESFORCE_CALLS.labels(SERVICE, operation, "ok").inc()
        if self._sf is not None:
            usage = self._sf.api_usage.get("api-usage")
            if usage is not None:
                SALESFORCE_BUDGET.labels(SERVICE).set(usage.total - usage.used)
        return result

    def _client(self) -> Salesforce:
        if self._sf is None:
            raise RuntimeError("not logged in to Salesforce")
        return self._sf

    async def login(self) -> None:
        self._sf = await self._call("login", lambda: self._factory(self.settings))

    async def current_user_id(self) -> str | None:
        """The API user's Id, looked up by the configured username (the login response's userId is not kept by
        simple-salesforce). None when logging in without a username (client credentials, session id)."""
        if not self.settings.username:
            return None
        sf = self._client()
        q = format_soql("SELECT Id FROM User WHERE Username = {} LIMIT 1", self.settings.username)
        result = await self._call("query", lambda: sf.query(q))
        rows = result.get("records") or []
        return str(rows[0]["Id"]) if rows else None

    async def query(self, soql: str, *, include_deleted: bool) -> Page:
        sf = self._client()
        headers = {"Sforce-Query-Options": f"batchSize={self.page_size}"}
        op = "queryAll" if include_deleted else "query"
        return _page(await self._call(op, lambda: sf.query(soql, include_deleted=include_deleted, headers=headers)))

    async def query_more(self, next_url: str) -> Page:
        sf = self._client()
        headers = {"Sforce-Query-Options": f"batchSize={self.page_size}"}
        return _page(
            await self._call("query_more", lambda: sf.query_more(next_url, identifier_is_url=True, headers=headers))
        )
