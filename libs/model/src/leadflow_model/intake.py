"""A live lead → the Salesforce Lead fields the model was trained on: the *same* conversion as the history.

Each mapped column names its live source(s) (``ColumnMap.live_sources``: a reader below, or a declared
custom form answer). The raw live value then goes through ``history.convert_value`` — missing values,
the column's value table, typing — exactly like an export cell or a Salesforce value, and the finished
record through ``history.canonical_record``. So a lead seen live and the same lead read back from the
history give identical feature rows (``tests/unit/test_model_parity.py``).

Nothing is guessed: no ``utm_source`` means no lead source (never the publishing system's name), no
engagement figure means unknown (never 0), and a job title no rule matches is ``"unknown"``.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping as AnyMapping
from typing import Any

from leadflow_contracts import LeadEnriched, NormalizedLead

from leadflow_model.history import canonical_record, convert_value
from leadflow_model.mapping import ANSWER_PREFIX, OCCUPATION_UNKNOWN, ColumnMap, IntakeMap, MappingError

Reader = Callable[[NormalizedLead], Any]


def _page_views_per_visit(lead: NormalizedLead) -> float | None:
    eng = lead.engagement
    if eng.visits is None:
        return None
    if eng.visits == 0:
        return 0.0
    if eng.page_views is None:
        return None
    return round(eng.page_views / eng.visits, 2)


LIVE_SOURCES: dict[str, Reader] = {
    "lead_source_kind": lambda lead: lead.lead_source.value,
    "utm_source": lambda lead: lead.source.campaign.utm_source,
    "do_not_email": lambda lead: lead.do_not_email,
    "do_not_call": lambda lead: lead.do_not_call,
    "visits": lambda lead: lead.engagement.visits,
    "time_on_site": lambda lead: lead.engagement.time_on_site_seconds,
    "page_views_per_visit": _page_views_per_visit,
    "content_downloads": lambda lead: lead.engagement.content_downloads,
    "country": lambda lead: lead.country,
    "industry": lambda lead: lead.industry,
    "city": lambda lead: lead.city,
    "employees": lambda lead: lead.employees,
    # "occupation" needs the title rules: IntakeExtractor._occupation
}


class IntakeExtractor:
    def __init__(
        self,
        columns: AnyMapping[str, ColumnMap],
        intake: IntakeMap | None = None,
        missing_values: tuple[str, ...] = ("",),
    ) -> None:
        intake = intake or IntakeMap()
        self._columns = dict(columns)
        self._rules = [(tuple(w.lower() for w in r.contains), r.value) for r in intake.title_rules]
        self._title_default = intake.title_default or OCCUPATION_UNKNOWN
        self._missing = frozenset(missing_values)
        self._missing_lower = frozenset(m.strip().lower() for m in missing_values)
        self._plan = [(col, spec, [self._reader(s) for s in spec.live_sources()]) for col, spec in columns.items()]

    def _reader(self, source: str) -> Reader:
        if source.startswith(ANSWER_PREFIX):
            key = source[len(ANSWER_PREFIX) :]
            return lambda lead: lead.custom_answers.get(key)
        if source == "occupation":
            return lambda lead: self.occupation(lead.job_title)
        return LIVE_SOURCES[source]

    def occupation(self, job_title: str | None) -> str | None:
        """A job title → the history's occupation vocabulary; a title no rule matches is "unknown"."""
        if job_title is None:
            return None
        title = job_title.strip()
        if not title or title.lower() in self._missing_lower:
            return None
        low = title.lower()
        for words, value in self._rules:
            if any(w in low for w in words):
                return value
        return self._title_default

    def lead_record(self, lead: NormalizedLead) -> dict[str, Any]:
        rec: dict[str, Any] = {}
        for col, spec, readers in self._plan:
            value = None
            for read in readers:
                try:
                    value = convert_value(col, spec, read(lead), self._missing)
                except MappingError:  # e.g. a text answer mapped onto a number column: unknown, never an error
                    value = None
                if value is not None:
                    break
            rec[spec.field] = value
        return canonical_record(rec, self._columns)

    def record(self, ev: LeadEnriched) -> dict[str, Any]:
        return self.lead_record(ev.lead)
