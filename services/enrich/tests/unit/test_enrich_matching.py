from datetime import date

import pytest
from leadflow_contracts import MatchMethod
from leadflow_enrich.adapters.policy_file import load_policy
from leadflow_enrich.domain.index import MirrorIndex
from leadflow_enrich.domain.matching import match_account
from leadflow_enrich.testing import account, contact, normalized_lead

pytestmark = pytest.mark.unit

POLICY = load_policy()
MATCHING = POLICY.matching


def index_of(*records) -> MirrorIndex:
    idx = MirrorIndex(POLICY.free_mail_domains, POLICY.duplicates)
    idx.load(records)
    return idx


def test_email_domain_matches_the_account_website() -> None:
    idx = index_of(
        account("001A", "Nord Logistics AS", website="https://www.nordlog.no"),
        account("001B", "Other AS", website="other.no"),
    )
    d = match_account(normalized_lead(email="kari@nordlog.no", company_name="Something Else"), idx, MATCHING)
    assert d.match.account_id == "001A"
    assert d.match.method is MatchMethod.EMAIL_DOMAIN
    assert d.match.confidence == pytest.approx(0.95)
    assert d.match.account_name == "Nord Logistics AS"
    assert d.match.owner_id == "005OWNER"
    assert "email_domain" in d.reason


def test_website_domain_matches_when_the_email_is_free_mail() -> None:
    idx = index_of(account("001A", "Nord Logistics AS", website="nordlog.no"))
    lead = normalized_lead(email="kari@gmail.com", email_is_free=True, company_domain="https://nordlog.no/kontakt")
    d = match_account(lead, idx, MATCHING)
    assert d.match.method is MatchMethod.WEBSITE_DOMAIN
    assert d.match.account_id == "001A"


def test_free_mail_domains_never_match_even_if_an_account_lists_one() -> None:
    idx = index_of(account("001A", "Hobby AS", website="gmail.com"), contact("003A", "001A", "someone@gmail.com"))
    lead = normalized_lead(email="x@gmail.com")  # intake flag missing: the policy list still applies
    d = match_account(lead, idx, MATCHING)
    assert d.match.method is MatchMethod.NONE
    assert d.match.account_id is None
    assert d.account is None


def test_domain_known_only_from_contacts_matches_with_a_lower_confidence() -> None:
    idx = index_of(
        account("001A", "Nord Logistics AS", website="https://www.nord-logistics.example"),
        contact("003A", "001A", "ola@nordlogistics.example"),
    )
    d = match_account(normalized_lead(email="kari@nordlogistics.example"), idx, MATCHING)
    assert d.match.account_id == "001A"
    assert d.match.method is MatchMethod.EMAIL_DOMAIN
    assert d.match.confidence == pytest.approx(0.90)


def test_known_contact_email_is_the_strongest_match() -> None:
    idx = index_of(
        account("001A", "Nord AS", website="nord.no"),
        account("001B", "Holding AS"),
        contact("003B", "001B", "Kari@Nord.no"),
    )
    d = match_account(normalized_lead(email="kari@nord.no"), idx, MATCHING)
    assert d.match.account_id == "001B"
    assert d.match.method is MatchMethod.CONTACT_EMAIL
    assert d.match.candidates == 2


def test_exact_normalised_name_ignores_legal_suffix_accents_and_case() -> None:
    idx = index_of(account("001A", "Müller Maschinen GmbH"))
    d = match_account(normalized_lead(company_name="MULLER MASCHINEN"), idx, MATCHING)
    assert d.match.method is MatchMethod.NAME_EXACT
    assert d.match.account_id == "001A"


def test_fuzzy_name_above_threshold_matches_below_does_not() -> None:
    idx = index_of(account("001A", "Nord Logistics AS"), account("001B", "Fjord Foods AS"))
    typo = match_account(normalized_lead(company_name="Nord Logistcs"), idx, MATCHING)
    assert typo.match.method is MatchMethod.NAME_FUZZY
    assert typo.match.account_id == "001A"
    assert 0.6 < typo.match.confidence < 0.75
    far = match_account(normalized_lead(company_name="Nordic Legal"), idx, MATCHING)
    assert far.match.method is MatchMethod.NONE


def test_phone_matches_account_or_contact_phone() -> None:
    idx = index_of(
        account("001A", "Alpha AS", phone="+47 22 33 44 55"),
        account("001B", "Beta AS"),
        contact("003B", "001B", None, mobile_phone="+47 913 00 000"),
    )
    assert match_account(normalized_lead(phone_e164="+4722334455"), idx, MATCHING).match.account_id == "001A"
    d = match_account(normalized_lead(phone_e164="+4791300000"), idx, MATCHING)
    assert (d.match.account_id, d.match.method) == ("001B", MatchMethod.PHONE)


def test_exact_domain_beats_fuzzy_and_exact_name() -> None:
    idx = index_of(
        account("001A", "Nord Logistics AS", website="other-domain.no", key_account=True),
        account("001Z", "Completely Different AS", website="nordlog.no"),
    )
    d = match_account(normalized_lead(email="a@nordlog.no", company_name="Nord Logistics"), idx, MATCHING)
    assert d.match.account_id == "001Z"
    assert d.match.method is MatchMethod.EMAIL_DOMAIN
    assert d.match.candidates == 2
    assert "stronger method" in d.reason


def test_same_method_key_account_beats_others() -> None:
    idx = index_of(
        account("001A", "Nord AS", website="nord.no", last_activity=date(2025, 12, 30)),
        account("001B", "Nord Holding AS", website="nord.no", key_account=True, last_activity=date(2020, 1, 1)),
    )
    d = match_account(normalized_lead(email="a@nord.no"), idx, MATCHING)
    assert d.match.account_id == "001B"
    assert d.match.key_account is True
    assert "key account" in d.reason


def test_same_method_most_recently_active_wins_then_lowest_id() -> None:
    idx = index_of(
        account("001B", "Nord AS", website="nord.no", last_activity=date(2025, 12, 30)),
        account("001A", "Nord Sales AS", website="nord.no", last_activity=date(2025, 1, 1)),
        account("001C", "Nord Service AS", website="nord.no", last_activity=None),
    )
    d = match_account(normalized_lead(email="a@nord.no"), idx, MATCHING)
    assert d.match.account_id == "001B"
    assert "most recently active" in d.reason
    tie = index_of(
        account("001D", "Nord AS", website="nord.no", last_activity=date(2025, 5, 5)),
        account("001C", "Nord Two AS", website="nord.no", last_activity=date(2025, 5, 5)),
    )
    d2 = match_account(normalized_lead(email="a@nord.no"), tie, MATCHING)
    assert d2.match.account_id == "001C"
    assert "lowest id" in d2.reason


def test_result_does_not_depend_on_load_order() -> None:
    recs = [
        account(f"001{i:03d}", f"Nord {i} AS", website="nord.no", last_activity=date(2025, 6, 1)) for i in range(20)
    ]
    forward = match_account(normalized_lead(email="a@nord.no"), index_of(*recs), MATCHING)
    backward = match_account(normalized_lead(email="a@nord.no"), index_of(*reversed(recs)), MATCHING)
    assert forward.match == backward.match
    assert forward.match.account_id == "001000"


def test_index_updates_move_and_remove_keys() -> None:
    idx = index_of(account("001A", "Nord AS", website="nord.no"))
    idx.apply(account("001A", "Nord AS", website="nord-new.no"))
    assert match_account(normalized_lead(email="a@nord.no"), idx, MATCHING).match.method is not MatchMethod.EMAIL_DOMAIN
    assert match_account(normalized_lead(email="a@nord-new.no"), idx, MATCHING).match.account_id == "001A"
    idx.remove("Account", "001A")
    assert match_account(normalized_lead(email="a@nord-new.no", company_name="Nord"), idx, MATCHING).account is None
    assert idx.name_blocks == {} and idx.account_by_name == {}


def test_contact_domain_counts_survive_partial_removal() -> None:
    idx = index_of(
        account("001A", "Nord AS"), contact("003A", "001A", "a@nord.no"), contact("003B", "001A", "b@nord.no")
    )
    idx.remove("Contact", "003A")
    assert match_account(normalized_lead(email="c@nord.no"), idx, MATCHING).match.account_id == "001A"
    idx.remove("Contact", "003B")
    assert match_account(normalized_lead(email="c@nord.no"), idx, MATCHING).account is None


def test_no_keys_no_match() -> None:
    idx = index_of(account("001A", "Nord AS", website="nord.no"))
    d = match_account(normalized_lead(), idx, MATCHING)
    assert d.match.method is MatchMethod.NONE and d.match.candidates == 0
    assert d.reason.startswith("no account matched")
