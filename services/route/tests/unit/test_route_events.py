"""From contract events to routing requests and back to LeadRouted: ids, exclusions, trace, SLA input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from leadflow_contracts import CallbackWindow, ClientType, LeadRouted, SlaTarget
from leadflow_route.domain.events import (
    previous_owners,
    routed_event,
    routed_event_id,
    routing_request,
    sla_input,
)
from leadflow_route.domain.routing import Decision
from leadflow_route.testing import MONDAY_10_UTC, reassign_event, scored_event

pytestmark = pytest.mark.unit

SLA = SlaTarget(
    policy="hot", first_touch_due=MONDAY_10_UTC + timedelta(hours=1), calendar="nordics", timezone="Europe/Oslo"
)


def decide(owner: str, policy: str = "new_lead") -> Decision:
    return Decision(owner, "user", owner.title(), "Nordics", policy, f"because {owner}")


def test_scored_lead_becomes_a_request_without_exclusions() -> None:
    ev = scored_event(
        country=None, language="sv-SE", client_type=ClientType.KEY_ACCOUNT, key_account=True, owner_id="KAM1"
    )
    req = routing_request(ev, history=["OLD"])
    assert (req.client_type, req.key_account, req.account_owner_id, req.language) == (
        ClientType.KEY_ACCOUNT,
        True,
        "KAM1",
        "sv-SE",
    )
    assert req.exclude_owner_ids == frozenset() and req.reassignment is False


def test_duplicate_owner_comes_from_enrichment() -> None:
    from leadflow_contracts import DuplicateOf, Enrichment

    ev = scored_event()
    dup = ev.model_copy(
        update={
            "enrichment": Enrichment(
                duplicate_of=DuplicateOf(object="Lead", record_id="00QA", matched_on="email", owner_id="005REP")
            )
        }
    )
    assert routing_request(dup, []).duplicate_owner_id == "005REP"
    assert routing_request(ev, []).duplicate_owner_id is None


def test_routed_event_carries_assignment_sla_trace_and_a_deterministic_id() -> None:
    ev = scored_event("lead-a")
    routed = routed_event(ev, decide("N1"), SLA, history=[], now=MONDAY_10_UTC)
    assert routed.event_id == routed_event_id(ev.event_id) != ev.event_id
    assert routed.kafka_key() == b"lead-a" and routed.sla == SLA
    assert (routed.assignment.owner_id, routed.assignment.policy, routed.assignment.reason) == (
        "N1",
        "new_lead",
        "because N1",
    )
    step = routed.trace[-1]
    assert (step.service, step.data["owner_id"], step.data["source_event_id"]) == ("route", "N1", ev.event_id)
    assert LeadRouted.model_validate_json(routed.to_json_bytes()) == routed


def test_reassignment_excludes_everyone_who_had_the_lead() -> None:
    first = routed_event(scored_event("lead-b"), decide("N1"), SLA, history=[], now=MONDAY_10_UTC)
    second = routed_event(reassign_event(first), decide("N2"), SLA, history=["N1"], now=MONDAY_10_UTC)
    req3 = reassign_event(second, exclude=("N9",))
    assert previous_owners(req3, history=[]) == ("N1", "N2")  # from previous_routing and the trace alone
    request = routing_request(req3, history=["Q_X"])
    assert request.exclude_owner_ids == {"N1", "N2", "N9", "Q_X"}
    assert request.preferred_team == "Nordics" and request.reassignment is True
    third = routed_event(req3, decide("N3"), SLA, history=["N1", "N2"], now=MONDAY_10_UTC)
    assert third.assignment.previous_owner_ids == ("N1", "N2") and third.reassignment == 2


def test_sla_input_takes_the_prospects_callback_zone_and_previous_sla() -> None:
    callback = CallbackWindow(start=MONDAY_10_UTC + timedelta(days=1), timezone="Europe/Berlin")
    ev = scored_event(callback=callback, timezone="Europe/Oslo")
    inp = sla_input(ev, "DACH")
    assert (inp.team, inp.prospect_timezone, inp.callback, inp.previous) == ("DACH", "Europe/Berlin", callback, None)
    routed = routed_event(ev, decide("N1"), SLA, history=[], now=MONDAY_10_UTC)
    assert sla_input(reassign_event(routed), "Nordics").previous == SLA


# ---- one person, one owner: whom a lead must follow ------------------------------------------------------
def _with_dup(ev, **dup):  # type: ignore[no-untyped-def]
    from leadflow_contracts import DuplicateOf, Enrichment

    return ev.model_copy(update={"enrichment": Enrichment(duplicate_of=DuplicateOf(matched_on="email", **dup))})


def test_in_flight_repeat_follows_routes_own_owner_of_its_first_lead() -> None:
    from leadflow_route.domain.events import person_owner, person_root

    dup = _with_dup(scored_event("lead-d"), object="Lead", record_id="lead-r", leadflow_id="lead-r")
    assert person_root(dup) == "lead-r"
    owner, why = person_owner(dup, "N2", None) or ("", "")
    assert owner == "N2" and "lead-r" in why
    # route's own latest owner wins over what an earlier repeat was given (the root may have been reassigned)
    assert person_owner(dup, "N2", "N1") == (owner, why)
    assert person_owner(dup, None, "N1") is not None and person_owner(dup, None, "N1")[0] == "N1"  # type: ignore[index]
    assert person_owner(dup, None, None) is None  # the first of the person's leads to reach route


def test_repeat_of_an_org_record_follows_the_mirrors_owner() -> None:
    from leadflow_route.domain.events import person_owner, person_root

    dup = _with_dup(scored_event(), object="Contact", record_id="003C", owner_id="005OWN")
    assert person_root(dup) is None
    assert person_owner(dup, None, None) == ("005OWN", "duplicate of open Contact 003C")
    assert person_owner(_with_dup(scored_event(), object="Lead", record_id="00QX"), None, None) is None


def test_first_lead_follows_a_repeat_routed_before_it_but_not_on_reassignment() -> None:
    from leadflow_route.domain.events import person_owner

    ev = scored_event("lead-r")
    assert person_owner(ev, None, "N1") == ("N1", "the person's repeat reached route first and was routed")
    assert person_owner(ev, None, None) is None
    routed = routed_event(ev, decide("N1"), SLA, history=[], now=MONDAY_10_UTC)
    assert person_owner(reassign_event(routed), None, "N1") is None  # its own escalation moves it
