"""Errors with messages that name the file and the bad field."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError


class CalendarError(ValueError):
    """A calendar cannot answer (e.g. it has no working time for years)."""


class ConfigError(ValueError):
    """A calendars or SLA policies file is invalid; the message names the file and each bad field."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


M = TypeVar("M", bound=BaseModel)


def _loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(root)"


def describe(error: ValidationError) -> list[str]:
    """One ``field.path: message`` line per pydantic error."""
    return [f"{_loc(tuple(e['loc']))}: {e['msg']}" for e in error.errors()]


def read_yaml(path: str | Path) -> Any:
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(source, [f"cannot read: {exc.strerror or exc}"]) from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(source, [f"not valid YAML: {exc}"]) from exc


def validate(model: type[M], data: Any, source: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, describe(exc)) from exc
