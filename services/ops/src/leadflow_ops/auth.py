"""Users, roles, password hashes, signed session cookies and CSRF tokens.

- Passwords: PBKDF2-HMAC-SHA256 (stdlib), stored as ``pbkdf2_sha256$<iterations>$<salt b64>$<hash b64>``.
- Users and roles come from a YAML file (``OPS_USERS_FILE``), validated with errors naming the bad field.
- Sessions: an itsdangerous-signed, timestamped cookie holding the user name and a CSRF token;
  the role is looked up in the user file on every request (removing a user ends their sessions).
- CSRF: every POST carries the session's token (form field ``csrf_token`` or header ``X-CSRF-Token``);
  the login form uses a signed double-submit token because there is no session yet.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ALGORITHM = "pbkdf2_sha256"
DEFAULT_ITERATIONS = 600_000  # OWASP 2023 recommendation for PBKDF2-HMAC-SHA256


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"


def hash_password(password: str, *, iterations: int = DEFAULT_ITERATIONS, salt: bytes | None = None) -> str:
    if not password:
        raise ValueError("password must not be empty")
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return "$".join((ALGORITHM, str(iterations), base64.b64encode(salt).decode(), base64.b64encode(digest).decode()))


def _parse_hash(encoded: str) -> tuple[int, bytes, bytes]:
    parts = encoded.split("$")
    if len(parts) != 4 or parts[0] != ALGORITHM:
        raise ValueError(f"password_hash must look like {ALGORITHM}$<iterations>$<salt>$<hash>")
    try:
        iterations = int(parts[1])
        salt = base64.b64decode(parts[2], validate=True)
        digest = base64.b64decode(parts[3], validate=True)
    except ValueError as exc:
        raise ValueError(f"password_hash is malformed: {exc}") from exc
    if iterations < 1000 or not salt or len(digest) != 32:
        raise ValueError("password_hash needs >= 1000 iterations, a salt and a 32-byte hash")
    return iterations, salt, digest


def verify_password(password: str, encoded: str) -> bool:
    iterations, salt, digest = _parse_hash(encoded)
    candidate = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return hmac.compare_digest(candidate, digest)


class UserEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    username: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9._-]+$")
    role: Role
    password_hash: str

    @field_validator("password_hash")
    @classmethod
    def _valid_hash(cls, value: str) -> str:
        _parse_hash(value)
        return value


class UsersFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    users: tuple[UserEntry, ...]

    @field_validator("users")
    @classmethod
    def _unique(cls, value: tuple[UserEntry, ...]) -> tuple[UserEntry, ...]:
        seen: set[str] = set()
        for user in value:
            if user.username in seen:
                raise ValueError(f"duplicate username {user.username!r}")
            seen.add(user.username)
        return value


class UsersConfigError(ValueError):
    pass


def load_users(path: Path) -> UsersFile:
    try:
        raw: Any = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise UsersConfigError(f"cannot read users file {path}: {exc}") from exc
    try:
        return UsersFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors(include_url=False)
        )
        raise UsersConfigError(f"invalid users file {path}: {problems}") from exc


@dataclass(frozen=True)
class User:
    username: str
    role: Role

    @property
    def can_replay(self) -> bool:
        return self.role is Role.OPERATOR


class Directory:
    """Authenticates against the configured users. Unknown users cost as much time as known ones."""

    def __init__(self, users: UsersFile | None) -> None:
        self._users = {u.username: u for u in (users.users if users else ())}
        iterations = max((_parse_hash(u.password_hash)[0] for u in self._users.values()), default=DEFAULT_ITERATIONS)
        self._dummy = hash_password(secrets.token_hex(8), iterations=iterations)

    def __len__(self) -> int:
        return len(self._users)

    def get(self, username: str) -> User | None:
        entry = self._users.get(username)
        return User(entry.username, entry.role) if entry else None

    def authenticate(self, username: str, password: str) -> User | None:
        entry = self._users.get(username)
        if entry is None:
            verify_password(password, self._dummy)
            return None
        return User(entry.username, entry.role) if verify_password(password, entry.password_hash) else None


@dataclass(frozen=True)
class Session:
    username: str
    csrf: str


class SessionCodec:
    SALT = "leadflow-ops-session"
    LOGIN_SALT = "leadflow-ops-login-csrf"

    def __init__(self, secret: str, max_age_seconds: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=self.SALT)
        self._login = URLSafeTimedSerializer(secret, salt=self.LOGIN_SALT)
        self.max_age = max_age_seconds

    def issue(self, username: str) -> tuple[str, Session]:
        session = Session(username=username, csrf=secrets.token_urlsafe(32))
        return self._serializer.dumps({"u": session.username, "c": session.csrf}), session

    def read(self, cookie: str | None) -> Session | None:
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age)
        except (BadSignature, SignatureExpired):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("u"), str) or not isinstance(data.get("c"), str):
            return None
        return Session(username=data["u"], csrf=data["c"])

    def login_token(self) -> tuple[str, str]:
        """(cookie value, form value) for the login form's double-submit CSRF check."""
        nonce = secrets.token_urlsafe(24)
        return self._login.dumps(nonce), nonce

    def check_login_token(self, cookie: str | None, form_value: str | None) -> bool:
        if not cookie or not form_value:
            return False
        try:
            nonce = self._login.loads(cookie, max_age=3600)
        except (BadSignature, SignatureExpired):
            return False
        return isinstance(nonce, str) and hmac.compare_digest(nonce, form_value)


def csrf_ok(session: Session | None, token: str | None) -> bool:
    return bool(session and token) and hmac.compare_digest(session.csrf, token or "")  # type: ignore[union-attr]
