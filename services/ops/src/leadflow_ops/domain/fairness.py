"""Team load: is round-robin distribution fair to each rep's weight, and how full is each rep?"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

UNKNOWN_TEAM = "Team not known yet (no Salesforce user seen)"


@dataclass(frozen=True)
class RepInput:
    owner_id: str
    name: str | None
    team: str | None
    open_leads: int
    breached: int
    assigned: int
    weight: float | None
    cap: int | None
    active: bool
    absent: bool


@dataclass(frozen=True)
class RepLoad:
    owner_id: str
    name: str
    team: str
    open_leads: int
    breached: int
    cap: int | None
    cap_used: float | None
    """open / cap (0..∞); None without a cap."""
    available: bool
    availability: str
    assigned: int
    share: float | None
    """Share of the team's assignments in the window (0..1)."""
    weight: float
    weight_share: float | None
    """This rep's weight over the weights of the team's available reps (0..1)."""
    deviation: float | None
    """share − weight_share, in percentage points."""
    deviation_z: float | None = None
    """(assigned − expected) / binomial standard deviation for the team's assignments."""
    attention: tuple[str, ...] = ()
    """What needs a look: ``over_cap``, ``over_cap_breached``, ``unfair_share``, ``breached``."""


Z_ATTENTION = 3.0
"""|z| beyond which a share is not chance (about 3 in 1,000 fair rounds would look this far off)."""


def share_z(assigned: int, team_assigned: int, weight_share: float | None) -> float | None:
    """How many binomial standard deviations the rep's assignments are from a fair weighted draw."""
    if weight_share is None or team_assigned <= 0:
        return None
    p = min(max(weight_share, 0.0), 1.0)
    expected = team_assigned * p
    var = team_assigned * p * (1 - p)
    if var <= 0:
        return 0.0 if assigned == expected else math.copysign(math.inf, assigned - expected)
    return (assigned - expected) / math.sqrt(var)


def attention(open_leads: int, cap: int | None, breached: int, z: float | None) -> tuple[str, ...]:
    out = []
    if cap and open_leads > cap:
        out.append("over_cap_breached" if breached else "over_cap")
    elif breached:
        out.append("breached")
    if z is not None and abs(z) > Z_ATTENTION:
        out.append("unfair_share")
    return tuple(out)


def availability(active: bool, absent: bool) -> str:
    if not active:
        return "inactive"
    return "absent" if absent else "available"


def team_load(reps: Iterable[RepInput]) -> list[RepLoad]:
    """One row per rep, sorted by team then name; shares are computed within each team."""
    items = list(reps)
    assigned_by_team: dict[str, int] = {}
    weight_by_team: dict[str, float] = {}
    for r in items:
        team = r.team or UNKNOWN_TEAM
        assigned_by_team[team] = assigned_by_team.get(team, 0) + r.assigned
        if r.active and not r.absent:
            weight_by_team[team] = weight_by_team.get(team, 0.0) + (r.weight if r.weight is not None else 1.0)
    rows = []
    for r in items:
        team = r.team or UNKNOWN_TEAM
        weight = r.weight if r.weight is not None else 1.0
        available = r.active and not r.absent
        team_assigned = assigned_by_team.get(team, 0)
        team_weight = weight_by_team.get(team, 0.0)
        share = r.assigned / team_assigned if team_assigned else None
        weight_share = (weight / team_weight) if available and team_weight else (0.0 if team_weight else None)
        deviation = (share - weight_share) * 100 if share is not None and weight_share is not None else None
        z = share_z(r.assigned, team_assigned, weight_share)
        rows.append(
            RepLoad(
                owner_id=r.owner_id,
                name=r.name or r.owner_id,
                team=team,
                open_leads=r.open_leads,
                breached=r.breached,
                cap=r.cap,
                cap_used=(r.open_leads / r.cap) if r.cap else None,
                available=available,
                availability=availability(r.active, r.absent),
                assigned=r.assigned,
                share=share,
                weight=weight,
                weight_share=weight_share,
                deviation=deviation,
                deviation_z=z,
                attention=attention(r.open_leads, r.cap, r.breached, z),
            )
        )
    return sorted(rows, key=lambda x: (x.team, x.name))
