"""The Clock port: domain code asks it for the time instead of calling ``datetime.now()``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from leadflow_platform.settings import DemoClockSettings


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class FakeClock:
    """A clock tests move by hand. ``sleep`` advances time instead of waiting."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start")

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | float) -> datetime:
        self._now += delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        return self._now

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("FakeClock.set needs a timezone-aware datetime")
        self._now = when

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        await asyncio.sleep(0)


class ScaledClock:
    """Demo time: ``scale`` times faster than ``source`` (the wall clock), from ``start`` at ``anchor``.

    ``now() = start + (source() - anchor) * scale``. ``anchor`` is a wall-clock instant (the
    ``make run`` supervisor sets it once, so every process and every restart agrees on the time);
    ``start`` is the demo instant at the anchor (default: the anchor itself; ``make run`` starts on a
    working morning so breaches show whatever the hour). ``sleep`` waits the corresponding real
    time. ``from_wall`` maps an instant another system stamped on the wall clock (a Salesforce
    ``SystemModstamp``) onto demo time.
    """

    def __init__(
        self,
        scale: float,
        anchor: datetime | None = None,
        *,
        start: datetime | None = None,
        source: Callable[[], datetime] | None = None,
    ) -> None:
        if scale < 1:
            raise ValueError(f"a demo clock runs at least at wall speed (scale >= 1), got {scale}")
        self._source = source or (lambda: datetime.now(UTC))
        anchor = anchor or self._source()
        start = start or anchor
        if anchor.tzinfo is None or start.tzinfo is None:
            raise ValueError("ScaledClock needs timezone-aware instants")
        self.anchor = anchor.astimezone(UTC)
        self.start = start.astimezone(UTC)
        self.scale = scale

    def from_wall(self, instant: datetime) -> datetime:
        return self.start + (instant.astimezone(UTC) - self.anchor) * self.scale

    def now(self) -> datetime:
        return self.from_wall(self._source())

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0) / self.scale)


def clock_for(demo: DemoClockSettings) -> Clock:
    """The clock a service runs on: the wall clock, or the demo clock when ``demo.scale`` is not 1."""
    if not demo.enabled:
        return SystemClock()
    return ScaledClock(demo.scale, demo.anchor, start=demo.start)


def from_wall(clock: Clock, instant: datetime) -> datetime:
    """``instant`` (stamped by another system on the wall clock) in ``clock``'s time."""
    return clock.from_wall(instant) if isinstance(clock, ScaledClock) else instant


def describe_clock(clock: Clock) -> dict[str, object]:
    """What a page or a health check shows about the clock (``{"demo": False}`` on the wall clock)."""
    if isinstance(clock, ScaledClock):
        return {
            "demo": True,
            "scale": clock.scale,
            "anchor": clock.anchor.isoformat(),
            "start": clock.start.isoformat(),
            "now": clock.now().isoformat(),
        }
    return {"demo": False}
