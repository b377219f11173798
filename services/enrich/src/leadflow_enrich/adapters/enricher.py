"""The ``Enricher`` port (firmographics by company domain) and the bundled reference-file adapter."""

from __future__ import annotations

import csv
from collections.abc import Collection
from pathlib import Path
from typing import Protocol

from leadflow_contracts import Firmographics

from leadflow_enrich.domain.firmographics import size_band

DEFAULT_REFERENCE_FILE = Path(__file__).resolve().parent.parent / "data" / "firmographics.csv"
REQUIRED_COLUMNS = ("domain", "company", "industry", "employees", "country")


class Enricher(Protocol):
    async def lookup(self, domains: Collection[str]) -> dict[str, Firmographics]:
        """Firmographics for the domains it knows (unknown domains are absent from the result)."""
        ...


class ReferenceDataError(ValueError):
    pass


class ReferenceFileEnricher:
    """Reads a CSV (domain, company, industry, employees, size_band?, country) once; lookups are in memory."""

    def __init__(self, path: Path = DEFAULT_REFERENCE_FILE, *, source: str = "reference_file") -> None:
        self.path = path
        self.rows: dict[str, Firmographics] = {}
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise ReferenceDataError(f"{path}: missing columns {missing}")
            for line, row in enumerate(reader, start=2):
                domain = (row["domain"] or "").strip().lower()
                if not domain:
                    raise ReferenceDataError(f"{path}:{line}: empty domain")
                try:
                    employees = int(row["employees"]) if row["employees"] else None
                except ValueError:
                    raise ReferenceDataError(f"{path}:{line}: employees {row['employees']!r} is not a number") from None
                self.rows[domain] = Firmographics(
                    industry=row["industry"] or None,
                    employees=employees,
                    size_band=(row.get("size_band") or None) or size_band(employees),
                    country=row["country"] or None,
                    source=source,
                )

    def __len__(self) -> int:
        return len(self.rows)

    async def lookup(self, domains: Collection[str]) -> dict[str, Firmographics]:
        return {d: self.rows[d] for d in domains if d in self.rows}
