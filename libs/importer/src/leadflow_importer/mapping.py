"""Map a file's column headers onto LeadSubmitted fields, in the languages leads arrive in."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

# Target names are dotted paths into LeadSubmitted (plus a few import-only helpers).
TARGETS = {
    "person.first_name",
    "person.last_name",
    "person.full_name",
    "person.email",
    "person.phone",
    "person.job_title",
    "person.language",
    "company.name",
    "company.website",
    "company.domain",
    "company.employees",
    "company.industry",
    "company.country",
    "company.region",
    "company.postcode",
    "company.city",
    "consent.may_call",
    "consent.may_email",
    "consent.do_not_call",
    "consent.do_not_email",
    "message",
    "source.record_id",
    "engagement.page_views",
    "engagement.visits",
    "ignore",
}

SYNONYMS: dict[str, list[str]] = {
    "person.email": [
        "email",
        "e-mail",
        "e mail",
        "mail",
        "email address",
        "e-mail address",
        "epost",
        "e-post",
        "e-postadresse",
        "courriel",
        "adresse e-mail",
        "adresse email",
        "correo",
        "correo electronico",
        "emailadres",
        "e-mailadres",
        "e-mail-adresse",
        "sahkoposti",
        "e-post adress",
    ],
    "person.phone": [
        "phone",
        "phone number",
        "telephone",
        "tel",
        "tlf",
        "telefon",
        "telefonnummer",
        "telefoon",
        "telefoonnummer",
        "telephone number",
        "numero de telephone",
        "telefono",
        "mobile",
        "mobil",
        "mobilnummer",
        "handy",
        "gsm",
        "cell",
        "cell phone",
        "mobile phone",
        "puhelin",
    ],
    "person.first_name": [
        "first name",
        "firstname",
        "given name",
        "fornavn",
        "vorname",
        "prenom",
        "voornaam",
        "nombre",
        "etunimi",
        "förnamn",
    ],
    "person.last_name": [
        "last name",
        "lastname",
        "surname",
        "family name",
        "etternavn",
        "nachname",
        "nom",
        "nom de famille",
        "achternaam",
        "apellido",
        "apellidos",
        "sukunimi",
        "efternamn",
    ],
    "person.full_name": [
        "name",
        "full name",
        "contact",
        "contact name",
        "navn",
        "naam",
        "nom complet",
        "kontaktperson",
        "ansprechpartner",
        "namn",
    ],
    "person.job_title": [
        "title",
        "job title",
        "position",
        "role",
        "tittel",
        "stilling",
        "stillingstittel",
        "funktion",
        "berufsbezeichnung",
        "fonction",
        "poste",
        "functie",
        "cargo",
        "titel",
    ],
    "person.language": ["language", "språk", "sprak", "sprache", "langue", "taal", "idioma"],
    "company.name": [
        "company",
        "company name",
        "organisation",
        "organization",
        "account",
        "firma",
        "firmenname",
        "bedrift",
        "selskap",
        "bedrijf",
        "bedrijfsnaam",
        "companie",
        "compagnie",
        "entreprise",
        "societe",
        "société",
        "empresa",
        "unternehmen",
        "foretag",
        "företag",
        "yritys",
    ],
    "company.website": [
        "website",
        "web",
        "url",
        "web site",
        "homepage",
        "nettside",
        "hjemmeside",
        "webseite",
        "site web",
        "site",
        "sitio web",
    ],
    "company.domain": ["domain", "domene", "domaine"],
    "company.employees": [
        "employees",
        "number of employees",
        "company size",
        "size",
        "ansatte",
        "antall ansatte",
        "mitarbeiter",
        "employes",
        "medewerkers",
        "empleados",
    ],
    "company.industry": ["industry", "sector", "bransje", "branche", "industrie", "secteur", "sector industrial"],
    "company.country": ["country", "land", "pays", "pais", "país", "staat", "country code"],
    "company.region": ["region", "state", "province", "fylke", "bundesland", "provincie", "county"],
    "company.postcode": [
        "zip",
        "zip code",
        "postcode",
        "postal code",
        "post code",
        "postnummer",
        "postnr",
        "plz",
        "postleitzahl",
        "code postal",
        "cp",
        "codigo postal",
    ],
    "company.city": ["city", "town", "by", "sted", "poststed", "stadt", "ort", "ville", "stad", "plaats", "ciudad"],
    "consent.may_call": ["may call", "ok to call", "call consent", "phone opt in", "telefonsamtykke"],
    "consent.may_email": [
        "may email",
        "email opt in",
        "opt in",
        "newsletter",
        "marketing consent",
        "e-postsamtykke",
        "einwilligung",
    ],
    "consent.do_not_call": [
        "do not call",
        "dnc",
        "donotcall",
        "ikke ring",
        "nicht anrufen",
        "ne pas appeler",
        "niet bellen",
    ],
    "consent.do_not_email": ["do not email", "email opt out", "unsubscribed", "opted out"],
    "message": [
        "message",
        "comment",
        "comments",
        "notes",
        "note",
        "kommentar",
        "melding",
        "nachricht",
        "bemerkung",
        "commentaire",
        "opmerking",
        "mensaje",
    ],
    "source.record_id": ["id", "lead id", "record id", "external id"],
}


def normalise_header(header: str) -> str:
    text = unicodedata.normalize("NFKD", header.replace("\ufeff", "")).encode("ascii", "ignore").decode()
    text = re.sub(r"[_\-./]+", " ", text.lower())
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9 ]", "", text)).strip()


_INDEX = {normalise_header(s): target for target, words in SYNONYMS.items() for s in words}


class MappingFile(BaseModel):
    """A user's mapping: ``columns: {"Header in file": "person.email", "Internal": "ignore"}``."""

    model_config = ConfigDict(extra="forbid")
    columns: dict[str, str] = Field(default_factory=dict)
    default_country: str | None = None

    @field_validator("columns")
    @classmethod
    def _known_targets(cls, columns: dict[str, str]) -> dict[str, str]:
        for header, target in columns.items():
            if target not in TARGETS:
                raise ValueError(f"column {header!r}: unknown target {target!r} (known: {sorted(TARGETS)})")
        return columns


def load_mapping(path: Path) -> MappingFile:
    return MappingFile.model_validate(yaml.safe_load(path.read_text()) or {})


def detect(headers: list[str], overrides: MappingFile | None = None) -> dict[int, str]:
    """Column index → target. Overrides win; unknown headers are left out (and reported by the caller)."""
    out: dict[int, str] = {}
    taken: set[str] = set()
    explicit = {normalise_header(k): v for k, v in (overrides.columns if overrides else {}).items()}
    for i, header in enumerate(headers):
        key = normalise_header(header)
        target = explicit.get(key) or _INDEX.get(key)
        if target and target != "ignore" and target not in taken:
            out[i] = target
            taken.add(target)
    return out
