"""``calendars.yaml``: named business calendars (and which team works by which calendar)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from leadflow_businesstime.calendar import BusinessCalendar
from leadflow_businesstime.errors import read_yaml, validate


class CalendarsFile(BaseModel):
    """The whole file: ``version``, ``calendars`` by name, optional ``teams`` → calendar name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(min_length=1)
    calendars: dict[str, BusinessCalendar] = Field(min_length=1)
    teams: dict[str, str] = Field(default_factory=dict)
    default: str | None = Field(default=None, description="Calendar for teams not listed.")

    @model_validator(mode="before")
    @classmethod
    def _names_from_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("calendars"), dict):
            named = {}
            for key, spec in data["calendars"].items():
                if isinstance(spec, dict):
                    if "name" in spec and spec["name"] != key:
                        raise ValueError(f"calendars.{key}.name: must equal its key {key!r} (or be left out)")
                    spec = {**spec, "name": key}
                named[key] = spec
            data = {**data, "calendars": named}
        return data

    @model_validator(mode="after")
    def _references_exist(self) -> CalendarsFile:
        for team, name in self.teams.items():
            if name not in self.calendars:
                raise ValueError(f"teams.{team}: unknown calendar {name!r} (known: {sorted(self.calendars)})")
        if self.default is not None and self.default not in self.calendars:
            raise ValueError(f"default: unknown calendar {self.default!r} (known: {sorted(self.calendars)})")
        return self

    def for_team(self, team: str | None) -> BusinessCalendar | None:
        """The calendar a team works by: its mapping, else ``default``, else None."""
        name = self.teams.get(team or "", self.default)
        return self.calendars[name] if name is not None else None


def parse_calendars(data: Any, source: str = "<calendars>") -> CalendarsFile:
    """Validate already-parsed YAML/JSON data; errors name ``source`` and the bad field."""
    return validate(CalendarsFile, data, source)


def load_calendar_file(path: str | Path) -> CalendarsFile:
    """Load and validate ``calendars.yaml`` (with team mapping and default)."""
    return parse_calendars(read_yaml(path), str(path))


def load_calendars(path: str | Path) -> dict[str, BusinessCalendar]:
    """Load ``calendars.yaml`` and return the calendars by name."""
    return dict(load_calendar_file(path).calendars)
