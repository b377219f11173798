"""The emulated org: schema, records, sessions, API allocation, faults, request log, clock."""

from __future__ import annotations

import json
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from leadflow_sf_emulator import dml, ids
from leadflow_sf_emulator.clock import EmulatorClock
from leadflow_sf_emulator.errors import SalesforceError, limit_exceeded
from leadflow_sf_emulator.faults import FaultBook
from leadflow_sf_emulator.resources import fixture_file
from leadflow_sf_emulator.schema import load_schema
from leadflow_sf_emulator.sessions import SessionManager
from leadflow_sf_emulator.settings import EmulatorSettings
from leadflow_sf_emulator.soql.engine import QueryEngine
from leadflow_sf_emulator.store import Store

log = structlog.get_logger("leadflow_sf_emulator")

LEAD_STATUSES = [
    ("Open - Not Contacted", True, False),
    ("Working - Contacted", False, False),
    ("Closed - Converted", False, True),
    ("Closed - Not Converted", False, False),
]


@dataclass
class LoggedRequest:
    at: str
    method: str
    path: str
    status: int
    request_bytes: int
    response_bytes: int
    duration_ms: float


class Org:
    def __init__(self, settings: EmulatorSettings, clock: EmulatorClock) -> None:
        self.settings = settings
        self.clock = clock
        self.version = settings.api_version
        self.schema = load_schema(settings.schema_path)
        if settings.data != ":memory:":
            Path(settings.data).parent.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.schema, settings.data)
        self.sessions = SessionManager(settings.org_id, clock, settings.session_ttl_seconds)
        self.faults = FaultBook()
        self.request_log: deque[LoggedRequest] = deque(maxlen=10_000)
        self.counters: Counter[str] = Counter()
        self.duplicate_rule = settings.duplicate_rule
        self.email_internationalization = settings.email_internationalization
        self.daily_limit = settings.daily_api_limit
        self.cursors: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        self.cursors_batch: dict[str, int] = {}
        self.bulk_jobs: dict[str, Any] = {}
        self.bulk1_jobs: dict[str, Any] = {}  # Bulk API 1.0 (bulk1.Job)
        # the integration user's view in describe (control plane: settings hiddenFields / readOnlyFields /
        # removedPicklistValues), to rehearse `leadflow doctor` against an org that lacks something
        self.hidden_fields: set[str] = set()
        self.read_only_fields: set[str] = set()
        self.removed_picklist_values: dict[str, set[str]] = {}
        self.integration_user_id = self.ensure_baseline()
        if settings.seed and self.record_count() <= len(LEAD_STATUSES) + 1:
            self.seed_file(settings.seed)

    # ---- baseline and fixtures -------------------------------------------------------------------
    def ensure_baseline(self) -> str:
        """The integration user and the Lead statuses every org has."""
        s = self.settings
        txn = self.store.begin()
        ctx = dml.DmlContext(
            user_id=ids.mint("005", 1, pod="00"),
            now=self.store.stamp(self.clock.now()),
            version=self.version,
            system_mode=True,
        )
        found = self.store.find_by("User", "Username", s.username)
        if found:
            user_id = found[0]
        else:
            user_id = ctx.user_id
            rec = dml.new_record(self.store, self.schema.objects["User"], ctx, record_id=user_id)
            rec.update(
                {
                    "Username": s.username,
                    "LastName": "Integration",
                    "FirstName": "Leadflow",
                    "Name": "Leadflow Integration",
                    "Email": "integration@leadflow.example",
                    "Alias": "lfint",
                    "TimeZoneSidKey": "UTC",
                    "Role_Name__c": "Integration",
                    "IsActive": True,
                }
            )
            txn.put("User", rec)
        if not any(True for _ in self.store.records("LeadStatus")):
            obj = self.schema.objects["LeadStatus"]
            for i, (label, default, converted) in enumerate(LEAD_STATUSES, start=1):
                rec = dml.new_record(self.store, obj, ctx, record_id=ids.mint("01J", i, pod="00"))
                rec.update(
                    {
                        "MasterLabel": label,
                        "ApiName": label,
                        "SortOrder": i,
                        "IsDefault": default,
                        "IsConverted": converted,
                    }
                )
                txn.put("LeadStatus", rec)
        txn.commit()
        return user_id

    def apply_access(self, sobject: str, describe: dict[str, Any]) -> dict[str, Any]:
        """Describe as the integration user sees it: a field without read access is absent, a read-only
        one is neither createable nor updateable, a removed picklist value is not listed."""
        if not (self.hidden_fields or self.read_only_fields or self.removed_picklist_values):
            return describe
        fields = []
        for f in describe.get("fields", []):
            key = f"{sobject}.{f['name']}".lower()
            if key in self.hidden_fields:
                continue
            f = dict(f)
            if key in self.read_only_fields:
                f["createable"] = f["updateable"] = False
            gone = self.removed_picklist_values.get(key)
            if gone and f.get("picklistValues"):
                f["picklistValues"] = [p for p in f["picklistValues"] if p.get("value", "").lower() not in gone]
            fields.append(f)
        return {**describe, "fields": fields}

    def record_count(self) -> int:
        return sum(len(t) for t in self.store.tables.values())

    def reset(self) -> None:
        self.store.wipe()
        self.cursors.clear()
        self.bulk_jobs.clear()
        self.bulk1_jobs.clear()
        self.hidden_fields.clear()
        self.read_only_fields.clear()
        self.removed_picklist_values.clear()
        self.request_log.clear()
        self.counters.clear()
        self.faults.clear()
        self.sessions.revoke_all()
        self.duplicate_rule = self.settings.duplicate_rule
        self.email_internationalization = self.settings.email_internationalization
        self.integration_user_id = self.ensure_baseline()

    def seed_file(self, name: str) -> int:
        path = fixture_file(name)
        with open(path, encoding="utf-8") as fh:
            return self.seed(json.load(fh))

    def seed(self, fixture: dict[str, Any]) -> int:
        """Load a fixture `{"records": {"User": [...], ...}}`; records keep their Ids and audit fields."""
        records = fixture.get("records") if isinstance(fixture, dict) else None
        if not isinstance(records, dict):
            raise SalesforceError("JSON_PARSER_ERROR", "fixture must be an object with a 'records' map")
        txn = self.store.begin()
        ctx = self.dml_context(self.integration_user_id, system_mode=True)
        n = 0
        try:
            for sobject, rows in records.items():
                obj = self.schema.get(sobject)
                if obj is None:
                    raise SalesforceError("INVALID_TYPE", f"sObject type '{sobject}' is not supported.")
                for raw in rows:
                    values = dml.system_values(obj, raw)
                    rid = ids.normalize(values.pop("Id", None)) or self.store.next_id(obj.key_prefix)
                    existing = self.store.tables[obj.name].get(rid)
                    rec = dict(existing) if existing else dml.new_record(self.store, obj, ctx, record_id=rid)
                    rec.update(values)
                    dml._computed(obj, rec)
                    txn.put(obj.name, rec)
                    n += 1
        except Exception:
            txn.rollback()
            raise
        txn.commit()
        log.info("org_seeded", records=n)
        return n

    def clock_moved(self) -> None:
        """Moving the clock back in time also moves back the floor of the next audit timestamp."""
        last = self.store.meta.get("last_stamp")
        if last and datetime.fromisoformat(last) > self.clock.now():
            del self.store.meta["last_stamp"]

    # ---- DML and queries -------------------------------------------------------------------------
    def dml_context(self, user_id: str, *, allow_save: bool = False, system_mode: bool = False) -> dml.DmlContext:
        return dml.DmlContext(
            user_id=user_id,
            now=self.store.stamp(self.clock.now()),
            version=self.version,
            duplicate_rule=self.duplicate_rule,
            email_internationalization=self.email_internationalization,
            allow_save_duplicates=allow_save,
            system_mode=system_mode,
        )

    def engine(self) -> QueryEngine:
        return QueryEngine(self.store, now=self.clock.now, tz=self.settings.timezone, version=self.version)

    # ---- API allocation --------------------------------------------------------------------------
    def _usage_day(self) -> str:
        return self.clock.now().astimezone(UTC).date().isoformat()

    def api_usage(self) -> int:
        if self.store.meta.get("api_usage_day") != self._usage_day():
            self.store.meta["api_usage_day"] = self._usage_day()
            self.store.meta["api_usage"] = "0"
        return int(self.store.meta.get("api_usage", "0"))

    def set_api_usage(self, used: int) -> None:
        self.api_usage()
        self.store.meta["api_usage"] = str(max(0, used))

    def charge_api_call(self) -> None:
        used = self.api_usage()
        if used >= self.daily_limit:
            raise limit_exceeded()
        self.store.meta["api_usage"] = str(used + 1)

    def limit_info(self) -> str:
        return f"api-usage={self.api_usage()}/{self.daily_limit}"

    # ---- request log ----------------------------------------------------------------------------
    def record_request(
        self, method: str, path: str, status: int, req_bytes: int, resp_bytes: int, duration_ms: float, endpoint: str
    ) -> None:
        self.request_log.append(
            LoggedRequest(
                datetime.now(UTC).isoformat(), method, path, status, req_bytes, resp_bytes, round(duration_ms, 2)
            )
        )
        self.counters[f"{method} {endpoint}"] += 1

    def close(self) -> None:
        try:
            self.store.save_meta(["api_usage", "api_usage_day"])
        finally:
            self.store.close()
