"""The classes of issue 11, tested as classes: every CLDR name of every market country, every ISO 639-1
code and English name, e-mails in every script, phones of every region in every format."""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime

import phonenumbers
import pycountry
import pytest
from babel import Locale
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from leadflow_contracts import LeadSubmitted, RejectionReason
from leadflow_contracts.lead import FREE_TEXT_MAX
from leadflow_intake.domain.contact import ContactError
from leadflow_intake.domain.countries import MARKET_LOCALES, NOT_COUNTRIES, resolve_country
from leadflow_intake.domain.decide import Accepted, DecisionContext, decide
from leadflow_intake.domain.emails import SALESFORCE_EMAIL_MAX_LENGTH, EmailPolicy, decide_email
from leadflow_intake.domain.languages import resolve_language
from leadflow_intake.domain.parsing import JsonLimits, Parsed, Unparsed, parse_submission
from leadflow_intake.domain.rejections import Rejection

pytestmark = pytest.mark.unit
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
MARKET_COUNTRIES = (
    "GB",
    "IE",
    "NO",
    "SE",
    "DK",
    "FI",
    "DE",
    "AT",
    "CH",
    "NL",
    "BE",
    "FR",
    "ES",
    "IT",
    "PT",
    "PL",
    "RO",
    "US",
)


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


# -- countries -------------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", MARKET_LOCALES)
def test_every_country_name_in_every_market_language_resolves_in_any_case_with_and_without_diacritics(locale):
    names = Locale.parse(locale).territories
    failures = []
    for code, name in names.items():
        if len(code) != 2 or not code.isalpha() or code in NOT_COUNTRIES:
            continue
        for variant in {name, name.upper(), name.lower(), strip_accents(name), f"  {name}  "}:
            try:
                got = resolve_country(variant)
            except ContactError:
                failures.append((variant, code, None))
                continue
            # a few names are shared by two territories across languages; the market's own language wins
            if got != code and resolve_country(name) == code:
                failures.append((variant, code, got))
    assert failures == []


def test_iso_codes_alpha2_and_alpha3_resolve():
    for country in pycountry.countries:
        assert resolve_country(country.alpha_2) == country.alpha_2
        assert resolve_country(country.alpha_3.lower()) == country.alpha_2


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("România", "RO"),
        ("ROMANIA", "RO"),
        ("Romania", "RO"),
        ("Rumänien", "RO"),
        ("Roemenië", "RO"),
        ("Rumunia", "RO"),
        ("Norge", "NO"),
        ("Noreg", "NO"),
        ("Tyskland", "DE"),
        ("oesterreich", "AT"),
        ("Osterrike", "AT"),
        ("Danmark", "DK"),
        ("Suomi", "FI"),
        ("Sverige", "SE"),
        ("Holland", "NL"),
        ("U.S.A.", "US"),
        ("Ελλάδα", "GR"),
        ("Россия", "RU"),
        ("Polska", "PL"),
        ("the Netherlands", "NL"),
        ("EL", "GR"),
        ("Republic of Korea", "KR"),
    ],
)
def test_local_names_people_type(raw, code):
    assert resolve_country(raw) == code


@pytest.mark.parametrize(
    "raw",
    ["Atlantis", "Narnia", "Europe", "EU", "ZZ", "123", "-", "Georgia, USA", "Paris, Texas", "XX-YY", "Narnia / Oz"],
)
def test_an_unknown_country_is_an_error_not_a_guess(raw):
    with pytest.raises(ContactError):
        resolve_country(raw)


def test_every_iso_3166_2_subdivision_code_resolves_to_its_country():
    """ "DE-BY", "GB-SCT", "ES-CT", "NO-03": forms and CRMs that store a region code in the country field."""
    wrong = []
    for sub in pycountry.subdivisions:
        for written in (sub.code, sub.code.lower()):
            try:
                got = resolve_country(written)
            except ContactError:
                got = None
            if got != sub.country_code:
                wrong.append((written, got, sub.country_code))
    assert len(list(pycountry.subdivisions)) > 4000 and wrong == []


def test_iso_names_written_in_natural_order_resolve():
    """ISO writes "Korea, Republic of", "Iran, Islamic Republic of"; people write them the other way round."""
    inverted = [c for c in pycountry.countries if ", " in c.name]
    assert len(inverted) >= 10
    for country in inverted:
        head, _, tail = country.name.partition(", ")
        assert resolve_country(f"{tail} {head}") == country.alpha_2, country.name


@pytest.mark.parametrize(("first", "second"), [("fr", "nl"), ("de", "fr"), ("fr", "it"), ("nb", "en"), ("sv", "fi")])
def test_a_country_written_in_two_languages_or_with_its_code_or_a_city_resolves(first, second):
    """Belgium and Switzerland write bilingual addresses ("Belgique / België", "Schweiz/Suisse"); forms add the
    code ("Deutschland (DE)") or the city ("Munich, Germany"). The parts that name a country must agree."""
    one, two = Locale.parse(first).territories, Locale.parse(second).territories
    wrong = []
    for country in pycountry.countries:
        code = country.alpha_2
        a, b = one.get(code), two.get(code)
        if not a or not b or resolve_country(a) != code or resolve_country(b) != code:
            continue  # a name shared by two territories: the plain name's own rule decides (tested above)
        for written in (f"{a} / {b}", f"{a}/{b}", f"{a} ({code})", f"{b} [{country.alpha_3}]", f"Springfield, {a}"):
            try:
                got = resolve_country(written)
            except ContactError:
                got = None
            if got != code:
                wrong.append((written, got, code))
    assert wrong == []


# -- languages -------------------------------------------------------------------------------------

ISO_639_1 = sorted(lang.alpha_2 for lang in pycountry.languages if hasattr(lang, "alpha_2"))


def test_sweep_every_iso_639_1_code_and_its_english_name():
    english = Locale("en").languages
    assert len(ISO_639_1) >= 180
    wrong = []
    for code in ISO_639_1:
        by_code = resolve_language(code)
        by_upper = resolve_language(code.upper())
        by_name = resolve_language(english[code])
        # deprecated codes resolve to their replacement (sh → sr-Latn, tl → fil): the name must agree
        if not (by_code == by_upper == by_name) or (by_code != code and code not in {"sh", "tl"}):
            wrong.append((code, english[code], by_code, by_name))
    assert wrong == []


@pytest.mark.parametrize(
    ("raw", "tag"),
    [
        ("en", "en"),
        ("EN", "en"),
        ("English", "en"),
        ("enc", "enc"),
        ("de_DE", "de-DE"),
        ("nb-no", "nb-NO"),
        ("zh_hant_tw", "zh-Hant-TW"),
        ("Deutsch", "de"),
        ("tysk", "de"),
        ("norsk bokmål", "nb"),
        ("română", "ro"),
        ("Nederlands", "nl"),
        ("polski", "pl"),
        ("iw", "he"),
    ],
)
def test_tags_and_names(raw, tag):
    assert resolve_language(raw) == tag


@pytest.mark.parametrize("raw", ["klingonish", "xx", "xx-YY", "1234", "", "   "])
def test_unknown_languages_are_errors(raw):
    with pytest.raises(ContactError):
        resolve_language(raw)


# -- e-mails ---------------------------------------------------------------------------------------

ASCII_LOCAL = st.from_regex(r"[a-z0-9]{1,12}(\.[a-z0-9+_-]{1,8})?", fullmatch=True)
UNICODE_LETTERS = {
    "latin": "àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿąćęłńśźżăâîșț",
    "cyrillic": "абвгдежзийклмнопрстуфхцчшщыэюя",
    "greek": "αβγδεζηθικλμνξοπρστυφχψω",
    "cjk": "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗",
}
SCRIPT = st.sampled_from(sorted(UNICODE_LETTERS))


@st.composite
def unicode_local(draw):
    script = draw(SCRIPT)
    word = draw(st.text(alphabet=UNICODE_LETTERS[script], min_size=1, max_size=10))
    return draw(ASCII_LOCAL)[:3] + word


@st.composite
def idn_domain(draw):
    script = draw(SCRIPT)
    label = draw(st.text(alphabet=UNICODE_LETTERS[script], min_size=2, max_size=10))
    return f"{label}.{draw(st.sampled_from(['de', 'ro', 'com', 'no', 'pl']))}"


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(local=ASCII_LOCAL, domain=idn_domain())
def test_an_idn_domain_is_stored_as_punycode(local, domain):
    verdict = decide_email(f"{local}@{domain}")
    if len(f"{local}@{domain.encode('idna').decode()}") > SALESFORCE_EMAIL_MAX_LENGTH:
        assert verdict.decision == "not_storable"
        return
    assert verdict.decision == "stored_punycode"
    assert verdict.email is not None and verdict.email.address.isascii()
    assert verdict.email.address.split("@")[1].startswith("xn--")
    assert verdict.email.address.split("@")[1].encode().decode("idna") == domain


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(local=unicode_local(), domain=st.one_of(st.just("example.com"), idn_domain()))
def test_a_non_ascii_local_part_is_not_storable_without_eai_and_stored_with_it(local, domain):
    off = decide_email(f"{local}@{domain}")
    assert (off.decision, off.code, off.email) == ("not_storable", "internationalized_email", None)
    on = decide_email(f"{local}@{domain}", EmailPolicy(internationalized=True))
    assert on.decision in {"stored", "stored_punycode"}
    assert on.email is not None and on.email.address.startswith(local)


@settings(deadline=None)
@given(extra=st.integers(min_value=1, max_value=40))
def test_longer_than_80_characters_is_not_storable(extra):
    local = "a" * 60
    domain = "b" * (80 - 61 - 4 + extra) + ".com"
    verdict = decide_email(f"{local}@{domain}")
    assert (verdict.decision, verdict.code) == ("not_storable", "email_too_long")
    fits = decide_email(f"{local}@{'b' * (80 - 61 - 4)}.com")
    assert fits.decision == "stored" and len(fits.email.address) == 80


# -- phones in every region and format -------------------------------------------------------------

REGIONS = sorted(r for r in phonenumbers.SUPPORTED_REGIONS if phonenumbers.example_number(r) is not None)


def submitted(**person_company) -> LeadSubmitted:
    return LeadSubmitted.model_validate(
        {
            "event_id": "e-1",
            "occurred_at": "2026-12-04T10:00:00Z",
            "source": {"system": "s"},
            "person": person_company.get("person", {}),
            "company": person_company.get("company", {}),
        }
    )


def verdict(lead: LeadSubmitted, **ctx) -> Accepted | Rejection:
    return decide(lead, DecisionContext(now=NOW, **ctx))


def test_every_region_national_and_international_formats_with_the_country_named():
    wrong = []
    for region in REGIONS:
        number = phonenumbers.example_number(region)
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        for fmt in (phonenumbers.PhoneNumberFormat.NATIONAL, phonenumbers.PhoneNumberFormat.INTERNATIONAL):
            text = phonenumbers.format_number(number, fmt)
            result = verdict(submitted(person={"phone": text}, company={"country": region}), default_region="DE")
            if not isinstance(result, Accepted) or result.lead.phone_e164 != e164:
                wrong.append((region, text))
    assert wrong == []


def test_every_region_international_number_in_any_written_form_is_verified_without_a_country():
    """ "(+47) 22 12 34 56", "tel:+4722123456", full-width digits from a Japanese or Chinese keyboard: all are
    international form, so no country is needed (phonenumbers decides, not a leading "+")."""
    wrong = []
    for region in REGIONS:
        number = phonenumbers.example_number(region)
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        national = phonenumbers.national_significant_number(number)
        cc = number.country_code
        full_width = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() or c == "+" else c for c in e164)
        for text in (f"(+{cc}) {national}", f"tel:{e164}", full_width, f"+{cc}-{national}", f" +{cc} {national} "):
            result = verdict(submitted(person={"phone": text}))
            if not isinstance(result, Accepted) or result.lead.phone_e164 != e164:
                wrong.append((region, text))
    assert wrong == []


def test_a_number_with_an_unknown_country_code_is_named_so_not_as_missing_one():
    result = verdict(submitted(person={"phone": "+999 1234 5678"}))
    assert isinstance(result, Rejection) and "unknown country code" in result.message
    result = verdict(submitted(person={"phone": "22 12 34 56"}))
    assert isinstance(result, Rejection) and "no country code" in result.message


@pytest.mark.parametrize("region", ["RO", "NO", "NL", "PL", "FR", "SE", "FI", "DK", "PT", "IT", "ES", "GB"])
def test_a_national_number_is_never_made_into_a_default_region_number(region):
    number = phonenumbers.example_number(region)
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    unresolved = verdict(
        submitted(person={"phone": national, "email": "a@b.com"}, company={"country": "Not A Country"}),
        default_region="DE",
    )
    assert isinstance(unresolved, Accepted)
    assert unresolved.lead.phone_e164 is None and unresolved.lead.phone_unverified == national.strip()
    assert unresolved.step.data["phone_status"] == "unverified"
    # with no other contact, an unverified number is not enough
    alone = verdict(submitted(person={"phone": national}, company={"country": "Not A Country"}), default_region="DE")
    assert isinstance(alone, Rejection) and alone.reason is RejectionReason.INVALID_PHONE


def test_with_no_country_only_international_form_is_verified():
    r = verdict(submitted(person={"phone": "+40 721 234 567", "email": "a@b.com"}))
    assert isinstance(r, Accepted) and r.lead.phone_e164 == "+40721234567" and r.lead.phone_country == "RO"
    r = verdict(submitted(person={"phone": "0040 721 234 567", "email": "a@b.com"}))
    assert isinstance(r, Accepted) and r.lead.phone_e164 == "+40721234567"
    r = verdict(submitted(person={"phone": "0721 234 567", "email": "a@b.com"}))
    assert isinstance(r, Accepted) and r.lead.phone_e164 is None and r.lead.phone_unverified == "0721 234 567"


def test_the_romanian_lead_of_the_issue():
    lead = submitted(person={"phone": "0721 234 567", "email": "ion.popescu@firma.ro"}, company={"country": "România"})
    r = verdict(lead, default_region="DE")
    assert isinstance(r, Accepted)
    assert (r.lead.country, r.lead.phone_e164, r.lead.phone_country) == ("RO", "+40721234567", "RO")


# -- e-mail decisions inside the lead decision -----------------------------------------------------


def test_a_lead_whose_only_problem_is_an_unstorable_email_is_accepted_without_it():
    r = verdict(submitted(person={"email": "chloé.garcía@exemple.fr", "phone": "+33 1 23 45 67 89"}))
    assert isinstance(r, Accepted)
    assert r.lead.email is None and r.lead.email_original == "chloé.garcía@exemple.fr"
    assert r.email_decision == "not_storable" and r.dropped == ("person.email",)
    assert r.step.data["email_original"] == "chloé.garcía@exemple.fr"
    assert r.step.data["email_not_stored_because"] == "internationalized_email"
    assert any("email_original" in n for n in r.notes)
    with_eai = verdict(
        submitted(person={"email": "chloé.garcía@exemple.fr", "phone": "+33 1 23 45 67 89"}),
        email_policy=EmailPolicy(internationalized=True),
    )
    assert isinstance(with_eai, Accepted) and with_eai.lead.email == "chloé.garcía@exemple.fr"


def test_an_unstorable_email_alone_still_keeps_the_lead_but_an_invalid_one_does_not():
    r = verdict(submitted(person={"email": "иван@пример.рф"}))
    assert isinstance(r, Accepted) and r.lead.email is None and r.lead.email_original == "иван@пример.рф"
    assert r.email_decision == "not_storable" and r.step.data["email_not_stored_because"] == "internationalized_email"
    long = "a" * 64 + "@" + "b" * 20 + ".com"
    r = verdict(submitted(person={"email": long}))
    assert (
        isinstance(r, Accepted)
        and r.lead.email_original == long
        and r.step.data["email_not_stored_because"] == ("email_too_long")
    )
    r = verdict(submitted(person={"email": "eva@@bad.no"}))
    assert isinstance(r, Rejection) and r.reason is RejectionReason.INVALID_EMAIL
    assert r.errors[0]["type"] == "invalid_email"
    r = verdict(submitted(person={"email": "eva@@bad.no", "phone": "0721 234 567"}, company={"country": "Atlantis"}))
    assert isinstance(r, Rejection) and [e["field"] for e in r.errors] == ["person.email", "person.phone"]
    r = verdict(submitted(person={"email": "иван@пример.рф"}), strict_contact=True)
    assert isinstance(r, Rejection) and r.reason is RejectionReason.INVALID_EMAIL


def test_an_idn_domain_email_is_stored_in_punycode_on_the_lead():
    r = verdict(submitted(person={"email": "info@bücher.de"}))
    assert isinstance(r, Accepted)
    assert (r.lead.email, r.lead.email_domain, r.email_decision) == (
        "info@xn--bcher-kva.de",
        "xn--bcher-kva.de",
        "stored_punycode",
    )


# -- hostile input ---------------------------------------------------------------------------------


def _parse(raw: bytes) -> Parsed | Unparsed:
    return parse_submission(raw, max_bytes=64 * 1024, limits=JsonLimits(max_depth=32, max_items=1000))


BASE = (
    b'{"event_id":"h-1","occurred_at":"2026-12-04T10:00:00Z","source":{"system":"s"},"person":{"phone":"+4930123456"}'
)


@pytest.mark.parametrize("depth", [33, 100, 5000, 20000])
def test_deep_nesting_is_too_deep_never_a_recursion_error(depth):
    for raw in (b"[" * depth + b"]" * depth, BASE + b',"original":{"a":' + b"[" * depth + b"]" * depth + b"}}"):
        result = _parse(raw)
        assert isinstance(result, Unparsed), depth
        assert result.rejection.reason is RejectionReason.TOO_DEEP
        assert "Recursion" not in result.rejection.message


def test_huge_arrays_are_too_many_items():
    raw = BASE + b',"original":{"rows":[' + b",".join([b"1"] * 5000) + b"]}}"
    result = _parse(raw)
    assert isinstance(result, Unparsed) and result.rejection.reason is RejectionReason.TOO_MANY_ITEMS
    assert result.rejection.field == "original.rows"


def test_huge_strings_are_string_too_long_naming_the_field():
    raw = BASE[:-1] + b',"first_name":"' + b"x" * 5000 + b'"}}'
    result = _parse(raw)
    assert isinstance(result, Unparsed) and result.rejection.reason is RejectionReason.STRING_TOO_LONG
    assert result.rejection.field == "person.first_name"
    raw = BASE + b',"original":{"blob":"' + b"y" * 40000 + b'"}}'
    result = _parse(raw)
    assert isinstance(result, Unparsed) and result.rejection.reason is RejectionReason.STRING_TOO_LONG
    assert result.rejection.field == "original.blob"


_FREE_TEXT = [
    ("person", "first_name", "first_name"),
    ("person", "last_name", "last_name"),
    ("person", "job_title", "job_title"),
    ("company", "name", "company_name"),
    ("company", "industry", "industry"),
    ("company", "region", "region"),
    ("company", "city", "city"),
]


@pytest.mark.parametrize(("part", "key", "normalised"), _FREE_TEXT)
@pytest.mark.parametrize("script", ["Ab", "Øå", "Ψω", "Жы", "山田", "😀"])
def test_a_value_longer_than_its_salesforce_field_costs_no_lead_and_reaches_the_lead_whole(
    part, key, normalised, script
):
    """Salesforce's fields are short (FirstName 40, Title 128, Company 255…): that is crm-sync's to fit; intake
    accepts up to FREE_TEXT_MAX characters and hands the value on whole. One more is broken input, named."""
    value = (script * FREE_TEXT_MAX)[:FREE_TEXT_MAX]
    raw = json.dumps(
        {
            "event_id": "long-1",
            "occurred_at": "2026-12-04T10:00:00Z",
            "source": {"system": "s"},
            "person": {"email": "kari@fjord.example", **({key: value} if part == "person" else {})},
            "company": {key: value} if part == "company" else {},
        }
    ).encode()
    parsed = _parse(raw)
    assert isinstance(parsed, Parsed), parsed
    result = verdict(parsed.lead)
    assert isinstance(result, Accepted), result
    kept = getattr(result.lead, normalised)
    assert kept is not None and len(kept) >= FREE_TEXT_MAX - 2  # whitespace tidied, case fixed, never cut
    over = json.loads(raw)
    over[part][key] = value + script[0]
    rejected = _parse(json.dumps(over).encode())
    assert isinstance(rejected, Unparsed) and rejected.rejection.reason is RejectionReason.STRING_TOO_LONG
    assert rejected.rejection.field == f"{part}.{key}"


def test_a_normal_original_passes():
    assert isinstance(_parse(BASE + b',"original":{"a":[1,2,{"b":"c"}]}}'), Parsed)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    raw=st.one_of(
        st.emails(),
        st.builds(lambda local, domain: f"{local}@{domain}", unicode_local(), idn_domain()),
        st.builds(lambda local, domain: f"{local}@{domain}", ASCII_LOCAL, idn_domain()),
        st.text(max_size=90),
    ),
    eai=st.booleans(),
)
def test_whatever_is_stored_is_what_salesforce_accepts(raw, eai):
    verdict = decide_email(raw, EmailPolicy(internationalized=eai))
    if verdict.email is None:
        assert verdict.decision in {"not_storable", "invalid"} and verdict.reason and verdict.code
        return
    address = verdict.email.address
    local, _, domain = address.partition("@")
    assert len(address) <= SALESFORCE_EMAIL_MAX_LENGTH and address.count("@") == 1
    assert domain.isascii() and domain == domain.lower()  # IDN domains always in punycode
    assert local.isascii() or eai
    assert verdict.decision == (
        "stored" if raw.strip().rpartition("@")[2].lower().rstrip(".") == domain else "stored_punycode"
    ) or raw.strip().lower().startswith(("mailto:", "<"))


@pytest.mark.parametrize("address", ["chloé.garcía@exemple.fr", "info@bücher.de", "Anna@Example.COM"])
def test_a_suppressed_person_stays_suppressed_whatever_salesforce_can_store(address):
    from leadflow_intake.domain.suppression import SuppressionList, suppression_hash
    from leadflow_intake.hash_contact import normalised

    suppression = SuppressionList(frozenset({suppression_hash(normalised(address, None))}))
    for written in (address, address.upper(), f"  <{address}> "):
        r = verdict(submitted(person={"email": written, "phone": "+33 1 23 45 67 89"}), suppression=suppression)
        assert isinstance(r, Rejection) and r.reason is RejectionReason.SUPPRESSED, written


# ---- one Unicode spelling, and addresses as they are pasted -------------------------------------------------
_ACCENTED = "éèêëáàâäåãóòôöõøíìîïúùûüñçšžčćđłńśźżőűăâîșțåæœÿýþðě"


@given(
    local=st.text(alphabet="abcdefghijklmnopqrstuvwxyz" + _ACCENTED, min_size=1, max_size=20),
    domain=st.text(alphabet="abcdefghijklmnopqrstuvwxyz" + _ACCENTED, min_size=1, max_size=20),
    upper=st.booleans(),
)
def test_an_address_written_with_combining_accents_gets_the_verdict_of_its_composed_form(local, domain, upper):
    composed = f"{local}@{domain}.no"
    if upper:
        composed = composed.upper()
    decomposed = unicodedata.normalize("NFD", composed)
    for policy in (EmailPolicy(), EmailPolicy(internationalized=True)):
        assert decide_email(decomposed, policy) == decide_email(unicodedata.normalize("NFC", composed), policy)


@given(first=st.text(alphabet="abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ" + _ACCENTED, min_size=1, max_size=30))
def test_names_and_titles_are_stored_in_one_unicode_spelling(first):
    decomposed = unicodedata.normalize("NFD", first)
    a = verdict(submitted(person={"email": "a@b.no", "first_name": decomposed, "job_title": decomposed}))
    b = verdict(submitted(person={"email": "a@b.no", "first_name": first, "job_title": first}))
    assert isinstance(a, Accepted) and isinstance(b, Accepted)
    assert a.lead.first_name == b.lead.first_name and a.lead.job_title == b.lead.job_title
    assert a.lead.first_name is None or unicodedata.is_normalized("NFC", a.lead.first_name)


@pytest.mark.parametrize(
    "written",
    [
        "Anna Berg <anna.berg@example.com>",
        '"Berg, Anna" <anna.berg@example.com>',
        "<anna.berg@example.com>",
        "mailto:anna.berg@example.com",
        "  ANNA.BERG@EXAMPLE.COM  ",
    ],
)
def test_an_address_pasted_with_its_display_name_or_brackets_is_the_address(written):
    result = verdict(submitted(person={"email": written}))
    assert isinstance(result, Accepted) and result.lead.email.lower() == "anna.berg@example.com"


# ---- invisible characters from copy and paste ---------------------------------------------------------------
_INVISIBLE = ["\u200b", "\ufeff", "\u00ad", "\u200e", "\u200f", "\u202a", "\u202c", "\u2060", "\u2066", "\u2069"]
"""Zero-width space, BOM, soft hyphen, LRM/RLM, bidi embeddings and isolates, word joiner (all Unicode Cf)."""
_SPACES = ["\u00a0", "\u202f", "\u2009", "\u3000", "\u2007"]
"""No-break, narrow no-break (the French separator), thin, ideographic and figure spaces (all Unicode Zs)."""


@settings(max_examples=200, deadline=None)
@given(data=st.data(), region=st.sampled_from(MARKET_COUNTRIES))
def test_invisible_characters_and_unusual_spaces_pasted_into_contact_data_change_nothing(data, region):
    number = phonenumbers.example_number(region)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    written = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    space = data.draw(st.sampled_from(_SPACES))
    phone = list(written.replace(" ", space))
    for _ in range(data.draw(st.integers(1, 3))):
        phone.insert(data.draw(st.integers(0, len(phone))), data.draw(st.sampled_from(_INVISIBLE)))
    email = list("kari.nordmann@fjord-logistics.example")
    for _ in range(data.draw(st.integers(1, 3))):
        email.insert(data.draw(st.integers(0, len(email))), data.draw(st.sampled_from(_INVISIBLE)))
    name = list("Kari Nordmann")
    name.insert(data.draw(st.integers(0, len(name))), data.draw(st.sampled_from(_INVISIBLE)))
    result = verdict(
        submitted(
            person={"phone": "".join(phone), "email": space + "".join(email), "first_name": "".join(name)},
            company={"country": data.draw(st.sampled_from(_INVISIBLE)) + region},
        )
    )
    assert isinstance(result, Accepted), result
    assert result.lead.phone_e164 == e164 and result.lead.country == region
    assert result.lead.email == "kari.nordmann@fjord-logistics.example"
    assert result.lead.first_name == "Kari Nordmann"


def test_the_joiners_that_spell_words_stay_in_names():
    """Persian and Indic names are written with the zero-width non-joiner; emoji sequences with the joiner."""
    persian = "\u0645\u06cc\u200c\u0631\u0636\u0627"  # one name, two parts kept apart by ZWNJ
    result = verdict(submitted(person={"email": "a@b.no", "first_name": persian, "job_title": "👨\u200d💻 Lead"}))
    assert isinstance(result, Accepted)
    assert result.lead.first_name == persian and result.lead.job_title == "👨\u200d💻 Lead"
