"""Request-level security: who is logged in, CSRF checks, security headers."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadflow_ops.auth import Directory, Session, SessionCodec, User, csrf_ok

SESSION_COOKIE = "ops_session"
LOGIN_COOKIE = "ops_login_csrf"


class NotAuthenticatedError(Exception):
    pass


class ForbiddenError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Principal:
    user: User
    session: Session


def principal(request: Request) -> Principal:
    """FastAPI dependency: the logged-in user, or NotAuthenticatedError (pages redirect, APIs 401)."""
    codec: SessionCodec = request.app.state.sessions
    directory: Directory = request.app.state.directory
    session = codec.read(request.cookies.get(SESSION_COOKIE))
    user = directory.get(session.username) if session else None
    if session is None or user is None:
        raise NotAuthenticatedError()
    return Principal(user=user, session=session)


async def check_csrf(request: Request, who: Principal) -> None:
    token = request.headers.get("x-csrf-token")
    if token is None:
        form = await request.form()
        value = form.get("csrf_token")
        token = value if isinstance(value, str) else None
    if not csrf_ok(who.session, token):
        raise ForbiddenError("CSRF token missing or wrong: reload the page and try again")


def require_operator(who: Principal) -> None:
    if not who.user.can_replay:
        raise ForbiddenError("only operators may do this")


class SecurityHeaders:
    """Pure ASGI middleware (safe for streaming responses such as server-sent events)."""

    CSP = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", self.CSP)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("X-Frame-Options", "DENY")
                if not static:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
