"""Pages (server-rendered), JSON APIs and the live server-sent-event stream."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.templating import Jinja2Templates
from leadflow_platform.clock import describe_clock
from leadflow_platform.logging import get_logger

from leadflow_ops import glossary, views
from leadflow_ops.adapters.repository import DIMENSIONS
from leadflow_ops.domain import leads as leads_domain
from leadflow_ops.domain import timeline
from leadflow_ops.domain.stats import WINDOWS
from leadflow_ops.metrics import REPLAYS
from leadflow_ops.web import charts
from leadflow_ops.web.security import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Principal,
    check_csrf,
    principal,
    require_operator,
)

log = get_logger(__name__)
HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters["duration"] = charts.duration
templates.env.filters["pct"] = lambda v, d=1: "–" if v is None else f"{v:.{d}f} %"
templates.env.filters["ts"] = charts.timestamp
templates.env.globals["hbar"] = charts.hbar_chart
templates.env.globals["stacked"] = charts.stacked_bar_chart
templates.env.globals["line"] = charts.line_chart
templates.env.globals["pairs"] = charts.pairs
templates.env.globals["stacks"] = charts.stacks
templates.env.globals["duration"] = charts.duration
templates.env.globals["pct0"] = lambda v: f"{v:.0f} %"
templates.env.globals["pct1"] = lambda v: f"{v:.1%}"
templates.env.globals["inf"] = float("inf")
templates.env.globals["rate"] = lambda v: f"{v:.1f}/s"
templates.env.globals["page_url"] = lambda query, page: "/pipeline?" + urlencode({**query, "page": page})

router = APIRouter()
Who = Annotated[Principal, Depends(principal)]


def _now(request: Request) -> datetime:
    return request.app.state.clock.now()  # type: ignore[no-any-return]


def _render(request: Request, name: str, who: Principal | None, status: int = 200, **ctx: Any) -> HTMLResponse:
    settings = request.app.state.settings
    return templates.TemplateResponse(
        request,
        name,
        {
            "user": who.user if who else None,
            "csrf": who.session.csrf if who else "",
            "page": name.removesuffix(".html"),
            "sf_url": settings.salesforce_instance_url.rstrip("/"),
            "glossary": glossary.terms(name.removesuffix(".html")) if who else (),
            "demo_clock": describe_clock(request.app.state.clock),
            **ctx,
        },
        status_code=status,
    )


def render_error(request: Request, status: int, message: str) -> HTMLResponse:
    """An error as a page of the console (with its navigation), never a bare text body."""
    try:
        who: Principal | None = principal(request)
    except Exception:
        who = None
    titles = {400: "Bad request", 403: "Not allowed", 404: "Not found", 405: "Not allowed", 422: "Cannot do that"}
    return _render(request, "error.html", who, status, code=status, title=titles.get(status, "Error"), message=message)


@router.get("/favicon.ico", include_in_schema=False)
async def favicon() -> Response:
    return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml")


# --- login ----------------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, error: str | None = None) -> HTMLResponse:
    cookie, token = request.app.state.sessions.login_token()
    response = _render(request, "login.html", None, login_csrf=token, error=None)
    _set_cookie(request, response, LOGIN_COOKIE, cookie, max_age=3600)
    return response


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.cookie_secure,
        path="/",
    )


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=80)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    sessions = request.app.state.sessions
    if not sessions.check_login_token(request.cookies.get(LOGIN_COOKIE), csrf_token):
        cookie, token = sessions.login_token()
        response = _render(request, "login.html", None, 403, login_csrf=token, error="Form expired: try again.")
        _set_cookie(request, response, LOGIN_COOKIE, cookie, max_age=3600)
        return response
    user = await asyncio.to_thread(request.app.state.directory.authenticate, username, password)
    if user is None:
        log.info("login_failed", username=username)
        cookie, token = sessions.login_token()
        response = _render(request, "login.html", None, 401, login_csrf=token, error="Wrong user name or password.")
        _set_cookie(request, response, LOGIN_COOKIE, cookie, max_age=3600)
        return response
    value, _session = sessions.issue(user.username)
    log.info("login", username=user.username, role=user.role.value)
    redirect = RedirectResponse("/now", status_code=303)
    _set_cookie(request, redirect, SESSION_COOKIE, value, max_age=sessions.max_age)
    redirect.delete_cookie(LOGIN_COOKIE, path="/")
    return redirect


@router.post("/logout")
async def logout(request: Request, who: Who) -> Response:
    await check_csrf(request, who)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/")
async def root(who: Who) -> Response:
    return RedirectResponse("/now", status_code=303)


# --- Now ------------------------------------------------------------------------------------------


@router.get("/now", response_class=HTMLResponse)
async def now_page(request: Request, who: Who) -> HTMLResponse:
    snap = await request.app.state.feed.get(_now(request))
    return _render(request, "now.html", who, snap=snap, snap_json=json.dumps(snap))


@router.get("/api/now")
async def now_api(request: Request, who: Who) -> dict[str, Any]:
    return await request.app.state.feed.get(_now(request))  # type: ignore[no-any-return]


@router.get("/events/now")
async def now_events(request: Request, who: Who) -> StreamingResponse:
    settings = request.app.state.settings
    feed = request.app.state.feed

    async def stream() -> Any:
        started = time.monotonic()
        last = None
        yield "retry: 1000\n\n"
        while time.monotonic() - started < settings.sse_max_seconds:
            if await request.is_disconnected():
                return
            snap = await feed.get(_now(request))
            body = json.dumps(snap, sort_keys=True)
            if body != last:
                last = body
                yield f"event: now\ndata: {body}\n\n"
            else:
                yield ": keep-alive\n\n"
            await asyncio.sleep(settings.sse_interval_seconds)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )


# --- Speed to lead --------------------------------------------------------------------------------


def _window(window: str) -> str:
    if window not in WINDOWS:
        raise HTTPException(400, f"window must be one of {sorted(WINDOWS)}")
    return window


def _dim(dim: str) -> str:
    if dim not in DIMENSIONS:
        raise HTTPException(400, f"by must be one of {list(DIMENSIONS)}")
    return dim


@router.get("/speed", response_class=HTMLResponse)
async def speed_page(request: Request, who: Who, window: str = "24h", by: str = "team") -> HTMLResponse:
    rows = await views.speed(request.app.state.repo, _window(window), _dim(by), _now(request))
    return _render(request, "speed.html", who, rows=rows, window=window, by=by, windows=WINDOWS, dims=DIMENSIONS)


@router.get("/api/speed")
async def speed_api(request: Request, who: Who, window: str = "24h", by: str = "team") -> dict[str, Any]:
    rows = await views.speed(request.app.state.repo, _window(window), _dim(by), _now(request))
    return {"window": window, "by": by, "rows": views.speed_json(rows)}


# --- Breaches -------------------------------------------------------------------------------------


async def _breaches(request: Request, who: Principal, search: str | None, **filters: Any) -> HTMLResponse:
    repo = request.app.state.repo
    page = max(0, int(filters.pop("page", 0) or 0))
    rows = await repo.breaches(search=search, limit=50, offset=page * 50, **filters)
    options = await repo.breach_filters()
    return _render(
        request,
        "breaches.html",
        who,
        snap=await request.app.state.feed.get(_now(request)),
        rows=rows,
        options=options,
        filters=filters,
        search=search or "",
        now=_now(request),
        page_no=page,
    )


@router.get("/breaches", response_class=HTMLResponse)
async def breaches_page(
    request: Request,
    who: Who,
    team: str | None = None,
    policy: str | None = None,
    clock: str | None = None,
    open: bool = False,
    lead: Annotated[str | None, Query(max_length=128)] = None,
    page: int = 0,
) -> HTMLResponse:
    return await _breaches(
        request,
        who,
        None,
        team=team or None,
        policy=policy or None,
        clock=clock or None,
        open_only=open,
        lead_id=lead or None,
        page=page,
    )


@router.post("/breaches/search", response_class=HTMLResponse)
async def breaches_search(
    request: Request,
    who: Who,
    q: Annotated[str, Form(max_length=120)] = "",
    team: Annotated[str, Form()] = "",
    policy: Annotated[str, Form()] = "",
    clock: Annotated[str, Form()] = "",
    open: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Free-text search is a POST so what people type (names, maybe an e-mail) never lands in a URL."""
    await check_csrf(request, who)
    return await _breaches(
        request, who, q or None, team=team or None, policy=policy or None, clock=clock or None, open_only=bool(open)
    )


@router.get("/api/breaches")
async def breaches_api(
    request: Request, who: Who, team: str | None = None, policy: str | None = None, open: bool = False, limit: int = 50
) -> dict[str, Any]:
    rows = await request.app.state.repo.breaches(team=team, policy=policy, open_only=open, limit=min(limit, 500))
    return {"rows": rows}


@router.get("/leads/{lead_id}", response_class=HTMLResponse)
async def lead_page(request: Request, who: Who, lead_id: str) -> HTMLResponse:
    repo = request.app.state.repo
    lead = await repo.lead(lead_id)
    letters = await repo.dead_letter_list(lead_id=lead_id, limit=20)
    if lead is None and not letters:
        raise HTTPException(404, "ops has seen nothing about this lead (no routing, no SLA event, no dead letter)")
    rows = await repo.breaches(lead_id=lead_id, limit=20) if lead else []
    names = await repo.names()
    steps = timeline.build(lead, lead["events"] if lead else [], letters, names)
    dropped = leads_domain.dropped_view(lead.get("dropped_fields")) if lead else []
    return _render(
        request,
        "lead.html",
        who,
        lead_id=lead_id,
        lead=lead,
        breaches=rows,
        names=names,
        now=_now(request),
        steps=steps,
        letters=letters,
        dropped=dropped,
    )


# --- Team load ------------------------------------------------------------------------------------


@router.get("/team", response_class=HTMLResponse)
async def team_page(request: Request, who: Who) -> HTMLResponse:
    settings = request.app.state.settings
    load = await views.team(request.app.state.repo, settings, _now(request))
    teams: dict[str, list[Any]] = {}
    for r in load.reps:
        teams.setdefault(r.team, []).append(r)
    return _render(
        request, "team.html", who, teams=teams, others=load.others, queues=load.queues, days=settings.team_load_days
    )


@router.get("/api/team")
async def team_api(request: Request, who: Who) -> dict[str, Any]:
    return views.team_json(await views.team(request.app.state.repo, request.app.state.settings, _now(request)))


# --- Pipeline health and dead letters ---------------------------------------------------------------


DEAD_LETTER_PAGE = 25


def _opt_time(value: str | None, name: str) -> datetime | None:
    """A ``datetime-local`` form value (UTC) or an ISO time; None when empty."""
    if value is None or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(400, f"{name} must be a date and time like 2026-01-05T09:00") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@router.get("/pipeline", response_class=HTMLResponse)
async def pipeline_page(
    request: Request,
    who: Who,
    reason: Annotated[str | None, Query(max_length=80)] = None,
    service: Annotated[str | None, Query(max_length=40)] = None,
    since: Annotated[str | None, Query(max_length=40)] = None,
    until: Annotated[str | None, Query(max_length=40)] = None,
    waiting: bool = False,
    severity: Annotated[str | None, Query(max_length=12)] = None,
    page: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> HTMLResponse:
    repo = request.app.state.repo
    severity = severity or None
    if severity not in (None, "attention", "input"):
        raise HTTPException(400, "severity must be attention or input")
    filters = {
        "reason": reason or None,
        "service": service or None,
        "since": _opt_time(since, "since"),
        "until": _opt_time(until, "until"),
        "waiting": waiting,
        "severity": severity,
    }
    total = await repo.dead_letter_total(**filters)
    letters = await repo.dead_letter_list(**filters, limit=DEAD_LETTER_PAGE, offset=page * DEAD_LETTER_PAGE)
    counts = await repo.dead_letter_counts()
    query = {k: v for k, v in {"reason": reason, "service": service, "since": since, "until": until}.items() if v}
    if waiting:
        query["waiting"] = "true"
    if severity:
        query["severity"] = severity
    pages = max(1, -(-total // DEAD_LETTER_PAGE))
    return _render(
        request,
        "pipeline.html",
        who,
        pipe=views.pipeline(request.app.state.monitor),
        health=await views.org_health(
            repo, request.app.state.settings, request.app.state.monitor, _now(request), request.app.state.budget
        ),
        counts=counts,
        letters=letters,
        total=total,
        page_no=page,
        pages=pages,
        page_size=DEAD_LETTER_PAGE,
        query=query,
        filters={
            "reason": reason or "",
            "service": service or "",
            "since": since or "",
            "until": until or "",
            "severity": severity or "",
        },
        waiting=waiting,
        reasons=sorted({c["reason"] for c in counts}),
        services=sorted({c["service"] for c in counts}),
        reason=reason or "",
    )


@router.get("/api/org-health")
async def org_health_api(request: Request, who: Who) -> dict[str, Any]:
    state = request.app.state
    return await views.org_health(state.repo, state.settings, state.monitor, _now(request), state.budget)


@router.get("/api/pipeline")
async def pipeline_api(request: Request, who: Who) -> dict[str, Any]:
    repo = request.app.state.repo
    return {**views.pipeline(request.app.state.monitor), "dead_letters": await repo.dead_letter_counts()}


@router.get("/deadletters/{event_id}", response_class=HTMLResponse)
async def dead_letter_page(request: Request, who: Who, event_id: str) -> HTMLResponse:
    row = await request.app.state.repo.dead_letter(event_id)
    if row is None:
        raise HTTPException(404, "no such dead letter")
    view = views.dead_letter_view(row, request.app.state.settings.topic_prefix)
    return _render(
        request,
        "deadletter.html",
        who,
        dl=view,
        edited=view["payload_masked"],
        error=None,
        done=None,
        target=views.replay_target(row, request.app.state.settings),
    )


@router.post("/deadletters/{event_id}/replay", response_class=HTMLResponse)
async def replay(
    request: Request, who: Who, event_id: str, payload: Annotated[str, Form(max_length=1_000_000)]
) -> HTMLResponse:
    await check_csrf(request, who)
    require_operator(who)
    repo = request.app.state.repo
    settings = request.app.state.settings
    row = await repo.dead_letter(event_id)
    if row is None:
        raise HTTPException(404, "no such dead letter")
    view = views.dead_letter_view(row, request.app.state.settings.topic_prefix)
    target = views.replay_target(row, settings)
    try:
        topic, body = views.prepare_replay(row, payload, settings)
    except views.ReplayError as exc:
        REPLAYS.labels(topic=row["original_topic"], outcome="refused").inc()
        return _render(
            request, "deadletter.html", who, 422, dl=view, edited=payload, error=str(exc), done=None, target=target
        )
    headers = {"x-leadflow-replay-of": event_id, "x-leadflow-replayed-by": who.user.username}
    if view["payload_is_json"]:
        headers["content-type"] = "application/json"
    await request.app.state.republish(body, topic, (row.get("lead_id") or "unknown").encode(), headers)
    await repo.record_replay(event_id, who.user.username, _now(request))
    REPLAYS.labels(topic=row["original_topic"], outcome="published").inc()
    log.info("dead_letter_replayed", event_id=event_id, topic=topic, lead_id=row.get("lead_id"), by=who.user.username)
    row = await repo.dead_letter(event_id) or row
    return _render(
        request,
        "deadletter.html",
        who,
        dl=views.dead_letter_view(row, request.app.state.settings.topic_prefix),
        edited=payload,
        error=None,
        done=f"Republished to {topic}.",
        target=target,
    )


# --- Staffing -------------------------------------------------------------------------------------


def _opt_float(value: str | None, name: str, lo: float, hi: float) -> float | None:
    if value is None or value.strip() == "":
        return None
    try:
        v = float(value)
    except ValueError:
        raise HTTPException(400, f"{name} must be a number") from None
    if not lo <= v <= hi:
        raise HTTPException(400, f"{name} must be within {lo}..{hi}")
    return v


async def _staffing(
    request: Request, arrivals: str | None, aht: str | None, target: str | None, level: str | None, roster: str | None
) -> Any:
    lvl = _opt_float(level, "level (%)", 1, 99.9)
    r = _opt_float(roster, "roster", 0, 5000)
    return await views.staffing(
        request.app.state.repo,
        request.app.state.settings,
        _now(request),
        arrivals=_opt_float(arrivals, "arrivals", 0, 1_000_000),
        aht=_opt_float(aht, "aht", 1, 86_400),
        target_seconds=_opt_float(target, "target", 0, 86_400),
        target_level=None if lvl is None else lvl / 100,
        roster=None if r is None else int(r),
    )


@router.get("/staffing", response_class=HTMLResponse)
async def staffing_page(
    request: Request,
    who: Who,
    arrivals: str | None = None,
    aht: str | None = None,
    target: str | None = None,
    level: str | None = None,
    roster: str | None = None,
) -> HTMLResponse:
    try:
        plan, inputs = await _staffing(request, arrivals, aht, target, level, roster)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc
    return _render(request, "staffing.html", who, plan=plan, inputs=inputs)


@router.get("/api/staffing")
async def staffing_api(
    request: Request,
    who: Who,
    arrivals: str | None = None,
    aht: str | None = None,
    target: str | None = None,
    level: str | None = None,
    roster: str | None = None,
) -> dict[str, Any]:
    try:
        plan, inputs = await _staffing(request, arrivals, aht, target, level, roster)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc
    return {"plan": views.plan_json(plan), "inputs": views.inputs_json(inputs)}


def json_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)
