"""Firmographics: which source wins (reference data > matched account > what the lead said) and size bands."""

from __future__ import annotations

from dataclasses import dataclass

from leadflow_contracts import Firmographics, NormalizedLead

from leadflow_enrich.domain.records import AccountRecord

SIZE_BANDS: tuple[tuple[int, str], ...] = (
    (10, "1-10"),
    (50, "11-50"),
    (200, "51-200"),
    (500, "201-500"),
    (1000, "501-1000"),
    (5000, "1001-5000"),
    (10000, "5001-10000"),
)


def size_band(employees: int | None) -> str | None:
    if employees is None or employees < 1:
        return None
    for upper, band in SIZE_BANDS:
        if employees <= upper:
            return band
    return "10001+"


@dataclass(frozen=True, slots=True)
class FirmographicsDecision:
    firmographics: Firmographics
    reason: str


def choose_firmographics(
    reference: Firmographics | None,
    reference_domain: str | None,
    account: AccountRecord | None,
    lead: NormalizedLead,
) -> FirmographicsDecision:
    if reference is not None:
        return FirmographicsDecision(reference, f"reference data for {reference_domain}")
    if account is not None and (account.industry or account.employees):
        return FirmographicsDecision(
            Firmographics(
                industry=account.industry,
                employees=account.employees,
                size_band=size_band(account.employees),
                country=account.country,
                source="salesforce_account",
            ),
            f"matched account {account.id}",
        )
    if lead.industry or lead.employees:
        return FirmographicsDecision(
            Firmographics(
                industry=lead.industry,
                employees=lead.employees,
                size_band=size_band(lead.employees),
                country=lead.country,
                source="lead",
            ),
            "as submitted with the lead",
        )
    return FirmographicsDecision(Firmographics(country=lead.country), "no firmographic source for this lead")


def reference_domains(lead: NormalizedLead, free_mail: frozenset[str]) -> list[str]:
    """Domains to look the company up by, best first: its website, then a business e-mail domain."""
    from leadflow_enrich.domain.normalise import domain_of

    out: list[str] = []
    for candidate in (domain_of(lead.company_domain), (lead.email_domain or "").lower() or None):
        if candidate and candidate not in free_mail and not (candidate == lead.email_domain and lead.email_is_free):
            if candidate not in out:
                out.append(candidate)
    return out
