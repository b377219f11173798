"""Build a `simple_salesforce.Salesforce` with a session that verifies TLS against a CA bundle.

The client library is used unmodified. Two settings make it reach a local emulator:
`ca_bundle` (trust the emulator's CA; `trust_env=False` so REQUESTS_CA_BUNDLE cannot override it)
and `login_url` (send the login request, which simple-salesforce always addresses to
`https://{domain}.salesforce.com`, to the emulator instead). The org's `serverUrl` / `instance_url`
then points every later call at the emulator directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import requests
from pydantic import BaseModel, Field, SecretStr
from requests.adapters import HTTPAdapter
from simple_salesforce.api import Salesforce

from leadflow_salesforce.limits import usage_hook

AuthMode = Literal["soap", "oauth_password", "client_credentials", "jwt", "session_id"]


class SalesforceSettings(BaseModel):
    """How to reach and log in to the org. Services embed this in their own pydantic settings."""

    domain: str = Field(default="login", description="login, test or a My Domain prefix")
    login_url: str | None = Field(
        default=None, description="send login requests here instead of https://{domain}.salesforce.com (emulator)"
    )
    instance_url: str | None = Field(default=None, description="for auth=session_id")
    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    consumer_key: str | None = None
    consumer_secret: SecretStr | None = None
    private_key_file: Path | None = None
    session_id: SecretStr | None = None
    auth: AuthMode = "soap"
    ca_bundle: Path | None = Field(default=None, description="CA file to verify the server with; None = system CAs")
    api_version: str = "59.0"
    timeout: float = Field(default=30.0, gt=0)


class _TimeoutAdapter(HTTPAdapter):
    def __init__(self, timeout: float, **kw: Any) -> None:
        self._timeout = timeout
        super().__init__(**kw)

    def send(self, request: requests.PreparedRequest, **kw: Any) -> requests.Response:  # type: ignore[override]
        if kw.get("timeout") is None:
            kw["timeout"] = self._timeout
        return super().send(request, **kw)


class _LoginRedirectAdapter(_TimeoutAdapter):
    """Rewrites `https://{domain}.salesforce.com/...` to the configured login URL (scheme, host, port)."""

    def __init__(self, target: str, timeout: float) -> None:
        super().__init__(timeout)
        t = urlsplit(target)
        self._scheme, self._netloc = t.scheme, t.netloc

    def send(self, request: requests.PreparedRequest, **kw: Any) -> requests.Response:  # type: ignore[override]
        u = urlsplit(request.url or "")
        request.url = urlunsplit((self._scheme, self._netloc, u.path, u.query, ""))
        return super().send(request, **kw)


def build_session(settings: SalesforceSettings, *, metrics_service: str | None = None) -> requests.Session:
    """A verified session; with ``metrics_service``, every response's API usage is exported under that name
    (``leadflow_salesforce.limits``)."""
    s = requests.Session()
    if metrics_service:
        s.hooks["response"].append(usage_hook(metrics_service))
    s.trust_env = False
    s.verify = str(settings.ca_bundle) if settings.ca_bundle else True
    adapter = _TimeoutAdapter(settings.timeout)
    s.mount("https://", adapter)
    s.mount("http://", adapter)
    if settings.login_url:
        s.mount(
            f"https://{settings.domain}.salesforce.com/", _LoginRedirectAdapter(settings.login_url, settings.timeout)
        )
    return s


def _secret(v: SecretStr | None) -> str | None:
    return v.get_secret_value() if v is not None else None


def connect(
    settings: SalesforceSettings, *, session: requests.Session | None = None, metrics_service: str | None = None
) -> Salesforce:
    """Log in and return the client. Raises simple_salesforce's SalesforceAuthenticationFailed on bad credentials.
    With ``metrics_service`` the org's API usage (``Sforce-Limit-Info``) is exported as Prometheus gauges."""
    session = session or build_session(settings, metrics_service=metrics_service)
    common: dict[str, Any] = {"session": session, "version": settings.api_version}
    if settings.auth == "session_id":
        return Salesforce(session_id=_secret(settings.session_id), instance_url=settings.instance_url, **common)
    if settings.auth == "soap":
        return Salesforce(
            username=settings.username,
            password=_secret(settings.password),
            security_token=_secret(settings.security_token) or "",
            domain=settings.domain,
            **common,
        )
    if settings.auth == "oauth_password":
        password = (_secret(settings.password) or "") + (_secret(settings.security_token) or "")
        return Salesforce(
            username=settings.username,
            password=password,
            consumer_key=settings.consumer_key,
            consumer_secret=_secret(settings.consumer_secret),
            domain=settings.domain,
            **common,
        )
    if settings.auth == "client_credentials":
        return Salesforce(
            consumer_key=settings.consumer_key,
            consumer_secret=_secret(settings.consumer_secret),
            domain=settings.domain,
            **common,
        )
    return Salesforce(
        username=settings.username,
        consumer_key=settings.consumer_key,
        privatekey_file=str(settings.private_key_file),
        domain=settings.domain,
        **common,
    )
