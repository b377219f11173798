"""Business calendars and SLA policies shared by route and sla-monitor.

Pure code: no I/O except the explicit ``load_*`` functions that read a YAML file.
"""

from leadflow_businesstime.calendar import BusinessCalendar, HolidaySource, WeeklyHours, parse_interval
from leadflow_businesstime.calendars_file import (
    CalendarsFile,
    load_calendar_file,
    load_calendars,
    parse_calendars,
)
from leadflow_businesstime.errors import CalendarError, ConfigError
from leadflow_businesstime.policy import (
    PROSPECT,
    TEAM,
    EscalationAction,
    EscalationStep,
    PolicyMatch,
    SlaPolicy,
    SlaPolicySet,
    load_sla_policies,
    parse_sla_policies,
)

__all__ = [
    "PROSPECT",
    "TEAM",
    "BusinessCalendar",
    "CalendarError",
    "CalendarsFile",
    "ConfigError",
    "EscalationAction",
    "EscalationStep",
    "HolidaySource",
    "PolicyMatch",
    "SlaPolicy",
    "SlaPolicySet",
    "WeeklyHours",
    "load_calendar_file",
    "load_calendars",
    "load_sla_policies",
    "parse_calendars",
    "parse_interval",
    "parse_sla_policies",
]
