import pytest
from leadflow_intake.domain.contact import ContactError, normalise_email, normalise_phone
from leadflow_intake.domain.geo import domain_from_website, normalise_country, normalise_language
from leadflow_intake.domain.names import normalise_name

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("raw", "surname", "expected"),
    [
        ("  anna  ", False, "Anna"),
        ("MCDONALD", True, "McDonald"),
        ("mcdonald", True, "McDonald"),
        ("McDonald", True, "McDonald"),
        ("van der berg", True, "van der Berg"),
        ("VAN DER BERG", True, "van der Berg"),
        ("o'neil", True, "O'Neil"),
        ("O'NEIL", True, "O'Neil"),
        ("anne-marie", False, "Anne-Marie"),
        ("MÜLLER-LÜDENSCHEIDT", True, "Müller-Lüdenscheidt"),
        ("DeShawn", False, "DeShawn"),
        ("MacLeod", True, "MacLeod"),
        ("jean   PAUL", False, "Jean Paul"),
        ("la toya", False, "La Toya"),
        ("de la cruz", True, "de la Cruz"),
        ("van", True, "Van"),
        ("ØSTERGAARD", True, "Østergaard"),
        ("   ", False, None),
        (None, False, None),
    ],
)
def test_names_are_trimmed_and_capitalised_sensibly(raw, surname, expected):
    assert normalise_name(raw, surname=surname) == expected


@pytest.mark.parametrize(
    ("raw", "address", "domain", "free"),
    [
        (" Max.Mustermann@Example.COM ", "Max.Mustermann@example.com", "example.com", False),
        ("mailto:anna@GMAIL.com", "anna@gmail.com", "gmail.com", True),
        ("<ops+leads@acme.co.uk>", "ops+leads@acme.co.uk", "acme.co.uk", False),
        ("jörg@bücher.de", "jörg@bücher.de", "bücher.de", False),
        ("someone@web.de", "someone@web.de", "web.de", True),
    ],
)
def test_emails_keep_the_local_part_lower_case_the_domain_and_detect_free_mail(raw, address, domain, free):
    email = normalise_email(raw)
    assert (email.address, email.domain, email.is_free) == (address, domain, free)
    assert email.canonical == address.lower()


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("not-an-email", "exactly one @"),
        ("a@@b.com", "exactly one @"),
        ("a@b", "no dot"),
        ("a..b@c.com", "misplaced dot"),
        (".a@c.com", "misplaced dot"),
        ("a b@c.com", "whitespace"),
        ("a@-bad.com", "invalid label"),
        ("a@host.123", "top-level"),
        ("@example.com", "before @ is empty"),
        ("x" * 65 + "@example.com", "longer than 64"),
        ('"quoted"@example.com', "not allowed"),
    ],
)
def test_invalid_emails_say_what_is_wrong_without_echoing_the_value(raw, why):
    with pytest.raises(ContactError) as err:
        normalise_email(raw)
    assert why in str(err.value)
    assert raw.strip() not in str(err.value)


@pytest.mark.parametrize(
    ("raw", "region", "e164", "country"),
    [
        ("030 1234567", "DE", "+49301234567", "DE"),
        ("+49 (0)30 1234567", None, "+49301234567", "DE"),
        ("0049 30 1234567", None, "+49301234567", "DE"),
        ("020 7946 0958", "GB", "+442079460958", "GB"),
        ("+1 650-253-0000", "DE", "+16502530000", "US"),
        ("(650) 253-0000 ext. 12", "US", "+16502530000", "US"),
        ("01534 712345", "GB", "+441534712345", "JE"),  # +44 shared by GB, JE, GG, IM
        ("(416) 967-1111", "US", "+14169671111", "CA"),  # +1 shared by US, CA, …
    ],
)
def test_phones_become_e164_in_the_given_region(raw, region, e164, country):
    phone = normalise_phone(raw, region)
    assert (phone.e164, phone.country) == (e164, country)


@pytest.mark.parametrize(
    ("raw", "region", "why"),
    [
        ("030 1234567", None, "no country code"),
        ("12", "DE", "not a valid number"),
        ("hello", "DE", "cannot be read"),
        ("+49 1", None, "too short"),
        ("+49 30 1", None, "not a valid number"),
        ("+999 1234567", None, "unknown country code"),
    ],
)
def test_invalid_phones_are_refused_with_a_reason(raw, region, why):
    with pytest.raises(ContactError) as err:
        normalise_phone(raw, region)
    assert why in str(err.value)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("de", "DE"),
        ("DEU", "DE"),
        ("Germany", "DE"),
        ("Deutschland", "DE"),
        ("the Netherlands", "NL"),
        ("U.S.A.", "US"),
        ("UK", "GB"),
        ("United Kingdom", "GB"),
        ("Korea, Republic of", "KR"),
        ("Türkiye", "TR"),
    ],
)
def test_countries_become_iso_alpha2(raw, code):
    assert normalise_country(raw) == code


def test_unknown_country_is_an_error():
    with pytest.raises(ContactError, match="not an ISO 3166"):
        normalise_country("Atlantis")


@pytest.mark.parametrize(
    ("raw", "tag"),
    [
        ("de", "de"),
        ("DE", "de"),
        ("de_de", "de-DE"),
        ("German", "de"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("nb-no", "nb-NO"),
        ("es-419", "es-419"),
        ("en-gb", "en-GB"),
    ],
)
def test_language_tags_follow_bcp47_case(raw, tag):
    assert normalise_language(raw) == tag


@pytest.mark.parametrize("raw", ["xx-YY", "1234", "klingonish"])
def test_unknown_languages_are_errors(raw):
    with pytest.raises(ContactError):
        normalise_language(raw)


@pytest.mark.parametrize(
    ("raw", "domain"),
    [
        ("www.Acme.com", "acme.com"),
        ("https://user@www.acme.co.uk:8080/path?q=1", "acme.co.uk"),
        ("acme.de/", "acme.de"),
        ("HTTP://Shop.Acme.DE", "shop.acme.de"),
    ],
)
def test_company_domain_from_website(raw, domain):
    assert domain_from_website(raw) == domain


@pytest.mark.parametrize("raw", ["not a url", "http://", "localhost"])
def test_websites_without_a_usable_host_are_errors(raw):
    with pytest.raises(ContactError):
        domain_from_website(raw)
