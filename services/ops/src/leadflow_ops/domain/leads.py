"""The ops view of one lead and how each event changes it.

Pure: the repository loads a ``LeadState``, calls ``on_routed``/``on_synced``/``on_sla`` and stores the
result together with the counter deltas and speed samples these functions return.
Events may arrive in any order across topics: every transition tolerates missing earlier facts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

Outcome = Literal["on_time", "missed"]
CLOCKS = ("first_touch", "qualify", "callback")


def _clocks_with(current: str, clock: str, present: bool) -> str:
    have = set(current.split(",")) if current else set()
    if present:
        have.add(clock)
    else:
        have.discard(clock)
    return ",".join(c for c in CLOCKS if c in have)


@dataclass(frozen=True)
class LeadState:
    lead_id: str
    team: str | None = None
    rating: str | None = None
    source: str | None = None
    owner_id: str | None = None
    owner_type: str | None = None
    owner_name: str | None = None
    policy: str | None = None
    submitted_at: datetime | None = None
    routed_at: datetime | None = None
    owner_at: datetime | None = None
    """When the lead was in Salesforce with an owner (crm-sync's CrmSynced)."""
    salesforce_id: str | None = None
    """The record crm-sync wrote: the Lead, or for a follow-up (``follow_up``) the existing Contact."""
    due_at: datetime | None = None
    touched_at: datetime | None = None
    closed: bool = False
    breached_at: datetime | None = None
    escalation_step: int = 0
    outcome: Outcome | None = None
    reassignments: int = 0
    breached_clocks: str = ""
    """Clocks (``first_touch``, ``qualify``, ``callback``) breached and not met or cancelled since,
    comma-separated in ``CLOCKS`` order."""
    not_in_salesforce: bool = False
    """crm-sync could not write the lead (its dead letter says so) and no ``CrmSynced`` followed."""
    failure_event_id: str | None = None
    """The dead letter that stopped this lead before Salesforce (for its page and the replay)."""
    routing_reason: str | None = None
    sla_policy: str | None = None
    """The SLA policy (sla-monitor's); ``policy`` is the routing policy (route's)."""
    follow_up: bool = False
    """enrich matched an existing Contact: crm-sync writes no Lead, only a follow-up Task on the Contact
    (``LeadRouted.enrichment.duplicate_of.object == "Contact"`` or a ``CrmSynced`` on a Contact)."""
    merged_into: str | None = None
    """enrich matched an existing Lead: this lead was merged into it (crm-sync wrote onto that record, no
    second Lead). The other lead's ``lead_id`` when it is leadflow's own lead in flight, else the Salesforce
    Id of the org's Lead."""
    matched_contact: str | None = None
    """The existing Contact enrich matched (``duplicate_of.record_id``): the follow-up's record, known before
    crm-sync writes its Task there."""
    dropped_fields: str | None = None
    """Values Salesforce refused (``CrmSynced.dropped_fields``) as a JSON list of ``{field, reason, message,
    object, record}``: the record was written without them."""

    @property
    def is_lead(self) -> bool:
        """Its own Lead in Salesforce: neither a follow-up on a Contact nor merged into another Lead."""
        return not self.follow_up and self.merged_into is None

    @property
    def is_open(self) -> bool:
        """Its own Lead, waiting for its first touch, in Salesforce (or on its way there)."""
        return (
            not self.closed
            and not self.not_in_salesforce
            and self.is_lead
            and (self.routed_at is not None or self.due_at is not None)
        )

    @property
    def is_open_follow_up(self) -> bool:
        """A follow-up on an existing Contact whose first touch is still ahead (shown apart from open leads)."""
        return (
            self.follow_up
            and not self.closed
            and not self.not_in_salesforce
            and (self.routed_at is not None or self.due_at is not None)
        )

    @property
    def open_breaches(self) -> tuple[str, ...]:
        """Clocks with a breach that is not resolved, for a lead that is its own Lead in Salesforce (each
        Salesforce Lead once: a Contact follow-up's breaches are counted apart, a merged duplicate's not)."""
        if self.not_in_salesforce or not self.is_lead or not self.breached_clocks:
            return ()
        return tuple(self.breached_clocks.split(","))

    @property
    def is_breached(self) -> bool:
        return self.is_open and bool(self.open_breaches)

    @property
    def is_queued(self) -> bool:
        return self.is_open and self.owner_type == "queue"


@dataclass(frozen=True)
class Routed:
    occurred_at: datetime
    team: str | None
    rating: str | None
    source: str | None
    owner_id: str
    owner_type: str
    owner_name: str | None
    policy: str
    submitted_at: datetime | None
    first_touch_due: datetime | None
    reassignment: int
    reason: str | None = None
    duplicate_object: str | None = None
    """``enrichment.duplicate_of.object`` (``Lead`` or ``Contact``) when enrich matched an existing record."""
    duplicate_of: str | None = None
    """That record: leadflow's lead id (``duplicate_of.leadflow_id``) when in flight, else its Salesforce Id."""
    duplicate_record_id: str | None = None
    """``duplicate_of.record_id``: the matched record's Salesforce Id (a Contact's, for a follow-up)."""
    fallback_team: str | None = None
    """What to file the lead under when no routing or SLA event names a team (a queue routed to without one)."""


@dataclass(frozen=True)
class Synced:
    occurred_at: datetime
    salesforce_id: str
    owner_id: str | None
    submitted_at: datetime | None
    team: str | None
    rating: str | None
    source: str | None
    object: str = "Lead"
    """``CrmSynced.object``: ``Contact`` for a follow-up on an existing Contact."""
    dropped: tuple[tuple[str, str, str, bool], ...] = ()
    """``CrmSynced.dropped_fields`` as (field, reason, message, cut): values Salesforce refused (or, cut, would
    refuse: written with what fits)."""


@dataclass(frozen=True)
class Sla:
    occurred_at: datetime
    kind: str
    clock: str
    policy: str
    due_at: datetime
    started_at: datetime
    owner_id: str | None
    team: str | None
    rating: str | None
    source: str | None
    escalation_step: int


@dataclass(frozen=True)
class SpeedSample:
    """Durations (seconds) of one first touch: the whole wait and its two parts."""

    at: datetime
    total: float | None
    system: float | None
    human: float | None


@dataclass(frozen=True)
class Transition:
    state: LeadState
    new_arrival: bool = False
    """First time ops saw this lead routed (arrival rate for the staffing planner)."""
    outcome: Outcome | None = None
    """Set when this event concluded the first-touch clock (counted once per lead)."""
    sample: SpeedSample | None = None


def _seconds(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return max(0.0, (later - earlier).total_seconds())


def on_routed(old: LeadState | None, ev: Routed, lead_id: str) -> Transition:
    state = old or LeadState(lead_id=lead_id)
    first = state.routed_at is None
    new = replace(
        state,
        team=ev.team or state.team or ev.fallback_team,
        rating=ev.rating or state.rating,
        source=ev.source or state.source,
        owner_id=ev.owner_id,
        owner_type=ev.owner_type,
        owner_name=ev.owner_name or (state.owner_name if state.owner_id == ev.owner_id else None),
        policy=ev.policy,
        submitted_at=state.submitted_at or ev.submitted_at,
        routed_at=state.routed_at or ev.occurred_at,
        due_at=ev.first_touch_due if ev.reassignment > 0 or state.due_at is None else state.due_at,
        reassignments=max(state.reassignments, ev.reassignment),
        routing_reason=ev.reason or state.routing_reason,
        follow_up=state.follow_up or ev.duplicate_object == "Contact",
        merged_into=state.merged_into
        or (ev.duplicate_of if ev.duplicate_object == "Lead" and ev.duplicate_of != lead_id else None),
        matched_contact=state.matched_contact or (ev.duplicate_record_id if ev.duplicate_object == "Contact" else None),
    )
    if old is not None and old.routed_at is not None and ev.occurred_at < old.routed_at and ev.reassignment == 0:
        # an older first routing replayed after a reassignment: keep the newer owner
        new = replace(new, owner_id=old.owner_id, owner_type=old.owner_type, owner_name=old.owner_name)
    return Transition(state=new, new_arrival=first and ev.reassignment == 0)


def on_synced(old: LeadState | None, ev: Synced, lead_id: str) -> Transition:
    state = old or LeadState(lead_id=lead_id)
    owner_at = state.owner_at
    if owner_at is None and ev.owner_id is not None:
        owner_at = ev.occurred_at
    return Transition(
        state=replace(
            state,
            salesforce_id=ev.salesforce_id or state.salesforce_id,
            not_in_salesforce=False,
            owner_at=owner_at,
            submitted_at=state.submitted_at or ev.submitted_at,
            team=state.team or ev.team,
            rating=state.rating or ev.rating,
            source=state.source or ev.source,
            follow_up=state.follow_up or ev.object == "Contact",
            dropped_fields=merge_dropped(state.dropped_fields, ev),
        )
    )


DROPPED_VALUES_KEPT_IN: Mapping[str, str] = {"Lead": "Leadflow_Dropped_Fields__c"}
"""Where crm-sync keeps a value Salesforce refused, for the rep, per sObject (crm-sync's field-level fallback);
an object without one (a Contact follow-up) keeps no copy in Salesforce."""


def merge_dropped(stored: str | None, ev: Synced) -> str | None:
    """Add a sync's refused values to the lead's list (each field and reason once, on the record written)."""
    if not ev.dropped:
        return stored
    items: list[dict[str, str | bool]] = json.loads(stored) if stored else []
    seen = {(d["object"], d["field"], d["reason"]) for d in items}
    for field, reason, message, cut in ev.dropped:
        if (ev.object, field, reason) not in seen:
            seen.add((ev.object, field, reason))
            item: dict[str, str | bool] = {"field": field, "reason": reason, "message": message, "object": ev.object}
            items.append({**item, "record": ev.salesforce_id, **({"cut": True} if cut else {})})
    return json.dumps(items, sort_keys=True)


def dropped_view(stored: str | None) -> list[dict[str, str]]:
    """Each refused value: which field, why, and where the original value went."""
    out = []
    for d in json.loads(stored) if stored else []:
        note = DROPPED_VALUES_KEPT_IN.get(d["object"])
        whole = "the whole value " if d.get("cut") else ""
        where = (
            f"{'written cut to fit; ' if d.get('cut') else ''}{whole}kept for the rep in the {d['object']}'s "
            f"{note} note ({d['record']})"
            if note
            else f"not kept in Salesforce (a {d['object']} has no note field); the value is in the lead's "
            "submission on leads.routed"
        )
        out.append({**d, "kept_in": where})
    return out


def on_dead_letter(old: LeadState | None, lead_id: str, event_id: str) -> Transition:
    """crm-sync could not write the lead: it is not in Salesforce (unless a sync already put it there)."""
    state = old or LeadState(lead_id=lead_id)
    if state.salesforce_id:
        return Transition(state=state)
    return Transition(state=replace(state, not_in_salesforce=True, failure_event_id=event_id))


def stops_before_salesforce(
    service: str, topic: str, reason: str, detail: Mapping[str, str], explicit: bool | None = None
) -> bool:
    """Does this dead letter mean its lead never reached Salesforce?

    The producer's word wins: ``DeadLetter.not_in_salesforce`` when the record carries it (``explicit``),
    else ``detail["in_salesforce"] = "false"``, ``detail["outcome"] = "not_in_salesforce"`` or reason
    ``not_in_salesforce``. A dead letter without any (an older crm-sync): crm-sync dead-lettered the routed
    lead itself (not one of its Tasks, which it writes after the Lead)."""
    if explicit is not None:
        return explicit
    flag = str(detail.get("in_salesforce", "")).strip().lower()
    if flag in ("false", "no", "0") or detail.get("outcome") == "not_in_salesforce" or reason == "not_in_salesforce":
        return True
    if flag in ("true", "yes", "1"):
        return False
    operation = detail.get("operation", "")
    return service == "crm-sync" and topic.endswith("leads.routed") and "Task" not in operation


def on_sla(old: LeadState | None, ev: Sla, lead_id: str) -> Transition:
    """SLA events of the ``first_touch`` clock drive the lead; every clock's breaches are tracked until met."""
    state = old or LeadState(lead_id=lead_id)
    state = replace(
        state,
        team=state.team or ev.team,
        rating=state.rating or ev.rating,
        source=state.source or ev.source,
        owner_id=state.owner_id or ev.owner_id,
        owner_type=state.owner_type or ("user" if ev.owner_id else None),
        policy=state.policy or ev.policy,
        sla_policy=ev.policy if ev.clock == "first_touch" or state.sla_policy is None else state.sla_policy,
    )
    if ev.kind == "breached":
        state = replace(state, breached_clocks=_clocks_with(state.breached_clocks, ev.clock, True))
    elif ev.kind in ("met", "cancelled", "started"):
        # a "started" after a breach is a new cycle (a reassignment restarted the clock for the new owner): the
        # board counts the current cycle's breaches, as sla-monitor's lead_status and SLA_Status__c do (issue 12)
        state = replace(state, breached_clocks=_clocks_with(state.breached_clocks, ev.clock, False))
    if ev.clock == "callback" and ev.kind in ("breached", "escalated"):
        # While a requested callback is ahead, sla-monitor's first-touch clock follows it silently and
        # the callback clock breaches and escalates for the lead: a missed callback is the lead's one miss.
        new = replace(state, escalation_step=max(state.escalation_step, ev.escalation_step))
        if ev.kind == "breached":
            new = replace(new, breached_at=state.breached_at or ev.occurred_at)
            if state.outcome is None:
                return Transition(state=replace(new, outcome="missed"), outcome="missed")
        return Transition(state=new)
    if ev.clock != "first_touch":
        return Transition(state=state)
    if ev.kind == "started":
        return Transition(state=replace(state, due_at=state.due_at or ev.due_at))
    if ev.kind == "escalated":
        return Transition(state=replace(state, escalation_step=max(state.escalation_step, ev.escalation_step)))
    if ev.kind == "breached":
        new = replace(
            state,
            due_at=state.due_at or ev.due_at,
            breached_at=state.breached_at or ev.occurred_at,
            escalation_step=max(state.escalation_step, ev.escalation_step),
        )
        if state.outcome is None:
            return Transition(state=replace(new, outcome="missed"), outcome="missed")
        return Transition(state=new)
    if ev.kind == "cancelled":
        return Transition(state=replace(state, closed=True))
    if ev.kind == "met":
        if state.touched_at is not None:
            return Transition(state=state)  # a second "met" for the same clock changes nothing
        due = state.due_at or ev.due_at
        touched = ev.occurred_at
        owner_at = state.owner_at or ev.started_at
        new = replace(state, touched_at=touched, closed=True, due_at=due)
        sample = SpeedSample(
            at=touched,
            total=_seconds(touched, state.submitted_at),
            system=_seconds(owner_at, state.submitted_at),
            human=_seconds(touched, owner_at),
        )
        outcome: Outcome | None = None
        if state.outcome is None:
            outcome = "on_time" if touched <= due else "missed"
            new = replace(new, outcome=outcome)
        return Transition(state=new, outcome=outcome, sample=sample)
    return Transition(state=state)  # warning: nothing to change


# --- pre-aggregated counters ----------------------------------------------------------------------

TeamKey = tuple[str, str]


def _team_contrib(state: LeadState | None) -> dict[TeamKey, tuple[int, int, int]]:
    if state is None or not state.is_open:
        return {}
    key = (state.team or "(none)", state.rating or "(none)")
    return {key: (1, int(state.is_breached), int(state.is_queued))}


def _owner_contrib(state: LeadState | None) -> dict[str, tuple[int, int]]:
    if state is None or not state.is_open or not state.owner_id:
        return {}
    return {state.owner_id: (1, int(state.is_breached))}


def _diff(old: Mapping[Any, Sequence[int]], new: Mapping[Any, Sequence[int]]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for key in set(old) | set(new):
        before = old.get(key)
        after = new.get(key)
        width = len(before or after or ())
        delta = tuple((after[i] if after else 0) - (before[i] if before else 0) for i in range(width))
        if any(delta):
            out[key] = delta
    return out


def team_deltas(old: LeadState | None, new: LeadState) -> dict[TeamKey, tuple[int, int, int]]:
    """Changes to the (team, rating) → (open, breached, queued) counters."""
    return _diff(_team_contrib(old), _team_contrib(new))


def owner_deltas(old: LeadState | None, new: LeadState) -> dict[str, tuple[int, int]]:
    """Changes to the owner → (open, breached) counters."""
    return _diff(_owner_contrib(old), _owner_contrib(new))


BREACHED_ANY = "breached"
NOT_IN_SALESFORCE = "not_in_salesforce"
FOLLOW_UP = "follow_up"
FOLLOW_UP_BREACHED = "follow_up:breached"
MERGED = "merged"


def _metric_contrib(state: LeadState | None) -> dict[tuple[str, str], tuple[int]]:
    """(team, metric) → 1 for: ``breached`` (any clock), ``breached:<clock>``, ``not_in_salesforce``,
    ``follow_up`` (an open follow-up on an existing Contact), ``follow_up:breached`` (a follow-up with a clock
    breached and not met since), ``merged`` (merged into another Lead)."""
    if state is None:
        return {}
    team = state.team or "(none)"
    out: dict[tuple[str, str], tuple[int]] = {}
    if state.is_open_follow_up:
        out[(team, FOLLOW_UP)] = (1,)
    if state.follow_up and not state.not_in_salesforce and state.breached_clocks:
        out[(team, FOLLOW_UP_BREACHED)] = (1,)
    if state.merged_into is not None and not state.follow_up and (state.routed_at is not None):
        out[(team, MERGED)] = (1,)
    clocks = state.open_breaches
    if clocks:
        out[(team, BREACHED_ANY)] = (1,)
        for clock in clocks:
            out[(team, f"{BREACHED_ANY}:{clock}")] = (1,)
    if state.not_in_salesforce and (state.routed_at is not None or state.due_at is not None):
        out[(team, NOT_IN_SALESFORCE)] = (1,)
    return out


def metric_deltas(old: LeadState | None, new: LeadState) -> dict[tuple[str, str], tuple[int]]:
    """Changes to the (team, metric) → n counters: breaches of every clock, leads not in Salesforce."""
    return _diff(_metric_contrib(old), _metric_contrib(new))
