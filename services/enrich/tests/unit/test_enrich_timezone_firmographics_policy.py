import copy

import pytest
import yaml
from leadflow_contracts import Firmographics
from leadflow_enrich.adapters.enricher import ReferenceDataError, ReferenceFileEnricher
from leadflow_enrich.adapters.policy_file import DEFAULT_POLICY_FILE, load_policy
from leadflow_enrich.domain.firmographics import choose_firmographics, reference_domains, size_band
from leadflow_enrich.domain.policy import PolicyError, parse_policy
from leadflow_enrich.domain.timezones import timezone_for
from leadflow_enrich.testing import account, normalized_lead

pytestmark = pytest.mark.unit

POLICY = load_policy()
RAW = yaml.safe_load(DEFAULT_POLICY_FILE.read_text())


@pytest.mark.parametrize(
    ("phone", "country", "region", "zone"),
    [
        ("+4722334455", None, None, "Europe/Oslo"),
        ("+46812345678", "NO", None, "Europe/Stockholm"),  # the phone wins over the country
        ("+442071234567", None, None, "Europe/London"),
        ("+12125551234", "US", None, "America/New_York"),  # NY area code -> one zone
        ("+14155551234", None, None, "America/Los_Angeles"),
        (None, "US", "CA", "America/Los_Angeles"),
        (None, "US", "texas", "America/Chicago"),
        (None, "DE", None, "Europe/Berlin"),
        (None, "de", "Bayern", "Europe/Berlin"),
        (None, None, None, None),
    ],
)
def test_timezone_from_phone_region_country(phone, country, region, zone) -> None:
    assert timezone_for(phone, country, region, POLICY).timezone == zone


def test_ambiguous_phone_uses_region_then_country() -> None:
    # a US toll-free number spans every US zone
    assert timezone_for("+18005550199", "US", "WA", POLICY).timezone == "America/Los_Angeles"
    assert timezone_for("+18005550199", "US", None, POLICY).timezone == "America/New_York"
    decision = timezone_for("+18005550199", None, None, POLICY)
    assert decision.timezone is not None and "spans" in decision.reason


def test_size_bands() -> None:
    assert [size_band(n) for n in (None, 0, 1, 10, 11, 200, 201, 5000, 10001)] == [
        None,
        None,
        "1-10",
        "1-10",
        "11-50",
        "51-200",
        "201-500",
        "1001-5000",
        "10001+",
    ]


def test_firmographics_precedence_reference_then_account_then_lead() -> None:
    lead = normalized_lead(industry="Retail", employees=12, country="NO")
    ref = Firmographics(industry="Energy", employees=23000, size_band="10001+", country="NO", source="reference_file")
    acc = account("001A", "Nord AS", industry="Shipping", employees=480, country="Norway")
    assert choose_firmographics(ref, "equinor.com", acc, lead).firmographics == ref
    from_acc = choose_firmographics(None, None, acc, lead).firmographics
    assert (from_acc.source, from_acc.industry, from_acc.size_band) == ("salesforce_account", "Shipping", "201-500")
    from_lead = choose_firmographics(None, None, None, lead).firmographics
    assert (from_lead.source, from_lead.industry, from_lead.size_band) == ("lead", "Retail", "11-50")
    assert choose_firmographics(None, None, None, normalized_lead()).firmographics.source == "none"


def test_reference_domains_skip_free_mail() -> None:
    lead = normalized_lead(email="a@gmail.com", email_is_free=True, company_domain="https://www.nord.no")
    assert reference_domains(lead, POLICY.free_mail_domains) == ["nord.no"]
    lead2 = normalized_lead(email="a@nord.no", company_domain="nord.no")
    assert reference_domains(lead2, POLICY.free_mail_domains) == ["nord.no"]


async def test_bundled_reference_file_covers_demo_domains() -> None:
    enricher = ReferenceFileEnricher()
    assert len(enricher) >= 300
    found = await enricher.lookup(["equinor.com", "unknown.example"])
    assert set(found) == {"equinor.com"}
    assert found["equinor.com"].industry == "Energy"
    assert found["equinor.com"].size_band == "10001+"


def test_reference_file_errors_name_the_line(tmp_path) -> None:
    bad = tmp_path / "f.csv"
    bad.write_text("domain,company,industry,employees,country\nnord.no,Nord,Energy,many,NO\n")
    with pytest.raises(ReferenceDataError, match=r"f.csv:2: employees 'many'"):
        ReferenceFileEnricher(bad)
    missing = tmp_path / "g.csv"
    missing.write_text("domain,company\n")
    with pytest.raises(ReferenceDataError, match="missing columns"):
        ReferenceFileEnricher(missing)


def test_policy_validation_names_the_bad_field() -> None:
    raw = copy.deepcopy(RAW)
    raw["matching"]["fuzzy_threshold"] = 120
    with pytest.raises(PolicyError, match=r"matching\.fuzzy_threshold"):
        parse_policy(raw)
    raw = copy.deepcopy(RAW)
    raw["default_country_timezones"]["NO"] = "Europe/Olso"
    with pytest.raises(PolicyError, match="Europe/Olso"):
        parse_policy(raw)
    raw = copy.deepcopy(RAW)
    raw["matching"]["confidence"].pop("phone")
    with pytest.raises(PolicyError, match="confidence missing for: \\['phone'\\]"):
        parse_policy(raw)
    raw = copy.deepcopy(RAW)
    raw["clent_type"] = {}
    with pytest.raises(PolicyError, match="clent_type"):
        parse_policy(raw)


def test_policy_file_that_is_not_yaml(tmp_path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text("version: [unclosed")
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(p)
