"""Historical leads with their outcome, as Salesforce Lead records, from a CSV export or from the org.

A history record is a dict of Lead fields (API names) plus ``Id``, ``CreatedDate`` (aware datetime) and
the label. Both sources produce the same shape, so training is one code path.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from leadflow_model.mapping import ColumnMap, Mapping, MappingError

Record = dict[str, Any]


@dataclass
class History:
    """Leads with a known outcome: ``records[i]`` has label ``labels[i]`` (1 = converted)."""

    records: list[Record]
    labels: list[int]
    created: list[datetime]
    source: str
    skipped: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.records)

    def window(self) -> tuple[datetime | None, datetime | None]:
        return (min(self.created), max(self.created)) if self.created else (None, None)

    def subset(self, idx: list[int]) -> History:
        return History(
            [self.records[i] for i in idx], [self.labels[i] for i in idx], [self.created[i] for i in idx], self.source
        )


@lru_cache(maxsize=4096)
def country_code(value: str) -> str | None:
    """Country name or code → ISO 3166-1 alpha-2 (None when unknown)."""
    import pycountry

    v = value.strip()
    if not v:
        return None
    if len(v) == 2 and v.isalpha():
        return v.upper()
    try:
        return str(pycountry.countries.lookup(v).alpha_2)
    except LookupError:
        pass
    try:
        return str(pycountry.countries.search_fuzzy(v)[0].alpha_2)
    except LookupError:
        return None


_LOWER_TABLES: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}


def _lookup(table: dict[str, Any], raw: str) -> Any:
    """The value table, keys compared case-insensitively (exact spelling first)."""
    if not table:
        return raw
    if raw in table:
        return table[raw]
    cached = _LOWER_TABLES.get(id(table))
    if cached is None or cached[0] is not table:
        cached = (table, {k.lower(): v for k, v in table.items()})
        _LOWER_TABLES[id(table)] = cached
    return cached[1].get(raw.lower(), raw)


@lru_cache(maxsize=64)
def _lower_missing(missing: frozenset[str]) -> frozenset[str]:
    return frozenset(m.lower() for m in missing)


def convert_value(col: str, spec: ColumnMap, raw: Any, missing: frozenset[str]) -> Any:
    """One raw value (an export cell, a Salesforce value or a live lead's value) → the Lead field's typed
    value (None when missing). The same function on every path. Errors name the column."""
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = raw.strip()
        if raw in missing or raw.lower() in _lower_missing(missing):
            return None
        value: Any = _lookup(spec.values, raw)
    else:
        value = raw
    if value is None:
        return None
    if spec.type == "string":
        return str(value)
    if spec.type == "boolean":
        return str(value) in spec.true_values if isinstance(value, str) else bool(value)
    if spec.type == "country":
        return country_code(str(value))
    if isinstance(value, bool):
        return float(value)
    try:
        num = float(value)
    except (TypeError, ValueError):
        raise MappingError(f"column {col!r}: {str(raw)[:60]!r} is not a number") from None
    return None if math.isnan(num) else num


def canonical_record(rec: Record, columns: Any) -> Record:
    """The cross-field step every path shares: pages per visit as the live contract can carry it (a whole
    number of page views over whole visits, 2 decimals), so an export's averaged ratio and a live lead's
    page_views / visits agree."""
    visits_field = ppv_field = None
    for spec in columns.values():
        sources = spec.live_sources()
        if "visits" in sources:
            visits_field = spec.field
        elif "page_views_per_visit" in sources:
            ppv_field = spec.field
    if visits_field and ppv_field:
        v, ppv = rec.get(visits_field), rec.get(ppv_field)
        if v is None or ppv is None:
            rec[ppv_field] = None if v is None else ppv
        elif v > 0:
            rec[ppv_field] = round(round(ppv * v) / v, 2)
        else:
            rec[ppv_field] = 0.0
    return rec


def read_csv_history(path: str | Path, mapping: Mapping) -> History:
    """Rows of the export → Lead records, in creation order (``order_column``), labels from ``outcome``."""
    p = Path(path)
    try:
        fh = open(p, encoding="utf-8-sig", newline="")
    except OSError as e:
        raise MappingError(f"{p}: cannot read CSV ({e.strerror})") from None
    with fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        needed = [mapping.id_column, mapping.outcome.column, *mapping.columns]
        if mapping.order_column:
            needed.append(mapping.order_column)
        absent = [c for c in needed if c not in header]
        if absent:
            raise MappingError(f"{p}: mapped column(s) {absent} not in the CSV header")
        rows = list(reader)
    if mapping.order_column:
        oc = mapping.order_column
        try:
            rows.sort(key=lambda r: float(r[oc]))
        except ValueError:
            raise MappingError(f"column {oc!r}: order values must be numbers") from None
    missing = frozenset(mapping.missing_values)
    step = timedelta(minutes=mapping.history.step_minutes)
    records, labels, created = [], [], []
    for i, row in enumerate(rows):
        rec: Record = {"Id": row[mapping.id_column]}
        for col, spec in mapping.columns.items():
            rec[spec.field] = convert_value(col, spec, row[col], missing)
        canonical_record(rec, mapping.columns)
        when = mapping.history.start + i * step
        rec["CreatedDate"] = when
        records.append(rec)
        labels.append(1 if row[mapping.outcome.column].strip() in mapping.outcome.positive else 0)
        created.append(when)
    return History(records, labels, created, source=f"csv:{p.name}")


def _sf_value(ftype: str, raw: str) -> Any:
    if raw == "":
        return None
    if ftype == "boolean":
        return raw.lower() == "true"
    if ftype == "number":
        return float(raw)
    return raw


def parse_sf_datetime(raw: str) -> datetime:
    v = raw.strip()
    if v.endswith("Z"):
        v = v[:-1] + "+00:00"
    if len(v) >= 5 and v[-5] in "+-" and v[-3] != ":":
        v = v[:-2] + ":" + v[-2:]
    return datetime.fromisoformat(v)


def records_from_bulk_rows(
    rows: list[dict[str, str]], mapping: Mapping
) -> tuple[list[Record], list[int], list[datetime], dict[str, int]]:
    """Bulk 2.0 CSV rows → records with labels. Converted → 1; closed unconverted → 0; still open → skipped."""
    by_field = {c.field: (col, c) for col, c in mapping.columns.items()}
    missing = frozenset(mapping.missing_values)
    records, labels, created = [], [], []
    skipped: dict[str, int] = {}
    for row in rows:
        converted = row.get("IsConverted", "").lower() == "true"
        status = row.get("Status", "")
        if not converted and status != mapping.history.lost_status:
            skipped[status or "(no status)"] = skipped.get(status or "(no status)", 0) + 1
            continue
        rec: Record = {"Id": row["Id"]}
        for f, (col, spec) in by_field.items():
            t = spec.type
            v = _sf_value("number" if t == "number" else "boolean" if t == "boolean" else "string", row.get(f, ""))
            rec[f] = convert_value(col, spec, v, missing) if isinstance(v, str) else v
        canonical_record(rec, mapping.columns)
        when = parse_sf_datetime(row["CreatedDate"])
        rec["CreatedDate"] = when
        records.append(rec)
        labels.append(1 if converted else 0)
        created.append(when)
    return records, labels, created, skipped


def iter_bulk_query(sf: Any, soql: str, *, page_size: int, wait: float) -> Iterator[list[dict[str, str]]]:
    """Pages of a Bulk 2.0 query as dict rows (simple-salesforce yields CSV text per page)."""
    import io

    for page in sf.bulk2.Lead.query(soql, max_records=page_size, wait=wait):
        yield list(csv.DictReader(io.StringIO(page)))


def history_soql(mapping: Mapping, *, since: datetime | None = None, until: datetime | None = None) -> str:
    fields = ["Id", "CreatedDate", "IsConverted", "Status", *mapping.fields]
    where = []
    if since is not None:
        where.append(f"CreatedDate >= {since.strftime('%Y-%m-%dT%H:%M:%SZ')}")
    if until is not None:
        where.append(f"CreatedDate < {until.strftime('%Y-%m-%dT%H:%M:%SZ')}")
    q = f"SELECT {', '.join(fields)} FROM Lead"  # noqa: S608 - field names are API names validated by the mapping
    if where:
        q += " WHERE " + " AND ".join(where)
    return q


def fetch_salesforce_history(
    sf: Any,
    mapping: Mapping,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    page_size: int = 2000,
    wait: float = 0.5,
    progress: Callable[[int, int], None] | None = None,
) -> History:
    """Historical Leads with their outcome through a Bulk 2.0 query; ``progress(done, total)`` per page."""
    soql = history_soql(mapping, since=since, until=until)
    total = int(sf.query(soql.replace(soql[len("SELECT ") : soql.index(" FROM")], "COUNT()"))["totalSize"])
    if progress:
        progress(0, total)
    records: list[Record] = []
    labels: list[int] = []
    created: list[datetime] = []
    skipped: dict[str, int] = {}
    done = 0
    for rows in iter_bulk_query(sf, soql, page_size=page_size, wait=wait):
        r, lab, c, s = records_from_bulk_rows(rows, mapping)
        records += r
        labels += lab
        created += c
        for k, v in s.items():
            skipped[k] = skipped.get(k, 0) + v
        done += len(rows)
        if progress:
            progress(done, total)
    order = sorted(range(len(records)), key=lambda i: (created[i], records[i]["Id"]))
    h = History(records, labels, created, source="salesforce:Lead", skipped=skipped).subset(order)
    h.source, h.skipped = "salesforce:Lead", skipped
    return h
