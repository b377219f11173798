import pytest
from leadflow_enrich.domain.normalise import (
    domain_of,
    fold_accents,
    normalise_company_name,
    normalise_email,
    normalise_phone,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Nord Logistics AS", "nord logistics"),
        ("NORD LOGISTICS", "nord logistics"),
        ("Nord-Logistics A.S.", "nord logistics"),
        ("Nord Logistics ASA", "nord logistics"),
        ("Alpen Pharma GmbH", "alpen pharma"),
        ("Alpen Pharma GmbH & Co. KG", "alpen pharma"),
        ("Rhein Energy AG", "rhein energy"),
        ("Thames Media Ltd.", "thames media"),
        ("Thames Media Limited", "thames media"),
        ("Acme, Inc.", "acme"),
        ("Acme LLC", "acme"),
        ("Polder Foods B.V.", "polder foods"),
        ("Polder Foods BV", "polder foods"),
        ("Delta Retail N.V.", "delta retail"),
        ("Lumen Systems S.A.", "lumen systems"),
        ("Lumen Systems SARL", "lumen systems"),
        ("Lumen Systems S.à r.l.", "lumen systems"),
        ("Baltic Bygg AB", "baltic bygg"),
        ("Baltic Bygg AB (publ)", "baltic bygg"),
        ("Boreal Energy Oy", "boreal energy"),
        ("Boreal Energy Oyj", "boreal energy"),
        ("Vega Maritime ApS", "vega maritime"),
        ("Vega Maritime A/S", "vega maritime"),
        ("Müller Maschinen GmbH", "muller maschinen"),
        ("Bjørnø Fisk AS", "bjorno fisk"),
        ("Société Générale SA", "societe generale"),
        ("Straße & Söhne", "strasse and sohne"),
        ("Marks & Spencer plc", "marks and spencer"),
        ("Marks and Spencer", "marks and spencer"),
    ],
)
def test_company_names_normalise_suffixes_accents_punctuation_and_case(raw: str, expected: str) -> None:
    assert normalise_company_name(raw) == expected


def test_a_name_that_is_only_a_legal_form_is_kept() -> None:
    assert normalise_company_name("AB") == "ab"
    assert normalise_company_name("") == ""
    assert normalise_company_name(None) == ""
    assert normalise_company_name("!!!") == ""


def test_suffix_words_inside_a_name_stay() -> None:
    assert normalise_company_name("AS Consulting Norge AS") == "as consulting norge"
    assert normalise_company_name("Co-operative Bank Ltd") == "co operative bank"


def test_fold_accents_maps_letters_without_decomposition() -> None:
    assert fold_accents("Æøå Œuvre Łódź Þór") == "Aeoa Oeuvre Lodz Thor"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.Nord-Logistics.example/about?x=1", "nord-logistics.example"),
        ("http://nord.no", "nord.no"),
        ("www.nord.no/", "nord.no"),
        ("nord.no", "nord.no"),
        ("ola.nordmann@Nord.NO", "nord.no"),
        ("https://user@shop.nord.no:8443/x", "shop.nord.no"),
        ("not a domain", None),
        ("localhost", None),
        ("", None),
        (None, None),
    ],
)
def test_domain_of(raw: str | None, expected: str | None) -> None:
    assert domain_of(raw) == expected


def test_email_and_phone_normalisation() -> None:
    assert normalise_email(" Ola@Nord.NO ") == "ola@nord.no"
    assert normalise_email("no-at-sign") is None
    assert normalise_phone("+47 22 33 44 55") == "+4722334455"
    assert normalise_phone("0047 22334455") == "+4722334455"
    assert normalise_phone("22 33 44 55", "NO") == "+4722334455"
    assert normalise_phone("22 33 44 55") is None
    assert normalise_phone("+47 12") is None
