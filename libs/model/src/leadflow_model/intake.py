"""A live ``LeadEnriched`` → the Salesforce Lead fields the model was trained on (see mapping.INTAKE_FIELDS).

Only what is known at intake is read: the source and campaign, web engagement, consent flags, country,
industry and job title. Value tables (origin by lead-source kind, lead-source names, occupation rules)
come from the mapping file and travel inside the model artifact, so the scorer needs nothing else.
"""

from __future__ import annotations

from typing import Any

from leadflow_contracts import LeadEnriched

from leadflow_model.mapping import IntakeMap


class IntakeExtractor:
    def __init__(self, intake: IntakeMap, missing_values: tuple[str, ...] = ("",)) -> None:
        self._origin = {k.lower(): v for k, v in intake.origin_by_lead_source.items()}
        self._sources = {k.lower(): v for k, v in intake.lead_source_values.items()}
        self._rules = [(tuple(w.lower() for w in r.contains), r.value) for r in intake.title_rules]
        self._title_default = intake.title_default
        self._missing = frozenset(m.lower() for m in missing_values)

    def _text(self, v: str | None) -> str | None:
        if v is None:
            return None
        v = v.strip()
        return None if not v or v.lower() in self._missing else v

    def lead_source(self, ev: LeadEnriched) -> str | None:
        src = ev.lead.source
        raw = self._text(src.campaign.utm_source) or self._text(src.system)
        if raw is None:
            return None
        return self._sources.get(raw.lower(), raw)

    def occupation(self, job_title: str | None) -> str | None:
        title = self._text(job_title)
        if title is None:
            return None
        low = title.lower()
        for words, value in self._rules:
            if any(w in low for w in words):
                return value
        return self._title_default or title

    def record(self, ev: LeadEnriched) -> dict[str, Any]:
        lead, firmo = ev.lead, ev.enrichment.firmographics
        eng = lead.engagement
        visits = float(eng.visits)
        return {
            "Lead_Origin__c": self._origin.get(str(lead.lead_source.value).lower()),
            "LeadSource": self.lead_source(ev),
            "HasOptedOutOfEmail": lead.do_not_email,
            "DoNotCall": lead.do_not_call,
            "Web_Visits__c": visits,
            "Web_Time_On_Site__c": float(eng.time_on_site_seconds),
            "Web_Page_Views_Per_Visit__c": (eng.page_views / visits) if visits > 0 else 0.0,
            "Content_Downloads__c": float(eng.content_downloads),
            "Country": (lead.country or firmo.country or None),
            "Industry": self._text(lead.industry) or self._text(firmo.industry),
            "Title": self.occupation(lead.job_title),
            "City": self._text(lead.city),
            "NumberOfEmployees": lead.employees if lead.employees is not None else firmo.employees,
        }
