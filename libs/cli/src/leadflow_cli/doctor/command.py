"""`leadflow doctor [--service crm-sync] [--json]`: log in with a service's Salesforce settings and say
what the org lacks, with a fix for each. Exit 1 when something blocks leadflow, 0 otherwise (warnings
included), 2 when it cannot log in at all."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from leadflow_salesforce import SalesforceSettings, connect
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from leadflow_cli.doctor.checks import Finding, Level, blocking, run_checks
from leadflow_cli.doctor.needs import load_needs
from leadflow_cli.doctor.probe import gather

# the env prefix of each service that logs in to Salesforce (`<PREFIX>SALESFORCE__USERNAME`, …)
SERVICE_PREFIXES = {
    "crm-sync": "CRMSYNC_",
    "crm-changes": "CRMCHANGES_",
    "enrich": "ENRICH_",
    "route": "ROUTE_",
    "score": "SCORE_",
}


class _OrgSettings(BaseSettings):
    """Only the `salesforce` block of a service's settings, read with that service's prefix."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_nested_delimiter="__")
    salesforce: SalesforceSettings = Field(default_factory=SalesforceSettings)


def salesforce_settings(service: str) -> SalesforceSettings:
    prefix = SERVICE_PREFIXES[service]
    return _OrgSettings(_env_prefix=prefix).salesforce


_MARK = {Level.OK: "ok   ", Level.INFO: "info ", Level.WARN: "WARN ", Level.BLOCK: "BLOCK"}


def render(findings: list[Finding], out: TextIO) -> None:
    width = max((len(f.check) for f in findings), default=10)
    for f in findings:
        out.write(f"{_MARK[f.level]} {f.check:<{width}}  {f.message}\n")
        if f.fix and f.level in (Level.BLOCK, Level.WARN, Level.INFO):
            out.write(f"      {'':<{width}}  fix: {f.fix}\n")
    blocks = len(blocking(findings))
    warns = sum(1 for f in findings if f.level is Level.WARN)
    verdict = "not ready" if blocks else "ready"
    out.write(f"\n{verdict}: {blocks} blocking, {warns} warnings\n")


def run(args: argparse.Namespace, out: TextIO | None = None, settings: SalesforceSettings | None = None) -> int:
    out = out or sys.stdout
    settings = settings or salesforce_settings(args.service)
    prefix = f"{SERVICE_PREFIXES[args.service]}SALESFORCE__"
    needs = load_needs(
        api_version=settings.api_version,
        force_app=args.metadata,
        routing_file=args.routing,
        policy_file=args.policy,
        settings_prefix=prefix,
    )
    try:
        sf = connect(settings)
    except Exception as e:  # bad credentials, unreachable host, TLS: one clear line with the fix
        login = Finding(
            "Login",
            Level.BLOCK,
            f"cannot log in as {settings.username or '(no username)'} ({settings.auth}): {type(e).__name__}: {e}",
            f"check {prefix}USERNAME, {prefix}PASSWORD and {prefix}SECURITY_TOKEN (JWT: {prefix}CONSUMER_KEY and "
            f"{prefix}PRIVATE_KEY_FILE), {prefix}DOMAIN and {prefix}LOGIN_URL",
        )
        _emit([login], args, out)
        return 2
    facts = gather(sf, needs)
    findings = [
        Finding("Login", Level.OK, f"logged in as {settings.username or settings.consumer_key} ({settings.auth})")
    ]
    findings += run_checks(needs, facts)
    for what, why in facts.errors.items():
        if what != "cdc":
            findings.append(Finding("Read", Level.WARN, f"could not read {what}: {why}"))
    _emit(findings, args, out)
    return 1 if blocking(findings) else 0


def _emit(findings: list[Finding], args: argparse.Namespace, out: TextIO) -> None:
    if getattr(args, "json", False):
        body: dict[str, Any] = {"findings": [asdict(f) for f in findings], "blocking": len(blocking(findings))}
        out.write(json.dumps(body, indent=2, default=str) + "\n")
    else:
        render(findings, out)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "doctor",
        help="check that a Salesforce org has what leadflow needs (fields, access, statuses, queues, users, limits)",
        description=__doc__,
    )
    p.add_argument(
        "--service",
        choices=sorted(SERVICE_PREFIXES),
        default="crm-sync",
        help="whose Salesforce settings to log in with (default: crm-sync, the writer)",
    )
    p.add_argument(
        "--metadata", type=Path, default=None, help="SFDX force-app dir (default: deploy/salesforce/force-app)"
    )
    p.add_argument(
        "--routing", type=Path, default=None, help="route's routing.yaml (default: services/route/config/routing.yaml)"
    )
    p.add_argument("--policy", type=Path, default=None, help="crm-sync policy YAML (default: the bundled one)")
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    p.set_defaults(func=run)
