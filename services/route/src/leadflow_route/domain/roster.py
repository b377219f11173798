"""Who can own a lead: reps (Salesforce Users) and queues (Groups of type Queue), as plain values."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SEGMENT = re.compile(
    r"^\s*(?P<d1>[A-Za-z]{3})(?:\s*-\s*(?P<d2>[A-Za-z]{3}))?\s+(?P<h1>\d{1,2}:\d{2})\s*-\s*(?P<h2>\d{1,2}:\d{2})\s*$"
)
_LANGUAGE_ALIASES = {"nb": "no", "nn": "no"}


class WorkingHoursError(ValueError):
    """A working-hours string that cannot be read."""


@dataclass(frozen=True)
class WorkingHours:
    """Weekly shifts, e.g. ``Mon-Fri 08:00-16:00`` or ``Mon-Thu 08:00-18:00; Fri 08:00-12:00``."""

    text: str
    shifts: tuple[tuple[int, time, time], ...]  # (weekday 0=Mon, start, end)

    def covers(self, local: datetime) -> bool:
        weekday, clock = local.weekday(), local.time().replace(tzinfo=None)
        return any(day == weekday and start <= clock < end for day, start, end in self.shifts)


def _parse_time(value: str, text: str) -> time:
    hours, minutes = (int(p) for p in value.split(":"))
    if hours == 24 and minutes == 0:
        return time.max
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise WorkingHoursError(f"bad time {value!r} in working hours {text!r}")
    return time(hours, minutes)


@lru_cache(maxsize=512)
def parse_working_hours(text: str) -> WorkingHours:
    shifts: list[tuple[int, time, time]] = []
    for segment in re.split(r"[;,]", text):
        if not segment.strip():
            continue
        m = _SEGMENT.match(segment)
        if m is None:
            raise WorkingHoursError(f"cannot read working hours {text!r}: expected e.g. 'Mon-Fri 08:00-16:00'")
        d1 = m["d1"].lower()
        d2 = (m["d2"] or m["d1"]).lower()
        if d1 not in _DAYS or d2 not in _DAYS:
            raise WorkingHoursError(f"unknown weekday in working hours {text!r}")
        start, end = _parse_time(m["h1"], text), _parse_time(m["h2"], text)
        if end <= start:
            raise WorkingHoursError(f"shift ends before it starts in working hours {text!r}")
        first, last = _DAYS.index(d1), _DAYS.index(d2)
        days = range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)]
        shifts.extend((day, start, end) for day in days)
    if not shifts:
        raise WorkingHoursError(f"working hours {text!r} name no shift")
    return WorkingHours(text=text, shifts=tuple(shifts))


def normalise_language(tag: str | None) -> str | None:
    """``nb-NO`` → ``no``; ``DE`` → ``de``; None stays None."""
    if not tag:
        return None
    primary = tag.replace("_", "-").split("-", 1)[0].strip().lower()
    return _LANGUAGE_ALIASES.get(primary, primary) or None


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


class Rep(BaseModel):
    """A Salesforce User who may own leads."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str = ""
    username: str = ""
    role: str | None = None
    team: str | None = None
    territory: str | None = None
    languages: frozenset[str] = frozenset()
    weight: float = Field(default=1.0, ge=0)
    active: bool = True
    absent: bool = False
    timezone: str = "UTC"
    working_hours: str | None = None

    def local_time(self, at: datetime) -> datetime:
        try:
            return at.astimezone(_zone(self.timezone))
        except (ZoneInfoNotFoundError, ValueError):
            return at.astimezone(_zone("UTC"))

    def hours(self, default: str | None) -> WorkingHours | None:
        text = self.working_hours or default
        if not text:
            return None
        try:
            return parse_working_hours(text)
        except WorkingHoursError:
            return parse_working_hours(default) if default and default != text else None

    def on_shift(self, at: datetime, default_hours: str | None = None) -> bool:
        hours = self.hours(default_hours)
        return True if hours is None else hours.covers(self.local_time(at))

    def speaks(self, language: str | None) -> bool:
        return language is not None and language in self.languages


class Queue(BaseModel):
    """A Salesforce queue (Group of Type Queue) that can own leads."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str = ""
    developer_name: str = ""


class Roster:
    """Reps and queues indexed by id, Salesforce username and queue developer name."""

    def __init__(self, reps: Iterable[Rep] = (), queues: Iterable[Queue] = ()) -> None:
        self.reps: dict[str, Rep] = {r.id: r for r in reps}
        self.queues: dict[str, Queue] = {q.id: q for q in queues}
        self._by_username = {r.username.lower(): r for r in self.reps.values() if r.username}
        self._queue_by_name = {q.developer_name.lower(): q for q in self.queues.values() if q.developer_name}
        self._queue_by_name.update({q.name.lower(): q for q in self.queues.values() if q.name})
        self._teams: dict[str, list[Rep]] = {}
        for rep in sorted(self.reps.values(), key=lambda r: r.id):
            if rep.team:
                self._teams.setdefault(rep.team, []).append(rep)

    def __len__(self) -> int:
        return len(self.reps) + len(self.queues)

    def rep(self, ref: str | None) -> Rep | None:
        """A rep by Salesforce id (15 or 18 chars) or username."""
        if not ref:
            return None
        found = self.reps.get(ref) or self._by_username.get(ref.lower())
        if found is None and len(ref) == 15:
            found = next((r for r in self.reps.values() if r.id[:15] == ref), None)
        return found

    def queue(self, ref: str | None) -> Queue | None:
        if not ref:
            return None
        return self.queues.get(ref) or self._queue_by_name.get(ref.lower())

    def team(self, name: str) -> list[Rep]:
        return list(self._teams.get(name, ()))

    def with_rep(self, rep: Rep) -> Roster:
        reps = dict(self.reps)
        reps[rep.id] = rep
        return Roster(reps.values(), self.queues.values())


def _bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)


def rep_from_record(record: Mapping[str, Any]) -> Rep:
    """A rep from a Salesforce User record (REST/SOQL JSON)."""
    languages = record.get("Languages__c") or ""
    parts = [p for p in re.split(r"[;,]", str(languages)) if p.strip()]
    name = record.get("Name") or " ".join(p for p in (record.get("FirstName"), record.get("LastName")) if p)
    weight = record.get("Weight__c")
    return Rep(
        id=str(record["Id"]),
        name=str(name or ""),
        username=str(record.get("Username") or ""),
        role=record.get("Role_Name__c"),
        team=record.get("Team__c"),
        territory=record.get("Territory__c"),
        languages=frozenset(lang for p in parts if (lang := normalise_language(p))),
        weight=1.0 if weight is None or weight == "" else max(0.0, float(weight)),
        active=_bool(record.get("IsActive"), True),
        absent=_bool(record.get("Is_Absent__c"), False),
        timezone=str(record.get("TimeZoneSidKey") or "UTC"),
        working_hours=record.get("Working_Hours__c") or None,
    )


def merge_user_change(current: Rep | None, record: Mapping[str, Any]) -> Rep:
    """Apply the fields a User change carries on top of what the roster knew."""
    base: dict[str, Any] = {}
    if current is not None:
        base = {
            "Id": current.id,
            "Name": current.name,
            "Username": current.username,
            "Role_Name__c": current.role,
            "Team__c": current.team,
            "Territory__c": current.territory,
            "Languages__c": ";".join(sorted(current.languages)),
            "Weight__c": current.weight,
            "IsActive": current.active,
            "Is_Absent__c": current.absent,
            "TimeZoneSidKey": current.timezone,
            "Working_Hours__c": current.working_hours,
        }
    base.update({k: v for k, v in record.items() if k != "attributes"})
    return rep_from_record(base)


def queue_from_record(record: Mapping[str, Any]) -> Queue:
    return Queue(
        id=str(record["Id"]), name=str(record.get("Name") or ""), developer_name=str(record.get("DeveloperName") or "")
    )
