"""The ASGI app: REST, SOAP and OAuth under /services, the control plane, health and metrics."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl, unquote

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from leadflow_sf_emulator import auth, bulk1, identity, ids, soap
from leadflow_sf_emulator.clock import EmulatorClock
from leadflow_sf_emulator.control import control_routes
from leadflow_sf_emulator.errors import SalesforceError, invalid_session, limit_exceeded
from leadflow_sf_emulator.org import Org
from leadflow_sf_emulator.rest import ApiRequest, ApiResponse, dispatch
from leadflow_sf_emulator.settings import EmulatorSettings

log = structlog.get_logger("leadflow_sf_emulator")

_VERSION_RE = re.compile(r"^v(\d{2})\.0$")
_ID_SEG_RE = re.compile(r"^(?=.*\d)[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")
_LOCATOR_RE = re.compile(r"^01g[0-9A-Za-z]+-\d+$")
ALL_METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE", "HEAD"]


class _TooLarge(Exception):
    pass


def endpoint_name(segments: list[str]) -> str:
    """A path with ids, locators and external-id values replaced, for counters and metrics."""
    out = []
    for i, s in enumerate(segments):
        if _ID_SEG_RE.match(s):
            out.append("{id}")
        elif _LOCATOR_RE.match(s):
            out.append("{locator}")
        elif (
            i >= 2
            and len(segments) >= 4
            and segments[-4:-2]
            and "sobjects" in segments
            and i == len(segments) - 1
            and segments[i - 3] == "sobjects"
        ):
            out.append("{value}")
        else:
            out.append(s)
    return "/" + "/".join(out)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "sfemu_requests_total", "Requests served", ["endpoint", "method", "status"], registry=self.registry
        )
        self.latency = Histogram("sfemu_request_seconds", "Request latency", ["endpoint"], registry=self.registry)
        self.api_usage = Gauge("sfemu_api_usage", "API requests used today", registry=self.registry)
        self.faults = Counter("sfemu_faults_injected_total", "Faults injected", ["kind"], registry=self.registry)


def _json_bytes(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _fault_response(kind: str, status: int) -> tuple[int, Any]:
    if kind == "UNABLE_TO_LOCK_ROW":
        return 400, [
            {
                "message": "unable to obtain exclusive access to this record or 1 records: 00Q000000000000AAA",
                "errorCode": "UNABLE_TO_LOCK_ROW",
                "fields": [],
            }
        ]
    if kind == "REQUEST_LIMIT_EXCEEDED":
        return 403, limit_exceeded().rest_body()
    if status == 503:
        return 503, [
            {
                "message": "Server unavailable: the service is temporarily unable to handle the request.",
                "errorCode": "SERVER_UNAVAILABLE",
            }
        ]
    return status, [
        {
            "message": "An unexpected error occurred. Please include this ErrorId if you contact support: "
            "1234567890-12345 (-1234567890)",
            "errorCode": "UNKNOWN_EXCEPTION",
        }
    ]


def create_app(settings: EmulatorSettings | None = None, *, clock: EmulatorClock | None = None) -> Starlette:
    settings = settings or EmulatorSettings()
    clock = clock or EmulatorClock()
    org = Org(settings, clock)
    metrics = Metrics()

    async def read_body(request: Request) -> bytes:
        limit = settings.max_body_bytes
        cl = request.headers.get("content-length")
        if cl and cl.isdigit() and int(cl) > limit:
            raise _TooLarge
        chunks = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _TooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    def base_url(request: Request) -> str:
        host = request.headers.get("host") or f"{settings.host}:{settings.port}"
        return f"{request.url.scheme}://{host}"

    async def services(request: Request) -> Response:
        started = time.perf_counter()
        method = request.method
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        path = raw_path.decode("latin-1").split("?", 1)[0]
        segments = [unquote(s) for s in path.split("/")[2:] if s != ""]  # after /services/
        endpoint = endpoint_name(segments)
        req_bytes = 0
        try:
            body = await read_body(request)
            req_bytes = len(body)
            response = await handle(request, method, path, segments, body)
        except _TooLarge:
            response = _json_response(
                413,
                [
                    {
                        "errorCode": "REQUEST_TOO_LARGE",
                        "message": f"Request body exceeds the maximum of {settings.max_body_bytes} bytes",
                    }
                ],
            )
        duration = (time.perf_counter() - started) * 1000
        org.record_request(method, path, response.status_code, req_bytes, len(response.body), duration, endpoint)
        metrics.requests.labels(endpoint, method, str(response.status_code)).inc()
        metrics.latency.labels(endpoint).observe(duration / 1000)
        log.debug(
            "request", method=method, endpoint=endpoint, status=response.status_code, duration_ms=round(duration, 2)
        )
        return response

    async def handle(request: Request, method: str, path: str, segments: list[str], body: bytes) -> Response:
        kind = segments[0] if segments else ""
        rest_like = kind in ("data", "apexrest", "async")
        presented = _bearer(request)
        for fault in org.faults.match(method, path):
            spec = fault.spec
            metrics.faults.labels(spec.kind).inc()
            if spec.latency_ms:
                await asyncio.sleep(spec.latency_ms / 1000)
            if spec.kind == "latency":
                continue
            if spec.kind == "INVALID_SESSION_ID":
                if presented:
                    org.sessions.revoke(presented)
                continue
            status, payload = _fault_response(spec.kind, spec.status)
            return _json_response(status, payload, org.limit_info() if rest_like else None)
        try:
            if kind == "data":
                return rest(request, method, segments, body, presented)
            if kind == "Soap" and len(segments) >= 3 and segments[1] == "u":
                return soap_call(request, body)
            if kind == "oauth2" and segments[1:] == ["userinfo"] and method in ("GET", "POST"):
                session = org.sessions.validate(presented or request.query_params.get("oauth_token"))
                return JSONResponse(identity.userinfo(org, session.user_id, base_url(request)))
            if kind == "oauth2" and len(segments) == 2 and method == "POST":
                if segments[1] == "token":
                    try:
                        return JSONResponse(auth.token(org, body, _lower_headers(request), base_url(request)))
                    except auth.OAuthError as e:
                        return JSONResponse(e.body(), status_code=e.status)
                if segments[1] == "revoke":
                    form = dict(parse_qsl(body.decode("utf-8", "replace")))
                    org.sessions.revoke(form.get("token", ""))
                    return Response(status_code=200)
            if kind == "async" and len(segments) >= 2:
                return bulk_v1(request, method, segments[1:], body, presented)
            if kind in ("apexrest", "async"):
                org.sessions.validate(presented)
                raise SalesforceError("NOT_FOUND", f"Could not find a match for URL {path}", status=404)
            return _json_response(404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
        except SalesforceError as e:
            return _json_response(e.status, e.rest_body(), org.limit_info() if rest_like else None)
        except Exception:
            log.exception("unhandled_error", endpoint=endpoint_name(segments), method=method)
            payload = _fault_response("status", 500)[1]
            return _json_response(500, payload, org.limit_info() if rest_like else None)

    def rest(request: Request, method: str, segments: list[str], body: bytes, presented: str | None) -> Response:
        if len(segments) == 1:
            return JSONResponse(
                [
                    {
                        "label": "Winter '24",
                        "url": f"/services/data/v{settings.api_version}",
                        "version": settings.api_version,
                    }
                ]
            )
        m = _VERSION_RE.match(segments[1])
        if not m or not 20 <= int(m.group(1)) <= 62:
            raise SalesforceError("NOT_FOUND", "The requested resource does not exist", status=404)
        session = org.sessions.validate(presented)
        org.charge_api_call()
        metrics.api_usage.set(org.api_usage())
        if len(segments) == 2 and method in ("GET", "HEAD"):
            return _render(
                ApiResponse(200, identity.version_root(org, segments[1][1:], base_url(request), session.user_id)),
                org.limit_info(),
            )
        req = ApiRequest(
            method=method if method != "HEAD" else "GET",
            segments=segments[2:],
            params=dict(parse_qsl(request.url.query, keep_blank_values=True)),
            headers=_lower_headers(request),
            body=body,
            user_id=session.user_id,
            version=segments[1][1:],
        )
        resp = dispatch(org, req)
        return _render(resp, org.limit_info())

    def bulk_v1(request: Request, method: str, segments: list[str], body: bytes, presented: str | None) -> Response:
        content_type = request.headers.get("content-type", "").lower()
        job_fmt = "JSON" if "json" in content_type else "XML"
        try:
            try:
                session = org.sessions.validate(presented)
            except SalesforceError:
                raise bulk1.BulkError("InvalidSessionId", "Invalid session id", 400) from None
            try:
                org.charge_api_call()
            except SalesforceError as e:
                raise bulk1.BulkError("ExceededQuota", e.message, 400) from None
            reply = bulk1.route(org, method, segments, content_type, body, session.user_id)
        except bulk1.BulkError as e:
            reply = bulk1.error_reply(e, job_fmt)
        return Response(reply.body, reply.status, media_type=reply.media_type)

    def soap_call(request: Request, body: bytes) -> Response:
        try:
            header, op = soap.parse_envelope(body)
            name = soap.operation_name(op)
            if name == "login":
                xml = soap.login(org, op, base_url(request))
            elif name == "logout":
                sid = soap.session_id(header)
                if not sid or not org.sessions.revoke(sid):
                    raise soap.SoapFault(
                        "INVALID_SESSION_ID",
                        "Invalid Session ID found in SessionHeader: "
                        "Illegal Session. Session not found, missing session hash",
                    )
                xml = soap.logout()
            elif name == "convertLead":
                try:
                    session = org.sessions.validate(soap.session_id(header))
                except SalesforceError:
                    raise soap.SoapFault(
                        "INVALID_SESSION_ID",
                        "Invalid Session ID found in SessionHeader: "
                        "Illegal Session. Session not found, missing session hash",
                    ) from None
                try:
                    org.charge_api_call()
                except SalesforceError as e:
                    raise soap.SoapFault(e.code, e.message) from None
                xml = soap.convert_lead(org, op, session.user_id)
            else:
                raise soap.SoapFault("INVALID_OPERATION", f"The operation {name} is not supported by this endpoint")
        except soap.SoapFault as f:
            return Response(f.xml(), status_code=500, media_type="text/xml; charset=utf-8")
        return Response(xml, status_code=200, media_type="text/xml; charset=utf-8")

    async def identity_service(request: Request) -> Response:
        """GET /id/<org>/<user>: the token in the Authorization header or the oauth_token parameter."""
        presented = _bearer(request) or request.query_params.get("oauth_token")
        try:
            session = org.sessions.validate(presented)
            org_id, user_id = request.path_params["org"], request.path_params["user"]
            if org_id[:15] != org.settings.org_id[:15] or (ids.normalize(user_id) or "") != session.user_id:
                raise SalesforceError("NOT_FOUND", "Bad_Id", status=404)
            body = identity.identity(org, session.user_id, base_url(request), request.query_params.get("version"))
        except SalesforceError as e:
            if e.status == 401:  # the identity service answers a bad token with a plain 403 text
                return Response("Bad_OAuth_Token", status_code=403, media_type="text/plain")
            return Response(e.message, status_code=e.status, media_type="text/plain")
        return JSONResponse(body)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            org.store.db.execute("SELECT 1").fetchone()
        except Exception:
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ready", "records": org.record_count()})

    async def metrics_endpoint(request: Request) -> Response:
        metrics.api_usage.set(org.api_usage())
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        log.info("emulator_started", data=settings.data, api_version=settings.api_version, records=org.record_count())
        yield
        org.close()
        log.info("emulator_stopped")

    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
            Route("/services/{rest:path}", services, methods=ALL_METHODS),
            Route("/id/{org}/{user}", identity_service, methods=["GET", "POST"]),
            Mount("/__emulator__", routes=control_routes(org)),
        ],
        lifespan=lifespan,
    )
    app.state.org = org
    app.state.settings = settings
    return app


def _lower_headers(request: Request) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


def _bearer(request: Request) -> str | None:
    h = request.headers.get("authorization", "")
    for prefix in ("Bearer ", "OAuth "):
        if h.startswith(prefix):
            return h[len(prefix) :].strip()
    return request.headers.get("x-sfdc-session")


def _json_response(status: int, payload: Any, limit_info: str | None = None) -> Response:
    headers = {"Sforce-Limit-Info": limit_info} if limit_info else {}
    return Response(_json_bytes(payload), status, headers=headers, media_type="application/json;charset=UTF-8")


def _render(resp: ApiResponse, limit_info: str) -> Response:
    headers = {**resp.headers, "Sforce-Limit-Info": limit_info}
    if resp.status == 204 or (resp.body is None and resp.status in (201, 204)):
        return Response(status_code=resp.status, headers=headers)
    if isinstance(resp.body, (str, bytes)):
        return Response(resp.body, resp.status, headers=headers, media_type=resp.media_type)
    return Response(_json_bytes(resp.body), resp.status, headers=headers, media_type=resp.media_type)


__all__ = ["create_app", "invalid_session"]
