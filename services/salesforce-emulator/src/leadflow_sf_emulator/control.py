"""The control plane under /__emulator__/: reset, seed, request log, counters, faults, clock, settings."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from leadflow_sf_emulator.errors import SalesforceError
from leadflow_sf_emulator.faults import FaultSpec
from leadflow_sf_emulator.org import Org
from leadflow_sf_emulator.values import format_datetime, parse_datetime, to_wire


def _bad(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise ValueError("body must be JSON") from None


def control_routes(org: Org) -> list[Route]:
    async def index(request: Request) -> Response:
        return JSONResponse(
            {
                "endpoints": [
                    "POST /__emulator__/reset",
                    "POST /__emulator__/seed",
                    "GET /__emulator__/export",
                    "GET|DELETE /__emulator__/requests",
                    "GET /__emulator__/stats",
                    "GET|POST|DELETE /__emulator__/faults",
                    "DELETE /__emulator__/faults/{id}",
                    "POST /__emulator__/sessions/revoke",
                    "GET|POST /__emulator__/clock",
                    "GET|POST /__emulator__/settings",
                ]
            }
        )

    async def reset(request: Request) -> Response:
        org.reset()
        return JSONResponse({"ok": True, "records": org.record_count()})

    async def seed(request: Request) -> Response:
        try:
            body = await _json(request)
            if isinstance(body, dict) and "fixture" in body and "records" not in body:
                n = org.seed_file(str(body["fixture"]))
            else:
                n = org.seed(body)
        except (ValueError, OSError) as e:
            return _bad(str(e))
        except SalesforceError as e:
            return _bad(f"{e.code}: {e.message}")
        return JSONResponse({"ok": True, "records": n})

    async def export(request: Request) -> Response:
        include = request.query_params.get("objects")
        names = include.split(",") if include else list(org.schema.objects)
        out: dict[str, list[dict[str, Any]]] = {}
        for name in names:
            obj = org.schema.get(name)
            if obj is None:
                return _bad(f"unknown object {name}")
            out[obj.name] = [{k: to_wire(v) for k, v in r.items()} for r in org.store.records(obj.name)]
        return JSONResponse({"records": out})

    async def requests_log(request: Request) -> Response:
        if request.method == "DELETE":
            org.request_log.clear()
            org.counters.clear()
            return JSONResponse({"ok": True})
        try:
            limit = int(request.query_params.get("limit", "1000"))
        except ValueError:
            return _bad("limit must be an integer")
        items = list(org.request_log)[-limit:] if limit > 0 else []
        return JSONResponse({"requests": [r.__dict__ for r in items], "total": len(org.request_log)})

    async def stats(request: Request) -> Response:
        records = Counter({name: sum(1 for _ in org.store.records(name)) for name in org.schema.objects})
        return JSONResponse(
            {
                "counters": dict(org.counters),
                "apiUsage": org.api_usage(),
                "dailyApiLimit": org.daily_limit,
                "records": dict(records),
                "activeSessions": org.sessions.active_count(),
                "duplicateRule": org.duplicate_rule,
            }
        )

    async def faults(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse({"faults": [f.as_dict() for f in org.faults.faults]})
        if request.method == "DELETE":
            org.faults.clear()
            return JSONResponse({"ok": True})
        try:
            body = await _json(request)
            specs = body if isinstance(body, list) else [body]
            added = [org.faults.add(FaultSpec.model_validate(s)).as_dict() for s in specs]
        except (ValueError, ValidationError) as e:
            return _bad(str(e))
        return JSONResponse({"faults": added}, status_code=201)

    async def fault_delete(request: Request) -> Response:
        try:
            fid = int(request.path_params["fault_id"])
        except ValueError:
            return _bad("fault id must be an integer")
        return JSONResponse({"ok": org.faults.remove(fid)})

    async def revoke(request: Request) -> Response:
        try:
            body = await _json(request)
        except ValueError as e:
            return _bad(str(e))
        user = body.get("userId") if isinstance(body, dict) else None
        return JSONResponse({"revoked": org.sessions.revoke_all(user)})

    def clock_state() -> dict[str, Any]:
        return {
            "now": format_datetime(org.clock.now()),
            "offsetSeconds": org.clock.offset.total_seconds(),
            "frozen": org.clock.frozen,
        }

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            try:
                body = await _json(request)
                if not isinstance(body, dict):
                    raise ValueError("body must be an object")
                if body.get("reset"):
                    org.clock.reset()
                if "now" in body:
                    when = parse_datetime(str(body["now"]))
                    if when is None:
                        raise ValueError("now must be an ISO-8601 datetime")
                    org.clock.set_now(when, freeze=bool(body.get("freeze", False)))
                elif body.get("freeze") is False:
                    org.clock.unfreeze()
                if "offsetSeconds" in body:
                    org.clock.set_offset(timedelta(seconds=float(body["offsetSeconds"])))
                if "advanceSeconds" in body:
                    org.clock.advance(timedelta(seconds=float(body["advanceSeconds"])))
            except (ValueError, TypeError, OverflowError) as e:
                return _bad(str(e))
            org.clock_moved()
        return JSONResponse(clock_state())

    async def settings(request: Request) -> Response:
        if request.method == "POST":
            try:
                body = await _json(request)
                if not isinstance(body, dict):
                    raise ValueError("body must be an object")
                if "duplicateRule" in body:
                    org.duplicate_rule = bool(body["duplicateRule"])
                if "emailInternationalization" in body:
                    org.email_internationalization = bool(body["emailInternationalization"])
                if "dailyApiLimit" in body:
                    org.daily_limit = max(0, int(body["dailyApiLimit"]))
                if "apiUsage" in body:
                    org.set_api_usage(int(body["apiUsage"]))
                if "sessionTtlSeconds" in body:
                    org.sessions.ttl = timedelta(seconds=int(body["sessionTtlSeconds"]))
                if "hiddenFields" in body:
                    org.hidden_fields = {str(f).lower() for f in body["hiddenFields"]}
                if "readOnlyFields" in body:
                    org.read_only_fields = {str(f).lower() for f in body["readOnlyFields"]}
                if "removedPicklistValues" in body:
                    org.removed_picklist_values = {
                        str(k).lower(): {str(v).lower() for v in vals}
                        for k, vals in body["removedPicklistValues"].items()
                    }
            except (ValueError, TypeError) as e:
                return _bad(str(e))
        return JSONResponse(
            {
                "duplicateRule": org.duplicate_rule,
                "emailInternationalization": org.email_internationalization,
                "dailyApiLimit": org.daily_limit,
                "apiUsage": org.api_usage(),
                "sessionTtlSeconds": int(org.sessions.ttl.total_seconds()),
                "hiddenFields": sorted(org.hidden_fields),
                "readOnlyFields": sorted(org.read_only_fields),
                "removedPicklistValues": {k: sorted(v) for k, v in org.removed_picklist_values.items()},
            }
        )

    return [
        Route("/", index, methods=["GET"]),
        Route("/reset", reset, methods=["POST"]),
        Route("/seed", seed, methods=["POST"]),
        Route("/export", export, methods=["GET"]),
        Route("/requests", requests_log, methods=["GET", "DELETE"]),
        Route("/stats", stats, methods=["GET"]),
        Route("/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/faults/{fault_id}", fault_delete, methods=["DELETE"]),
        Route("/sessions/revoke", revoke, methods=["POST"]),
        Route("/clock", clock, methods=["GET", "POST"]),
        Route("/settings", settings, methods=["GET", "POST"]),
    ]
