"""Team load: is round-robin distribution fair to each rep's weight, and how full is each rep?

Fairness compares like with like: only the leads route dealt by weighted round-robin
(``Assignment.round_robin``) follow the weights, and only among the reps route deals them to (its rotation,
``RepCapacity.in_rotation``). A person's repeat routed to its owner, an existing customer or key account to its
manager, a reassignment to a leader: all count in a rep's assigned leads, none in the share. A rep out of the
rotation (a team leader who does not sell, weight 0, a role the team does not sell with) has no share.

And each deal is judged against who could have won it: route draws every round-robin lead from a pool that
changes per lead (the reps available and under their caps, narrowed to the speakers of the lead's language
when one is free), and says so in ``Assignment.pool``. A pool member i wins with p_i = w_i / Σ pool weights,
so over the window a rep expects Σ p_i deals with variance Σ p_i(1 − p_i) (``pool_odds``): the only Dutch
speaker who wins every Dutch lead is fair, a rep in every pool who never wins is not. Deals without a pool
(older events) are judged against the rep's weight share of the team's available rotation instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from leadflow_ops.domain.roster import sells

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
    round_robin: int = 0
    """Of ``assigned``, the leads route dealt by weighted round-robin."""
    in_rotation: bool = True
    """In its team's round-robin pool (``rotation``)."""
    expected: float = 0.0
    """Σ p over the round-robin deals whose pool held the rep (``pool_odds``)."""
    variance: float = 0.0
    """Σ p(1 − p) over the same deals."""


def pool_odds(pool: Iterable[tuple[str, float]]) -> list[tuple[str, float]]:
    """(rep, chance of winning) for each member of a round-robin pool of (rep, weight): weight ÷ the pool's
    weights. Empty for an empty pool or one without weight."""
    weights: dict[str, float] = {}
    for rep_id, weight in pool:
        weights[rep_id] = weights.get(rep_id, 0.0) + max(weight, 0.0)
    total = sum(weights.values())
    return [(rep_id, w / total) for rep_id, w in weights.items()] if total > 0 else []


def rotation(said: bool | None, role: str | None) -> bool:
    """Is the rep in its team's round-robin pool? Route says so in its roster; until it has (an older route),
    the selling roles stand in (``roster.sells``)."""
    return said if said is not None else sells(role)


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
    """Every lead routed to the rep in the window (round-robin or not)."""
    round_robin: int
    """Of those, the ones route dealt by weighted round-robin."""
    in_rotation: bool
    share: float | None
    """The rep's round-robin deals over the team's, among reps in rotation (0..1); None out of rotation."""
    weight: float
    weight_share: float | None
    """This rep's weight over the weights of the team's available reps in rotation (0..1); None out of it."""
    expected: float | None
    """Round-robin deals the rep could expect given who could win each lead (Σ p over the pools it was in,
    plus its weight share of the team's deals without a pool); None out of rotation."""
    deviation: float | None
    """round_robin − expected, in deals."""
    expected_share: float | None = None
    """expected over the team's round-robin deals (0..1): the share a fair draw among each deal's pool
    would give this rep, what ``share`` is compared with; None out of rotation or before any deal."""
    deviation_z: float | None = None
    """(round_robin − expected) / its standard deviation (Poisson-binomial over the pools)."""
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


def expected_z(dealt: int, expected: float, variance: float) -> float:
    """How many standard deviations ``dealt`` is from ``expected``; a certain count (variance 0) is 0 if met."""
    if variance <= 1e-9:
        return 0.0 if abs(dealt - expected) < 1e-6 else math.copysign(math.inf, dealt - expected)
    return (dealt - expected) / math.sqrt(variance)


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
    """One row per rep, sorted by team then name; shares are of round-robin deals, within each team's rotation."""
    items = list(reps)
    dealt_by_team: dict[str, int] = {}
    pooled_by_team: dict[str, float] = {}
    weight_by_team: dict[str, float] = {}
    for r in items:
        if not r.in_rotation:
            continue
        team = r.team or UNKNOWN_TEAM
        dealt_by_team[team] = dealt_by_team.get(team, 0) + r.round_robin
        # Σ p over a pool is 1: the team's expected deals add up to its deals that carried a pool
        pooled_by_team[team] = pooled_by_team.get(team, 0.0) + r.expected
        if r.active and not r.absent:
            weight_by_team[team] = weight_by_team.get(team, 0.0) + (r.weight if r.weight is not None else 1.0)
    rows = []
    for r in items:
        team = r.team or UNKNOWN_TEAM
        weight = r.weight if r.weight is not None else 1.0
        available = r.active and not r.absent
        share = weight_share = expected = expected_share = deviation = z = None
        variance = 0.0
        if r.in_rotation:
            team_dealt = dealt_by_team.get(team, 0)
            team_weight = weight_by_team.get(team, 0.0)
            share = r.round_robin / team_dealt if team_dealt else None
            weight_share = (weight / team_weight) if available and team_weight else (0.0 if team_weight else None)
            unpooled = team_dealt - pooled_by_team.get(team, 0.0)
            if unpooled < 1e-6:  # every deal carried its pool: judged against the pools alone
                expected, variance = r.expected, r.variance
            elif weight_share is not None:  # older deals without a pool: against the weight share
                expected = r.expected + unpooled * weight_share
                variance = r.variance + unpooled * weight_share * (1 - weight_share)
            if expected is not None and team_dealt:
                expected_share = expected / team_dealt
                deviation = r.round_robin - expected
                z = expected_z(r.round_robin, expected, variance)
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
                round_robin=r.round_robin,
                in_rotation=r.in_rotation,
                share=share,
                weight=weight,
                weight_share=weight_share,
                expected=expected,
                expected_share=expected_share,
                deviation=deviation,
                deviation_z=z,
                attention=attention(r.open_leads, r.cap, r.breached, z),
            )
        )
    return sorted(rows, key=lambda x: (x.team, x.name))
