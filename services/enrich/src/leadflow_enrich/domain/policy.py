"""The enrichment policy as data: thresholds, confidences, client-type rules, free-mail domains.

Loaded from a versioned YAML file (``data/enrich-policy-v1.yaml`` by default) and validated by pydantic;
an error names the field that is wrong.
"""

from __future__ import annotations

from typing import Any

from leadflow_contracts import MatchMethod
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class PolicyError(ValueError):
    """The policy file is unreadable or invalid; the message names the bad field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MatchingPolicy(_Strict):
    fuzzy_threshold: float = Field(default=88.0, ge=50, le=100, description="rapidfuzz score (0-100) to accept.")
    fuzzy_max_candidates: int = Field(default=200, ge=1, description="Names scored per lead after blocking.")
    confidence: dict[MatchMethod, float] = Field(
        default_factory=lambda: {
            MatchMethod.CONTACT_EMAIL: 0.99,
            MatchMethod.EMAIL_DOMAIN: 0.95,
            MatchMethod.WEBSITE_DOMAIN: 0.93,
            MatchMethod.NAME_EXACT: 0.85,
            MatchMethod.PHONE: 0.8,
            MatchMethod.NAME_FUZZY: 0.75,
        }
    )
    contact_domain_discount: float = Field(
        default=0.05, ge=0, le=0.5, description="Confidence lost when a domain is only known from contacts' e-mails."
    )

    @field_validator("confidence")
    @classmethod
    def _confidences(cls, value: dict[MatchMethod, float]) -> dict[MatchMethod, float]:
        for method, conf in value.items():
            if not 0 < conf <= 1:
                raise ValueError(f"confidence for {method.value} must be in (0, 1], got {conf}")
        missing = {m for m in MatchMethod if m is not MatchMethod.NONE} - set(value)
        if missing:
            raise ValueError(f"confidence missing for: {sorted(m.value for m in missing)}")
        return value


class ClientTypePolicy(_Strict):
    dormant_after_months: int = Field(
        default=12, ge=0, description="No activity for this many months -> dormant (0 = only Client_Type__c)."
    )
    dormant_client_types: tuple[str, ...] = ("Dormant",)
    key_account_client_types: tuple[str, ...] = ("Key Account",)
    regional_client_types: tuple[str, ...] = ("Regional",)
    retail_client_types: tuple[str, ...] = ("Retail",)
    customer_client_types: tuple[str, ...] = ("Existing Customer", "Customer")
    customer_account_types_prefix: tuple[str, ...] = ("Customer",)
    new_client_types: tuple[str, ...] = ("New", "Prospect")


class DuplicatePolicy(_Strict):
    closed_lead_statuses: tuple[str, ...] = ("Closed - Converted", "Closed - Not Converted")
    closed_status_prefix: str | None = Field(default="Closed", description="Any status starting with this is closed.")


class EnrichPolicy(_Strict):
    version: str = Field(min_length=1)
    matching: MatchingPolicy = MatchingPolicy()
    client_type: ClientTypePolicy = ClientTypePolicy()
    duplicates: DuplicatePolicy = DuplicatePolicy()
    free_mail_domains: frozenset[str] = frozenset()
    default_country_timezones: dict[str, str] = Field(default_factory=dict)
    region_timezones: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="country -> region code or name -> IANA zone"
    )

    @field_validator("free_mail_domains")
    @classmethod
    def _lower(cls, value: frozenset[str]) -> frozenset[str]:
        return frozenset(d.strip().lower() for d in value if d.strip())

    @model_validator(mode="after")
    def _zones(self) -> EnrichPolicy:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        zones = list(self.default_country_timezones.items())
        for country, regions in self.region_timezones.items():
            zones.extend((f"{country}/{r}", z) for r, z in regions.items())
        for where, zone in zones:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError) as e:
                raise ValueError(f"unknown IANA time zone {zone!r} for {where}") from e
        return self

    def is_free_mail(self, domain: str | None) -> bool:
        return bool(domain) and domain in self.free_mail_domains


def _describe(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(root)"
        lines.append(f"{where}: {e['msg']}")
    return "; ".join(lines)


def parse_policy(raw: Any, *, source: str = "policy") -> EnrichPolicy:
    try:
        return EnrichPolicy.model_validate(raw)
    except ValidationError as e:
        raise PolicyError(f"{source}: {_describe(e)}") from None
