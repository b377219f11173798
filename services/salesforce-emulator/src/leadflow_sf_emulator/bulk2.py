"""Bulk API 2.0 ingest and query jobs (CSV), processed synchronously, as simple-salesforce's bulk2 drives them."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from leadflow_sf_emulator import dml, ids
from leadflow_sf_emulator.errors import SalesforceError, not_found
from leadflow_sf_emulator.org import Org
from leadflow_sf_emulator.rest import ApiRequest, ApiResponse, method_not_allowed
from leadflow_sf_emulator.schema import ObjectDef
from leadflow_sf_emulator.soql.parser import parse
from leadflow_sf_emulator.values import format_datetime, to_csv_text

_DELIMS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
INGEST_OPS = ("insert", "update", "upsert", "delete", "hardDelete")


@dataclass
class Job:
    id: str
    kind: str  # ingest | query
    info: dict[str, Any]
    data: list[bytes] = field(default_factory=list)
    success: list[list[str]] = field(default_factory=list)
    failed: list[list[str]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)


def _error(code: str, message: str, status: int = 400) -> SalesforceError:
    return SalesforceError(code, message, status=status)


def route(org: Org, req: ApiRequest) -> ApiResponse:
    seg, m = req.segments, req.method
    if len(seg) < 2 or seg[1] not in ("ingest", "query"):
        raise not_found()
    kind = seg[1]
    if len(seg) == 2:
        if m == "POST":
            return create_job(org, req, kind)
        if m == "GET":
            jobs = [j.info for j in org.bulk_jobs.values() if j.kind == kind]
            return ApiResponse(200, {"done": True, "records": jobs, "nextRecordsUrl": None})
        raise method_not_allowed(m)
    job = org.bulk_jobs.get(seg[2])
    if job is None or job.kind != kind:
        raise _error("NOT_FOUND", "The requested resource does not exist", 404)
    if len(seg) == 3:
        if m == "GET":
            return ApiResponse(200, job.info)
        if m == "PATCH":
            return set_state(org, req, job)
        if m == "DELETE":
            if job.info["state"] in ("Open", "UploadComplete", "InProgress"):
                raise _error("INVALIDJOBSTATE", "Deleting a job requires it to be completed or aborted")
            del org.bulk_jobs[job.id]
            return ApiResponse(204)
        raise method_not_allowed(m)
    action = seg[3]
    if kind == "ingest" and action == "batches" and m == "PUT":
        if job.info["state"] != "Open":
            raise _error("INVALIDJOBSTATE", f"Job {job.id} is not open for upload: {job.info['state']}")
        if not req.body:
            raise _error("INVALIDJOB", "The request body is empty")
        job.data.append(req.body)
        return ApiResponse(201, None)
    if kind == "ingest" and m == "GET" and action in ("successfulResults", "failedResults", "unprocessedrecords"):
        return ingest_results(job, action)
    if kind == "query" and action == "results" and m == "GET":
        return query_results(req, job)
    raise not_found()


def _base_info(org: Org, req: ApiRequest, job_id: str, body: dict[str, Any]) -> dict[str, Any]:
    now = format_datetime(org.clock.now())
    return {
        "id": job_id,
        "operation": body.get("operation"),
        "object": body.get("object"),
        "createdById": req.user_id,
        "createdDate": now,
        "systemModstamp": now,
        "state": "Open",
        "concurrencyMode": "Parallel",
        "contentType": "CSV",
        "apiVersion": float(req.version),
        "lineEnding": body.get("lineEnding", "LF"),
        "columnDelimiter": body.get("columnDelimiter", "COMMA"),
    }


def create_job(org: Org, req: ApiRequest, kind: str) -> ApiResponse:
    body = req.json()
    if not isinstance(body, dict):
        raise _error("JSON_PARSER_ERROR", "The job definition must be a JSON object")
    if body.get("columnDelimiter", "COMMA") not in _DELIMS or body.get("lineEnding", "LF") not in _ENDINGS:
        raise _error("INVALIDJOB", "Invalid columnDelimiter or lineEnding")
    if body.get("contentType", "CSV") != "CSV":
        raise _error("INVALIDJOB", "Only CSV content is supported")
    seq = int(org.store.meta.get("bulk_seq", "0")) + 1
    org.store.meta["bulk_seq"] = str(seq)
    job_id = ids.mint("750", seq, pod="8d")
    info = _base_info(org, req, job_id, body)
    if kind == "ingest":
        op = body.get("operation")
        if op not in INGEST_OPS:
            raise _error("INVALIDJOB", f"InvalidJob : Invalid operation: {op}")
        obj = org.schema.get(str(body.get("object") or ""))
        if obj is None:
            raise _error(
                "INVALIDENTITY", f"InvalidEntity : Entity '{body.get('object')}' is not supported by the Bulk API."
            )
        info["object"] = obj.name
        if op == "upsert":
            ext = body.get("externalIdFieldName")
            if not ext:
                raise _error(
                    "INVALIDJOB",
                    "InvalidJob : External ID was blank for Lead. An External ID must be specified for upsert.",
                )
            fd = obj.field(str(ext))
            if fd is None or not (fd.external_id or fd.name == "Id"):
                raise _error(
                    "INVALIDJOB",
                    f"InvalidJob : Field name provided, {ext} does not match an External ID, Salesforce Id, "
                    f"or indexed field for {obj.name}",
                )
            info["externalIdFieldName"] = fd.name
        info.update({"jobType": "V2Ingest", "contentUrl": f"services/data/v{req.version}/jobs/ingest/{job_id}/batches"})
        org.bulk_jobs[job_id] = Job(job_id, kind, info)
        return ApiResponse(200, info)
    op = body.get("operation")
    if op not in ("query", "queryAll"):
        raise _error("INVALIDJOB", f"InvalidJob : Invalid operation: {op}")
    text = body.get("query")
    if not isinstance(text, str):
        raise _error("INVALIDJOB", "InvalidJob : A query is required")
    engine = org.engine()
    q = parse(text)
    plan = engine.plan(q)
    if plan.aggregate or plan.count_only:
        raise _error("INVALIDJOB", "InvalidJob : Aggregate queries are not supported by Bulk API 2.0")
    if any(not hasattr(c, "fd") for c in plan.columns):
        raise _error("INVALIDJOB", "InvalidJob : Nested queries are not supported by Bulk API 2.0")
    result = engine.execute(plan, include_deleted=op == "queryAll")
    info.update(
        {
            "object": plan.obj.name,
            "state": "UploadComplete",
            "jobType": "V2Query",
            "numberRecordsProcessed": 0,
            "retries": 0,
            "totalProcessingTime": 0,
        }
    )
    job = Job(job_id, "query", info, columns=result.columns, rows=result.rows)
    org.bulk_jobs[job_id] = job
    response = dict(info)
    info.update({"state": "JobComplete", "numberRecordsProcessed": len(result.rows)})
    return ApiResponse(200, response)


def set_state(org: Org, req: ApiRequest, job: Job) -> ApiResponse:
    body = req.json()
    state = body.get("state") if isinstance(body, dict) else None
    current = job.info["state"]
    if state == "Aborted":
        if current in ("JobComplete", "Failed", "Aborted"):
            raise _error("INVALIDJOBSTATE", f"Cannot abort a job in state {current}")
        job.info["state"] = "Aborted"
        return ApiResponse(200, job.info)
    if state == "UploadComplete" and job.kind == "ingest":
        if current != "Open":
            raise _error("INVALIDJOBSTATE", f"Job {job.id} is not open: {current}")
        process_ingest(org, req, job)
        return ApiResponse(200, {**job.info, "state": "UploadComplete"})
    raise _error("INVALIDJOBSTATE", f"Invalid state change to {state}")


def _parse_csv(job: Job) -> tuple[list[str], list[list[str]]]:
    delim = _DELIMS[job.info["columnDelimiter"]]
    header: list[str] | None = None
    rows: list[list[str]] = []
    for chunk in job.data:
        text = chunk.decode("utf-8-sig")
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, strict=True)
        chunk_header = next(reader, None)
        if not chunk_header:
            continue
        if header is None:
            header = chunk_header
        elif [h.lower() for h in chunk_header] != [h.lower() for h in header]:
            raise ValueError("All uploaded batches must have the same header")
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise ValueError(f"Row has {len(row)} columns, header has {len(header)}")
            rows.append(row)
    if header is None:
        raise ValueError("No data found in the uploaded CSV")
    return header, rows


def process_ingest(org: Org, req: ApiRequest, job: Job) -> None:
    obj: ObjectDef = org.schema.objects[job.info["object"]]
    op = job.info["operation"]
    try:
        header, rows = _parse_csv(job)
        names = []
        for h in header:
            fd = obj.field(h.strip())
            if fd is None:
                raise ValueError(f"Field name not found : {h}")
            names.append(fd.name)
        if op in ("delete", "hardDelete") and names != ["Id"]:
            raise ValueError("Delete jobs take a single Id column")
    except (ValueError, UnicodeDecodeError, csv.Error) as e:
        job.info.update(
            {
                "state": "Failed",
                "errorMessage": f"InvalidBatch : {e}",
                "numberRecordsProcessed": 0,
                "numberRecordsFailed": 0,
            }
        )
        return
    job.header = header
    txn = org.store.begin()
    ctx = org.dml_context(req.user_id)
    ext = job.info.get("externalIdFieldName")
    for row in rows:
        values: dict[str, Any] = {}
        for name, cell in zip(names, row, strict=True):
            if cell == "":
                continue
            values[name] = None if cell == "#N/A" else cell
        mark = txn.savepoint()
        try:
            if op == "insert":
                rid, created = dml.create(txn, obj, values, ctx), True
            elif op == "update":
                rid_raw = values.pop("Id", None)
                if not rid_raw:
                    raise SalesforceError("MISSING_ARGUMENT", "Id not specified in an update call", fields=["Id"])
                rid, created = dml.update(txn, obj, rid_raw, values, ctx), False
            elif op == "upsert":
                assert ext is not None
                rid, created = dml.upsert(txn, obj, ext, values.get(ext), values, ctx)
            else:
                rid, created = dml.delete(txn, obj, values.get("Id") or "", ctx), False
            job.success.append([rid, "true" if created else "false", *row])
        except SalesforceError as e:
            txn.rollback_to(mark)
            fields = ",".join(e.fields or [])
            job.failed.append(["", f"{e.code}:{e.message}:{fields} --", *row])
    txn.commit()
    job.info.update(
        {
            "state": "JobComplete",
            "numberRecordsProcessed": len(rows),
            "numberRecordsFailed": len(job.failed),
            "systemModstamp": format_datetime(org.clock.now()),
        }
    )


def _csv(header: list[str], rows: list[list[Any]], job: Job) -> str:
    buf = io.StringIO()
    w = csv.writer(
        buf,
        delimiter=_DELIMS[job.info["columnDelimiter"]],
        lineterminator=_ENDINGS[job.info["lineEnding"]],
        quoting=csv.QUOTE_ALL,
    )
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def ingest_results(job: Job, action: str) -> ApiResponse:
    if job.info["state"] not in ("JobComplete", "Failed", "Aborted"):
        raise _error("INVALIDJOBSTATE", "Results are available once the job is complete")
    if action == "successfulResults":
        body = _csv(["sf__Id", "sf__Created", *job.header], job.success, job)
    elif action == "failedResults":
        body = _csv(["sf__Id", "sf__Error", *job.header], job.failed, job)
    else:
        body = _csv(job.header, job.unprocessed, job) if job.header else ""
    return ApiResponse(200, body, media_type="text/csv")


def query_results(req: ApiRequest, job: Job) -> ApiResponse:
    if job.info["state"] != "JobComplete":
        raise _error("INVALIDJOBSTATE", f"Job {job.id} is not complete: {job.info['state']}")
    try:
        max_records = int(req.params.get("maxRecords", "50000"))
        start = int(req.params.get("locator") or "0", 36)
    except ValueError:
        raise _error("INVALIDLOCATOR", "Invalid locator or maxRecords") from None
    if max_records < 1 or start < 0 or start > len(job.rows):
        raise _error("INVALIDLOCATOR", "Invalid locator or maxRecords")
    page = job.rows[start : start + max_records]
    nxt = start + len(page)
    body = _csv(job.columns, [[to_csv_text(v) for v in r] for r in page], job)
    locator = _b36(nxt) if nxt < len(job.rows) else "null"
    return ApiResponse(
        200, body, media_type="text/csv", headers={"Sforce-NumberOfRecords": str(len(page)), "Sforce-Locator": locator}
    )


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"
