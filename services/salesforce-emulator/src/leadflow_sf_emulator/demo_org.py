"""Generate the demo org fixture deterministically: `python -m leadflow_sf_emulator.demo_org [--out PATH]`.

A sales department: a head of sales, key account managers, team leaders with teams of 4–8 sellers
(languages, territories, time zones, weights, working hours), a queue per team plus a finance queue,
a few hundred accounts (key accounts owned by their KAM, regional, dormant, some with overdue debt)
with contacts, and a history of past leads with outcomes. Dates are anchored at ANCHOR so the file
never changes between runs; set the emulator clock near it to make relative date literals meaningful.
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypedDict

from leadflow_sf_emulator.ids import mint
from leadflow_sf_emulator.resources import data_dir
from leadflow_sf_emulator.values import format_datetime

ANCHOR = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)  # a Monday morning


class Team(TypedDict):
    """A sales team of the demo org: its sellers draw languages, time zones and countries from these lists."""

    name: str
    territory: str
    langs: list[list[str]]
    tz: list[str]
    countries: list[str]


TEAMS: list[Team] = [
    {
        "name": "Nordics",
        "territory": "Nordics",
        "langs": [["no", "en"], ["sv", "en"], ["da", "en"], ["no", "sv", "en"], ["fi", "sv", "en"]],
        "tz": ["Europe/Oslo", "Europe/Stockholm", "Europe/Copenhagen", "Europe/Helsinki"],
        "countries": ["Norway", "Sweden", "Denmark", "Finland"],
    },
    {
        "name": "DACH",
        "territory": "DACH",
        "langs": [["de", "en"], ["de"], ["de", "fr", "en"]],
        "tz": ["Europe/Berlin", "Europe/Zurich"],
        "countries": ["Germany", "Austria", "Switzerland"],
    },
    {
        "name": "Benelux",
        "territory": "Benelux",
        "langs": [["nl", "en"], ["nl", "fr", "en"], ["fr", "nl"]],
        "tz": ["Europe/Amsterdam", "Europe/Brussels"],
        "countries": ["Netherlands", "Belgium", "Luxembourg"],
    },
    {
        "name": "UK & Ireland",
        "territory": "UK&I",
        "langs": [["en"], ["en", "fr"], ["en", "es"]],
        "tz": ["Europe/London"],
        "countries": ["United Kingdom", "Ireland"],
    },
]
FIRST = [
    "Ola",
    "Kari",
    "Lars",
    "Ingrid",
    "Erik",
    "Anna",
    "Jonas",
    "Sofie",
    "Lukas",
    "Marie",
    "Thomas",
    "Eva",
    "Pieter",
    "Femke",
    "Sanne",
    "Daan",
    "Claire",
    "Julien",
    "Oliver",
    "Emma",
    "Liam",
    "Aoife",
    "Mikkel",
    "Freja",
    "Elias",
    "Leonie",
    "Felix",
    "Hanna",
    "Noah",
    "Mia",
    "Sven",
    "Astrid",
    "Timo",
    "Aino",
    "Jan",
    "Lotte",
    "Marco",
    "Giulia",
]
LAST = [
    "Hansen",
    "Johansen",
    "Larsen",
    "Nilsson",
    "Berg",
    "Müller",
    "Schmidt",
    "Weber",
    "de Vries",
    "Jansen",
    "Peeters",
    "Dubois",
    "Martin",
    "Smith",
    "Murphy",
    "Kelly",
    "Andersen",
    "Virtanen",
    "Fischer",
    "Bakker",
    "Visser",
    "Maes",
    "Brown",
    "Walsh",
    "Lindqvist",
    "Koch",
    "Wagner",
    "Lambert",
    "Evans",
    "Byrne",
]
COMPANY_A = [
    "Nord",
    "Fjord",
    "Alpen",
    "Rhein",
    "Polder",
    "Thames",
    "Baltic",
    "Atlas",
    "Vega",
    "Orion",
    "Delta",
    "Nova",
    "Stern",
    "Kraft",
    "Lumen",
    "Haven",
    "Summit",
    "Granite",
    "Boreal",
    "Cobalt",
]
COMPANY_B = [
    "Logistics",
    "Foods",
    "Energy",
    "Systems",
    "Bygg",
    "Maritime",
    "Pharma",
    "Retail",
    "Analytics",
    "Machines",
    "Textiles",
    "Media",
    "Finance",
    "Health",
    "Robotics",
    "Chemicals",
    "Transport",
    "Software",
]
SUFFIX = {
    "Norway": "AS",
    "Sweden": "AB",
    "Denmark": "ApS",
    "Finland": "Oy",
    "Germany": "GmbH",
    "Austria": "GmbH",
    "Switzerland": "AG",
    "Netherlands": "B.V.",
    "Belgium": "NV",
    "Luxembourg": "S.A.",
    "United Kingdom": "Ltd",
    "Ireland": "Ltd",
}
INDUSTRIES = [
    "Manufacturing",
    "Retail",
    "Technology",
    "Energy",
    "Shipping",
    "Healthcare",
    "Finance",
    "Construction",
    "Food & Beverage",
    "Transportation",
]
SOURCES = ["Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"]


class _Ids:
    def __init__(self) -> None:
        self.n: dict[str, int] = {}

    def __call__(self, prefix: str) -> str:
        self.n[prefix] = self.n.get(prefix, 0) + 1
        return mint(prefix, self.n[prefix], pod="FX")


def _dt(d: datetime) -> str:
    return format_datetime(d)


def generate(seed: int = 20250602) -> dict[str, Any]:
    rnd = random.Random(seed)
    new_id = _Ids()
    users: list[dict[str, Any]] = []
    used_names: set[tuple[str, str]] = set()

    def person() -> tuple[str, str]:
        while True:
            f, last = rnd.choice(FIRST), rnd.choice(LAST)
            if (f, last) not in used_names:
                used_names.add((f, last))
                return f, last

    created = _dt(ANCHOR - timedelta(days=400))

    def user(
        role: str,
        team: str | None,
        territory: str | None,
        langs: list[str],
        tz: str,
        manager: str | None,
        weight: float = 1.0,
        hours: str = "Mon-Fri 08:00-16:00",
    ) -> dict[str, Any]:
        f, last = person()
        slug = f"{f}.{last}".lower().replace(" ", "").replace("ü", "u")
        u = {
            "Id": new_id("005"),
            "FirstName": f,
            "LastName": last,
            "Username": f"{slug}@leadflow-demo.example",
            "Email": f"{slug}@leadflow-demo.example",
            "Alias": (f[:1] + last[:7]).lower().replace(" ", ""),
            "TimeZoneSidKey": tz,
            "IsActive": True,
            "Role_Name__c": role,
            "Team__c": team,
            "Territory__c": territory,
            "Languages__c": ";".join(langs),
            "Weight__c": weight,
            "Is_Absent__c": False,
            "Working_Hours__c": hours,
            "ManagerId": manager,
            "Title": role,
            "Department": "Sales",
            "CreatedDate": created,
            "LastModifiedDate": created,
            "SystemModstamp": created,
        }
        users.append(u)
        return u

    head = user("Head of Sales", None, "Europe", ["en", "no", "de"], "Europe/Oslo", None, weight=0.2)
    kams = [
        user("Key Account Manager", "Key Accounts", t["territory"], t["langs"][0], t["tz"][0], head["Id"], weight=0.6)
        for t in TEAMS
    ]
    kams[-1]["Is_Absent__c"] = True  # one KAM is on leave: key accounts fall back to another KAM
    finance = user("Finance", "Finance", "Europe", ["en", "de"], "Europe/Berlin", head["Id"], weight=0.0)
    groups: list[dict[str, Any]] = []
    queue_sobjects: list[dict[str, Any]] = []
    members: list[dict[str, Any]] = []
    teams: list[dict[str, Any]] = []
    for i, t in enumerate(TEAMS):
        leader = user(
            "Team Leader",
            t["name"],
            t["territory"],
            t["langs"][0],
            t["tz"][0],
            head["Id"],
            weight=0.3,
            hours="Mon-Fri 08:00-17:00",
        )
        sellers = []
        for k in range(rnd.randint(4, 8)):
            hours = rnd.choice(
                ["Mon-Fri 08:00-16:00", "Mon-Fri 09:00-17:00", "Mon-Thu 08:00-18:00", "Mon-Fri 10:00-18:00"]
            )
            s = user(
                "Seller",
                t["name"],
                t["territory"],
                rnd.choice(t["langs"]),
                rnd.choice(t["tz"]),
                leader["Id"],
                weight=rnd.choice([0.5, 0.8, 1.0, 1.0, 1.2]),
                hours=hours,
            )
            if k == 0 and i == 1:
                s["Is_Absent__c"] = True
            sellers.append(s)
        q = {
            "Id": new_id("00G"),
            "Name": f"{t['name']} Leads",
            "DeveloperName": f"Queue_{t['territory'].replace('&', 'and')}",
            "Type": "Queue",
            "Email": None,
            "OwnerId": leader["Id"],
        }
        groups.append(q)
        teams.append({"team": t, "leader": leader, "sellers": sellers, "queue": q})
        for member in [leader, *sellers]:
            members.append({"Id": new_id("011"), "GroupId": q["Id"], "UserOrGroupId": member["Id"]})
    fin_q = {
        "Id": new_id("00G"),
        "Name": "Finance Review",
        "DeveloperName": "Queue_Finance",
        "Type": "Queue",
        "OwnerId": finance["Id"],
    }
    kam_q = {
        "Id": new_id("00G"),
        "Name": "Key Account Leads",
        "DeveloperName": "Queue_Key_Accounts",
        "Type": "Queue",
        "OwnerId": head["Id"],
    }
    groups += [fin_q, kam_q]
    members.append({"Id": new_id("011"), "GroupId": fin_q["Id"], "UserOrGroupId": finance["Id"]})
    for kam in kams:
        members.append({"Id": new_id("011"), "GroupId": kam_q["Id"], "UserOrGroupId": kam["Id"]})
    for g in groups:
        for sobject in ("Lead", "Task"):
            queue_sobjects.append({"Id": new_id("03g"), "QueueId": g["Id"], "SobjectType": sobject})

    accounts: list[dict[str, Any]] = []
    contacts: list[dict[str, Any]] = []
    used_companies: set[str] = set()
    for n in range(320):
        tm = teams[n % len(teams)]
        country = rnd.choice(tm["team"]["countries"])
        while True:
            base = f"{rnd.choice(COMPANY_A)} {rnd.choice(COMPANY_B)}"
            if base not in used_companies:
                used_companies.add(base)
                break
            base = f"{base} {rnd.randint(2, 99)}"
            if base not in used_companies:
                used_companies.add(base)
                break
        name = f"{base} {SUFFIX[country]}"
        if n < 24:
            ctype, owner, key = "Key Account", kams[n % len(kams)]["Id"], True
        elif n < 90:
            ctype, owner, key = "Regional", rnd.choice(tm["sellers"])["Id"], False
        elif n < 140:
            ctype, owner, key = "Dormant", rnd.choice(tm["sellers"])["Id"], False
        elif n < 260:
            ctype, owner, key = "Existing Customer", rnd.choice(tm["sellers"])["Id"], False
        elif n < 290:
            ctype, owner, key = "Retail", tm["leader"]["Id"], False
        else:
            ctype, owner, key = "New", head["Id"], False
        last_activity = ANCHOR.date() - timedelta(
            days=rnd.randint(400, 1200) if ctype == "Dormant" else rnd.randint(1, 120)
        )
        acc = {
            "Id": new_id("001"),
            "Name": name,
            "OwnerId": owner,
            "Key_Account__c": key,
            "Client_Type__c": ctype,
            "Overdue_Debt__c": n % 21 == 5,
            "Region__c": tm["team"]["territory"],
            "BillingCountry": country,
            "Industry": rnd.choice(INDUSTRIES),
            "Type": "Prospect" if ctype == "New" else "Customer - Direct",
            "NumberOfEmployees": rnd.choice([12, 45, 120, 480, 1500, 8000]),
            "Website": f"https://www.{base.lower().replace(' ', '-')}.example",
            "Last_Activity_Date__c": last_activity.isoformat(),
            "External_Ref__c": f"ERP-{10000 + n}",
            "CreatedDate": created,
            "LastModifiedDate": created,
            "SystemModstamp": created,
        }
        accounts.append(acc)
        for _ in range(rnd.randint(1, 3)):
            f, last = rnd.choice(FIRST), rnd.choice(LAST)
            domain = base.lower().replace(" ", "") + ".example"
            contacts.append(
                {
                    "Id": new_id("003"),
                    "AccountId": acc["Id"],
                    "FirstName": f,
                    "LastName": last,
                    "Email": f"{f.lower()}.{last.lower().replace(' ', '').replace('ü', 'u')}@{domain}",
                    "Phone": f"+47 {rnd.randint(20000000, 99999999)}",
                    "OwnerId": owner,
                    "MailingCountry": country,
                    "Language__c": tm["team"]["langs"][0][0],
                    "CreatedDate": created,
                    "LastModifiedDate": created,
                    "SystemModstamp": created,
                }
            )

    leads: list[dict[str, Any]] = []
    opportunities: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    for n in range(420):
        tm = rnd.choice(teams)
        country = rnd.choice(tm["team"]["countries"])
        at = ANCHOR - timedelta(days=rnd.randint(1, 180), hours=rnd.randint(0, 10), minutes=rnd.randint(0, 59))
        f, last = rnd.choice(FIRST), rnd.choice(LAST)
        matched = rnd.choice(accounts) if rnd.random() < 0.35 else None
        company = matched["Name"] if matched else f"{rnd.choice(COMPANY_A)} {rnd.choice(COMPANY_B)} {SUFFIX[country]}"
        owner = (
            matched["OwnerId"] if matched and matched["Client_Type__c"] != "New" else rnd.choice(tm["sellers"])["Id"]
        )
        score = rnd.randint(5, 98)
        grade = "A" if score >= 75 else "B" if score >= 50 else "C" if score >= 25 else "D"
        outcome = rnd.choices(["converted", "lost", "working", "open"], [30, 40, 20, 10])[0]
        sla_due = at + timedelta(hours=4 if score >= 75 else 24)
        first_touch = at + timedelta(hours=rnd.choice([1, 2, 3, 6, 30]))
        sla = "Met" if first_touch <= sla_due else "Breached"
        if outcome == "open":
            sla = "Breached" if ANCHOR > sla_due else "On Track"
        lead = {
            "Id": new_id("00Q"),
            "FirstName": f,
            "LastName": last,
            "Company": company,
            "Country": country,
            "Email": f"{f.lower()}.{n}@{company.split()[0].lower()}.example",
            "Phone": f"+44 20 {rnd.randint(10000000, 99999999)}",
            "LeadSource": rnd.choice(SOURCES),
            "OwnerId": owner,
            "Score__c": float(score),
            "Grade__c": grade,
            "Score_Reasons__c": json.dumps([f"source:{rnd.choice(SOURCES)}", f"country:{country}"]),
            "Routing_Reason__c": "matched account owner" if matched else f"round robin {tm['team']['name']}",
            "SLA_Due__c": _dt(sla_due),
            "SLA_Status__c": sla,
            "Client_Type__c": matched["Client_Type__c"] if matched else "New",
            "Matched_Account__c": matched["Id"] if matched else None,
            "Language__c": tm["team"]["langs"][0][0],
            "Leadflow_Id__c": f"hist-{n:04d}",
            "Industry": rnd.choice(INDUSTRIES),
            "CreatedDate": _dt(at),
            "LastModifiedDate": _dt(first_touch),
            "SystemModstamp": _dt(first_touch),
            "Status": {
                "converted": "Closed - Converted",
                "lost": "Closed - Not Converted",
                "working": "Working - Contacted",
                "open": "Open - Not Contacted",
            }[outcome],
        }
        if outcome == "converted":
            acc_id = matched["Id"] if matched else None
            if acc_id is None:
                acc = {
                    "Id": new_id("001"),
                    "Name": company,
                    "OwnerId": owner,
                    "Client_Type__c": "Existing Customer",
                    "Key_Account__c": False,
                    "Overdue_Debt__c": False,
                    "Region__c": tm["team"]["territory"],
                    "BillingCountry": country,
                    "CreatedDate": _dt(first_touch),
                    "LastModifiedDate": _dt(first_touch),
                    "SystemModstamp": _dt(first_touch),
                }
                accounts.append(acc)
                acc_id = acc["Id"]
            con = {
                "Id": new_id("003"),
                "AccountId": acc_id,
                "FirstName": f,
                "LastName": last,
                "Email": lead["Email"],
                "OwnerId": owner,
                "MailingCountry": country,
                "CreatedDate": _dt(first_touch),
                "LastModifiedDate": _dt(first_touch),
                "SystemModstamp": _dt(first_touch),
            }
            contacts.append(con)
            won = rnd.random() < 0.55
            close = (first_touch + timedelta(days=rnd.randint(10, 60))).date()
            opp = {
                "Id": new_id("006"),
                "Name": f"{company} - {lead['LeadSource']}",
                "AccountId": acc_id,
                "StageName": ("Closed Won" if won else "Closed Lost")
                if close < ANCHOR.date()
                else "Proposal/Price Quote",
                "CloseDate": close.isoformat(),
                "Amount": float(rnd.choice([5000, 12000, 25000, 60000, 150000])),
                "OwnerId": owner,
                "LeadSource": lead["LeadSource"],
                "CreatedDate": _dt(first_touch),
                "LastModifiedDate": _dt(first_touch),
                "SystemModstamp": _dt(first_touch),
            }
            opportunities.append(opp)
            lead.update(
                {
                    "IsConverted": True,
                    "ConvertedDate": first_touch.date().isoformat(),
                    "ConvertedAccountId": acc_id,
                    "ConvertedContactId": con["Id"],
                    "ConvertedOpportunityId": opp["Id"],
                }
            )
        leads.append(lead)
        if outcome != "open":
            tasks.append(
                {
                    "Id": new_id("00T"),
                    "WhoId": lead.get("ConvertedContactId") or lead["Id"],
                    "Subject": "Call",
                    "TaskSubtype": "Call",
                    "Status": "Completed",
                    "Priority": "Normal",
                    "ActivityDate": first_touch.date().isoformat(),
                    "OwnerId": owner,
                    "CallType": "Outbound",
                    "CallDisposition": {
                        "converted": "Interested",
                        "lost": "Not interested",
                        "working": "Call back later",
                    }[outcome],
                    "Leadflow_Task_Id__c": f"hist-task-{n:04d}",
                    "CreatedDate": _dt(first_touch),
                    "LastModifiedDate": _dt(first_touch),
                    "SystemModstamp": _dt(first_touch),
                }
            )
    return {
        "fixture": "demo_org",
        "version": 1,
        "seed": seed,
        "anchor": _dt(ANCHOR),
        "records": {
            "User": users,
            "Group": groups,
            "GroupMember": members,
            "QueueSobject": queue_sobjects,
            "Account": accounts,
            "Contact": contacts,
            "Opportunity": opportunities,
            "Lead": leads,
            "Task": tasks,
        },
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", type=Path, default=data_dir("fixtures") / "demo_org.json")
    p.add_argument("--seed", type=int, default=20250602)
    args = p.parse_args()
    doc = generate(args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    counts = {k: len(v) for k, v in doc["records"].items()}
    print(f"wrote {args.out}: {counts}")


if __name__ == "__main__":
    main()
