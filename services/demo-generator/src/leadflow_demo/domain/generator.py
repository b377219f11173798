"""A seeded, realistic stream of leads as marketing systems send them. Pure: no I/O, no clock."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

FIRST = ["Anna", "Lars", "Sofie", "Jonas", "Emma", "Lukas", "Chloé", "Pieter", "Ingrid", "Mateo", "Aoife", "Noah"]
LAST = ["Berg", "Müller", "Dubois", "de Vries", "Hansen", "O'Neill", "Schmidt", "Janssen", "Lindqvist", "García"]
TITLES = ["CEO", "Head of Operations", "IT Manager", "Procurement Lead", "Student", "VP Sales", "Analyst", "CFO"]
NEW_COMPANIES = [
    ("Fjordlys Energi AS", "fjordlys.example", "NO", "+47 22 {n:02d} {m:02d} 10", "no", "Energy", 120),
    ("Rheinwerk Logistik GmbH", "rheinwerk.example", "DE", "+49 30 {n:04d}{m:03d}", "de", "Logistics", 800),
    ("Maison Clair SARL", "maisonclair.example", "FR", "+33 1 42 {n:02d} {m:02d} 00", "fr", "Retail", 35),
    ("Polder Data BV", "polderdata.example", "NL", "+31 20 {n:03d} {m:04d}", "nl", "Software", 60),
    ("Thames Analytics Ltd", "thamesanalytics.example", "GB", "+44 20 7{n:03d} {m:04d}", "en", "Software", 250),
    ("Liffey Foods Ltd", "liffeyfoods.example", "IE", "+353 1 {n:03d} {m:04d}", "en", "Food", 15),
]
FREE_MAIL = ["gmail.com", "outlook.com", "yahoo.com", "gmx.de", "hotmail.com"]
SOURCES = [
    ("web_form", 0.40),
    ("callback_request", 0.15),
    ("list_upload", 0.15),
    ("webinar", 0.10),
    ("ad_platform", 0.10),
    ("partner", 0.05),
    ("reactivation", 0.05),
]
TZ_BY_COUNTRY = {
    "NO": "Europe/Oslo",
    "DE": "Europe/Berlin",
    "FR": "Europe/Paris",
    "NL": "Europe/Amsterdam",
    "GB": "Europe/London",
    "IE": "Europe/Dublin",
}


@dataclass(frozen=True)
class KnownContact:
    """A person at an account that exists in Salesforce (from the org)."""

    first_name: str
    last_name: str
    email: str
    company: str
    country: str | None
    phone: str | None = None


@dataclass(frozen=True)
class Generated:
    kind: str  # good | bad | replay
    lead_id: str | None
    key: bytes
    value: bytes
    label: str


class LeadFactory:
    def __init__(self, seed: int, known: list[KnownContact], *, bad_ratio: float, replay_ratio: float) -> None:
        self.rng = random.Random(seed)
        self.known = known
        self.bad_ratio = bad_ratio
        self.replay_ratio = replay_ratio
        self._sent: list[Generated] = []
        self._n = 0

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _source(self) -> str:
        return self.rng.choices([s for s, _ in SOURCES], weights=[w for _, w in SOURCES])[0]

    def next(self, now: datetime) -> Generated:
        self._n += 1
        roll = self.rng.random()
        if roll < self.bad_ratio:
            return self._bad(now)
        if roll < self.bad_ratio + self.replay_ratio and self._sent:
            original = self.rng.choice(self._sent[-200:])
            return Generated("replay", original.lead_id, original.key, original.value, "replay of " + original.label)
        payload, label = self._good(now)
        gen = Generated("good", payload["lead_id"], payload["lead_id"].encode(), json.dumps(payload).encode(), label)
        self._sent.append(gen)
        if len(self._sent) > 1000:
            del self._sent[:500]
        return gen

    def _good(self, now: datetime) -> tuple[dict[str, Any], str]:
        source = self._source()
        lead_id = f"demo-{self._uuid()[:13]}"
        event_id = self._uuid()
        who = self.rng.random()
        if self.known and who < 0.30:
            c = self.rng.choice(self.known)
            person: dict[str, str | None] = {
                "first_name": c.first_name,
                "last_name": c.last_name,
                "email": c.email,
                "phone": c.phone,
                "job_title": self.rng.choice(TITLES),
            }
            company: dict[str, str | int | None] = {"name": c.company, "country": c.country}
            label = f"{source} from a known contact at {c.company}"
        else:
            name, domain, country, phone_fmt, lang, industry, size = self.rng.choice(NEW_COMPANIES)
            first, last = self.rng.choice(FIRST), self.rng.choice(LAST)
            local = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
            email_domain = self.rng.choice(FREE_MAIL) if self.rng.random() < 0.2 else domain
            person = {
                "first_name": first if self.rng.random() > 0.1 else first.upper(),
                "last_name": last,
                "email": f"{local}{self.rng.randint(1, 999)}@{email_domain}",
                "phone": phone_fmt.format(n=self.rng.randint(10, 99), m=self.rng.randint(10, 99)),
                "job_title": self.rng.choice(TITLES),
                "language": lang,
            }
            company = {
                "name": name,
                "website": f"https://www.{domain}",
                "country": country,
                "industry": industry,
                "employees": size,
            }
            label = f"{source} from new prospect at {name}"
        payload: dict[str, Any] = {
            "event_id": event_id,
            "lead_id": lead_id,
            "occurred_at": now.isoformat(),
            "source": {
                "system": "demo-" + source.replace("_", "-"),
                "campaign": {
                    "utm_source": self.rng.choice(["google", "linkedin", "newsletter", "event"]),
                    "utm_campaign": "demo-2026",
                },
            },
            "lead_source": source,
            "person": person,
            "company": company,
            "consent": {"may_call": self.rng.random() > 0.05, "may_email": self.rng.random() > 0.1},
            "engagement": {
                "page_views": self.rng.randint(0, 40),
                "visits": self.rng.randint(0, 8),
                "time_on_site_seconds": round(self.rng.uniform(0, 1800), 1),
                "content_downloads": self.rng.randint(0, 3),
            },
        }
        if source == "callback_request":
            tz = TZ_BY_COUNTRY.get(str(company.get("country") or "GB"), "Europe/London")
            local_now = now.astimezone(ZoneInfo(tz))
            start = (local_now + timedelta(minutes=self.rng.choice([20, 45, 90, 180]))).replace(second=0, microsecond=0)
            payload["callback"] = {
                "start": start.isoformat(),
                "end": (start + timedelta(minutes=30)).isoformat(),
                "timezone": tz,
            }
            payload["message"] = "Please call me back about pricing."
        return payload, label

    def _bad(self, now: datetime) -> Generated:
        choice = self.rng.randrange(4)
        event_id = self._uuid()
        if choice == 0:
            value = b'{"event_id": "' + event_id.encode() + b'", "person": {'
            label = "bad: truncated JSON"
        # Bad records are broken *messages* (what intake dead-letters with a named reason), never leads
        # with unusual contact data: those are real leads and intake keeps them (issue 11).
        elif choice == 1:
            nested: Any = {"leaf": True}
            for _ in range(40):
                nested = {"child": nested}
            value = json.dumps(
                {
                    "event_id": event_id,
                    "occurred_at": now.isoformat(),
                    "source": {"system": "demo"},
                    "person": {"email": "deep@nested.example"},
                    "original": nested,
                }
            ).encode()
            label = "bad: nested too deep"
        elif choice == 2:
            value = json.dumps(
                {
                    "event_id": event_id,
                    "occurred_at": now.isoformat(),
                    "source": {"system": "demo"},
                    "person": {"email": "long@name.example", "last_name": "X" * 5000},
                }
            ).encode()
            label = "bad: string too long"
        else:
            value = json.dumps({"event_id": event_id, "occurred_at": "yesterday", "source": "web"}).encode()
            label = "bad: wrong types"
        return Generated("bad", None, event_id.encode(), value, label)
