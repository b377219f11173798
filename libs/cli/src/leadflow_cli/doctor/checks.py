"""Pure checks: what the org has (an `OrgFacts`) against what leadflow needs (a `Needs`) → findings.

No I/O here; `probe.py` gathers the facts, `command.py` prints the findings and sets the exit code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Level(StrEnum):
    OK = "ok"
    INFO = "info"
    WARN = "warn"
    BLOCK = "block"


@dataclass(frozen=True)
class Finding:
    check: str
    level: Level
    message: str
    fix: str = ""


@dataclass(frozen=True)
class FieldSpec:
    """A custom field from deploy/salesforce (SFDX), in describe terms."""

    sobject: str
    name: str
    type: str  # describe type: string, double, boolean, picklist, datetime, reference, textarea, email, …
    picklist_values: tuple[str, ...] = ()
    restricted: bool = False
    written: bool = False  # leadflow writes it (needs create/update access), else only reads it


@dataclass
class Needs:
    api_version: str
    fields: list[FieldSpec]
    standard_writes: dict[str, tuple[str, ...]]  # object → standard fields leadflow creates/updates
    new_status: str
    converted_status: str
    qualified_statuses: tuple[str, ...]
    team_queues: dict[str, str]  # team → queue DeveloperName
    other_queues: tuple[str, ...]  # finance, key accounts
    min_daily_api: int = 5000
    settings_prefix: str = "CRMSYNC_SALESFORCE__"
    permission_set: str = "Leadflow_Integration"


@dataclass
class OrgFacts:
    versions: list[str]
    describes: dict[str, dict[str, Any]]  # object → describe JSON (None-free)
    lead_statuses: list[dict[str, Any]]  # LeadStatus rows: MasterLabel / ApiName, IsConverted
    queues: list[dict[str, Any]]  # Group rows (Type = 'Queue'): Id, DeveloperName, Name
    queue_objects: list[dict[str, Any]]  # QueueSobject rows: QueueId, SobjectType
    users: list[dict[str, Any]]  # active Users: Id, Username, Team__c, Role_Name__c
    limits: dict[str, Any]
    cdc_entities: list[str] | None = None  # None: could not be read
    email_internationalization: bool | None = None  # None: not readable through the API
    errors: dict[str, str] = field(default_factory=dict)  # fact → why it could not be read


def _fmt(names: Iterable[str]) -> str:
    items = sorted(names)
    head = ", ".join(items[:8])
    return head + (f" and {len(items) - 8} more" if len(items) > 8 else "")


def check_api_version(needs: Needs, facts: OrgFacts) -> list[Finding]:
    if not facts.versions:
        return [Finding("API version", Level.BLOCK, "the org did not list its API versions (GET /services/data)")]
    newest = max(facts.versions, key=lambda v: float(v))
    if needs.api_version in facts.versions:
        return [Finding("API version", Level.OK, f"v{needs.api_version} is served (the org's newest: v{newest})")]
    return [
        Finding(
            "API version",
            Level.BLOCK,
            f"v{needs.api_version} is not served by this org (newest: v{newest})",
            f"set {needs.settings_prefix}API_VERSION={newest} for every service",
        )
    ]


def _fields_by_name(describe: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {f["name"].lower(): f for f in (describe or {}).get("fields", [])}


def check_fields(needs: Needs, facts: OrgFacts) -> list[Finding]:
    deploy = (
        "deploy the metadata: cd deploy/salesforce && "
        "sf project deploy start --source-dir force-app --target-org <alias>"
    )
    assign = (
        f"assign the permission set: sf org assign permset --name {needs.permission_set} "
        "--target-org <alias> --on-behalf-of <integration user>"
    )
    missing: list[str] = []
    wrong_type: list[str] = []
    values: list[str] = []
    no_write: list[str] = []
    for spec in needs.fields:
        describe = facts.describes.get(spec.sobject)
        if describe is None:
            missing.append(f"{spec.sobject}.{spec.name} (object not readable)")
            continue
        got = _fields_by_name(describe).get(spec.name.lower())
        if got is None:
            missing.append(f"{spec.sobject}.{spec.name}")
            continue
        if got.get("type") != spec.type:
            wrong_type.append(f"{spec.sobject}.{spec.name} is {got.get('type')}, leadflow needs {spec.type}")
        if spec.picklist_values:
            have = {p.get("value", "").lower() for p in got.get("picklistValues") or [] if p.get("active", True)}
            lacking = [v for v in spec.picklist_values if v.lower() not in have]
            if lacking:
                values.append(f"{spec.sobject}.{spec.name} lacks {', '.join(repr(v) for v in lacking)}")
        if spec.written and not (got.get("createable") and got.get("updateable")):
            no_write.append(f"{spec.sobject}.{spec.name}")
    for sobject, names in needs.standard_writes.items():
        fields = _fields_by_name(facts.describes.get(sobject))
        for name in names:
            got = fields.get(name.lower())
            if got is None or not (got.get("createable") or got.get("updateable")):
                no_write.append(f"{sobject}.{name}")
    out: list[Finding] = []
    n = len(needs.fields)
    if missing:
        # a field the integration user cannot read is absent from describe too: say both
        out.append(
            Finding(
                "Custom fields",
                Level.BLOCK,
                f"{len(missing)} of {n} fields leadflow uses are missing or not visible to the integration user: "
                f"{_fmt(missing)}",
                f"{deploy}; then {assign}",
            )
        )
    if wrong_type:
        out.append(Finding("Custom fields", Level.BLOCK, "; ".join(wrong_type), deploy))
    if values:
        out.append(Finding("Picklist values", Level.BLOCK, "; ".join(values), deploy))
    if not (missing or wrong_type or values):
        out.append(Finding("Custom fields", Level.OK, f"all {n} fields from deploy/salesforce are there"))
    if no_write:
        out.append(
            Finding(
                "Field access",
                Level.BLOCK,
                f"the integration user cannot write {_fmt(no_write)}",
                assign,
            )
        )
    else:
        out.append(Finding("Field access", Level.OK, "the integration user can write every field leadflow writes"))
    return out


def check_lead_statuses(needs: Needs, facts: OrgFacts) -> list[Finding]:
    status_field = _fields_by_name(facts.describes.get("Lead")).get("status") or {}
    active = {p.get("value", ""): p for p in status_field.get("picklistValues") or [] if p.get("active", True)}
    converted = {
        str(r.get("ApiName") or r.get("MasterLabel") or "") for r in facts.lead_statuses if r.get("IsConverted")
    }
    setup = "Setup → Object Manager → Lead → Fields & Relationships → Lead Status → New (value)"
    out: list[Finding] = []
    lower = {k.lower() for k in active}
    if needs.new_status.lower() not in lower:
        out.append(
            Finding(
                "Lead Status",
                Level.BLOCK,
                f"{needs.new_status!r} (crm-sync's status for a new lead) is not an active Lead Status value",
                f"add it ({setup}), or set lead.new_status in crm-sync's policy to one of: {_fmt(active)}",
            )
        )
    if needs.converted_status.lower() not in lower:
        out.append(
            Finding(
                "Lead Status",
                Level.BLOCK,
                f"{needs.converted_status!r} (crm-sync converts leads with it) is not an active Lead Status value",
                f"add it and mark it Converted ({setup})",
            )
        )
    elif converted and needs.converted_status.lower() not in {c.lower() for c in converted}:
        out.append(
            Finding(
                "Lead Status",
                Level.BLOCK,
                f"{needs.converted_status!r} is not marked Converted (converted values: {_fmt(converted)})",
                f"mark it Converted ({setup}), or set conversion.converted_status in crm-sync's policy",
            )
        )
    qualified = [s for s in needs.qualified_statuses if s.lower() != needs.converted_status.lower()]
    lacking = [s for s in qualified if s.lower() not in lower]
    if lacking:
        out.append(
            Finding(
                "Lead Status",
                Level.WARN,
                f"{', '.join(repr(s) for s in lacking)} not in the org: reps cannot mark a lead qualified without "
                "converting it (leadflow converts on it and stops the SLA clock)",
                f"add it ({setup}), or list your org's qualified values in conversion.qualified_statuses",
            )
        )
    if not out:
        out.append(Finding("Lead Status", Level.OK, f"{len(active)} active values, including the ones leadflow uses"))
    return out


def check_queues(needs: Needs, facts: OrgFacts) -> list[Finding]:
    by_name = {str(q.get("DeveloperName", "")).lower(): q for q in facts.queues}
    for_lead = {str(r.get("QueueId")) for r in facts.queue_objects if r.get("SobjectType") == "Lead"}
    fix = (
        "Setup → Queues → New: the queue's DeveloperName as in services/route/config/routing.yaml, "
        "Supported Objects: Lead (and Task); members: the team"
    )
    missing = [f"{team} → {q}" for team, q in needs.team_queues.items() if q.lower() not in by_name]
    missing += [q for q in needs.other_queues if q.lower() not in by_name]
    not_lead = [
        q
        for q in [*needs.team_queues.values(), *needs.other_queues]
        if q.lower() in by_name and str(by_name[q.lower()].get("Id")) not in for_lead
    ]
    out: list[Finding] = []
    if missing:
        out.append(Finding("Queues", Level.BLOCK, f"no queue for {_fmt(missing)}", fix))
    if not_lead:
        out.append(Finding("Queues", Level.BLOCK, f"not enabled for Leads: {_fmt(not_lead)}", fix))
    if not out:
        out.append(Finding("Queues", Level.OK, f"a Lead queue for each of {len(needs.team_queues)} teams"))
    return out


def check_users(needs: Needs, facts: OrgFacts) -> list[Finding]:
    fix = "fill Team__c (the team name as in routing.yaml) and Role_Name__c on the sellers' User records"
    per_team = {team: 0 for team in needs.team_queues}
    unassigned = 0
    for u in facts.users:
        team = u.get("Team__c")
        if team in per_team:
            per_team[team] += 1
        elif not team:
            unassigned += 1
    empty = [t for t, n in per_team.items() if n == 0]
    out: list[Finding] = []
    if empty:
        out.append(Finding("Users", Level.BLOCK, f"no active user with Team__c = {_fmt(empty)}", fix))
    else:
        counts = ", ".join(f"{t} {n}" for t, n in per_team.items())
        out.append(Finding("Users", Level.OK, f"active users per team: {counts}"))
    if unassigned:
        out.append(Finding("Users", Level.INFO, f"{unassigned} active users have no Team__c (routing skips them)"))
    return out


def check_api_budget(needs: Needs, facts: OrgFacts) -> list[Finding]:
    daily = facts.limits.get("DailyApiRequests") or {}
    total, left = int(daily.get("Max") or 0), int(daily.get("Remaining") or 0)
    if not daily:
        return [Finding("API allocation", Level.WARN, "the org did not report DailyApiRequests (GET /limits)")]
    used = total - left
    message = f"{used:,} of {total:,} daily API requests used, {left:,} left"
    if left <= 0:
        return [
            Finding(
                "API allocation",
                Level.BLOCK,
                message,
                "wait for the 24-hour window to roll over or buy more API calls; crm-sync would only queue writes",
            )
        ]
    if total < needs.min_daily_api or left < max(needs.min_daily_api // 10, total // 10):
        return [
            Finding(
                "API allocation",
                Level.WARN,
                message + " (crm-sync needs about 6 calls per 1,000 leads plus polling)",
                "find what else uses the allocation (Setup → System Overview) or raise it",
            )
        ]
    return [Finding("API allocation", Level.OK, message)]


def check_cdc_and_eai(needs: Needs, facts: OrgFacts) -> list[Finding]:
    out = []
    if facts.cdc_entities is None:
        out.append(
            Finding(
                "Change Data Capture",
                Level.INFO,
                "could not be read (" + facts.errors.get("cdc", "no Tooling API") + "); leadflow polls by "
                "SystemModstamp, so CDC is optional",
            )
        )
    else:
        on = sorted(e for e in facts.cdc_entities if e.endswith("ChangeEvent"))
        out.append(
            Finding(
                "Change Data Capture",
                Level.INFO,
                f"on for {_fmt(on)}" if on else "off (leadflow polls by SystemModstamp; CDC is optional)",
            )
        )
    if facts.email_internationalization is None:
        out.append(
            Finding(
                "Email internationalization",
                Level.INFO,
                "not readable through the API: if it is off, e-mails with non-ASCII characters are refused and "
                "crm-sync keeps them in Leadflow_Dropped_Fields__c",
                "Setup → Email Internationalization (needs a Salesforce support case in some editions)",
            )
        )
    else:
        out.append(
            Finding(
                "Email internationalization",
                Level.OK if facts.email_internationalization else Level.INFO,
                "on" if facts.email_internationalization else "off: non-ASCII e-mails go to Leadflow_Dropped_Fields__c",
            )
        )
    return out


ALL_CHECKS = (
    check_api_version,
    check_fields,
    check_lead_statuses,
    check_queues,
    check_users,
    check_api_budget,
    check_cdc_and_eai,
)


def run_checks(needs: Needs, facts: OrgFacts) -> list[Finding]:
    return [f for check in ALL_CHECKS for f in check(needs, facts)]


def blocking(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.level is Level.BLOCK]
