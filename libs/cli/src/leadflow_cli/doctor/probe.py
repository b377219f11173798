"""Read what `checks` needs from the org, through the same client the services use (simple-salesforce)."""

from __future__ import annotations

from typing import Any

from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError

from leadflow_cli.doctor.checks import Needs, OrgFacts


def _get(sf: Salesforce, path: str) -> Any:
    r = sf.session.get(f"https://{sf.sf_instance}{path}", headers=sf.headers, timeout=30)
    r.raise_for_status()
    return r.json()


def _query(sf: Salesforce, soql: str) -> list[dict[str, Any]]:
    return list(sf.query_all_iter(soql))


def gather(sf: Salesforce, needs: Needs) -> OrgFacts:
    errors: dict[str, str] = {}
    try:
        versions = [str(v["version"]) for v in _get(sf, "/services/data/")]
    except Exception as e:  # an org always answers this; report, don't crash
        versions, errors["versions"] = [], f"{type(e).__name__}: {e}"
    describes: dict[str, dict[str, Any]] = {}
    for sobject in sorted({f.sobject for f in needs.fields} | set(needs.standard_writes) | {"Lead"}):
        try:
            describes[sobject] = getattr(sf, sobject).describe()
        except SalesforceError as e:
            errors[f"describe {sobject}"] = f"{type(e).__name__}: {e}"

    def rows(name: str, soql: str) -> list[dict[str, Any]]:
        try:
            return _query(sf, soql)
        except SalesforceError as e:
            errors[name] = f"{type(e).__name__}: {e}"
            return []

    statuses = rows("LeadStatus", "SELECT MasterLabel, ApiName, IsConverted FROM LeadStatus")
    if "LeadStatus" in errors:  # ApiName arrived in v58; older orgs have MasterLabel only
        errors.pop("LeadStatus")
        statuses = rows("LeadStatus", "SELECT MasterLabel, IsConverted FROM LeadStatus")
    queues = rows("queues", "SELECT Id, Name, DeveloperName FROM Group WHERE Type = 'Queue'")
    queue_objects = rows("queue objects", "SELECT QueueId, SobjectType FROM QueueSobject")
    users = rows("users", "SELECT Id, Username, Team__c, Role_Name__c FROM User WHERE IsActive = true")
    try:
        limits = sf.limits()
    except SalesforceError as e:
        limits, errors["limits"] = {}, f"{type(e).__name__}: {e}"
    cdc: list[str] | None
    try:
        found = sf.toolingexecute(
            "query/?q=SELECT+SelectedEntity+FROM+PlatformEventChannelMember+WHERE+EventChannel+=+'ChangeEvents'"
        )
        cdc = [str(r.get("SelectedEntity")) for r in (found or {}).get("records", [])]
    except Exception as e:  # no Tooling API (the emulator), or no permission
        cdc, errors["cdc"] = None, type(e).__name__
    return OrgFacts(
        versions=versions,
        describes=describes,
        lead_statuses=statuses,
        queues=queues,
        queue_objects=queue_objects,
        users=users,
        limits=limits or {},
        cdc_entities=cdc,
        errors=errors,
    )
