"""sObject Collections (/composite/sobjects) and Composite (/composite) with allOrNone rollback."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from leadflow_sf_emulator import dml, ids
from leadflow_sf_emulator.errors import SalesforceError, not_found
from leadflow_sf_emulator.org import Org
from leadflow_sf_emulator.rest import ApiRequest, ApiResponse, dispatch, method_not_allowed
from leadflow_sf_emulator.store import Txn

ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was using AllOrNone header",
    "fields": [],
}
PROCESSING_HALTED = "The transaction was rolled back since another operation in the same transaction failed."
MAX_RECORDS = 200
MAX_SUBREQUESTS = 25


def route(org: Org, req: ApiRequest) -> ApiResponse:
    seg = req.segments
    if len(seg) == 1:
        if req.method != "POST":
            raise method_not_allowed(req.method)
        return composite(org, req)
    if seg[1] != "sobjects":
        raise not_found()
    if len(seg) == 2:
        if req.method == "POST":
            return collection_write(org, req, "create")
        if req.method == "PATCH":
            return collection_write(org, req, "update")
        if req.method == "DELETE":
            return collection_delete(org, req)
        raise method_not_allowed(req.method)
    obj = org.schema.get(seg[2])
    if obj is None:
        raise not_found()
    if len(seg) == 3 and req.method in ("GET", "POST"):
        return collection_get(org, req, obj.name)
    if len(seg) == 4 and req.method == "PATCH":
        return collection_write(org, req, "upsert", sobject=obj.name, ext_field=seg[3])
    raise method_not_allowed(req.method)


def _bool(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _run_records(org: Org, req: ApiRequest, all_or_none: bool, items: list[Any], op: Any) -> list[dict[str, Any]]:
    """Apply `op(txn, ctx, item) -> result` to each item, each with its own savepoint."""
    results: list[dict[str, Any]] = []
    failed = False
    own = req.txn is None
    txn: Txn = req.txn or org.store.begin()
    start = txn.savepoint()
    ctx = org.dml_context(req.user_id, allow_save=req.allow_save)
    try:
        for item in items:
            mark = txn.savepoint()
            try:
                results.append(op(txn, ctx, item))
            except SalesforceError as e:
                txn.rollback_to(mark)
                failed = True
                res: dict[str, Any] = {"success": False, "errors": [e.save_error()]}
                if isinstance(item, str):
                    res["id"] = item
                results.append(res)
        if failed and all_or_none:
            txn.rollback_to(start)
            results = [
                r if not r["success"] else {"id": None, "success": False, "errors": [ROLLED_BACK]} for r in results
            ]
            if own:
                txn.rollback()
            return results
    except BaseException:
        if own:
            txn.rollback()
        raise
    if own:
        txn.commit()
    return results


def _records(body: Any) -> tuple[bool, list[Any]]:
    if not isinstance(body, dict):
        raise SalesforceError("JSON_PARSER_ERROR", "Cannot deserialize instance of the request from START_ARRAY value")
    records = body.get("records")
    if not isinstance(records, list):
        raise SalesforceError("INVALID_FIELD", "The request must have a records array", fields=["records"])
    if len(records) > MAX_RECORDS:
        raise SalesforceError(
            "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call"
        )
    return _bool(body.get("allOrNone", False)), records


def _record_type(org: Org, rec: Any, expected: str | None = None) -> Any:
    if not isinstance(rec, dict):
        raise SalesforceError("JSON_PARSER_ERROR", "Cannot deserialize instance of sObject from non-object value")
    attrs = rec.get("attributes")
    name = attrs.get("type") if isinstance(attrs, dict) else None
    if not name:
        raise SalesforceError("INVALID_TYPE", "Must send a concrete entity type.")
    obj = org.schema.get(str(name))
    if obj is None or (expected is not None and obj.name != expected):
        raise SalesforceError("INVALID_TYPE", f"sObject type '{name}' is not supported.")
    return obj


def _record_faults(org: Org, req: ApiRequest, records: list[Any]) -> dict[int, tuple[str, str, list[str]]]:
    """Injected per-record errors (control plane ``kind="record"``), by the identity of the record dict."""
    if not org.faults.faults:
        return {}
    path = f"/services/data/v{req.version}/" + "/".join(req.segments)
    out: dict[int, tuple[str, str, list[str]]] = {}
    for index, rec in enumerate(records):
        fault = org.faults.match_record(req.method, path, index, rec)
        if fault is not None:
            out[id(rec)] = fault.spec.record_error()
    return out


def collection_write(
    org: Org, req: ApiRequest, op_name: str, *, sobject: str | None = None, ext_field: str | None = None
) -> ApiResponse:
    all_or_none, records = _records(req.json())
    if op_name == "upsert":
        assert sobject is not None and ext_field is not None
        fd = dml.external_id_field(org.schema.objects[sobject], ext_field)
        counts: dict[str, int] = {}
        for r in records:
            if isinstance(r, dict):
                v = next((val for k, val in r.items() if k.lower() == fd.name.lower()), None)
                if v is not None:
                    counts[str(v).lower()] = counts.get(str(v).lower(), 0) + 1
    # Whole-request errors first, as Salesforce does: every record needs a concrete type.
    for r in records:
        _record_type(org, r, sobject)
    injected = _record_faults(org, req, records)

    def op(txn: Txn, ctx: dml.DmlContext, rec: dict[str, Any]) -> dict[str, Any]:
        fault = injected.get(id(rec))
        if fault is not None:
            code, message, fault_fields = fault
            raise SalesforceError(code, message, fields=fault_fields)
        obj = _record_type(org, rec, sobject)
        values = {k: v for k, v in rec.items() if k != "attributes"}
        if op_name == "create":
            return {"id": dml.create(txn, obj, values, ctx), "success": True, "errors": []}
        if op_name == "update":
            rid = next((v for k, v in values.items() if k.lower() == "id"), None)
            if not rid:
                raise SalesforceError("MISSING_ARGUMENT", "Id not specified in an update call", fields=["Id"])
            if ids.normalize(rid) is None:
                raise SalesforceError("MALFORMED_ID", f"malformed id {rid}", fields=["Id"])
            body = {k: v for k, v in values.items() if k.lower() != "id"}
            try:
                return {"id": dml.update(txn, obj, rid, body, ctx), "success": True, "errors": []}
            except SalesforceError as e:
                if e.code == "NOT_FOUND":
                    raise SalesforceError(
                        "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", fields=[]
                    ) from None
                raise
        key = next((k for k in values if k.lower() == fd.name.lower()), None)
        value = values.get(key) if key else None
        if value is None or value == "":
            raise SalesforceError("MISSING_ARGUMENT", f"{fd.name} not specified", fields=[fd.name])
        if counts.get(str(value).lower(), 0) > 1:
            raise SalesforceError(
                "DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {value}", fields=[fd.name]
            )
        try:
            rid, created = dml.upsert(txn, obj, fd.name, value, values, ctx)
        except dml.MultipleMatches as e:
            raise SalesforceError(
                "DUPLICATE_EXTERNAL_ID",
                f"{fd.name}: more than one record found for external id field: "
                + ", ".join(u.rsplit("/", 1)[-1] for u in e.urls),
                fields=[fd.name],
            ) from None
        return {"id": rid, "success": True, "errors": [], "created": created}

    return ApiResponse(200, _run_records(org, req, all_or_none, records, op))


def collection_delete(org: Org, req: ApiRequest) -> ApiResponse:
    raw = req.params.get("ids", "")
    id_list = [i for i in raw.split(",") if i]
    if not id_list:
        raise SalesforceError("MISSING_ARGUMENT", "ids parameter is required", fields=["ids"])
    if len(id_list) > MAX_RECORDS:
        raise SalesforceError(
            "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call"
        )

    def op(txn: Txn, ctx: dml.DmlContext, rid: str) -> dict[str, Any]:
        norm = ids.normalize(rid)
        if norm is None:
            raise SalesforceError("MALFORMED_ID", f"malformed id {rid}", fields=[])
        obj = org.schema.object_for_id(norm)
        rec = org.store.tables[obj.name].get(norm) if obj else None
        if obj is None or rec is None:
            raise SalesforceError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", fields=[])
        return {"id": dml.delete(txn, obj, norm, ctx), "success": True, "errors": []}

    return ApiResponse(200, _run_records(org, req, _bool(req.params.get("allOrNone")), id_list, op))


def collection_get(org: Org, req: ApiRequest, sobject: str) -> ApiResponse:
    obj = org.schema.objects[sobject]
    if req.method == "POST":
        body = req.json()
        id_list = body.get("ids") if isinstance(body, dict) else None
        fields_list = body.get("fields") if isinstance(body, dict) else None
        if not isinstance(id_list, list) or not isinstance(fields_list, list):
            raise SalesforceError("JSON_PARSER_ERROR", "ids and fields are required")
        fields_text = ",".join(str(f) for f in fields_list)
    else:
        id_list = [i for i in req.params.get("ids", "").split(",") if i]
        fields_text = req.params.get("fields", "")
    if not id_list or not fields_text:
        raise SalesforceError("MISSING_ARGUMENT", "ids and fields parameters are required")
    if len(id_list) > 2000:
        raise SalesforceError(
            "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 2000 records into this call"
        )
    names = dml.resolve_field_list(obj, fields_text)
    out: list[Any] = []
    for raw in id_list:
        rid = ids.normalize(str(raw))
        if rid is None:
            raise SalesforceError("MALFORMED_ID", f"malformed id {raw}")
        rec = org.store.tables[obj.name].get(rid)
        out.append(None if rec is None or rec.get("IsDeleted") else dml.record_json(obj, rec, req.version, names))
    return ApiResponse(200, out)


# ---- /composite ----------------------------------------------------------------------------------------
_REF_RE = re.compile(r"@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")
_REF_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]*$")


class _BadReference(Exception):
    pass


def _resolve(expr: str, refs: dict[str, Any]) -> Any:
    def lookup(m: re.Match[str]) -> Any:
        ref, path = m.group(1), m.group(2)
        if ref not in refs:
            raise _BadReference(f"{ref}{path}")
        cur = refs[ref]
        for part in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", path):
            name, idx = part
            try:
                cur = cur[int(idx)] if idx else cur[name]
            except (KeyError, IndexError, TypeError):
                raise _BadReference(f"{ref}{path}") from None
        return cur

    whole = _REF_RE.fullmatch(expr)
    if whole:
        return lookup(whole)
    return _REF_RE.sub(lambda m: str(lookup(m)), expr)


def _substitute(value: Any, refs: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return _resolve(value, refs) if "@{" in value else value
    if isinstance(value, list):
        return [_substitute(v, refs) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, refs) for k, v in value.items()}
    return value


def _halted(ref: str, message: str = PROCESSING_HALTED) -> dict[str, Any]:
    return {
        "body": [{"errorCode": "PROCESSING_HALTED", "message": message}],
        "httpHeaders": {},
        "httpStatusCode": 400,
        "referenceId": ref,
    }


def composite(org: Org, req: ApiRequest) -> ApiResponse:
    body = req.json()
    if not isinstance(body, dict) or not isinstance(body.get("compositeRequest"), list):
        raise SalesforceError("JSON_PARSER_ERROR", "compositeRequest is required")
    subs = body["compositeRequest"]
    if not subs:
        raise SalesforceError("INVALID_FIELD", "compositeRequest must contain at least one subrequest")
    if len(subs) > MAX_SUBREQUESTS:
        raise SalesforceError(
            "LIMIT_EXCEEDED", f"Limit Exceeded: compositeRequest can contain no more than {MAX_SUBREQUESTS} subrequests"
        )
    all_or_none = _bool(body.get("allOrNone", False))
    seen: set[str] = set()
    for s in subs:
        if not isinstance(s, dict) or not isinstance(s.get("url"), str) or not isinstance(s.get("method"), str):
            raise SalesforceError("JSON_PARSER_ERROR", "Each subrequest needs method, url and referenceId")
        ref = s.get("referenceId")
        if not isinstance(ref, str) or not _REF_ID_RE.match(ref):
            raise SalesforceError("INVALID_FIELD", f"Invalid referenceId: {ref}")
        if ref in seen:
            raise SalesforceError("DUPLICATE_VALUE", f"Duplicate referenceId provided in the request: {ref}")
        seen.add(ref)

    txn = org.store.begin()
    refs: dict[str, Any] = {}
    responses: list[dict[str, Any]] = []
    failed_at: int | None = None
    for i, s in enumerate(subs):
        ref = s["referenceId"]
        try:
            url = _substitute(s["url"], refs)
            sub_body = _substitute(s.get("body"), refs)
        except _BadReference as e:
            responses.append(
                _halted(
                    ref,
                    f"Invalid reference specified. No value for {e} found in {str(e).split('.')[0]}. "
                    "Provided referenceId must start with a letter or a number, and it can contain "
                    "only letters, numbers and underscores ('_').",
                )
            )
            if all_or_none:
                failed_at = i
                break
            continue
        mark = txn.savepoint()
        resp = _sub_call(org, req, txn, s["method"].upper(), str(url), sub_body, s.get("httpHeaders") or {})
        item: dict[str, Any] = {
            "body": resp.body,
            "httpHeaders": {k: v for k, v in resp.headers.items() if k == "Location"},
            "httpStatusCode": resp.status,
            "referenceId": ref,
        }
        responses.append(item)
        if resp.status >= 400:
            txn.rollback_to(mark)
            if all_or_none:
                failed_at = i
                break
        else:
            refs[ref] = resp.body
    if failed_at is not None:
        txn.rollback()
        out = []
        for i, s in enumerate(subs):
            out.append(responses[i] if i == failed_at else _halted(s["referenceId"]))
        return ApiResponse(200, {"compositeResponse": out})
    txn.commit()
    return ApiResponse(200, {"compositeResponse": responses})


def _sub_call(
    org: Org, req: ApiRequest, txn: Txn, method: str, url: str, body: Any, headers: dict[str, Any]
) -> ApiResponse:
    parts = urlsplit(url)
    path = unquote(parts.path)
    prefix = "/services/data/v"
    if not path.startswith(prefix):
        return ApiResponse(400, [{"errorCode": "INVALID_FIELD", "message": f"Invalid URL: {url}"}])
    rest = path[len(prefix) :]
    version, _, tail = rest.partition("/")
    segments = [s for s in tail.split("/") if s]
    sub = ApiRequest(
        method=method,
        segments=segments,
        params=dict(parse_qsl(parts.query)),
        headers={**req.headers, **{str(k).lower(): str(v) for k, v in headers.items()}},
        body=b"",
        user_id=req.user_id,
        version=version,
        txn=txn,
        parsed=body,
        has_parsed=body is not None,
    )
    if segments and segments[0] in ("composite", "jobs"):
        return ApiResponse(
            400,
            [{"errorCode": "INVALID_FIELD", "message": f"{segments[0]} is not supported in a composite subrequest"}],
        )
    try:
        return dispatch(org, sub)
    except SalesforceError as e:
        return ApiResponse(e.status, e.rest_body())
