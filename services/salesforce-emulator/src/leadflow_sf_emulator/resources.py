"""Locate the schema and fixture files, both in a source checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """`schema` or `fixtures`: bundled in the wheel under `_data/`, or the service folder in a checkout."""
    bundled = _PKG / "_data" / name
    if bundled.is_dir():
        return bundled
    return _PKG.parents[1] / name


def schema_file() -> Path:
    return data_dir("schema") / "sobjects.json"


def fixture_file(name: str) -> Path:
    """A fixture path, or a bundled fixture by short name (`demo` → fixtures/demo_org.json)."""
    p = Path(name)
    if p.suffix == ".json" and p.exists():
        return p
    alias = {"demo": "demo_org.json"}.get(name, name if name.endswith(".json") else f"{name}.json")
    return data_dir("fixtures") / alias
