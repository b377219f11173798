"""Duplicate detection against open Leads and Contacts in the mirror (same e-mail or phone).

Precedence, deterministic: an e-mail match beats a phone match; an open Lead beats a Contact (crm-sync
updates the Lead that is still in the funnel); then the most recently modified record; then the lowest id.
A Lead that leadflow itself created for this lead (``Leadflow_Id__c`` == lead_id) is not a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from leadflow_contracts import DuplicateOf, NormalizedLead

from leadflow_enrich.domain.index import MirrorIndex
from leadflow_enrich.domain.normalise import normalise_email
from leadflow_enrich.domain.records import ContactRecord, LeadRecord

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class DuplicateDecision:
    duplicate: DuplicateOf | None
    reason: str
    others: int = 0


def _key(rec: LeadRecord | ContactRecord, on: str) -> tuple[int, int, float, str]:
    stamp = rec.system_modstamp or _EPOCH
    return (0 if on == "email" else 1, 0 if isinstance(rec, LeadRecord) else 1, -stamp.timestamp(), rec.id)


def find_duplicate(lead_id: str, lead: NormalizedLead, index: MirrorIndex) -> DuplicateDecision:
    found: list[tuple[tuple[int, int, float, str], LeadRecord | ContactRecord, Literal["email", "phone"]]] = []
    email = normalise_email(lead.email)
    phone = lead.phone_e164
    keys: list[tuple[str | None, Literal["email", "phone"], dict[str, set[str]], dict[str, set[str]]]] = [
        (email, "email", index.open_lead_by_email, index.contact_by_email),
        (phone, "phone", index.open_lead_by_phone, index.contact_by_phone),
    ]
    for value, on, leads_by, contacts_by in keys:
        if not value:
            continue
        for rid in leads_by.get(value, ()):
            lead_rec = index.leads[rid]
            if lead_rec.leadflow_id == lead_id:
                continue
            found.append((_key(lead_rec, on), lead_rec, on))
        for rid in contacts_by.get(value, ()):
            contact = index.contacts[rid]
            found.append((_key(contact, on), contact, on))
    if not found:
        return DuplicateDecision(None, "no open lead or contact with the same e-mail or phone")
    found.sort(key=lambda item: item[0])
    _, rec, on = found[0]
    obj: Literal["Lead", "Contact"] = "Lead" if isinstance(rec, LeadRecord) else "Contact"
    distinct = len({r.id for _, r, _ in found})
    reason = f"same {on} as open {obj} {rec.id}"
    if distinct > 1:
        reason += f" ({distinct} records matched; {on} and open lead first, then most recent)"
    return DuplicateDecision(
        DuplicateOf(object=obj, record_id=rec.id, matched_on=on, owner_id=rec.owner_id), reason, distinct - 1
    )
