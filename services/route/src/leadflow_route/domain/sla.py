"""SLA targets for a routed lead: policy by rating/source/client type, due times in business hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from leadflow_businesstime import BusinessCalendar, CalendarsFile, SlaPolicy, SlaPolicySet
from leadflow_contracts import CallbackWindow, SlaTarget


@dataclass(frozen=True)
class SlaInput:
    rating: str | None
    lead_source: str | None
    client_type: str | None
    team: str | None
    prospect_timezone: str | None = None
    callback: CallbackWindow | None = None
    previous: SlaTarget | None = None
    """The SLA of the routing this one replaces (reassignment)."""


class SlaPlanner:
    """Chooses the SLA policy and computes due times. Pure: ``now`` comes in as a value."""

    def __init__(self, policies: SlaPolicySet, calendars: CalendarsFile) -> None:
        problems = policies.check_calendars(dict(calendars.calendars))
        if problems:
            raise ValueError("; ".join(problems))
        self.policies = policies
        self.calendars = calendars

    def calendar_for(self, policy: SlaPolicy, team: str | None, prospect_timezone: str | None) -> BusinessCalendar:
        """The prospect's zone for policies that say so; else the team's calendar if it has one; else the policy's."""
        if policy.uses_prospect_zone:
            return policy.resolve_calendar(dict(self.calendars.calendars), prospect_timezone)
        if team and team in self.calendars.teams:
            return self.calendars.calendars[self.calendars.teams[team]]
        return self.calendars.calendars[policy.calendar]

    def plan(self, lead: SlaInput, now: datetime) -> SlaTarget:
        policy = self.policies.select(lead.rating, lead.lead_source, lead.client_type)
        calendar = self.calendar_for(policy, lead.team, lead.prospect_timezone)
        previous = lead.previous
        if previous is not None and previous.policy == policy.name and not policy.reset_on_reassign:
            return previous
        first_touch = calendar.add_business_time(now, policy.first_touch)
        callback_due = None
        if lead.callback is not None:
            # The prospect named the time: that is when the call is due. A time already past
            # (the lead arrived late) keeps the policy's first-touch target.
            callback_due = lead.callback.start
            if callback_due > now:
                first_touch = callback_due
        return SlaTarget(
            policy=policy.name,
            first_touch_due=first_touch,
            qualify_due=calendar.add_business_days(now, policy.qualify_days),
            callback_due=callback_due,
            calendar=calendar.name,
            timezone=calendar.timezone,
        )
