"""Read real contacts from the org once, so demo leads hit key accounts and existing customers."""

from __future__ import annotations

from leadflow_salesforce.client import SalesforceSettings, connect

from leadflow_demo.domain.generator import KnownContact


def load_known_contacts(settings: SalesforceSettings, limit: int = 500) -> list[KnownContact]:
    sf = connect(settings)
    soql = "SELECT FirstName, LastName, Email, Phone, Account.Name, MailingCountry FROM Contact "
    soql += f"WHERE Email != null ORDER BY Id LIMIT {int(limit)}"  # an int, not user input
    rows = sf.query_all(soql)["records"]
    return [
        KnownContact(
            first_name=r.get("FirstName") or "",
            last_name=r["LastName"],
            email=r["Email"],
            phone=r.get("Phone"),
            company=(r.get("Account") or {}).get("Name") or "",
            country=r.get("MailingCountry"),
        )
        for r in rows
        if (r.get("Account") or {}).get("Name")
    ]
