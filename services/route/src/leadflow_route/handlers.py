"""Thin subscriber: ``leads.scored``, ``leads.reassign`` and ``crm.changes`` through the platform consumer
runtime into the route use cases (one consumer, one group join).

The runtime parses each record by its topic (poison → ``leads.deadletter``), publishes what the use case
returns with one confirm per batch, and applies the shared failure policy: a database or broker failure
backs off and rewinds the batch; a lead the domain code fails on twice is dead-lettered. Republishing is
harmless: a lead's ``LeadRouted`` always has the same event id.
"""

from __future__ import annotations

from collections import Counter as Tally

from faststream.kafka import KafkaBroker
from leadflow_contracts import CrmChange, LeadRouted, LeadScored, ReassignRequested, topics
from leadflow_platform.clock import Clock
from leadflow_platform.consumer import Batch, BatchPublisher, ConsumerRuntime, Outgoing, subscribe
from leadflow_platform.logging import get_logger
from prometheus_client import Counter

from leadflow_route.service import RouteService
from leadflow_route.settings import RouteSettings

log = get_logger(__name__)
SERVICE = "route"
DECISIONS = Counter("leadflow_route_decisions_total", "Routing decisions", ["policy", "owner_type"])


class RouteHandlers:
    def __init__(self, broker: KafkaBroker, service: RouteService, settings: RouteSettings, clock: Clock) -> None:
        self.broker = broker
        self.service = service
        self.settings = settings
        self.clock = clock
        self.t_scored = settings.topic(topics.LEADS_SCORED)
        self.t_reassign = settings.topic(topics.LEADS_REASSIGN)
        self.t_changes = settings.topic(topics.CRM_CHANGES)
        self.t_routed = settings.topic(topics.LEADS_ROUTED)
        self.t_dead = settings.topic(topics.LEADS_DEADLETTER)
        self.runtime = ConsumerRuntime(
            service=settings.service_name,
            contracts={self.t_scored: LeadScored, self.t_reassign: ReassignRequested, self.t_changes: CrmChange},
            use_case=self.use_case,
            publisher=BatchPublisher(broker, settings.service_name),
            deadletter_topic=self.t_dead,
            settings=settings,
            clock=clock,
        )

    def register(self) -> None:
        subscribe(
            self.broker,
            self.settings,
            self.runtime,
            title="route.inputs",
            description="LeadScored and ReassignRequested (route), CrmChange (rep load, roster).",
        )
        self.broker.publisher(self.t_routed, title="route/leads.routed", schema=LeadRouted)

    async def use_case(self, batch: Batch) -> list[Outgoing]:
        """Route the batch's leads (one transaction), then apply its CRM changes."""
        leads = [item for item in batch.items if item.record.topic != self.t_changes]
        changes: list[CrmChange] = batch.of(self.t_changes)
        out: list[Outgoing] = []
        if leads:
            result = await self.service.route([item.event for item in leads])
            by_id = {item.event.event_id: item for item in leads}
            out += [Outgoing(self.t_routed, lead_id.encode(), payload) for lead_id, payload in result.published]
            out += [
                self.runtime.reject(by_id[event_id], "no_owner", reason, batch.now)
                for event_id, reason in result.failed
            ]
            decisions = Tally((r.assignment.policy, r.assignment.owner_type) for r in result.routed)
            for (policy, owner_type), n in decisions.items():
                DECISIONS.labels(policy, owner_type).inc(n)
            for routed in result.routed:
                log.debug(
                    "lead_routed",
                    lead_id=routed.lead_id,
                    owner_id=routed.assignment.owner_id,
                    owner_type=routed.assignment.owner_type,
                    team=routed.assignment.team,
                    policy=routed.assignment.policy,
                    reason=routed.assignment.reason,
                    sla_policy=routed.sla.policy,
                    first_touch_due=routed.sla.first_touch_due.isoformat(),
                )
            log.debug("leads_routed", routed=len(result.routed), replays=result.replays, not_routed=len(result.failed))
        if changes:
            await self.service.apply_changes(changes)
        return out
