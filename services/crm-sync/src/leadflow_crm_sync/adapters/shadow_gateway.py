"""Shadow mode: every decision is made, recorded and published; nothing is written to Salesforce.

``ShadowGateway`` wraps the real gateway. Reads (SOQL, ``/limits``) go to the org, so decisions are the ones
crm-sync would make there (escalation leaders, contacts to convert into); writes (Collections, ``convertLead``)
are answered with deterministic placeholder ids and kept in a bounded log that ``GET /shadow`` shows. Switch
shadow mode off with a fresh consumer group and database (the defaults change with the setting), so the
real run writes every lead the shadow run only recorded.
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from leadflow_platform.clock import Clock
from leadflow_platform.logging import get_logger
from leadflow_salesforce import LeadConvert, LeadConvertResult
from prometheus_client import Counter

from leadflow_crm_sync.adapters.gateway import SalesforceGateway
from leadflow_crm_sync.domain.budget import ApiUsage

log = get_logger(__name__)
SHADOW_WRITES = Counter(
    "leadflow_crm_shadow_writes_total", "Writes shadow mode decided and did not send", ["sobject", "operation"]
)
_PREFIX = {"Lead": "00Q", "Task": "00T", "Account": "001", "Contact": "003", "Opportunity": "006"}


def placeholder_id(sobject: str, key: str) -> str:
    """An 18-character id that looks like the object's and is the same for the same record every time."""
    digest = hashlib.sha256(f"{sobject}|{key}".encode()).hexdigest().upper()
    return (_PREFIX.get(sobject, "0XX") + "SHADOW" + digest)[:18]


@dataclass(frozen=True)
class ShadowWrite:
    """One write shadow mode did not send: what, to which record, and which fields (names only: no values)."""

    at: datetime
    operation: str
    sobject: str
    key: str
    fields: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "operation": self.operation,
            "sobject": self.sobject,
            "key": self.key,
            "fields": list(self.fields),
        }


class ShadowGateway:
    def __init__(self, real: SalesforceGateway, clock: Clock, *, keep: int = 1000) -> None:
        self.real = real
        self.clock = clock
        self.log: deque[ShadowWrite] = deque(maxlen=keep)
        self.counts: dict[str, int] = {}
        self._seen: set[tuple[str, str]] = set()

    def _record(self, operation: str, sobject: str, key: str, fields: list[str]) -> None:
        self.log.append(ShadowWrite(self.clock.now(), operation, sobject, key, tuple(sorted(fields))))
        name = f"{operation}:{sobject}"
        self.counts[name] = self.counts.get(name, 0) + 1
        SHADOW_WRITES.labels(sobject, operation).inc()

    async def save(
        self, mode: Literal["upsert", "update"], sobject: str, ext_field: str | None, records: list[dict[str, Any]]
    ) -> list[Any]:
        out: list[Any] = []
        for rec in records:
            key = str(rec.get("Id") if mode == "update" else rec.get(ext_field or "", ""))
            fields = [k for k in rec if k not in ("attributes", "Id", ext_field)]
            self._record(mode, sobject, key, fields)
            created = mode == "upsert" and (sobject, key) not in self._seen
            self._seen.add((sobject, key))
            rid = key if mode == "update" else placeholder_id(sobject, key)
            out.append({"id": rid, "success": True, "errors": [], "created": created})
        log.info("shadow_writes", sobject=sobject, mode=mode, records=len(records))
        return out

    async def bulk_upsert(self, sobject: str, ext_field: str, records: list[dict[str, Any]]) -> list[Any]:
        return await self.save("upsert", sobject, ext_field, records)

    async def convert(self, converts: list[LeadConvert]) -> list[LeadConvertResult]:
        out = []
        for c in converts:
            self._record("convertLead", "Lead", c.lead_id, ["convertedStatus"])
            out.append(
                LeadConvertResult(
                    success=True,
                    lead_id=c.lead_id,
                    account_id=c.account_id or placeholder_id("Account", c.lead_id),
                    contact_id=c.contact_id or placeholder_id("Contact", c.lead_id),
                    opportunity_id=None if c.do_not_create_opportunity else placeholder_id("Opportunity", c.lead_id),
                )
            )
        return out

    async def query(self, soql: str) -> list[dict[str, Any]]:
        return await self.real.query(soql)

    async def contacts_for(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        return await self.real.contacts_for(pairs)

    async def converted_leads(self, lead_ids: list[str]) -> dict[str, dict[str, Any]]:
        return {i: {"Id": i} for i in lead_ids}  # nothing was converted: nothing to read back

    def usage(self) -> ApiUsage | None:
        return self.real.usage()

    async def refresh_usage(self) -> ApiUsage | None:
        return await self.real.refresh_usage()

    async def close(self) -> None:
        await self.real.close()

    def status(self, limit: int = 100) -> dict[str, Any]:
        recent = list(self.log)[-limit:]
        return {"shadow": True, "writes_not_sent": dict(self.counts), "recent": [w.as_dict() for w in reversed(recent)]}
