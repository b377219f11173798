"""What leadflow believes, folded from its own topics (pure: events in, one ``LeadBelief`` per lead out).

Why the topics and not the services' databases: the topics are the record every service and the console
are built from, they are reachable the same way in every deployment (one SQLite file per service on one
machine, PostgreSQL elsewhere), and reading them to the end needs no service to be running. They say:

- ``leads.routed``: the lead, its owner and whether enrich merged it into another record (``duplicate_of``);
- ``crm.synced``: which Salesforce record crm-sync wrote for it (shadow-mode events are ignored);
- ``leads.deadletter`` with ``not_in_salesforce``: leadflow knows the lead is *not* in Salesforce;
- ``sla.events``: every clock's last state (open = not met and not cancelled);
- ``crm.changes``: owners changed by hand in Salesforce (leadflow follows them), conversions and statuses.

The owner leadflow believes for a Lead follows the one owner rule (issue 12; ``Router._duplicate`` in route,
``mapping._DUPLICATE_SKIP`` in crm-sync): a duplicate never moves the record it is merged into, so a Lead's
owner is the last of its *own* routings (escalation reassignments included) and of the owners Salesforce showed
in a rep's change (crm-changes publishes the record as it is when polled; leadflow's own writes are echoes it
skips, and a version leadflow wrote over a rep's hidden Status change, ``hidden_by_leadflow``, shows leadflow's
owner, not a rep's) or in crm-sync's latest write of the Lead (``crm.synced``, which closes the window between
a routing and its write). "Last" is by when each fact reached the topics (the Kafka record timestamp,
``seen_at``): routings are stamped by route's clock (the demo clock under ``make run``) and changes by
Salesforce's, so their own timestamps cannot be compared; without ``seen_at`` (unit tests) the events' own
times are used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from leadflow_contracts import CrmChange, CrmSynced, DeadLetter, DuplicateOf, LeadRouted, SlaEvent, SlaEventKind

_KIND_ORDER = {
    SlaEventKind.STARTED: 0,
    SlaEventKind.WARNING: 1,
    SlaEventKind.BREACHED: 2,
    SlaEventKind.ESCALATED: 3,
    SlaEventKind.MET: 4,
    SlaEventKind.CANCELLED: 4,
}
CLOSED_CLOCK_KINDS = frozenset({SlaEventKind.MET, SlaEventKind.CANCELLED})


@dataclass
class ClockBelief:
    kind: SlaEventKind
    at: datetime
    cycle_key: tuple[datetime, int]

    @property
    def open(self) -> bool:
        return self.kind not in CLOSED_CLOCK_KINDS


@dataclass
class LeadBelief:
    lead_id: str
    routed: LeadRouted | None = None
    synced: CrmSynced | None = None
    not_in_salesforce: DeadLetter | None = None
    clocks: dict[str, ClockBelief] = field(default_factory=dict)
    crm_owner: tuple[datetime, str] | None = None
    """(when it reached the topics, owner) of the latest owner a rep's change in Salesforce showed."""
    routed_seen: datetime | None = None
    """When ``routed`` reached the topics (its Kafka timestamp), else its own ``occurred_at``."""
    first_seen: datetime | None = None
    """When the lead's first routing reached the topics (a merged lead's inquiry: see ``activity_floor``)."""
    written_owner: tuple[datetime, str] | None = None
    """(when it reached the topics, owner) of crm-sync's latest write of this lead's own Lead."""
    converted: bool = False

    @property
    def duplicate_of(self) -> DuplicateOf | None:
        return self.routed.enrichment.duplicate_of if self.routed else None

    @property
    def owner_id(self) -> str | None:
        """The routed owner, unless a rep changed the owner in Salesforce after that routing."""
        if self.routed is None:
            return None
        facts = [(self.routed_seen or self.routed.occurred_at, 0, self.routed.assignment.owner_id)]
        if self.written_owner is not None:
            facts.append((self.written_owner[0], 1, self.written_owner[1]))
        if self.crm_owner is not None:
            facts.append((self.crm_owner[0], 2, self.crm_owner[1]))
        return max(facts)[2]

    @property
    def activity_floor(self) -> datetime | None:
        """The earliest rep activity on a merged-into record that answers this lead's inquiry (sla-monitor's
        rule, issue 12: activity from before answered an earlier inquiry). sla-monitor takes the inquiry's own
        time; its Kafka arrival is used when known, because under the demo clock the event times run days
        behind Salesforce's (the two differ by the pipeline's latency otherwise)."""
        if self.routed is None:
            return None
        if self.first_seen is not None:
            return self.first_seen
        return min(self.routed.lead.accepted_at, self.routed.occurred_at)

    @property
    def in_salesforce(self) -> bool:
        """leadflow believes the lead reached Salesforce (a sync after any dead letter)."""
        if self.synced is None:
            return False
        dead = self.not_in_salesforce
        return dead is None or self.synced.occurred_at >= dead.occurred_at


@dataclass
class Belief:
    leads: dict[str, LeadBelief] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def lead(self, lead_id: str) -> LeadBelief:
        found = self.leads.get(lead_id)
        if found is None:
            found = self.leads[lead_id] = LeadBelief(lead_id)
        return found

    # ---- folding -----------------------------------------------------------------------------------
    @property
    def earliest(self) -> datetime | None:
        """When the history on the topics begins (the oldest routing): older Leads are outside it."""
        times = [b.routed.occurred_at for b in self.leads.values() if b.routed is not None]
        return min(times, default=None)

    def routed(self, ev: LeadRouted, seen_at: datetime | None = None) -> None:
        b = self.lead(ev.lead_id)
        if b.routed is None or (ev.reassignment, ev.occurred_at) >= (b.routed.reassignment, b.routed.occurred_at):
            b.routed, b.routed_seen = ev, seen_at
        if seen_at is not None and (b.first_seen is None or seen_at < b.first_seen):
            b.first_seen = seen_at
        self._count("leads.routed")

    def synced(self, ev: CrmSynced, seen_at: datetime | None = None) -> None:
        if ev.shadow:
            return
        b = self.lead(ev.lead_id)
        if b.synced is None or ev.occurred_at >= b.synced.occurred_at:
            b.synced = ev
        if ev.object == "Lead" and ev.owner_id and ev.operation.value in ("created", "updated"):
            at = seen_at or ev.occurred_at
            if b.written_owner is None or at >= b.written_owner[0]:
                b.written_owner = (at, ev.owner_id)
        if ev.operation.value == "converted":
            b.converted = True
        self._count("crm.synced")

    def dead_letter(self, ev: DeadLetter) -> None:
        if not ev.not_in_salesforce:
            return
        b = self.lead(ev.lead_id)
        if b.not_in_salesforce is None or ev.occurred_at >= b.not_in_salesforce.occurred_at:
            b.not_in_salesforce = ev
        self._count("leads.deadletter (not in Salesforce)")

    def sla(self, ev: SlaEvent) -> None:
        b = self.lead(ev.lead_id)
        key = (ev.started_at or ev.occurred_at, _KIND_ORDER.get(ev.kind, 0))
        held = b.clocks.get(ev.clock)
        # a later cycle (restart after reassignment) wins; within a cycle, the furthest state wins
        if held is None or key >= held.cycle_key:
            b.clocks[ev.clock] = ClockBelief(ev.kind, ev.occurred_at, key)
        self._count("sla.events")

    def change(self, ev: CrmChange, seen_at: datetime | None = None) -> None:
        if ev.object != "Lead":
            return
        b = self.lead(ev.lead_id)
        at = seen_at or ev.changed_at
        # the record as the change left it: its owner then. Not when leadflow wrote that version (a rep's Status
        # change hidden by leadflow's write): its owner is leadflow's own write, which ``synced`` already holds,
        # and the poll may be older than leadflow's next write yet reach the topic after it.
        owner = None if ev.hidden_by_leadflow else ev.record.get("OwnerId")
        for fc in ev.changed_fields:
            if fc.field == "OwnerId" and isinstance(fc.new, str) and fc.new:
                owner = fc.new
            if fc.field == "IsConverted" and fc.new in (True, "true"):
                b.converted = True
        if isinstance(owner, str) and owner and (b.crm_owner is None or at >= b.crm_owner[0]):
            b.crm_owner = (at, owner)
        self._count("crm.changes (Lead)")

    def _count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    # ---- views ---------------------------------------------------------------------------------------
    def own_leads(self) -> list[LeadBelief]:
        """Routed leads with a Lead of their own (not merged into another record)."""
        return [b for b in self.leads.values() if b.routed is not None and b.duplicate_of is None]

    def merged_leads(self) -> list[LeadBelief]:
        return [b for b in self.leads.values() if b.routed is not None and b.duplicate_of is not None]

    def open_on_board(self) -> set[str]:
        """Own leads leadflow shows as open: in Salesforce, not converted, qualify clock not met."""
        out: set[str] = set()
        for b in self.own_leads():
            qualify = b.clocks.get("qualify")
            if b.in_salesforce and not b.converted and (qualify is None or qualify.open):
                out.add(b.lead_id)
        return out
