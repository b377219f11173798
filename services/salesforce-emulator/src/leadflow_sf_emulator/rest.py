"""The REST API under /services/data/vXX.X: request/response types and the dispatcher."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

from leadflow_sf_emulator import dml, ids
from leadflow_sf_emulator.errors import SalesforceError, not_found
from leadflow_sf_emulator.org import Org
from leadflow_sf_emulator.schema import ObjectDef
from leadflow_sf_emulator.store import Txn
from leadflow_sf_emulator.values import format_datetime, parse_datetime


@dataclass
class ApiRequest:
    method: str
    segments: list[str]  # path after /services/data/vXX.X/, unquoted
    params: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    user_id: str
    version: str
    txn: Txn | None = None  # set when a composite request shares one transaction
    parsed: Any = None
    has_parsed: bool = False

    def json(self) -> Any:
        if self.has_parsed:
            return self.parsed
        return parse_json(self.body)

    @property
    def allow_save(self) -> bool:
        h = self.headers.get("sforce-duplicate-rule-header", "").replace(" ", "").lower()
        return "allowsave=true" in h


@dataclass
class ApiResponse:
    status: int
    body: Any = None  # JSON-able, or str/bytes with media_type
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = "application/json;charset=UTF-8"


def parse_json(body: bytes) -> Any:
    if not body or not body.strip():
        raise SalesforceError(
            "JSON_PARSER_ERROR", "The HTTP entity body is required, but this request has no entity body."
        )
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise SalesforceError("JSON_PARSER_ERROR", "Invalid UTF-8 in the request body") from None
    except json.JSONDecodeError as e:
        ch = e.doc[e.pos] if e.pos < len(e.doc) else "EOF"
        raise SalesforceError(
            "JSON_PARSER_ERROR",
            f"Unexpected character ('{ch}' (code {ord(ch) if len(ch) == 1 else -1})): {e.msg} "
            f"at [line:{e.lineno}, column:{e.colno}]",
        ) from None
    except RecursionError:
        raise SalesforceError("JSON_PARSER_ERROR", "JSON nesting too deep") from None


@contextmanager
def unit_of_work(org: Org, req: ApiRequest) -> Iterator[Txn]:
    """The composite request's shared transaction, or a new one committed on success."""
    if req.txn is not None:
        yield req.txn
        return
    txn = org.store.begin()
    try:
        yield txn
    except BaseException:
        txn.rollback()
        raise
    txn.commit()


def _object(org: Org, name: str) -> ObjectDef:
    obj = org.schema.get(name)
    if obj is None:
        raise not_found()
    return obj


def _save_result(rid: str, created: bool | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": rid, "success": True, "errors": []}
    if created is not None:
        out["created"] = created
    return out


# ---- dispatcher ------------------------------------------------------------------------------------
def dispatch(org: Org, req: ApiRequest) -> ApiResponse:
    from leadflow_sf_emulator import bulk2, composite

    seg = req.segments
    m = req.method
    head = seg[0] if seg else ""
    if not seg:
        if m == "GET":
            base = f"/services/data/v{req.version}"
            return ApiResponse(
                200, {k: f"{base}/{k}" for k in ("sobjects", "query", "queryAll", "limits", "composite", "jobs")}
            )
    elif head == "sobjects":
        return sobjects(org, req)
    elif head in ("query", "queryAll") and len(seg) <= 2:
        if m == "GET":
            return query(org, req, include_deleted=head == "queryAll")
    elif head == "limits" and len(seg) == 1:
        if m == "GET":
            return limits(org)
    elif head == "recent" and len(seg) == 1:
        if m == "GET":
            from leadflow_sf_emulator.identity import recent

            return ApiResponse(200, recent(org, req.version, req.params.get("limit")))
    elif head == "search" and len(seg) == 1:
        if m == "GET":
            from leadflow_sf_emulator.sosl import search

            found = search(org, req.params.get("q", ""), req.version)
            # before API v36 the answer was the bare list of records
            return ApiResponse(200, found if float(req.version) >= 36 else found["searchRecords"])
    elif head == "composite":
        return composite.route(org, req)
    elif head == "jobs":
        return bulk2.route(org, req)
    else:
        raise not_found()
    raise method_not_allowed(m)


def method_not_allowed(method: str) -> SalesforceError:
    return SalesforceError(
        "METHOD_NOT_ALLOWED",
        f"HTTP Method '{method}' not allowed. Allowed are GET,PATCH,POST,DELETE,HEAD",
        status=405,
    )


def sobjects(org: Org, req: ApiRequest) -> ApiResponse:
    seg, m, v = req.segments, req.method, req.version
    if len(seg) == 1:
        if m != "GET":
            raise method_not_allowed(m)
        return ApiResponse(
            200,
            {
                "encoding": "UTF-8",
                "maxBatchSize": 200,
                "sobjects": [o.describe_basic(v) for o in org.schema.objects.values()],
            },
        )
    obj = _object(org, seg[1])
    if len(seg) == 2:
        if m == "GET":
            return ApiResponse(200, {"objectDescribe": obj.describe_basic(v), "recentItems": []})
        if m == "POST":
            values = req.json()
            with unit_of_work(org, req) as txn:
                ctx = org.dml_context(req.user_id, allow_save=req.allow_save)
                rid = dml.create(txn, obj, _as_record(values), ctx)
            return ApiResponse(
                201, _save_result(rid), headers={"Location": f"/services/data/v{v}/sobjects/{obj.name}/{rid}"}
            )
        raise method_not_allowed(m)
    if len(seg) == 3 and seg[2] == "describe":
        if m != "GET":
            raise method_not_allowed(m)
        return ApiResponse(200, org.apply_access(obj.name, org.schema.describe_object(obj, v)))
    if len(seg) == 3 and seg[2] in ("updated", "deleted"):
        if m != "GET":
            raise method_not_allowed(m)
        return replication(org, req, obj, seg[2])
    if len(seg) == 3:
        return by_id(org, req, obj, seg[2])
    if len(seg) == 4:
        return by_external_id(org, req, obj, seg[2], seg[3])
    raise not_found()


def _as_record(values: Any) -> dict[str, Any]:
    if not isinstance(values, dict):
        raise SalesforceError("JSON_PARSER_ERROR", "Cannot deserialize instance of sObject from START_ARRAY value")
    return values


def _fields_param(obj: ObjectDef, req: ApiRequest) -> list[str] | None:
    text = req.params.get("fields")
    if text is None:
        return None
    names = dml.resolve_field_list(obj, text)
    return ["Id", *[n for n in names if n != "Id"]] if names else None


def by_id(org: Org, req: ApiRequest, obj: ObjectDef, raw_id: str) -> ApiResponse:
    m = req.method
    if m == "GET":
        rid = ids.normalize(raw_id)
        rec = org.store.tables[obj.name].get(rid) if rid else None
        if rec is None or rec.get("IsDeleted"):
            raise not_found()
        return ApiResponse(200, dml.record_json(obj, rec, req.version, _fields_param(obj, req)))
    if m == "PATCH":
        values = _as_record(req.json())
        body = {k: v for k, v in values.items() if k.lower() != "id" or ids.normalize(v) != ids.normalize(raw_id)}
        with unit_of_work(org, req) as txn:
            dml.update(txn, obj, raw_id, body, org.dml_context(req.user_id, allow_save=req.allow_save))
        return ApiResponse(204)
    if m == "DELETE":
        with unit_of_work(org, req) as txn:
            dml.delete(txn, obj, raw_id, org.dml_context(req.user_id))
        return ApiResponse(204)
    raise method_not_allowed(m)


def by_external_id(org: Org, req: ApiRequest, obj: ObjectDef, field_name: str, value: str) -> ApiResponse:
    m = req.method
    v = req.version
    try:
        if m == "GET":
            fd = dml.external_id_field(obj, field_name)
            matches = dml.find_by_external_id(org.store, obj, fd, value, v)
            if not matches:
                raise not_found()
            rec = org.store.tables[obj.name][matches[0]]
            return ApiResponse(200, dml.record_json(obj, rec, v, _fields_param(obj, req)))
        if m == "PATCH":
            values = _as_record(req.json())
            with unit_of_work(org, req) as txn:
                ctx = org.dml_context(req.user_id, allow_save=req.allow_save)
                rid, created = dml.upsert(txn, obj, field_name, value, values, ctx)
            return ApiResponse(
                201 if created else 200,
                _save_result(rid, created),
                headers={"Location": f"/services/data/v{v}/sobjects/{obj.name}/{rid}"} if created else {},
            )
        if m == "DELETE":
            fd = dml.external_id_field(obj, field_name)
            matches = dml.find_by_external_id(org.store, obj, fd, value, v)
            if not matches:
                raise not_found()
            with unit_of_work(org, req) as txn:
                dml.delete(txn, obj, matches[0], org.dml_context(req.user_id))
            return ApiResponse(204)
    except dml.MultipleMatches as e:
        return ApiResponse(300, e.urls)
    raise method_not_allowed(m)


def replication(org: Org, req: ApiRequest, obj: ObjectDef, kind: str) -> ApiResponse:
    def param(name: str) -> Any:
        raw = req.params.get(name)
        if raw is None:
            raise SalesforceError("MISSING_ARGUMENT", f"{name} parameter is required")
        dt = parse_datetime(raw.replace(" ", "+"))
        if dt is None:
            raise SalesforceError("INVALID_REPLICATION_DATE", f"Invalid {name} date: {raw}")
        return dt.replace(second=0, microsecond=0)

    start, end = param("start"), param("end")
    now = org.clock.now()
    if end <= start:
        raise SalesforceError("INVALID_REPLICATION_DATE", "EndDate must chronologically follow the StartDate")
    if start < now - timedelta(days=30):
        raise SalesforceError("INVALID_REPLICATION_DATE", "startDate cannot be more than 30 days ago")
    latest = min(end, now.replace(second=0, microsecond=0))
    if kind == "updated":
        found = sorted(r["Id"] for r in org.store.records(obj.name) if start <= r["SystemModstamp"] < latest)
        return ApiResponse(200, {"ids": found, "latestDateCovered": format_datetime(latest)})
    deleted = sorted(
        (
            {"id": r["Id"], "deletedDate": format_datetime(r["SystemModstamp"])}
            for r in org.store.records(obj.name, include_deleted=True)
            if r.get("IsDeleted") and start <= r["SystemModstamp"] < latest
        ),
        key=lambda d: d["deletedDate"],
    )
    return ApiResponse(
        200,
        {
            "deletedRecords": deleted,
            "earliestDateAvailable": format_datetime((now - timedelta(days=30)).replace(second=0, microsecond=0)),
            "latestDateCovered": format_datetime(latest),
        },
    )


# ---- query ---------------------------------------------------------------------------------------------
def _batch_size(req: ApiRequest) -> int:
    opts = req.headers.get("sforce-query-options", "")
    for part in opts.split(","):
        k, _, val = part.partition("=")
        if k.strip().lower() == "batchsize":
            try:
                return max(200, min(2000, int(val.strip())))
            except ValueError:
                raise SalesforceError("INVALID_QUERY_LOCATOR", f"Invalid batch size: {val}") from None
    return 2000


def query(org: Org, req: ApiRequest, *, include_deleted: bool) -> ApiResponse:
    endpoint = "queryAll" if include_deleted else "query"
    if len(req.segments) == 2:  # next page: /query/01gXXXX-2000
        locator, _, pos = unquote(req.segments[1]).rpartition("-")
        records = org.cursors.get(locator)
        if records is None or not pos.isdigit():
            raise SalesforceError("INVALID_QUERY_LOCATOR", "invalid query locator")
        start = int(pos)
        batch = _batch_size(req) if "sforce-query-options" in req.headers else org.cursors_batch.get(locator, 2000)
        return _page(org, endpoint, req.version, locator, records, start, batch, len(records))
    q = req.params.get("q")
    if q is None:
        raise SalesforceError("MALFORMED_QUERY", "A query string has to be specified")
    result = org.engine().run(q, include_deleted=include_deleted)
    batch = _batch_size(req)
    if len(result.records) <= batch:
        return ApiResponse(200, {"totalSize": result.total_size, "done": True, "records": result.records})
    locator = "01g" + ids.base62(int(org.store.meta.get("locator_seq", "0")) + 1, 12)
    org.store.meta["locator_seq"] = str(int(org.store.meta.get("locator_seq", "0")) + 1)
    org.cursors[locator] = result.records
    org.cursors_batch[locator] = batch
    while len(org.cursors) > 50:
        old, _ = org.cursors.popitem(last=False)
        org.cursors_batch.pop(old, None)
    return _page(org, endpoint, req.version, locator, result.records, 0, batch, result.total_size)


def _page(
    org: Org,
    endpoint: str,
    version: str,
    locator: str,
    records: list[dict[str, Any]],
    start: int,
    batch: int,
    total: int,
) -> ApiResponse:
    page = records[start : start + batch]
    nxt = start + batch
    body: dict[str, Any] = {"totalSize": total, "done": nxt >= len(records)}
    if nxt < len(records):
        body["nextRecordsUrl"] = f"/services/data/v{version}/{endpoint}/{locator}-{nxt}"
    else:
        org.cursors.pop(locator, None)
        org.cursors_batch.pop(locator, None)
    body["records"] = page
    return ApiResponse(200, body)


def limits(org: Org) -> ApiResponse:
    used = org.api_usage()
    mx = org.daily_limit

    def lim(m: int, r: int) -> dict[str, int]:
        return {"Max": m, "Remaining": r}

    return ApiResponse(
        200,
        {
            "ConcurrentAsyncGetReportInstances": lim(200, 200),
            "DailyApiRequests": lim(mx, max(0, mx - used)),
            "DailyAsyncApexExecutions": lim(250000, 250000),
            "DailyBulkApiBatches": lim(15000, 15000),
            "DailyBulkV2QueryFileStorageMB": lim(976562, 976562),
            "DailyBulkV2QueryJobs": lim(10000, 10000),
            "DataStorageMB": lim(1024, 1024),
            "FileStorageMB": lim(1024, 1024),
            "HourlyODataCallout": lim(10000, 10000),
            "SingleEmail": lim(5000, 5000),
        },
    )
