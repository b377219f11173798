"""Who leads which team: one SOQL query, cached, for escalation Tasks (no per-lead lookups)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from leadflow_platform.clock import Clock

USERS_SOQL = "SELECT Id, Team__c, Role_Name__c, ManagerId, IsActive FROM User WHERE IsActive = true"


@dataclass
class TeamDirectory:
    fetch: Callable[[str], Awaitable[list[dict[str, Any]]]]
    clock: Clock
    ttl: timedelta = timedelta(minutes=15)
    _users: dict[str, dict[str, Any]] = field(default_factory=dict)
    _loaded_at: datetime | None = None
    loads: int = 0

    async def _ensure(self) -> None:
        now = self.clock.now()
        if self._loaded_at is not None and now - self._loaded_at < self.ttl:
            return
        rows = await self.fetch(USERS_SOQL)
        self._users = {r["Id"]: r for r in rows if r.get("Id")}
        self._loaded_at = now
        self.loads += 1

    async def escalation_target(self, team: str | None, owner_id: str | None) -> tuple[str | None, str]:
        """(user id, why): the team's leader, else the owner's manager, else the head of sales."""
        await self._ensure()
        if team:
            for uid, u in sorted(self._users.items()):
                if u.get("Role_Name__c") == "Team Leader" and (u.get("Team__c") or "").lower() == team.lower():
                    return uid, f"team leader of {team}"
        owner = self._users.get(owner_id or "")
        if owner and owner.get("ManagerId") in self._users:
            return owner["ManagerId"], "the owner's manager"
        for uid, u in sorted(self._users.items()):
            if u.get("Role_Name__c") == "Head of Sales":
                return uid, "head of sales (no team leader found)"
        return None, "nobody to escalate to"
