"""Bulk API 1.0 (`/services/async/<version>/job…`): jobs of CSV, JSON or XML batches, processed at once.

jsforce's `conn.bulk.load/query` (XML job, CSV batches) and simple-salesforce's `sf.bulk.<Object>`
(JSON job and batches) both work against it. Shapes follow the Bulk API 1.0 developer guide: jobInfo /
batchInfo documents in the job's format (XML for CSV and XML jobs, JSON for JSON jobs), DML results as
`"Id","Success","Created","Error"` CSV, `[{success, created, id, errors}]` JSON or `<results>` XML; a
query batch lists result ids, each a CSV / JSON (datetimes as epoch milliseconds) / XML record set.
Batches are processed when they arrive, so the first status poll already says `Completed`.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from xml.sax.saxutils import escape

from defusedxml import ElementTree as SafeET

from leadflow_sf_emulator import dml, ids
from leadflow_sf_emulator.errors import SalesforceError
from leadflow_sf_emulator.org import Org
from leadflow_sf_emulator.schema import ObjectDef
from leadflow_sf_emulator.soql.parser import parse
from leadflow_sf_emulator.values import format_datetime_z, to_csv_text

NS = "http://www.force.com/2009/06/asyncapi/dataload"
OPERATIONS = {"insert", "update", "upsert", "delete", "harddelete", "query", "queryall"}
_CANON = {"harddelete": "hardDelete", "queryall": "queryAll"}
_CONTENT_TYPES = {"CSV", "JSON", "XML"}


class BulkError(Exception):
    """Bulk API 1.0 errors: `{"exceptionCode", "exceptionMessage"}` or `<error>` XML, HTTP 400 by default."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass
class Batch:
    id: str
    info: dict[str, Any]
    results: list[dict[str, Any]] = field(default_factory=list)  # DML: {id, success, created, errors}
    result_ids: list[str] = field(default_factory=list)  # query
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    sobject: str = ""


@dataclass
class Job:
    id: str
    info: dict[str, Any]
    batches: dict[str, Batch] = field(default_factory=dict)

    @property
    def fmt(self) -> str:
        return str(self.info["contentType"])


@dataclass
class Reply:
    status: int
    body: bytes
    media_type: str


def _seq(org: Org, key: str) -> int:
    n = int(org.store.meta.get(key, "0")) + 1
    org.store.meta[key] = str(n)
    return n


def _now(org: Org) -> str:
    return format_datetime_z(org.clock.now())


# ---- rendering -------------------------------------------------------------------------------------
def _xml_doc(root: str, fields: dict[str, Any]) -> str:
    inner = "".join(f"<{k}>{escape(_xml_value(v))}</{k}>" for k, v in fields.items() if v is not None)
    return f'<?xml version="1.0" encoding="UTF-8"?><{root} xmlns="{NS}">{inner}</{root}>'


def _xml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _info_reply(info: dict[str, Any], root: str, fmt: str, status: int = 200) -> Reply:
    if fmt == "JSON":
        return Reply(status, json.dumps(info).encode(), "application/json")
    return Reply(status, _xml_doc(root, info).encode(), "application/xml")


def error_reply(e: BulkError, fmt: str) -> Reply:
    if fmt == "JSON":
        body = json.dumps({"exceptionCode": e.code, "exceptionMessage": e.message}).encode()
        return Reply(e.status, body, "application/json")
    xml = _xml_doc("error", {"exceptionCode": e.code, "exceptionMessage": e.message})
    return Reply(e.status, xml.encode(), "application/xml")


# ---- request parsing ---------------------------------------------------------------------------------
def _parse_job_body(body: bytes, content_type: str) -> tuple[dict[str, Any], str]:
    """The job definition and the format the client speaks (JSON or XML)."""
    if "json" in content_type:
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise BulkError("InvalidJob", "Unable to parse the job definition as JSON") from None
        if not isinstance(data, dict):
            raise BulkError("InvalidJob", "The job definition must be a JSON object")
        return data, "JSON"
    try:
        root = SafeET.fromstring(body.strip())
    except Exception:
        raise BulkError("InvalidXML", "Unable to parse the job definition as XML") from None
    return {_local(c.tag): (c.text or "").strip() for c in root}, "XML"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _records_from_batch(job: Job, body: bytes) -> list[dict[str, Any]]:
    fmt = job.fmt
    try:
        if fmt == "CSV":
            reader = csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""), strict=True)
            header = next(reader, None)
            if not header:
                raise BulkError("InvalidBatch", "InvalidBatch : No data found in the batch")
            out = []
            for row in reader:
                if not row:
                    continue
                if len(row) != len(header):
                    raise BulkError("InvalidBatch", f"InvalidBatch : Row has {len(row)} columns, header {len(header)}")
                out.append({h.strip(): (None if v == "#N/A" else v) for h, v in zip(header, row, strict=True) if v})
            return out
        if fmt == "JSON":
            data = json.loads(body.decode("utf-8"))
            if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
                raise BulkError("InvalidBatch", "InvalidBatch : The batch must be a JSON array of records")
            return [{k: v for k, v in r.items() if k != "attributes"} for r in data]
        root = SafeET.fromstring(body.strip())
        records = []
        for el in root:
            if _local(el.tag) != "sObject":
                continue
            rec: dict[str, Any] = {}
            for c in el:
                nil = c.get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true"
                rec[_local(c.tag)] = None if nil else (c.text or "")
            records.append(rec)
        return records
    except BulkError:
        raise
    except Exception as e:  # decoding, CSV or XML syntax
        raise BulkError("InvalidBatch", f"InvalidBatch : Failed to parse the batch: {type(e).__name__}") from None


# ---- operations ----------------------------------------------------------------------------------------
def create_job(org: Org, body: bytes, content_type: str, user_id: str, version: str) -> Reply:
    spec, client_fmt = _parse_job_body(body, content_type)
    op_raw = str(spec.get("operation") or "")
    if op_raw.lower() not in OPERATIONS:
        raise BulkError("InvalidJob", f"InvalidJob : Invalid operation: {op_raw}")
    op = _CANON.get(op_raw.lower(), op_raw.lower())
    obj = org.schema.get(str(spec.get("object") or ""))
    if obj is None:
        raise BulkError(
            "InvalidEntity", f"InvalidEntity : Entity '{spec.get('object')}' is not supported by the Bulk API."
        )
    fmt = str(spec.get("contentType") or ("JSON" if client_fmt == "JSON" else "CSV")).upper()
    if fmt not in _CONTENT_TYPES:
        raise BulkError("InvalidJob", f"InvalidJob : Unsupported content type: {fmt}")
    ext = spec.get("externalIdFieldName")
    if op == "upsert":
        fd = obj.field(str(ext or ""))
        if fd is None or not (fd.external_id or fd.name == "Id"):
            raise BulkError("InvalidJob", f"InvalidJob : Invalid external ID field name: {ext}")
        ext = fd.name
    job_id = ids.mint("750", _seq(org, "bulk1_job_seq"), pod="8d")
    now = _now(org)
    info: dict[str, Any] = {
        "id": job_id,
        "operation": op,
        "object": obj.name,
        "createdById": user_id,
        "createdDate": now,
        "systemModstamp": now,
        "state": "Open",
        "externalIdFieldName": ext if op == "upsert" else None,
        "concurrencyMode": "Parallel",
        "contentType": fmt,
        "numberBatchesQueued": 0,
        "numberBatchesInProgress": 0,
        "numberBatchesCompleted": 0,
        "numberBatchesFailed": 0,
        "numberBatchesTotal": 0,
        "numberRecordsProcessed": 0,
        "numberRetries": 0,
        "apiVersion": float(version),
        "numberRecordsFailed": 0,
        "totalProcessingTime": 0,
        "apiActiveProcessingTime": 0,
        "apexProcessingTime": 0,
    }
    org.bulk1_jobs[job_id] = Job(job_id, info)
    return _info_reply(_public(info), "jobInfo", _reply_fmt(fmt), 201)


def _public(info: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in info.items() if v is not None}


def _reply_fmt(job_fmt: str) -> str:
    return "JSON" if job_fmt == "JSON" else "XML"


def set_job_state(org: Org, job: Job, body: bytes, content_type: str) -> Reply:
    spec, _ = _parse_job_body(body, content_type)
    state = str(spec.get("state") or "")
    if state not in ("Closed", "Aborted"):
        raise BulkError("InvalidJobState", f"InvalidJobState : Invalid state: {state}")
    if job.info["state"] != "Open":
        raise BulkError("InvalidJobState", f"InvalidJobState : Job {job.id} is already {job.info['state']}")
    job.info["state"] = state
    job.info["systemModstamp"] = _now(org)
    return _info_reply(_public(job.info), "jobInfo", _reply_fmt(job.fmt))


def add_batch(org: Org, job: Job, body: bytes, user_id: str) -> Reply:
    if job.info["state"] != "Open":
        raise BulkError("InvalidJobState", f"InvalidJobState : Job {job.id} is not open")
    batch_id = ids.mint("751", _seq(org, "bulk1_batch_seq"), pod="8d")
    now = _now(org)
    info: dict[str, Any] = {
        "id": batch_id,
        "jobId": job.id,
        "state": "Completed",
        "createdDate": now,
        "systemModstamp": now,
        "numberRecordsProcessed": 0,
        "numberRecordsFailed": 0,
        "totalProcessingTime": 0,
        "apiActiveProcessingTime": 0,
        "apexProcessingTime": 0,
    }
    batch = Batch(batch_id, info)
    op = job.info["operation"]
    try:
        if op in ("query", "queryAll"):
            _run_query(org, batch, body.decode("utf-8").strip(), include_deleted=op == "queryAll")
        else:
            _run_dml(org, job, batch, _records_from_batch(job, body), user_id)
    except (BulkError, SalesforceError, UnicodeDecodeError) as e:
        info.update({"state": "Failed", "stateMessage": getattr(e, "message", str(e))})
    job.batches[batch_id] = batch
    job.info["numberBatchesTotal"] += 1
    key = "numberBatchesCompleted" if info["state"] == "Completed" else "numberBatchesFailed"
    job.info[key] += 1
    job.info["numberRecordsProcessed"] += info["numberRecordsProcessed"]
    job.info["numberRecordsFailed"] += info["numberRecordsFailed"]
    return _info_reply(info, "batchInfo", _reply_fmt(job.fmt), 201)


def _run_dml(org: Org, job: Job, batch: Batch, records: list[dict[str, Any]], user_id: str) -> None:
    if len(records) > 10_000:
        raise BulkError("InvalidBatch", "InvalidBatch : Records in a batch can't exceed 10000")
    obj: ObjectDef = org.schema.objects[job.info["object"]]
    op = job.info["operation"]
    ext = job.info.get("externalIdFieldName")
    txn = org.store.begin()
    ctx = org.dml_context(user_id)
    for values in records:
        mark = txn.savepoint()
        try:
            if op == "insert":
                rid, created = dml.create(txn, obj, dict(values), ctx), True
            elif op == "update":
                rest = dict(values)
                rid_raw = rest.pop("Id", None) or rest.pop("id", None)
                if not rid_raw:
                    raise SalesforceError("MISSING_ARGUMENT", "Id not specified in an update call", fields=["Id"])
                rid, created = dml.update(txn, obj, str(rid_raw), rest, ctx), False
            elif op == "upsert":
                rid, created = dml.upsert(txn, obj, str(ext), values.get(str(ext)), dict(values), ctx)
            else:
                rid_raw = values.get("Id") or values.get("id") or ""
                rid, created = dml.delete(txn, obj, str(rid_raw), ctx), False
            batch.results.append({"id": rid, "success": True, "created": created, "errors": []})
        except SalesforceError as e:
            txn.rollback_to(mark)
            error = {"statusCode": e.code, "message": e.message, "fields": list(e.fields or [])}
            batch.results.append({"id": None, "success": False, "created": False, "errors": [error]})
            batch.info["numberRecordsFailed"] += 1
        batch.info["numberRecordsProcessed"] += 1
    txn.commit()


def _run_query(org: Org, batch: Batch, text: str, *, include_deleted: bool) -> None:
    engine = org.engine()
    plan = engine.plan(parse(text))
    if plan.aggregate or plan.count_only:
        raise BulkError("InvalidBatch", "InvalidBatch : Aggregate queries are not supported by Bulk API")
    if any(not hasattr(c, "fd") for c in plan.columns):
        raise BulkError("InvalidBatch", "InvalidBatch : Nested queries are not supported by Bulk API")
    result = engine.execute(plan, include_deleted=include_deleted)
    batch.result_ids = [ids.mint("752", _seq(org, "bulk1_result_seq"), pod="8d")]
    batch.columns, batch.rows, batch.sobject = result.columns, result.rows, plan.obj.name
    batch.info["numberRecordsProcessed"] = len(result.rows)


# ---- results ---------------------------------------------------------------------------------------------
def dml_results(job: Job, batch: Batch) -> Reply:
    fmt = job.fmt
    if fmt == "JSON":
        return Reply(200, json.dumps(batch.results).encode(), "application/json")
    if fmt == "XML":
        parts = []
        for r in batch.results:
            errs = "".join(
                "<errors>"
                + "".join(f"<fields>{escape(f)}</fields>" for f in e["fields"])
                + f"<message>{escape(e['message'])}</message><statusCode>{e['statusCode']}</statusCode></errors>"
                for e in r["errors"]
            )
            rid = f"<id>{r['id']}</id>" if r["id"] else '<id xsi:nil="true"/>'
            parts.append(
                f"<result>{errs}{rid}<success>{_xml_value(r['success'])}</success>"
                f"<created>{_xml_value(r['created'])}</created></result>"
            )
        xml = (
            f'<?xml version="1.0" encoding="UTF-8"?><results xmlns="{NS}" '
            f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">{"".join(parts)}</results>'
        )
        return Reply(200, xml.encode(), "application/xml")
    out = io.StringIO()
    w = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    w.writerow(["Id", "Success", "Created", "Error"])
    for r in batch.results:
        err = "; ".join(f"{e['statusCode']}:{e['message']}" for e in r["errors"])
        w.writerow([r["id"] or "", _xml_value(r["success"]), _xml_value(r["created"]), err])
    return Reply(200, out.getvalue().encode(), "text/csv")


def query_result_list(job: Job, batch: Batch) -> Reply:
    if job.fmt == "JSON":
        return Reply(200, json.dumps(batch.result_ids).encode(), "application/json")
    inner = "".join(f"<result>{r}</result>" for r in batch.result_ids)
    return Reply(
        200,
        f'<?xml version="1.0" encoding="UTF-8"?><result-list xmlns="{NS}">{inner}</result-list>'.encode(),
        "application/xml",
    )


def _epoch_ms(v: Any) -> Any:
    if isinstance(v, datetime):
        return int(v.astimezone(UTC).timestamp() * 1000)
    if isinstance(v, date):
        return int(datetime(v.year, v.month, v.day, tzinfo=UTC).timestamp() * 1000)
    return v


def query_result(job: Job, batch: Batch, version: str) -> Reply:
    if job.fmt == "JSON":
        records = []
        for row in batch.rows:
            rec: dict[str, Any] = {"attributes": {"type": batch.sobject, "url": None}}
            for col, v in zip(batch.columns, row, strict=True):
                target = rec
                *parents, leaf = col.split(".")
                for p in parents:
                    target = target.setdefault(p, {})
                target[leaf] = _epoch_ms(v)
            if rec.get("Id"):
                rec["attributes"]["url"] = f"/services/data/v{version}/sobjects/{batch.sobject}/{rec['Id']}"
            records.append(rec)
        return Reply(200, json.dumps(records).encode(), "application/json")
    if job.fmt == "XML":
        recs = []
        for row in batch.rows:
            cells = "".join(
                f"<{c}>{escape(to_csv_text(v))}</{c}>" if v is not None else f'<{c} xsi:nil="true"/>'
                for c, v in zip(batch.columns, row, strict=True)
                if "." not in c
            )
            recs.append(f'<records xsi:type="sObject"><type>{batch.sobject}</type>{cells}</records>')
        xml = (
            f'<?xml version="1.0" encoding="UTF-8"?><queryResult xmlns="{NS}" '
            f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">{"".join(recs)}</queryResult>'
        )
        return Reply(200, xml.encode(), "application/xml")
    out = io.StringIO()
    w = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    w.writerow(batch.columns)
    for row in batch.rows:
        w.writerow([to_csv_text(v) if v is not None else "" for v in row])
    return Reply(200, out.getvalue().encode(), "text/csv")


# ---- routing ----------------------------------------------------------------------------------------------
def route(org: Org, method: str, segments: list[str], content_type: str, body: bytes, user_id: str) -> Reply:
    """`segments`: the path after `/services/async/`, e.g. ["59.0", "job", "750…", "batch"]."""
    version, rest = segments[0], segments[1:]
    if not rest or rest[0] != "job":
        raise BulkError("InvalidUrl", "InvalidUrl : unknown Bulk API resource", 404)
    if len(rest) == 1:
        if method != "POST":
            raise BulkError("InvalidUrl", "InvalidUrl : use POST to create a job", 405)
        return create_job(org, body, content_type, user_id, version)
    job = org.bulk1_jobs.get(ids.normalize(rest[1]) or rest[1])
    if job is None:
        raise BulkError("InvalidJob", f"InvalidJob : Unable to find job by id: {rest[1]}")
    fmt = _reply_fmt(job.fmt)
    if len(rest) == 2:
        if method == "GET":
            return _info_reply(_public(job.info), "jobInfo", fmt)
        if method == "POST":
            return set_job_state(org, job, body, content_type)
    elif rest[2] == "batch":
        if len(rest) == 3:
            if method == "POST":
                return add_batch(org, job, body, user_id)
            if method == "GET":
                infos = [b.info for b in job.batches.values()]
                if fmt == "JSON":
                    return Reply(200, json.dumps({"batchInfo": infos}).encode(), "application/json")
                inner = "".join(_xml_doc("batchInfo", i).split("?>", 1)[1].replace(f' xmlns="{NS}"', "") for i in infos)
                doc = f'<?xml version="1.0" encoding="UTF-8"?><batchInfoList xmlns="{NS}">{inner}</batchInfoList>'
                return Reply(200, doc.encode(), "application/xml")
        batch = job.batches.get(ids.normalize(rest[3]) or rest[3]) if len(rest) >= 4 else None
        if batch is None:
            raise BulkError(
                "InvalidBatch", f"InvalidBatch : Unable to find batch for id: {rest[3] if len(rest) > 3 else ''}"
            )
        if method == "GET" and len(rest) == 4:
            return _info_reply(batch.info, "batchInfo", fmt)
        if method == "GET" and len(rest) == 5 and rest[4] == "result":
            if job.info["operation"] in ("query", "queryAll"):
                return query_result_list(job, batch)
            return dml_results(job, batch)
        if method == "GET" and len(rest) == 6 and rest[4] == "result" and rest[5] in batch.result_ids:
            return query_result(job, batch, version)
    raise BulkError("InvalidUrl", "InvalidUrl : unknown Bulk API resource", 404)
