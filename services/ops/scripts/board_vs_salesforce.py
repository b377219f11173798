"""The console against Salesforce on a running system (``make run``): one JSON line per sample.

    .venv/bin/python services/ops/scripts/board_vs_salesforce.py --every 300 --samples 7 > samples.jsonl

Each sample reads the Now board, Staffing and Team load from the console's JSON APIs (as the demo operator), then
Salesforce by SOQL, and prints both sides of every figure the integrity issue names:

- ``open``: the board's open leads against the Salesforce Leads leadflow wrote or merged leads into (found through
  the topics, as ``leadflow reconcile`` finds them) that are not converted, still in the untouched status and carry
  no completed call/e-mail/follow-up Task: the glossary's "routed, first touch not happened", each Lead once;
- ``breached``: the board's breached leads against Leads with ``SLA_Status__c = 'Breached'``;
- ``reps``: Staffing's available reps against active, present Users in a selling role;
- ``weights``: Team load's weight per rep against the User's ``Weight__c`` (reps that differ are listed).

A lead between two hops is a real, short-lived difference: the board and Salesforce are read a few seconds apart.
``--settle`` adds ``leadflow reconcile --settle`` (lead-by-lead, differences found twice that far apart).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from leadflow_cli.reconcile.command import ReconcileSettings, external_id
from leadflow_cli.reconcile.compare import UNTOUCHED_STATUSES
from leadflow_cli.reconcile.sources import connect_salesforce, read_belief, read_salesforce
from leadflow_ops.domain.roster import SELLING_ROLES
from leadflow_salesforce import SalesforceSettings
from simple_salesforce.format import format_soql

ROOT = Path(__file__).resolve().parents[3]


def make_run_salesforce() -> SalesforceSettings:
    """The integration user ``make run`` gives every service (deploy/local/run.yaml), for the local emulator."""
    env = yaml.safe_load((ROOT / "deploy" / "local" / "run.yaml").read_text())["env"]
    prefix = "CRMSYNC_SALESFORCE__"
    return SalesforceSettings(**{k[len(prefix) :].lower(): v for k, v in env.items() if k.startswith(prefix)})


def console(url: str, user: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=60)
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    if token is None:
        raise SystemExit("no login form at " + url)
    client.post("/login", data={"username": user, "password": password, "csrf_token": token[1]})
    return client


def reconcile_env(bootstrap: str) -> dict[str, str]:
    """The environment for ``leadflow reconcile``: the caller's, else ``make run``'s broker and emulator."""
    env = dict(os.environ)
    env.setdefault("RECONCILE_KAFKA_BOOTSTRAP", bootstrap)
    if "RECONCILE_SALESFORCE__USERNAME" not in env:
        s = make_run_salesforce()
        env.update(
            RECONCILE_SALESFORCE__LOGIN_URL=str(s.login_url),
            RECONCILE_SALESFORCE__USERNAME=str(s.username),
            RECONCILE_SALESFORCE__PASSWORD=s.password.get_secret_value() if s.password else "",
            RECONCILE_SALESFORCE__SECURITY_TOKEN=s.security_token.get_secret_value() if s.security_token else "",
            RECONCILE_SALESFORCE__CA_BUNDLE=str(s.ca_bundle),
        )
    return env


def count(sf: Any, soql: str) -> int:
    return int(sf.query(soql)["totalSize"])


async def salesforce_side(sf: Any, bootstrap: str) -> tuple[int, int]:
    """(open, breached) over the Leads leadflow wrote or merged leads into, each Lead once.

    The Leads are found through the topics, as ``leadflow reconcile`` finds them (seeded history Leads carry a
    ``Leadflow_Id__c`` too, but leadflow never routed them). Open is the board's "routed, first touch not
    happened": not converted, still in the untouched status, no completed call/e-mail/follow-up Task.
    """
    belief = await read_belief(bootstrap, timeout=300)
    view, _ = await asyncio.to_thread(read_salesforce, sf, belief)
    records: dict[str, dict[str, Any]] = {}
    for b in belief.own_leads():
        lead = view.leads_by_ext.get(external_id(b.lead_id))
        if lead is not None:
            records[str(lead["Id"])] = lead
    records.update({k: r for k, r in view.records_by_id.items() if k.startswith("00Q")})
    open_ = sum(
        1
        for rid, r in records.items()
        if r.get("IsConverted") not in (True, "true")
        and str(r.get("Status") or "").strip().lower() in UNTOUCHED_STATUSES
        and rid not in view.touched
    )
    breached = {
        str(r["Id"])
        for r in sf.query_all("SELECT Id FROM Lead WHERE SLA_Status__c = 'Breached' AND IsConverted = false")["records"]
    }
    return open_, len(breached & set(records))


def weight_share_differences(team: list[dict[str, Any]], users: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Team load's weight share per rep in rotation against ``Weight__c`` / the team's sum over the present reps
    in rotation, from Salesforce's own weights and absences (the rotation itself is route's, from the console)."""
    rotation = [r for r in team if r.get("in_rotation", True) and r["owner_id"] in users]
    totals: dict[str, float] = {}
    for r in rotation:
        u = users[r["owner_id"]]
        if not u.get("Is_Absent__c"):
            totals[r["team"]] = totals.get(r["team"], 0.0) + float(u.get("Weight__c") or 1.0)
    out = []
    for r in rotation:
        u = users[r["owner_id"]]
        expected = 0.0 if u.get("Is_Absent__c") else float(u.get("Weight__c") or 1.0) / totals[r["team"]]
        shown = r.get("weight_share")
        if shown is None or abs(float(shown) - expected) > 1e-9:
            out.append({"rep": r["owner_id"], "console": shown, "salesforce": round(expected, 6)})
    return out


def sample(args: argparse.Namespace, client: httpx.Client, sf: Any) -> dict[str, Any]:
    now = client.get("/api/now").json()
    staffing = client.get("/api/staffing").json()
    team = client.get("/api/team").json()["rows"]
    board_open, board_breached = now["open"], now["breached"]
    sf_open, sf_breached = asyncio.run(salesforce_side(sf, args.bootstrap))
    sf_reps = count(
        sf,
        format_soql(
            "SELECT COUNT() FROM User WHERE IsActive = true AND Is_Absent__c = false "
            "AND (Role_Name__c IN {} OR Role_Name__c = null)",
            list(SELLING_ROLES),
        ),
    )
    users = {
        u["Id"]: u
        for u in sf.query_all("SELECT Id, Weight__c, Is_Absent__c, Team__c FROM User WHERE IsActive = true")["records"]
    }
    weight_diffs = [
        {"rep": r["owner_id"], "console": r.get("weight"), "salesforce": users[r["owner_id"]].get("Weight__c")}
        for r in team
        if r["owner_id"] in users and float(r.get("weight") or 0) != float(users[r["owner_id"]].get("Weight__c") or 1.0)
    ]
    share_diffs = weight_share_differences(team, users)
    out: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "open": {"board": board_open, "salesforce": sf_open},
        "breached": {"board": board_breached, "salesforce": sf_breached},
        "reps": {"staffing": staffing["plan"]["roster"], "salesforce": sf_reps},
        "weights": {"reps_compared": sum(1 for r in team if r["owner_id"] in users), "differ": weight_diffs},
        "weight_shares": {
            "reps_in_rotation": sum(1 for r in team if r.get("in_rotation", True) and r["owner_id"] in users),
            "differ": share_diffs,
        },
        "follow_ups": now.get("follow_ups"),
        "not_in_salesforce": now.get("not_in_salesforce"),
    }
    if args.settle:
        run = subprocess.run(  # noqa: S603 - this interpreter and our own command
            [sys.executable, "-m", "leadflow_cli.main", "reconcile", "--json", "--settle", str(args.settle)],
            capture_output=True,
            text=True,
            env=reconcile_env(args.bootstrap),
        )
        try:
            summary = json.loads(run.stdout)["summary"]
            out["reconcile"] = {
                "exit": run.returncode,
                "differences": summary["differences"],
                "by_kind": summary["by_kind"],
                "transient_left_out": summary["transient_left_out"],
            }
        except (ValueError, KeyError):
            out["reconcile"] = {"exit": run.returncode, "error": run.stderr.strip()[-400:]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--user", default="operator")
    parser.add_argument("--password", default="operator-demo")
    parser.add_argument("--bootstrap", default="127.0.0.1:19092")
    parser.add_argument("--every", type=float, default=300.0, help="Seconds between samples.")
    parser.add_argument("--samples", type=int, default=1)
    parser.add_argument("--settle", type=float, default=0.0, help="Also run leadflow reconcile --settle SECONDS.")
    args = parser.parse_args()
    settings = ReconcileSettings()
    sf = connect_salesforce(settings.salesforce if settings.salesforce.username else make_run_salesforce())
    client = console(args.url, args.user, args.password)
    for i in range(args.samples):
        started = time.monotonic()
        print(json.dumps(sample(args, client, sf)), flush=True)
        if i + 1 < args.samples:
            time.sleep(max(0.0, args.every - (time.monotonic() - started)))


if __name__ == "__main__":
    main()
