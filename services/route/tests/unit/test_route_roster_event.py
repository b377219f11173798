"""The roster contract route publishes: every rep with route's weight and its team's caps; content-derived ids."""

from __future__ import annotations

from datetime import UTC, datetime

from leadflow_route.domain.roster import Roster
from leadflow_route.domain.roster_event import ROSTER_KEY, roster_event
from leadflow_route.testing import rep, sample_config, sample_queues, sample_reps

AT = datetime(2026, 3, 2, 9, tzinfo=UTC)


def test_every_rep_carries_routes_weight_and_its_teams_caps() -> None:
    config = sample_config(
        teams={
            "Nordics": {"countries": ["NO"], "queue": "Queue_Nordics", "caps": {"max_open": 25, "per_hour": 6}},
            "DACH": {"countries": ["DE"], "queue": "Queue_DACH", "caps": {"max_open": 40, "per_day": 80}},
        }
    )
    roster = Roster(sample_reps(), sample_queues())
    ev = roster_event(roster, config, AT, "salesforce")
    by_id = {r.user_id: r for r in ev.reps}
    assert set(by_id) == set(roster.reps) and ev.lead_id == ROSTER_KEY
    assert (by_id["N3"].weight, by_id["N3"].max_open, by_id["N3"].per_hour) == (3.0, 25, 6)
    assert (by_id["D1"].team, by_id["D1"].max_open, by_id["D1"].per_day, by_id["D1"].per_hour) == ("DACH", 40, 80, None)
    assert by_id["HEAD"].max_open == 25  # outside every team: the default team's caps
    assert {q.queue_id for q in ev.queues} == {"Q_NORD", "Q_DACH", "Q_FIN", "Q_KA"}


def test_the_same_roster_is_the_same_event_and_a_change_is_a_new_one() -> None:
    config = sample_config()
    first = roster_event(Roster(sample_reps(), sample_queues()), config, AT, "salesforce")
    again = roster_event(Roster(list(reversed(sample_reps())), sample_queues()), config, AT, "cache")
    assert first.event_id == again.event_id
    changed = Roster([*sample_reps()[:-1], rep("D2", team="DACH", absent=True)], sample_queues())
    assert roster_event(changed, config, AT, "crm.changes").event_id != first.event_id
