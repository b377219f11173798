"""Each routing policy branch, reassignment without ping-pong, caps, absences and working hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from leadflow_contracts import ClientType
from leadflow_route.domain.ledger import Ledger, RepLoad
from leadflow_route.domain.roster import Roster
from leadflow_route.domain.routing import Router, RoutingError, RoutingRequest
from leadflow_route.testing import MONDAY_10_UTC, rep, sample_config, sample_queues, sample_reps

pytestmark = pytest.mark.unit

NOW = MONDAY_10_UTC


def roster(*changes, drop: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    reps = {r.id: r for r in sample_reps()}
    for r in changes:
        reps[r.id] = r
    for d in drop:
        reps.pop(d)
    return Roster(reps.values(), sample_queues())


def route(req: RoutingRequest, rost: Roster | None = None, ledger: Ledger | None = None, now: datetime = NOW, **config):  # type: ignore[no-untyped-def]
    rost = rost if rost is not None else roster()
    return Router(sample_config(**config)).route(req, rost, ledger if ledger is not None else Ledger(), now)


# ---- key accounts -------------------------------------------------------------------------------------
def test_key_account_goes_to_its_manager() -> None:
    d = route(RoutingRequest("l1", ClientType.KEY_ACCOUNT, key_account=True, account_owner_id="KAM2"))
    assert (d.owner_id, d.owner_type, d.policy) == ("KAM2", "user", "key_account")
    assert "its key account manager" in d.reason


def test_absent_key_account_manager_hands_over_to_another_manager() -> None:
    rost = roster(rep("KAM2", team="Key Accounts", role="Key Account Manager", absent=True))
    d = route(RoutingRequest("l1", ClientType.KEY_ACCOUNT, key_account=True, account_owner_id="KAM2"), rost)
    assert d.owner_id == "KAM1"
    assert "absent" in d.reason and "another key account manager" in d.reason


def test_off_shift_key_account_manager_hands_over_to_one_on_shift() -> None:
    rost = roster(rep("KAM2", team="Key Accounts", role="Key Account Manager", timezone="America/Los_Angeles"))
    d = route(RoutingRequest("l1", ClientType.KEY_ACCOUNT, key_account=True, account_owner_id="KAM2"), rost)
    assert d.owner_id == "KAM1" and "off shift" in d.reason


def test_no_key_account_manager_free_goes_to_head_of_sales() -> None:
    rost = roster(
        rep("KAM1", team="Key Accounts", role="Key Account Manager", absent=True),
        rep("KAM2", team="Key Accounts", role="Key Account Manager", active=False),
    )
    d = route(RoutingRequest("l1", ClientType.KEY_ACCOUNT, key_account=True, account_owner_id="KAM2"), rost)
    assert (d.owner_id, d.policy) == ("HEAD", "key_account")
    assert "inactive" in d.reason and "head of sales" in d.reason


# ---- duplicates: one person, one owner; a duplicate never moves its record ------------------------------
def test_duplicate_of_an_open_record_stays_with_its_owner() -> None:
    d = route(RoutingRequest("l1", country="DE", duplicate_owner_id="N1"))
    assert (d.owner_id, d.owner_type, d.policy, d.team) == ("N1", "user", "duplicate", "Nordics")
    assert "never moves a record" in d.reason


@pytest.mark.parametrize(
    ("rost", "state"),
    [
        (roster(rep("N1", absent=True)), "absent"),
        (roster(rep("N1", active=False)), "inactive"),
        (roster(rep("N1", timezone="Pacific/Auckland")), "off shift"),
    ],
)
def test_duplicate_follows_its_record_even_when_the_owner_cannot_take_new_leads(rost: Roster, state: str) -> None:
    """crm-sync never moves a record for a duplicate, so routing it elsewhere would only disagree with Salesforce."""
    d = route(RoutingRequest("l1", country="DE", language="de", duplicate_owner_id="N1"), rost)
    assert (d.owner_id, d.policy) == ("N1", "duplicate")
    assert state in d.reason


def test_duplicate_of_a_queued_record_stays_in_the_queue() -> None:
    d = route(RoutingRequest("l1", country="DE", duplicate_owner_id="Q_NORD"))
    assert (d.owner_id, d.owner_type, d.policy) == ("Q_NORD", "queue", "duplicate")


@pytest.mark.parametrize(("owner", "kind"), [("005GONE", "user"), ("00GOTHER", "queue")])
def test_duplicate_of_a_record_owned_outside_the_roster_keeps_that_owner(owner: str, kind: str) -> None:
    d = route(RoutingRequest("l1", country="DE", duplicate_owner_id=owner))
    assert (d.owner_id, d.owner_type, d.policy) == (owner, kind, "duplicate")


@pytest.mark.parametrize("target", ["any", "team_queue", "team_leader"])
def test_duplicate_reassignment_cannot_move_its_record(target: str) -> None:
    req = RoutingRequest(
        "l1",
        country="NO",
        duplicate_owner_id="N1",
        exclude_owner_ids=frozenset({"N1"}),
        target=target,  # type: ignore[arg-type]
        reassignment=True,
    )
    d = route(req)
    assert (d.owner_id, d.policy) == ("N1", "duplicate")


@pytest.mark.parametrize("client", [ClientType.CREDIT_HOLD, ClientType.KEY_ACCOUNT, ClientType.EXISTING_CUSTOMER])
def test_duplicate_rule_comes_before_every_configured_policy(client: ClientType) -> None:
    req = RoutingRequest(
        "l1",
        client,
        country="NO",
        key_account=client is ClientType.KEY_ACCOUNT,
        account_owner_id="KAM1",
        duplicate_owner_id="N2",
    )
    d = route(req)
    assert (d.owner_id, d.policy) == ("N2", "duplicate")


def test_duplicate_reason_names_why_the_person_has_that_owner() -> None:
    d = route(RoutingRequest("l1", duplicate_owner_id="N3", duplicate_reason="same person as lead x (in flight)"))
    assert d.reason.startswith("same person as lead x (in flight): stays with its owner")


def test_duplicate_is_counted_in_its_owners_load() -> None:
    ledger = Ledger()
    route(RoutingRequest("l1", duplicate_owner_id="N3"), ledger=ledger)
    assert ledger.get("N3").assigned_total == 1


# ---- existing customers -------------------------------------------------------------------------------
def test_existing_customer_goes_to_account_owner() -> None:
    d = route(RoutingRequest("l1", ClientType.EXISTING_CUSTOMER, country="DE", account_owner_id="D1"))
    assert (d.owner_id, d.policy, d.team) == ("D1", "existing_customer", "DACH")


def test_existing_customer_with_owner_off_shift_goes_to_owners_team_queue() -> None:
    late = datetime(2026, 1, 5, 17, 30, tzinfo=UTC)  # 18:30 in Berlin
    d = route(RoutingRequest("l1", ClientType.EXISTING_CUSTOMER, country="NO", account_owner_id="D1"), now=late)
    assert (d.owner_id, d.owner_type, d.team) == ("Q_DACH", "queue", "DACH")
    assert "off shift" in d.reason


def test_existing_customer_with_unknown_owner_goes_to_queue_by_country() -> None:
    d = route(RoutingRequest("l1", ClientType.EXISTING_CUSTOMER, country="SE", account_owner_id="005GONE"))
    assert (d.owner_id, d.team) == ("Q_NORD", "Nordics")


# ---- credit hold --------------------------------------------------------------------------------------
def test_credit_hold_goes_to_account_owner() -> None:
    d = route(RoutingRequest("l1", ClientType.CREDIT_HOLD, country="NO", account_owner_id="KAM1"))
    assert (d.owner_id, d.policy) == ("KAM1", "credit_hold")


@pytest.mark.parametrize("owner", [None, "005GONE", "N1"])
def test_credit_hold_without_available_owner_goes_to_finance_never_a_seller(owner: str | None) -> None:
    rost = roster(rep("N1", absent=True))
    d = route(RoutingRequest("l1", ClientType.CREDIT_HOLD, country="NO", account_owner_id=owner), rost)
    assert (d.owner_id, d.owner_type, d.policy) == ("Q_FIN", "queue", "credit_hold")
    assert "never a seller" in d.reason


def test_credit_hold_beats_key_account_in_the_default_order() -> None:
    rost = roster(rep("KAM1", team="Key Accounts", role="Key Account Manager", absent=True))
    d = route(RoutingRequest("l1", ClientType.CREDIT_HOLD, key_account=True, account_owner_id="KAM1"), rost)
    assert d.owner_id == "Q_FIN"


def test_policy_order_is_data() -> None:
    rost = roster(rep("KAM1", team="Key Accounts", role="Key Account Manager", absent=True))
    d = route(
        RoutingRequest("l1", ClientType.CREDIT_HOLD, key_account=True, account_owner_id="KAM1"),
        rost,
        policies=["key_account", "credit_hold", "new_lead"],
    )
    assert (d.owner_id, d.policy) == ("KAM2", "key_account")


# ---- new leads ----------------------------------------------------------------------------------------
def test_new_lead_goes_to_team_by_country_with_round_robin() -> None:
    d = route(RoutingRequest("l1", country="DE", language="de"))
    assert d.team == "DACH" and d.owner_id in {"D1", "D2"} and d.round_robin is True
    assert d.policy == "new_lead" and "by country DE" in d.reason and "weighted round-robin" in d.reason


def test_team_by_language_when_country_is_unknown() -> None:
    d = route(RoutingRequest("l1", country="US", language="de-AT"))
    assert d.team == "DACH" and "by language de" in d.reason


def test_unknown_country_and_language_goes_to_default_team() -> None:
    d = route(RoutingRequest("l1", country="BR", language="pt"))
    assert d.team == "Nordics" and "default team" in d.reason


def test_reps_speaking_the_lead_language_are_preferred() -> None:
    ledger = Ledger()
    owners = {route(RoutingRequest(f"l{i}", country="SE", language="sv"), ledger=ledger).owner_id for i in range(10)}
    assert owners == {"N3"}


def test_team_leader_and_other_roles_get_no_round_robin_leads() -> None:
    ledger = Ledger()
    owners = {route(RoutingRequest(f"l{i}", country="NO"), ledger=ledger).owner_id for i in range(60)}
    assert owners == {"N1", "N2", "N3"}


def test_absent_and_inactive_reps_are_skipped() -> None:
    rost = roster(rep("N1", absent=True), rep("N2", weight=2.0, active=False))
    ledger = Ledger()
    owners = {route(RoutingRequest(f"l{i}", country="NO"), rost, ledger).owner_id for i in range(10)}
    assert owners == {"N3"}


def test_round_robin_decision_carries_the_pool_it_drew_from_with_weights() -> None:
    """The pool is exactly who could have won: the available reps in rotation, narrowed to the speakers of the
    lead's language when one is free; each with its weight. Not round-robin: no pool."""
    rost = roster(rep("N1", absent=True))
    ledger = Ledger()
    swedish = route(RoutingRequest("l1", country="NO", language="sv"), rost, ledger)
    assert swedish.round_robin and swedish.pool == (("N3", 3.0),) and swedish.owner_id == "N3"
    any_language = route(RoutingRequest("l2", country="NO"), rost, ledger)
    assert sorted(any_language.pool) == [("N2", 2.0), ("N3", 3.0)]  # N1 absent, the leader out of rotation
    assert any_language.owner_id in dict(any_language.pool)
    nobody_speaks = route(RoutingRequest("l3", country="NO", language="fi"), rost, ledger)
    assert sorted(nobody_speaks.pool) == [("N2", 2.0), ("N3", 3.0)]  # nobody free speaks it: all available
    early = datetime(2026, 1, 5, 7, 30, tzinfo=UTC)  # 02:30 in New York: N1 off shift
    off_shift = route(RoutingRequest("l4", country="NO"), roster(rep("N1", timezone="America/New_York")), now=early)
    assert sorted(off_shift.pool) == [("N2", 2.0), ("N3", 3.0)]
    repeat = route(RoutingRequest("l5", country="NO", duplicate_owner_id="N2"), rost, ledger)
    assert not repeat.round_robin and repeat.pool == ()
    queued = route(RoutingRequest("l6", country="NO"), now=datetime(2026, 1, 10, 11, 0, tzinfo=UTC))
    assert queued.owner_type == "queue" and queued.pool == ()


def test_working_hours_are_read_in_each_reps_time_zone() -> None:
    # 07:30 UTC on a Monday: 08:30 in Oslo (on shift), 02:30 in New York (off shift).
    early = datetime(2026, 1, 5, 7, 30, tzinfo=UTC)
    rost = roster(
        rep("N1", timezone="America/New_York"),
        rep("N2", weight=2.0, timezone="Europe/Oslo"),
        rep("N3", weight=3.0, timezone="Asia/Tokyo", hours="Mon-Fri 09:00-17:00"),
    )  # 16:30 Tokyo: on
    ledger = Ledger()
    owners = {route(RoutingRequest(f"l{i}", country="NO"), rost, ledger, now=early).owner_id for i in range(30)}
    assert owners == {"N2", "N3"}


def test_nobody_on_shift_sends_the_lead_to_the_team_queue_with_reasons() -> None:
    saturday = datetime(2026, 1, 10, 11, 0, tzinfo=UTC)
    d = route(RoutingRequest("l1", country="NO"), now=saturday)
    assert (d.owner_id, d.owner_type, d.team) == ("Q_NORD", "queue", "Nordics")
    assert "nobody available (3 off shift)" in d.reason


def test_hourly_cap_is_never_exceeded_and_overflow_goes_to_queue() -> None:
    caps = {"per_hour": 2, "per_day": 10}
    teams = sample_config().model_dump()["teams"]
    teams["Nordics"]["caps"] = caps
    ledger = Ledger()
    decisions = [route(RoutingRequest(f"l{i}", country="NO"), ledger=ledger, teams=teams) for i in range(10)]
    to_users = [d.owner_id for d in decisions if d.owner_type == "user"]
    assert sorted(to_users) == ["N1", "N1", "N2", "N2", "N3", "N3"]
    assert [d.owner_id for d in decisions[6:]] == ["Q_NORD"] * 4
    assert "3 hourly cap" in decisions[-1].reason
    # the next hour the reps take leads again
    d = route(RoutingRequest("next-hour", country="NO"), ledger=ledger, teams=teams, now=NOW + timedelta(hours=1))
    assert d.owner_type == "user"


def test_daily_cap_counts_in_the_reps_local_day() -> None:
    teams = sample_config().model_dump()["teams"]
    teams["Nordics"]["caps"] = {"per_day": 1}
    rost = roster(rep("N1", hours="Mon-Sun 00:00-24:00"), drop=("N2", "N3"))
    ledger = Ledger()
    # 22:30 UTC Monday = 23:30 Monday in Oslo; 23:30 UTC = 00:30 Tuesday in Oslo: a new local day.
    first = route(
        RoutingRequest("a", country="NO"), rost, ledger, now=datetime(2026, 1, 5, 22, 30, tzinfo=UTC), teams=teams
    )
    capped = route(
        RoutingRequest("b", country="NO"), rost, ledger, now=datetime(2026, 1, 5, 22, 50, tzinfo=UTC), teams=teams
    )
    next_day = route(
        RoutingRequest("c", country="NO"), rost, ledger, now=datetime(2026, 1, 5, 23, 30, tzinfo=UTC), teams=teams
    )
    assert (first.owner_id, capped.owner_id, next_day.owner_id) == ("N1", "Q_NORD", "N1")
    assert "daily cap" in capped.reason


def test_max_open_leads_per_rep() -> None:
    ledger = Ledger.of([RepLoad("N1", open_leads=1000), RepLoad("N2", open_leads=1000)])
    owners = {route(RoutingRequest(f"l{i}", country="NO"), ledger=ledger).owner_id for i in range(5)}
    assert owners == {"N3"}


def test_every_user_assignment_is_recorded_in_the_ledger() -> None:
    ledger = Ledger()
    route(RoutingRequest("l1", ClientType.KEY_ACCOUNT, key_account=True, account_owner_id="KAM1"), ledger=ledger)
    route(RoutingRequest("l2", country="DE", language="de"), ledger=ledger)
    assert ledger.get("KAM1").open_leads == 1 and ledger.get("KAM1").day_count == 1
    assert sum(ledger.get(r).assigned_total for r in ("D1", "D2")) == 1


def test_queue_decisions_do_not_touch_the_ledger() -> None:
    ledger = Ledger()
    route(RoutingRequest("l1", ClientType.CREDIT_HOLD), ledger=ledger)
    assert not ledger.dirty


# ---- reassignment: no ping-pong ----------------------------------------------------------------------
def test_reassignment_never_returns_the_lead_to_a_previous_owner() -> None:
    ledger, seen = Ledger(), []
    for _ in range(3):
        d = route(
            RoutingRequest("l1", country="NO", exclude_owner_ids=frozenset(seen), reassignment=True), ledger=ledger
        )
        assert d.owner_id not in seen
        seen.append(d.owner_id)
    assert sorted(seen) == ["N1", "N2", "N3"]
    last = route(
        RoutingRequest("l1", country="NO", exclude_owner_ids=frozenset(seen), reassignment=True), ledger=ledger
    )
    assert last.owner_id == "Q_NORD" and "3 had this lead before" in last.reason


def test_reassigned_key_account_skips_its_previous_manager() -> None:
    d = route(
        RoutingRequest(
            "l1",
            ClientType.KEY_ACCOUNT,
            key_account=True,
            account_owner_id="KAM1",
            exclude_owner_ids=frozenset({"KAM1"}),
        )
    )
    assert d.owner_id == "KAM2" and "had this lead before" in d.reason


def test_reassignment_with_15_character_ids_still_excludes() -> None:
    rost = roster(rep("005FX0000000008YAA", weight=1.0), drop=("N1", "N2", "N3"))
    d = route(RoutingRequest("l1", country="NO", exclude_owner_ids=frozenset({"005FX0000000008"})), rost)
    assert d.owner_type == "queue"


def test_reassign_to_team_queue_and_team_leader() -> None:
    q = route(RoutingRequest("l1", country="NO", target="team_queue", preferred_team="DACH"))
    assert (q.owner_id, q.policy) == ("Q_DACH", "reassign_team_queue")
    lead = route(RoutingRequest("l1", country="NO", target="team_leader"))
    assert (lead.owner_id, lead.policy) == ("NLEAD", "reassign_team_leader")
    again = route(RoutingRequest("l1", country="NO", target="team_leader", exclude_owner_ids=frozenset({"NLEAD"})))
    assert again.owner_id == "Q_NORD"


# ---- last resort --------------------------------------------------------------------------------------
def test_missing_team_queue_falls_back_to_head_of_sales() -> None:
    rost = Roster(sample_reps(), [])
    d = route(RoutingRequest("l1", country="NO"), rost, now=datetime(2026, 1, 10, 11, 0, tzinfo=UTC))
    assert d.owner_id == "HEAD" and "Queue_Nordics unknown" in d.reason


def test_nobody_at_all_raises_routing_error() -> None:
    with pytest.raises(RoutingError, match="head of sales"):
        route(RoutingRequest("l1", ClientType.CREDIT_HOLD), Roster([], []))
