"""Sessions: issued at login, expire after inactivity on the emulator clock, revocable."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from leadflow_sf_emulator.clock import EmulatorClock
from leadflow_sf_emulator.errors import invalid_session


@dataclass
class Session:
    user_id: str
    last_used: datetime
    revoked: bool = False


class SessionManager:
    def __init__(self, org_id: str, clock: EmulatorClock, ttl_seconds: int) -> None:
        self.org_id = org_id
        self.clock = clock
        self.ttl = timedelta(seconds=ttl_seconds)
        self._sessions: dict[str, Session] = {}

    def issue(self, user_id: str) -> str:
        sid = f"{self.org_id[:15]}!{secrets.token_urlsafe(72)}"
        self._sessions[sid] = Session(user_id, self.clock.now())
        if len(self._sessions) > 10_000:  # drop the stalest
            for old in sorted(self._sessions, key=lambda k: self._sessions[k].last_used)[:1000]:
                del self._sessions[old]
        return sid

    def validate(self, sid: str | None) -> Session:
        s = self._sessions.get(sid or "")
        if s is None or s.revoked:
            raise invalid_session()
        now = self.clock.now()
        if now - s.last_used > self.ttl:
            s.revoked = True
            raise invalid_session()
        s.last_used = max(now, s.last_used)
        return s

    def revoke(self, sid: str) -> bool:
        s = self._sessions.get(sid)
        if s is None:
            return False
        s.revoked = True
        return True

    def revoke_all(self, user_id: str | None = None) -> int:
        n = 0
        for s in self._sessions.values():
            if not s.revoked and (user_id is None or s.user_id == user_id):
                s.revoked = True
                n += 1
        return n

    def active_count(self) -> int:
        return sum(1 for s in self._sessions.values() if not s.revoked)
