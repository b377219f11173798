"""The roster contract route publishes (``RosterPublished`` on ``crm.roster``): pure, roster + router in.

Each rep carries route's own numbers: its weight as route reads it from Salesforce, the caps of its
team in the routing configuration (a rep outside every configured team gets the default team's caps) and
whether the router deals it round-robin leads (``Router.in_rotation``), so the console shows what route
routes with. The event id is derived from the content: the same roster published twice is the same event.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from leadflow_contracts import QueueRef, RepCapacity, RosterPublished, TraceStep, derive_event_id

from leadflow_route.domain.roster import Roster
from leadflow_route.domain.routing import Router

ROSTER_KEY = "roster"


def roster_event(roster: Roster, router: Router, at: datetime, source: str) -> RosterPublished:
    config = router.config
    rotation = router.in_rotation(roster)
    default = config.teams.get(config.default_team)
    reps = []
    for rep in sorted(roster.reps.values(), key=lambda r: r.id):
        team = config.teams.get(rep.team or "") or default
        caps = team.caps if team is not None else None
        reps.append(
            RepCapacity(
                user_id=rep.id,
                name=rep.name,
                team=rep.team,
                role=rep.role,
                weight=rep.weight,
                active=rep.active,
                absent=rep.absent,
                max_open=caps.max_open if caps else None,
                per_hour=caps.per_hour if caps else None,
                per_day=caps.per_day if caps else None,
                in_rotation=rep.id in rotation,
            )
        )
    queues = tuple(
        QueueRef(queue_id=q.id, name=q.name or q.developer_name)
        for q in sorted(roster.queues.values(), key=lambda q: q.id)
    )
    content = json.dumps(
        [[r.model_dump(mode="json") for r in reps], [q.model_dump(mode="json") for q in queues], config.version],
        sort_keys=True,
    )
    digest = hashlib.sha256(content.encode()).hexdigest()
    return RosterPublished(
        event_id=derive_event_id(f"roster:{digest}", "route.roster"),
        lead_id=ROSTER_KEY,
        occurred_at=at,
        source=source,
        reps=tuple(reps),
        queues=queues,
        trace=(
            TraceStep(
                service="route",
                decision="roster",
                at=at,
                reason=f"{len(reps)} reps, {len(queues)} queues from {source}; caps from routing config "
                f"{config.version}",
            ),
        ),
    )
