"""OAuth 2.0 token endpoint: password, client_credentials and JWT bearer flows."""

from __future__ import annotations

import base64
import hmac
import time
from typing import Any
from urllib.parse import parse_qs

import jwt

from leadflow_sf_emulator.org import Org
from leadflow_sf_emulator.soap import SoapFault, check_password


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def _form(body: bytes) -> dict[str, str]:
    try:
        return {k: v[0] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
    except UnicodeDecodeError:
        raise OAuthError("invalid_request", "malformed request body") from None


def _check_client(org: Org, client_id: str | None, client_secret: str | None) -> None:
    s = org.settings
    if client_id != s.consumer_key:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    if client_secret is not None and not hmac.compare_digest(client_secret, s.consumer_secret.get_secret_value()):
        raise OAuthError("invalid_client", "invalid client credentials")


def token(org: Org, body: bytes, headers: dict[str, str], base_url: str) -> dict[str, Any]:
    form = _form(body)
    grant = form.get("grant_type")
    if grant == "password":
        _check_client(org, form.get("client_id"), form.get("client_secret") or "")
        try:
            user_id = check_password(org, form.get("username"), form.get("password"), token_optional=True)
        except SoapFault:
            raise OAuthError("invalid_grant", "authentication failure") from None
    elif grant == "client_credentials":
        auth = headers.get("authorization", "")
        cid, secret = form.get("client_id"), form.get("client_secret")
        if auth.lower().startswith("basic "):
            try:
                cid, _, secret = base64.b64decode(auth[6:]).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                raise OAuthError("invalid_client", "invalid client credentials") from None
        _check_client(org, cid, secret or "")
        user_id = org.integration_user_id
    elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
        user_id = _jwt_user(org, form.get("assertion") or "")
    else:
        raise OAuthError("unsupported_grant_type", "grant type not supported")
    sid = org.sessions.issue(user_id)
    issued = str(int(time.time() * 1000))
    return {
        "access_token": sid,
        "instance_url": base_url,
        "id": f"{base_url}/id/{org.settings.org_id}/{user_id}",
        "token_type": "Bearer",
        "issued_at": issued,
        "signature": base64.b64encode(issued.encode()).decode(),
    }


def _jwt_user(org: Org, assertion: str) -> str:
    s = org.settings
    try:
        if s.jwt_public_key_path is not None:
            claims = jwt.decode(
                assertion,
                s.jwt_public_key_path.read_bytes(),
                algorithms=["RS256"],
                options={"verify_aud": False, "verify_exp": False},
            )
        else:
            claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise OAuthError("invalid_grant", "invalid assertion") from None
    if claims.get("iss") != s.consumer_key:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    try:
        exp = int(claims.get("exp", 0))
    except (TypeError, ValueError):
        raise OAuthError("invalid_grant", "invalid assertion") from None
    if exp < time.time():
        raise OAuthError("invalid_grant", "expired authorization code")
    aud = str(claims.get("aud", ""))
    if not aud.startswith("https://"):
        raise OAuthError("invalid_grant", "audience is invalid")
    found = org.store.find_by("User", "Username", claims.get("sub") or "")
    rec = org.store.tables["User"].get(found[0]) if found else None
    if rec is None or not rec.get("IsActive"):
        raise OAuthError("invalid_grant", "user hasn't approved this consumer")
    return str(rec["Id"])
