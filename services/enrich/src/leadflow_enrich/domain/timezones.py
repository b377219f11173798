"""The prospect's IANA time zone from the phone number, the region and the country (in that order)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

from leadflow_enrich.domain.policy import EnrichPolicy

_UNKNOWN = "Etc/Unknown"


@dataclass(frozen=True, slots=True)
class TimezoneDecision:
    timezone: str | None
    reason: str


def zones_for_phone(e164: str) -> tuple[str, ...]:
    """Zones for an E.164 number by the longest prefix in libphonenumber's time-zone data.

    The number is already E.164 (intake normalised it), so no parsing is needed: the lookup is the one
    ``phonenumbers.timezone.time_zones_for_geographical_number`` does, minus the number-type check (a
    mobile or non-geographic number falls back to its country's zones through the shorter prefixes).
    """
    if not e164.startswith("+") or not e164[1:].isdigit():
        return ()
    digits = e164[1:]
    for length in range(min(TIMEZONE_LONGEST_PREFIX, len(digits)), 0, -1):
        zones = _zones_for_prefix(digits[:length])
        if zones is not None:
            return zones
    return ()


@lru_cache(maxsize=65536)
def _zones_for_prefix(prefix: str) -> tuple[str, ...] | None:
    zones = TIMEZONE_DATA.get(prefix)
    if zones is None:
        return None
    return tuple(sorted(z for z in zones if z != _UNKNOWN))


def _region_zone(country: str | None, region: str | None, policy: EnrichPolicy) -> str | None:
    if not country or not region:
        return None
    regions = policy.region_timezones.get(country.upper(), {})
    wanted = region.strip().lower()
    for name, zone in regions.items():
        if name.lower() == wanted:
            return zone
    return None


def timezone_for(
    phone_e164: str | None, country: str | None, region: str | None, policy: EnrichPolicy
) -> TimezoneDecision:
    country_code = country.upper() if country else None
    region_zone = _region_zone(country_code, region, policy)
    country_zone = policy.default_country_timezones.get(country_code) if country_code else None
    if phone_e164:
        zones = zones_for_phone(phone_e164)
        if len(zones) == 1:
            return TimezoneDecision(zones[0], "from the phone number's area")
        if zones:
            if region_zone in zones:
                return TimezoneDecision(region_zone, f"phone spans {len(zones)} zones; region {region} decides")
            if region_zone is None and country_zone in zones:
                return TimezoneDecision(country_zone, f"phone spans {len(zones)} zones; country default")
    if region_zone:
        return TimezoneDecision(region_zone, f"from region {region} of {country_code}")
    if country_zone:
        return TimezoneDecision(country_zone, f"country default for {country_code}")
    if phone_e164 and (zones := zones_for_phone(phone_e164)):
        return TimezoneDecision(zones[0], f"phone spans {len(zones)} zones; first of them (no region or country)")
    return TimezoneDecision(None, "no phone, region or country to place the prospect")
