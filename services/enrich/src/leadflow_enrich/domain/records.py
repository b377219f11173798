"""The mirror's record types: the few Salesforce fields enrichment reads, already typed.

``from_salesforce`` turns a Salesforce record (REST JSON, Bulk 2.0 CSV strings or a ``CrmChange.record``)
into one of these; values that fail to parse become None rather than failing the whole load.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from leadflow_salesforce.fields import ACCOUNT_CLIENT_FIELDS

MirrorObject = Literal["Account", "Contact", "Lead", "User", "Queue"]
MIRROR_OBJECTS: tuple[MirrorObject, ...] = ("Account", "Contact", "Lead", "User", "Queue")


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value) if value is not None else False


def parse_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def parse_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def parse_datetime(value: Any) -> datetime | None:
    """Salesforce datetimes: '2024-05-01T12:34:56.000+0000', '…Z', epoch milliseconds, or datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    text = str(value).strip()
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = text[:-2] + ":" + text[-2:]
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class AccountRecord:
    id: str
    name: str | None = None
    website: str | None = None
    phone: str | None = None
    owner_id: str | None = None
    type: str | None = None
    industry: str | None = None
    employees: int | None = None
    country: str | None = None
    key_account: bool = False
    client_type: str | None = None
    overdue_debt: bool = False
    region: str | None = None
    last_activity: date | None = None
    system_modstamp: datetime | None = None


@dataclass(frozen=True, slots=True)
class ContactRecord:
    id: str
    account_id: str | None = None
    email: str | None = None
    phone: str | None = None
    mobile_phone: str | None = None
    owner_id: str | None = None
    system_modstamp: datetime | None = None


@dataclass(frozen=True, slots=True)
class LeadRecord:
    id: str
    email: str | None = None
    phone: str | None = None
    mobile_phone: str | None = None
    company: str | None = None
    status: str | None = None
    is_converted: bool = False
    owner_id: str | None = None
    leadflow_id: str | None = None
    system_modstamp: datetime | None = None


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: str
    name: str | None = None
    is_active: bool = True
    role: str | None = None
    team: str | None = None
    system_modstamp: datetime | None = None


@dataclass(frozen=True, slots=True)
class QueueRecord:
    id: str
    name: str | None = None
    developer_name: str | None = None
    system_modstamp: datetime | None = None


MirrorRecord = AccountRecord | ContactRecord | LeadRecord | UserRecord | QueueRecord

# The Salesforce fields each mirrored object is queried with (and that a CrmChange may carry).
SALESFORCE_FIELDS: dict[MirrorObject, tuple[str, ...]] = {
    "Account": (
        "Id",
        "Name",
        "Website",
        "Phone",
        "OwnerId",
        "Type",
        "Industry",
        "NumberOfEmployees",
        "BillingCountry",
        *ACCOUNT_CLIENT_FIELDS,
        "SystemModstamp",
    ),
    "Contact": ("Id", "AccountId", "Email", "Phone", "MobilePhone", "OwnerId", "SystemModstamp"),
    "Lead": (
        "Id",
        "Email",
        "Phone",
        "MobilePhone",
        "Company",
        "Status",
        "IsConverted",
        "OwnerId",
        "Leadflow_Id__c",
        "SystemModstamp",
    ),
    "User": ("Id", "Name", "IsActive", "Role_Name__c", "Team__c", "SystemModstamp"),
    "Queue": ("Id", "Name", "DeveloperName", "SystemModstamp"),
}
SALESFORCE_SOBJECT: dict[MirrorObject, str] = {
    "Account": "Account",
    "Contact": "Contact",
    "Lead": "Lead",
    "User": "User",
    "Queue": "Group",
}


def _get(raw: Mapping[str, Any], field: str) -> Any:
    if field in raw:
        return raw[field]
    lowered = field.lower()
    for key, value in raw.items():
        if key.lower() == lowered:
            return value
    return None


def _has(raw: Mapping[str, Any], field: str) -> bool:
    lowered = field.lower()
    return any(key.lower() == lowered for key in raw)


def from_salesforce(obj: MirrorObject, raw: Mapping[str, Any]) -> MirrorRecord:
    """Build the typed record for ``obj`` from a Salesforce record. Raises ValueError without an Id."""
    rid = parse_str(_get(raw, "Id"))
    if not rid:
        raise ValueError(f"{obj} record without Id")
    stamp = parse_datetime(_get(raw, "SystemModstamp"))
    if obj == "Account":
        return AccountRecord(
            id=rid,
            name=parse_str(_get(raw, "Name")),
            website=parse_str(_get(raw, "Website")),
            phone=parse_str(_get(raw, "Phone")),
            owner_id=parse_str(_get(raw, "OwnerId")),
            type=parse_str(_get(raw, "Type")),
            industry=parse_str(_get(raw, "Industry")),
            employees=parse_int(_get(raw, "NumberOfEmployees")),
            country=parse_str(_get(raw, "BillingCountry")),
            key_account=parse_bool(_get(raw, "Key_Account__c")),
            client_type=parse_str(_get(raw, "Client_Type__c")),
            overdue_debt=parse_bool(_get(raw, "Overdue_Debt__c")),
            region=parse_str(_get(raw, "Region__c")),
            last_activity=parse_date(_get(raw, "Last_Activity_Date__c")),
            system_modstamp=stamp,
        )
    if obj == "Contact":
        return ContactRecord(
            id=rid,
            account_id=parse_str(_get(raw, "AccountId")),
            email=parse_str(_get(raw, "Email")),
            phone=parse_str(_get(raw, "Phone")),
            mobile_phone=parse_str(_get(raw, "MobilePhone")),
            owner_id=parse_str(_get(raw, "OwnerId")),
            system_modstamp=stamp,
        )
    if obj == "Lead":
        return LeadRecord(
            id=rid,
            email=parse_str(_get(raw, "Email")),
            phone=parse_str(_get(raw, "Phone")),
            mobile_phone=parse_str(_get(raw, "MobilePhone")),
            company=parse_str(_get(raw, "Company")),
            status=parse_str(_get(raw, "Status")),
            is_converted=parse_bool(_get(raw, "IsConverted")),
            owner_id=parse_str(_get(raw, "OwnerId")),
            leadflow_id=parse_str(_get(raw, "Leadflow_Id__c")),
            system_modstamp=stamp,
        )
    if obj == "User":
        active = _get(raw, "IsActive")
        return UserRecord(
            id=rid,
            name=parse_str(_get(raw, "Name")),
            is_active=True if active is None else parse_bool(active),
            role=parse_str(_get(raw, "Role_Name__c")),
            team=parse_str(_get(raw, "Team__c")),
            system_modstamp=stamp,
        )
    return QueueRecord(
        id=rid,
        name=parse_str(_get(raw, "Name")),
        developer_name=parse_str(_get(raw, "DeveloperName")),
        system_modstamp=stamp,
    )


def merge_partial(obj: MirrorObject, current: MirrorRecord | None, raw: Mapping[str, Any]) -> MirrorRecord:
    """Apply a change that may carry only some fields on top of the record we already have."""
    if current is None:
        return from_salesforce(obj, raw)
    full: dict[str, Any] = dict(to_salesforce(obj, current))
    for field in SALESFORCE_FIELDS[obj]:
        if _has(raw, field):
            full[field] = _get(raw, field)
    return from_salesforce(obj, full)


def to_salesforce(obj: MirrorObject, rec: MirrorRecord) -> dict[str, Any]:
    """The inverse of ``from_salesforce`` (Salesforce field names, Python values)."""
    if isinstance(rec, AccountRecord):
        return {
            "Id": rec.id,
            "Name": rec.name,
            "Website": rec.website,
            "Phone": rec.phone,
            "OwnerId": rec.owner_id,
            "Type": rec.type,
            "Industry": rec.industry,
            "NumberOfEmployees": rec.employees,
            "BillingCountry": rec.country,
            "Key_Account__c": rec.key_account,
            "Client_Type__c": rec.client_type,
            "Overdue_Debt__c": rec.overdue_debt,
            "Region__c": rec.region,
            "Last_Activity_Date__c": rec.last_activity,
            "SystemModstamp": rec.system_modstamp,
        }
    if isinstance(rec, ContactRecord):
        return {
            "Id": rec.id,
            "AccountId": rec.account_id,
            "Email": rec.email,
            "Phone": rec.phone,
            "MobilePhone": rec.mobile_phone,
            "OwnerId": rec.owner_id,
            "SystemModstamp": rec.system_modstamp,
        }
    if isinstance(rec, LeadRecord):
        return {
            "Id": rec.id,
            "Email": rec.email,
            "Phone": rec.phone,
            "MobilePhone": rec.mobile_phone,
            "Company": rec.company,
            "Status": rec.status,
            "IsConverted": rec.is_converted,
            "OwnerId": rec.owner_id,
            "Leadflow_Id__c": rec.leadflow_id,
            "SystemModstamp": rec.system_modstamp,
        }
    if isinstance(rec, UserRecord):
        return {
            "Id": rec.id,
            "Name": rec.name,
            "IsActive": rec.is_active,
            "Role_Name__c": rec.role,
            "Team__c": rec.team,
            "SystemModstamp": rec.system_modstamp,
        }
    return {"Id": rec.id, "Name": rec.name, "DeveloperName": rec.developer_name, "SystemModstamp": rec.system_modstamp}


def object_for(sobject: str, raw: Mapping[str, Any] | None = None) -> MirrorObject | None:
    """Which mirror table a Salesforce object name maps to (Groups only when they are queues)."""
    name = sobject.strip()
    if name in ("Account", "Contact", "Lead", "User"):
        return name  # type: ignore[return-value]
    if name == "Queue":
        return "Queue"
    if name == "Group":
        kind = _get(raw or {}, "Type")
        return "Queue" if kind in (None, "Queue") else None
    return None
