"""One time base for every figure ops shows: the time the SLA clocks run on (the pipeline's event time).

On the wall clock this changes nothing. Under the demo clock (``LEADFLOW_DEMO_CLOCK_*``) route and sla-monitor
stamp *demo* time (routed, SLA due times, warnings, breaches, touches), while other producers stamp the wall
clock: the source's ``submitted_at``, crm-sync's ``CrmSynced.occurred_at``, Salesforce's ``SystemModstamp``
and the dead letters' ``occurred_at``. Subtracting one from the other would measure the distance between two
clocks, not a delay (every timeline step "before" its submission, a system delay of 0). ops therefore maps
every wall-clock stamp onto the pipeline's clock as it reads it (``ScaledClock.from_wall``: the same mapping
sla-monitor uses for a Salesforce touch), so a consistent demo run has no clock skew, and a step stamped
before its submission still means a producer's clock really is off. Pure.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from leadflow_platform.clock import Clock, from_wall

WALL_STAMPED: tuple[tuple[str, str], ...] = (
    ("LeadRouted.lead.submitted_at", "the source (form, list, marketing system)"),
    ("CrmSynced.occurred_at / submitted_at", "crm-sync"),
    ("CrmChange.system_modstamp", "Salesforce"),
    ("DeadLetter / LeadRejected occurred_at", "the service that gave up"),
)
"""Times ops reads as wall-clock stamps (mapped onto the pipeline's clock). Everything else — routed, SLA
events, ops' own "now" — is already on the pipeline's clock."""

ToPipeline = Callable[[datetime], datetime]


def identity(instant: datetime) -> datetime:
    return instant


def to_pipeline_time(clock: Clock) -> ToPipeline:
    """Wall-clock stamp → the pipeline's time (identity unless the demo clock is on)."""

    def convert(instant: datetime) -> datetime:
        return from_wall(clock, instant)

    return convert


def maybe(convert: ToPipeline, instant: datetime | None) -> datetime | None:
    return None if instant is None else convert(instant)
