"""The roster contract route publishes: every rep with route's weight and its team's caps; content-derived ids."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from leadflow_contracts import SlaTarget
from leadflow_route.domain.events import routed_event
from leadflow_route.domain.ledger import Ledger
from leadflow_route.domain.roster import Roster
from leadflow_route.domain.roster_event import ROSTER_KEY, roster_event
from leadflow_route.domain.routing import Router, RoutingRequest
from leadflow_route.testing import MONDAY_10_UTC, rep, sample_config, sample_queues, sample_reps, scored_event

pytestmark = pytest.mark.unit

AT = datetime(2026, 3, 2, 9, tzinfo=UTC)
SLA = SlaTarget(
    policy="hot", first_touch_due=MONDAY_10_UTC + timedelta(hours=1), calendar="nordics", timezone="Europe/Oslo"
)


def test_every_rep_carries_routes_weight_and_its_teams_caps() -> None:
    config = sample_config(
        teams={
            "Nordics": {"countries": ["NO"], "queue": "Queue_Nordics", "caps": {"max_open": 25, "per_hour": 6}},
            "DACH": {"countries": ["DE"], "queue": "Queue_DACH", "caps": {"max_open": 40, "per_day": 80}},
        }
    )
    roster = Roster(sample_reps(), sample_queues())
    ev = roster_event(roster, Router(config), AT, "salesforce")
    by_id = {r.user_id: r for r in ev.reps}
    assert set(by_id) == set(roster.reps) and ev.lead_id == ROSTER_KEY
    assert (by_id["N3"].weight, by_id["N3"].max_open, by_id["N3"].per_hour) == (3.0, 25, 6)
    assert (by_id["D1"].team, by_id["D1"].max_open, by_id["D1"].per_day, by_id["D1"].per_hour) == ("DACH", 40, 80, None)
    assert by_id["HEAD"].max_open == 25  # outside every team: the default team's caps
    assert {q.queue_id for q in ev.queues} == {"Q_NORD", "Q_DACH", "Q_FIN", "Q_KA"}


def test_the_same_roster_is_the_same_event_and_a_change_is_a_new_one() -> None:
    router = Router(sample_config())
    first = roster_event(Roster(sample_reps(), sample_queues()), router, AT, "salesforce")
    again = roster_event(Roster(list(reversed(sample_reps())), sample_queues()), router, AT, "cache")
    assert first.event_id == again.event_id
    changed = Roster([*sample_reps()[:-1], rep("D2", team="DACH", absent=True)], sample_queues())
    assert roster_event(changed, router, AT, "crm.changes").event_id != first.event_id


def test_in_rotation_is_who_can_win_the_round_robin() -> None:
    """The roster says in_rotation for exactly the reps route deals new leads to by weight: a leader who
    does not sell is out, one who sells is in, a weight of 0 is out, a role the team does not sell with is out;
    and only those round-robin deals are marked round_robin on the LeadRouted."""
    reps = [
        rep("HEAD", team=None, role="Head of Sales"),
        rep("KAM1", team="Key Accounts", role="Key Account Manager"),
        rep("NLEAD", role="Team Leader"),
        rep("N1", weight=1.0),
        rep("N2", weight=2.0),
        rep("N0", weight=0.0),
        rep("NJ", role="Junior"),
        rep("DLEAD", team="DACH", role="Team Leader", languages=("de",), timezone="Europe/Berlin"),
        rep("D1", team="DACH", languages=("de",), timezone="Europe/Berlin"),
        rep("DJ", team="DACH", role="Junior", languages=("de",), timezone="Europe/Berlin"),
    ]
    router = Router(
        sample_config(
            teams={
                "Nordics": {"countries": ["NO"], "leader": "NLEAD", "queue": "Queue_Nordics"},
                "DACH": {
                    "countries": ["DE"],
                    "leader": "DLEAD",
                    "leader_sells": True,
                    "seller_roles": ["Seller", "Junior"],
                    "queue": "Queue_DACH",
                },
            }
        )
    )
    roster = Roster(reps, sample_queues())
    said = {r.user_id: r.in_rotation for r in roster_event(roster, router, AT, "salesforce").reps}
    assert {u for u, inside in said.items() if inside} == {"N1", "N2", "DLEAD", "D1", "DJ"}
    assert set(said) == {r.id for r in reps} and all(v is not None for v in said.values())

    ledger = Ledger()
    winners: Counter[str] = Counter()
    for i in range(300):
        country = ("NO", "DE")[i % 2]
        decision = router.route(RoutingRequest(f"l{i}", country=country), roster, ledger, MONDAY_10_UTC)
        assert decision.round_robin
        winners[decision.owner_id] += 1
    assert set(winners) == {u for u, inside in said.items() if inside}

    # a person's repeat to its owner is not a round-robin deal, even to a rep in rotation
    repeat = router.route(RoutingRequest("r1", country="NO", duplicate_owner_id="N1"), roster, ledger, MONDAY_10_UTC)
    assert repeat.owner_id == "N1" and not repeat.round_robin
    event = scored_event("r1", country="NO")
    assert routed_event(event, repeat, SLA, history=[], now=MONDAY_10_UTC).assignment.round_robin is False
    dealt = router.route(RoutingRequest("n1", country="NO"), roster, ledger, MONDAY_10_UTC)
    assignment = routed_event(scored_event("n1"), dealt, SLA, history=[], now=MONDAY_10_UTC).assignment
    assert assignment.round_robin
    assert {(m.user_id, m.weight) for m in assignment.pool} == {("N1", 1.0), ("N2", 2.0)}  # the Nordics rotation
    assert routed_event(event, repeat, SLA, history=[], now=MONDAY_10_UTC).assignment.pool == ()
