"""Regenerate src/leadflow_enrich/data/firmographics.csv.

Rows: the demo org's accounts (services/salesforce-emulator/fixtures/demo_org.json: website and contact
e-mail domains, industry, employees, country) plus well-known European and global companies (employee
counts rounded, from public annual reports; good enough for scoring bands).

    .venv/bin/python services/enrich/scripts/build_firmographics.py
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = ROOT / "services/salesforce-emulator/fixtures/demo_org.json"
OUT = ROOT / "services/enrich/src/leadflow_enrich/data/firmographics.csv"

COUNTRY_CODES = {
    "Norway": "NO",
    "Sweden": "SE",
    "Denmark": "DK",
    "Finland": "FI",
    "Germany": "DE",
    "Austria": "AT",
    "Switzerland": "CH",
    "Netherlands": "NL",
    "Belgium": "BE",
    "Luxembourg": "LU",
    "United Kingdom": "GB",
    "Ireland": "IE",
}

REAL = [
    ("equinor.com", "Equinor ASA", "Energy", 23000, "NO"),
    ("dnb.no", "DNB Bank ASA", "Finance", 10500, "NO"),
    ("telenor.com", "Telenor ASA", "Telecommunications", 11000, "NO"),
    ("orkla.com", "Orkla ASA", "Food & Beverage", 21000, "NO"),
    ("yara.com", "Yara International ASA", "Chemicals", 17000, "NO"),
    ("hydro.com", "Norsk Hydro ASA", "Manufacturing", 32000, "NO"),
    ("kongsberg.com", "Kongsberg Gruppen ASA", "Manufacturing", 14000, "NO"),
    ("schibsted.com", "Schibsted ASA", "Media", 6000, "NO"),
    ("storebrand.no", "Storebrand ASA", "Finance", 2200, "NO"),
    ("tomra.com", "Tomra Systems ASA", "Machines", 5000, "NO"),
    ("autostoresystem.com", "AutoStore AS", "Robotics", 900, "NO"),
    ("kahoot.com", "Kahoot! AS", "Software", 700, "NO"),
    ("cognite.com", "Cognite AS", "Software", 750, "NO"),
    ("visma.com", "Visma AS", "Software", 15000, "NO"),
    ("volvogroup.com", "AB Volvo", "Transportation", 104000, "SE"),
    ("ericsson.com", "Telefonaktiebolaget LM Ericsson", "Technology", 99000, "SE"),
    ("ikea.com", "Inter IKEA Systems B.V.", "Retail", 220000, "SE"),
    ("hm.com", "H & M Hennes & Mauritz AB", "Retail", 100000, "SE"),
    ("spotify.com", "Spotify AB", "Technology", 7500, "SE"),
    ("klarna.com", "Klarna Bank AB", "Finance", 3500, "SE"),
    ("atlascopco.com", "Atlas Copco AB", "Machines", 50000, "SE"),
    ("sandvik.com", "Sandvik AB", "Manufacturing", 40000, "SE"),
    ("electroluxgroup.com", "AB Electrolux", "Manufacturing", 45000, "SE"),
    ("skf.com", "AB SKF", "Manufacturing", 40000, "SE"),
    ("northvolt.com", "Northvolt AB", "Energy", 6000, "SE"),
    ("einride.tech", "Einride AB", "Transportation", 500, "SE"),
    ("maersk.com", "A.P. Møller - Mærsk A/S", "Shipping", 100000, "DK"),
    ("novonordisk.com", "Novo Nordisk A/S", "Pharma", 64000, "DK"),
    ("carlsberggroup.com", "Carlsberg A/S", "Food & Beverage", 31000, "DK"),
    ("vestas.com", "Vestas Wind Systems A/S", "Energy", 29000, "DK"),
    ("orsted.com", "Ørsted A/S", "Energy", 8900, "DK"),
    ("lego.com", "LEGO A/S", "Manufacturing", 27000, "DK"),
    ("dsv.com", "DSV A/S", "Transportation", 75000, "DK"),
    ("pandoragroup.com", "Pandora A/S", "Retail", 32000, "DK"),
    ("nokia.com", "Nokia Oyj", "Technology", 86000, "FI"),
    ("kone.com", "KONE Oyj", "Machines", 63000, "FI"),
    ("wartsila.com", "Wärtsilä Oyj Abp", "Machines", 17000, "FI"),
    ("upm.com", "UPM-Kymmene Oyj", "Manufacturing", 16000, "FI"),
    ("supercell.com", "Supercell Oy", "Software", 500, "FI"),
    ("wolt.com", "Wolt Enterprises Oy", "Technology", 8000, "FI"),
    ("siemens.com", "Siemens AG", "Technology", 320000, "DE"),
    ("sap.com", "SAP SE", "Software", 108000, "DE"),
    ("basf.com", "BASF SE", "Chemicals", 112000, "DE"),
    ("bosch.com", "Robert Bosch GmbH", "Manufacturing", 420000, "DE"),
    ("dhl.com", "Deutsche Post AG", "Transportation", 590000, "DE"),
    ("bayer.com", "Bayer AG", "Pharma", 100000, "DE"),
    ("adidas.com", "adidas AG", "Retail", 59000, "DE"),
    ("zalando.com", "Zalando SE", "Retail", 15000, "DE"),
    ("celonis.com", "Celonis SE", "Software", 3000, "DE"),
    ("n26.com", "N26 Bank GmbH", "Finance", 1500, "DE"),
    ("trumpf.com", "TRUMPF SE + Co. KG", "Machines", 19000, "DE"),
    ("festo.com", "Festo SE & Co. KG", "Machines", 20000, "DE"),
    ("otto.de", "Otto GmbH & Co KG", "Retail", 41000, "DE"),
    ("lidl.com", "Lidl Stiftung & Co. KG", "Retail", 375000, "DE"),
    ("personio.com", "Personio SE & Co. KG", "Software", 1800, "DE"),
    ("flixbus.com", "FlixMobility GmbH", "Transportation", 5000, "DE"),
    ("voestalpine.com", "voestalpine AG", "Manufacturing", 51000, "AT"),
    ("redbull.com", "Red Bull GmbH", "Food & Beverage", 17000, "AT"),
    ("omv.com", "OMV AG", "Energy", 20000, "AT"),
    ("bitpanda.com", "Bitpanda GmbH", "Finance", 700, "AT"),
    ("nestle.com", "Nestlé S.A.", "Food & Beverage", 270000, "CH"),
    ("novartis.com", "Novartis AG", "Pharma", 76000, "CH"),
    ("roche.com", "F. Hoffmann-La Roche AG", "Pharma", 103000, "CH"),
    ("abb.com", "ABB Ltd", "Manufacturing", 107000, "CH"),
    ("ubs.com", "UBS Group AG", "Finance", 110000, "CH"),
    ("logitech.com", "Logitech International S.A.", "Technology", 7000, "CH"),
    ("kuehne-nagel.com", "Kuehne + Nagel International AG", "Transportation", 80000, "CH"),
    ("schindler.com", "Schindler Holding AG", "Machines", 70000, "CH"),
    ("on-running.com", "On Holding AG", "Retail", 2400, "CH"),
    ("asml.com", "ASML Holding N.V.", "Technology", 42000, "NL"),
    ("philips.com", "Koninklijke Philips N.V.", "Healthcare", 69000, "NL"),
    ("heineken.com", "Heineken N.V.", "Food & Beverage", 89000, "NL"),
    ("ing.com", "ING Groep N.V.", "Finance", 60000, "NL"),
    ("adyen.com", "Adyen N.V.", "Finance", 4000, "NL"),
    ("booking.com", "Booking.com B.V.", "Technology", 23000, "NL"),
    ("coolblue.nl", "Coolblue B.V.", "Retail", 6000, "NL"),
    ("picnic.app", "Picnic Technologies B.V.", "Retail", 10000, "NL"),
    ("mollie.com", "Mollie B.V.", "Finance", 800, "NL"),
    ("vanoord.com", "Van Oord N.V.", "Construction", 5000, "NL"),
    ("ab-inbev.com", "Anheuser-Busch InBev SA/NV", "Food & Beverage", 155000, "BE"),
    ("ucb.com", "UCB SA", "Pharma", 9000, "BE"),
    ("solvay.com", "Solvay SA", "Chemicals", 9000, "BE"),
    ("kbc.com", "KBC Group NV", "Finance", 41000, "BE"),
    ("colruytgroup.com", "Etablissementen Franz Colruyt NV", "Retail", 33000, "BE"),
    ("odoo.com", "Odoo S.A.", "Software", 5000, "BE"),
    ("arcelormittal.com", "ArcelorMittal S.A.", "Manufacturing", 126000, "LU"),
    ("ses.com", "SES S.A.", "Telecommunications", 2000, "LU"),
    ("tesco.com", "Tesco PLC", "Retail", 330000, "GB"),
    ("unilever.com", "Unilever PLC", "Food & Beverage", 128000, "GB"),
    ("bp.com", "BP p.l.c.", "Energy", 87000, "GB"),
    ("astrazeneca.com", "AstraZeneca PLC", "Pharma", 90000, "GB"),
    ("rolls-royce.com", "Rolls-Royce Holdings plc", "Manufacturing", 42000, "GB"),
    ("arm.com", "Arm Ltd", "Technology", 7000, "GB"),
    ("ocado.com", "Ocado Group plc", "Retail", 19000, "GB"),
    ("monzo.com", "Monzo Bank Ltd", "Finance", 3500, "GB"),
    ("deliveroo.co.uk", "Roofoods Ltd", "Technology", 2500, "GB"),
    ("sage.com", "The Sage Group plc", "Software", 11000, "GB"),
    ("jcb.com", "J.C. Bamford Excavators Ltd", "Machines", 18000, "GB"),
    ("wise.com", "Wise plc", "Finance", 5000, "GB"),
    ("ryanair.com", "Ryanair Holdings plc", "Transportation", 27000, "IE"),
    ("crh.com", "CRH plc", "Construction", 78000, "IE"),
    ("kerry.com", "Kerry Group plc", "Food & Beverage", 21000, "IE"),
    ("stripe.com", "Stripe Payments Europe Ltd", "Finance", 8000, "IE"),
    ("intercom.com", "Intercom R&D Unlimited Company", "Software", 900, "IE"),
    ("smurfitkappa.com", "Smurfit Kappa Group plc", "Manufacturing", 47000, "IE"),
    ("totalenergies.com", "TotalEnergies SE", "Energy", 100000, "FR"),
    ("airbus.com", "Airbus SE", "Manufacturing", 147000, "FR"),
    ("lvmh.com", "LVMH Moët Hennessy Louis Vuitton SE", "Retail", 213000, "FR"),
    ("schneider-electric.com", "Schneider Electric SE", "Manufacturing", 150000, "FR"),
    ("doctolib.fr", "Doctolib SAS", "Healthcare", 2800, "FR"),
    ("mistral.ai", "Mistral AI SAS", "Software", 300, "FR"),
    ("inditex.com", "Industria de Diseño Textil S.A.", "Retail", 165000, "ES"),
    ("santander.com", "Banco Santander S.A.", "Finance", 210000, "ES"),
    ("enel.com", "Enel S.p.A.", "Energy", 61000, "IT"),
    ("ferrari.com", "Ferrari N.V.", "Manufacturing", 5000, "IT"),
    ("pirelli.com", "Pirelli & C. S.p.A.", "Manufacturing", 31000, "IT"),
    ("allegro.eu", "Allegro.eu S.A.", "Retail", 7000, "PL"),
    ("skoda-auto.com", "Škoda Auto a.s.", "Manufacturing", 35000, "CZ"),
    ("bolt.eu", "Bolt Technology OÜ", "Technology", 4000, "EE"),
    ("microsoft.com", "Microsoft Corporation", "Technology", 221000, "US"),
    ("salesforce.com", "Salesforce, Inc.", "Software", 72000, "US"),
    ("hubspot.com", "HubSpot, Inc.", "Software", 7600, "US"),
    ("atlassian.com", "Atlassian Corporation", "Software", 12000, "AU"),
    ("shopify.com", "Shopify Inc.", "Software", 8300, "CA"),
    ("toyota-europe.com", "Toyota Motor Europe NV/SA", "Manufacturing", 23000, "BE"),
]


def main() -> None:
    fixture = json.loads(FIXTURE.read_text())
    rows: dict[str, dict[str, object]] = {}
    for acc in fixture["records"]["Account"]:
        website = acc.get("Website")
        if not website or not acc.get("Industry"):
            continue
        base = website.split("//", 1)[-1].removeprefix("www.").split("/", 1)[0]
        name = acc["Name"]
        country = COUNTRY_CODES.get(acc.get("BillingCountry") or "", "")
        for domain in (base, base.replace("-", "")):
            rows.setdefault(
                domain,
                {
                    "domain": domain,
                    "company": name,
                    "industry": acc["Industry"],
                    "employees": acc.get("NumberOfEmployees") or "",
                    "country": country,
                },
            )
    for domain, company, industry, employees, country in REAL:
        rows.setdefault(
            domain,
            {"domain": domain, "company": company, "industry": industry, "employees": employees, "country": country},
        )
    with OUT.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["domain", "company", "industry", "employees", "country"])
        writer.writeheader()
        for domain in sorted(rows):
            writer.writerow(rows[domain])
    print(f"{len(rows)} rows -> {OUT}")


if __name__ == "__main__":
    main()
