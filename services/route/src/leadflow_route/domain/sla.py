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
        # Due times depend only on (policy, calendar, now): a batch routed at one instant computes each once.
        self._at: datetime | None = None
        self._due: dict[tuple[str, str], tuple[datetime, datetime]] = {}

    def _due_times(self, policy: SlaPolicy, calendar: BusinessCalendar, now: datetime) -> tuple[datetime, datetime]:
        if now != self._at:
            self._at, self._due = now, {}
        key = (policy.name, calendar.name)
        due = self._due.get(key)
        if due is None:
            due = self._due[key] = (
                calendar.add_business_time(now, policy.first_touch),
                calendar.add_business_days(now, policy.qualify_days),
            )
        return due

    def calendar_for(self, policy: SlaPolicy, team: str | None, prospect_timezone: str | None) -> BusinessCalendar:
        """The policy decides: a named calendar, the routed team's (``team``) or the prospect's zone (``prospect``)."""
        team_calendar = None
        if team and team in self.calendars.teams:
            team_calendar = self.calendars.calendars[self.calendars.teams[team]]
        return policy.resolve_calendar(dict(self.calendars.calendars), prospect_timezone, team_calendar=team_calendar)

    def plan(self, lead: SlaInput, now: datetime) -> SlaTarget:
        policy = self.policies.select(lead.rating, lead.lead_source, lead.client_type)
        calendar = self.calendar_for(policy, lead.team, lead.prospect_timezone)
        previous = lead.previous
        if previous is not None and previous.policy == policy.name and not policy.reset_on_reassign:
            return previous
        first_touch, qualify_due = self._due_times(policy, calendar, now)
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
            qualify_due=qualify_due,
            callback_due=callback_due,
            calendar=calendar.name,
            timezone=calendar.timezone,
        )
