"""Create, update, upsert and delete with the validation Salesforce applies, driven by the schema."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from leadflow_sf_emulator import ids
from leadflow_sf_emulator.errors import SalesforceError, not_found
from leadflow_sf_emulator.schema import FieldDef, ObjectDef
from leadflow_sf_emulator.store import Record, Store, Txn
from leadflow_sf_emulator.values import parse_date, parse_datetime, to_wire

_EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+\Z"
)
_EAI_EMAIL_RE = re.compile(r"^[\w.!#$%&'*+/=?^`{|}~-]+@\w(?:[\w-]*\w)?(?:\.[\w-]+)+\Z")
"""With Email Internationalization on, Unicode letters are allowed in both the local part and the domain."""
_NAME_OBJECTS = {"Lead", "Contact", "User"}
_CLOSED_STAGES = {"Closed Won": True, "Closed Lost": False}


@dataclass
class DmlContext:
    user_id: str
    now: datetime
    version: str = "59.0"
    duplicate_rule: bool = False
    allow_save_duplicates: bool = False
    email_internationalization: bool = False
    system_mode: bool = False  # seeding and lead conversion may set read-only fields


def _deser_error(fd: FieldDef, value: Any) -> SalesforceError:
    kind = {
        "double": "double",
        "currency": "double",
        "percent": "double",
        "int": "int",
        "boolean": "boolean",
        "date": "date",
        "datetime": "datetime",
    }.get(fd.type, "string")
    token = {
        str: "VALUE_STRING",
        bool: "VALUE_TRUE",
        int: "VALUE_NUMBER_INT",
        float: "VALUE_NUMBER_FLOAT",
        list: "START_ARRAY",
        dict: "START_OBJECT",
    }.get(type(value), "VALUE_STRING")
    return SalesforceError(
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {kind} from {token} value {value} or request may be missing a required field",
    )


def coerce(obj: ObjectDef, fd: FieldDef, value: Any, *, eai: bool = False) -> Any:
    """A wire value (JSON or CSV text) as the stored type, or the Salesforce error."""
    if value is None:
        return None
    t = fd.type
    if isinstance(value, (list, dict)):
        raise _deser_error(fd, value)
    if t == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _deser_error(fd, value)
    if t in ("double", "currency", "percent", "int"):
        if isinstance(value, bool):
            raise _deser_error(fd, value)
        if isinstance(value, str):
            try:
                value = float(value) if t != "int" else int(value)
            except ValueError:
                raise _deser_error(fd, value) from None
        if t == "int":
            if isinstance(value, float) and not value.is_integer():
                raise _deser_error(fd, value)
            return int(value)
        fv = float(value)
        if fv != fv or fv in (float("inf"), float("-inf")):
            raise _deser_error(fd, value)
        if fd.precision and abs(fv) >= 10 ** (fd.precision - fd.scale):
            raise SalesforceError(
                "NUMBER_OUTSIDE_VALID_RANGE",
                f"{fd.label}: value outside of valid range on numeric field: {value}",
                fields=[fd.name],
            )
        return fv
    if t == "date":
        if isinstance(value, str):
            d = parse_date(value) or (dt.date() if (dt := parse_datetime(value)) else None)
            if d is not None:
                return d
        raise _deser_error(fd, value)
    if t == "datetime":
        if isinstance(value, str):
            dt = parse_datetime(value) or (
                datetime(d.year, d.month, d.day, tzinfo=UTC) if (d := parse_date(value)) else None
            )
            if dt is not None:
                return dt
        raise _deser_error(fd, value)
    # text-like types
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, float) and value.is_integer():
        value = str(int(value))
    elif not isinstance(value, str):
        value = str(value)
    if t in ("reference", "id"):
        if value == "":
            return None
        norm = ids.normalize(value)
        if norm is None:
            raise SalesforceError("MALFORMED_ID", f"{fd.label}: id value of incorrect type: {value}", fields=[fd.name])
        return norm
    if value == "":
        return None
    if fd.length and len(value) > fd.length:
        shown = value if len(value) <= 60 else value[:57] + "..."
        raise SalesforceError(
            "STRING_TOO_LONG",
            f"{fd.label}: data value too large: {shown} (max length={fd.length})",
            fields=[fd.name],
        )
    if t == "email" and not (_EAI_EMAIL_RE if eai else _EMAIL_RE).match(value):
        raise SalesforceError("INVALID_EMAIL_ADDRESS", f"{fd.label}: invalid email address: {value}", fields=[fd.name])
    if t == "picklist" and fd.restricted and value not in fd.values:
        raise SalesforceError(
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"{fd.label}: bad value for restricted picklist field: {value}",
            fields=[fd.name],
        )
    if t == "multipicklist":
        parts = [p.strip() for p in value.split(";") if p.strip()]
        if fd.restricted:
            for p in parts:
                if p not in fd.values:
                    raise SalesforceError(
                        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                        f"{fd.label}: bad value for restricted picklist field: {p}",
                        fields=[fd.name],
                    )
        return ";".join(dict.fromkeys(parts)) or None
    return value


def prepare(obj: ObjectDef, values: dict[str, Any], *, create: bool, ctx: DmlContext) -> dict[str, Any]:
    """Resolve names (case-insensitive) and coerce values; refuse unknown and read-only fields."""
    if not isinstance(values, dict):
        raise SalesforceError("JSON_PARSER_ERROR", "Cannot deserialize instance of sObject from non-object value")
    out: dict[str, Any] = {}
    readonly: list[str] = []
    for key, value in values.items():
        if key == "attributes":
            continue
        fd = obj.field(key)
        if fd is None:
            raise SalesforceError("INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}")
        if fd.name == "Id":
            if create and not ctx.system_mode:
                raise SalesforceError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", fields=["Id"]
                )
            continue
        if not ctx.system_mode and not (fd.createable if create else fd.updateable):
            readonly.append(fd.name)
            continue
        out[fd.name] = coerce(obj, fd, value, eai=ctx.email_internationalization)
    if readonly:
        raise SalesforceError(
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            f"Unable to create/update fields: {', '.join(readonly)}. Please check the security settings of this "
            "field and verify that it is read/write for your profile or permission set.",
            fields=readonly,
        )
    return out


def _record_id(rec: Record) -> str:
    rid: str = rec["Id"]
    return rid


def _computed(obj: ObjectDef, rec: Record) -> None:
    if obj.name in _NAME_OBJECTS:
        rec["Name"] = " ".join(p for p in (rec.get("FirstName"), rec.get("LastName")) if p) or None
    elif obj.name == "Opportunity":
        stage = rec.get("StageName")
        rec["IsClosed"] = stage in _CLOSED_STAGES
        rec["IsWon"] = stage is not None and _CLOSED_STAGES.get(stage, False)
    elif obj.name == "Task":
        rec["IsClosed"] = rec.get("Status") == "Completed"


def _check_required(obj: ObjectDef, rec: Record, changed: dict[str, Any] | None) -> None:
    missing = [
        name for name in obj.required_names if rec.get(name) in (None, "") and (changed is None or name in changed)
    ]
    if missing:
        raise SalesforceError(
            "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", fields=missing
        )


def _check_references(store: Store, obj: ObjectDef, rec: Record, changed: dict[str, Any]) -> None:
    for name, value in changed.items():
        fd = obj.fields[name]
        if fd.type != "reference" or value is None:
            continue
        target = store.schema.object_for_id(value)
        if target is None or target.name not in fd.reference_to:
            raise SalesforceError(
                "FIELD_INTEGRITY_EXCEPTION", f"{fd.label}: id value of incorrect type: {value}", fields=[name]
            )
        found = store.get(value)
        if found is None or found[1].get("IsDeleted"):
            raise SalesforceError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", fields=[name])
        parent = found[1]
        if name == "OwnerId":
            if target.name == "User" and not parent.get("IsActive", True):
                raise SalesforceError(
                    "INACTIVE_OWNER_OR_USER",
                    f"operation performed with inactive user [{value}] as owner of {obj.name.lower()}",
                    fields=[name],
                )
            if target.name == "Group" and not _is_queue_for(store, value, obj.name):
                raise SalesforceError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", fields=[name])


def _is_queue_for(store: Store, group_id: str, sobject: str) -> bool:
    rec = store.tables["Group"].get(group_id)
    if rec is None or rec.get("Type") != "Queue":
        return False
    return any(q.get("QueueId") == group_id and q.get("SobjectType") == sobject for q in store.records("QueueSobject"))


def _check_unique(store: Store, obj: ObjectDef, rec: Record, changed: dict[str, Any]) -> None:
    for name, value in changed.items():
        fd = obj.fields[name]
        if not fd.unique or value is None:
            continue
        others = [rid for rid in store.find_by(obj.name, name, value) if rid != rec["Id"]]
        if others:
            raise SalesforceError(
                "DUPLICATE_VALUE",
                f"duplicate value found: {name} duplicates value on record with id: {others[0]}",
                fields=[name],
            )


def _check_duplicate_rule(store: Store, obj: ObjectDef, rec: Record, ctx: DmlContext) -> None:
    if not ctx.duplicate_rule or ctx.allow_save_duplicates or obj.name != "Lead" or not rec.get("Email"):
        return
    matches = [
        rid
        for rid in store.find_by("Lead", "Email", rec["Email"])
        if rid != rec["Id"] and not store.tables["Lead"][rid].get("IsConverted")
    ]
    if not matches:
        return
    records = [
        {
            "additionalInformation": [],
            "fieldDiffs": [],
            "matchConfidence": 100.0,
            "record": {
                "attributes": {"type": "Lead", "url": f"/services/data/v{ctx.version}/sobjects/Lead/{rid}"},
                "Id": rid,
            },
        }
        for rid in matches
    ]
    raise SalesforceError(
        "DUPLICATES_DETECTED",
        "Use one of these records?",
        fields=[],
        extra={
            "duplicateResult": {
                "allowSave": True,
                "duplicateRule": "Leadflow_Lead_Email_Rule",
                "duplicateRuleEntityType": "Lead",
                "errorMessage": "Use one of these records?",
                "matchResults": [
                    {
                        "entityType": "Lead",
                        "errors": [],
                        "matchEngine": "ExactMatchEngine",
                        "matchRecords": records,
                        "rule": "Leadflow_Lead_Email_Match",
                        "size": len(records),
                        "success": True,
                    }
                ],
            }
        },
    )


def new_record(store: Store, obj: ObjectDef, ctx: DmlContext, record_id: str | None = None) -> Record:
    rec: Record = dict(obj.defaults)
    rec.update(
        {
            "Id": record_id or store.next_id(obj.key_prefix),
            "IsDeleted": False,
            "CreatedDate": ctx.now,
            "CreatedById": ctx.user_id,
            "LastModifiedDate": ctx.now,
            "LastModifiedById": ctx.user_id,
            "SystemModstamp": ctx.now,
        }
    )
    for name in obj.owner_fields:
        rec[name] = ctx.user_id
    return rec


def create(txn: Txn, obj: ObjectDef, values: dict[str, Any], ctx: DmlContext) -> str:
    if not obj.createable and not ctx.system_mode:
        raise SalesforceError("INVALID_TYPE_FOR_OPERATION", f"entity type cannot be inserted: {obj.label}")
    typed = prepare(obj, values, create=True, ctx=ctx)
    rec = new_record(txn.store, obj, ctx)
    rec.update(typed)
    _computed(obj, rec)
    _check_required(obj, rec, None)
    _check_references(txn.store, obj, rec, typed)
    _check_unique(txn.store, obj, rec, typed)
    _check_duplicate_rule(txn.store, obj, rec, ctx)
    txn.put(obj.name, rec)
    return _record_id(rec)


def live_record(store: Store, obj: ObjectDef, record_id: str) -> Record:
    """The non-deleted record with this id, or 404 NOT_FOUND / ENTITY_IS_DELETED."""
    rid = ids.normalize(record_id)
    rec = store.tables[obj.name].get(rid) if rid and rid.startswith(obj.key_prefix) else None
    if rec is None:
        raise not_found()
    if rec.get("IsDeleted"):
        raise SalesforceError("ENTITY_IS_DELETED", "entity is deleted", status=404, fields=[])
    return rec


def update(txn: Txn, obj: ObjectDef, record_id: str, values: dict[str, Any], ctx: DmlContext) -> str:
    if not obj.updateable and not ctx.system_mode:
        raise SalesforceError("INVALID_TYPE_FOR_OPERATION", f"entity type cannot be updated: {obj.label}")
    current = live_record(txn.store, obj, record_id)
    if obj.name == "Lead" and current.get("IsConverted") and not ctx.system_mode:
        raise SalesforceError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", fields=[])
    typed = prepare(obj, values, create=False, ctx=ctx)
    rec = dict(current)
    rec.update(typed)
    rec.update({"LastModifiedDate": ctx.now, "LastModifiedById": ctx.user_id, "SystemModstamp": ctx.now})
    _computed(obj, rec)
    _check_required(obj, rec, typed)
    _check_references(txn.store, obj, rec, typed)
    _check_unique(txn.store, obj, rec, typed)
    if "Email" in typed:
        _check_duplicate_rule(txn.store, obj, rec, ctx)
    txn.put(obj.name, rec)
    return _record_id(rec)


class MultipleMatches(SalesforceError):
    def __init__(self, urls: list[str]) -> None:
        super().__init__("MULTIPLE_CHOICES", "more than one record found for external id field", status=300)
        self.urls = urls


def external_id_field(obj: ObjectDef, name: str) -> FieldDef:
    fd = obj.field(name)
    if fd is None or not (fd.external_id or fd.name == "Id"):
        raise not_found(f"Provided external ID field does not exist or is not accessible: {name}")
    return fd


def find_by_external_id(store: Store, obj: ObjectDef, fd: FieldDef, value: Any, version: str) -> list[str]:
    if fd.name == "Id":
        rid = ids.normalize(value)
        rec = store.tables[obj.name].get(rid) if rid else None
        return [rid] if rec is not None and not rec.get("IsDeleted") and rid else []
    typed = coerce(obj, fd, value)
    matches = store.find_by(obj.name, fd.name, typed) if typed is not None else []
    if len(matches) > 1:
        raise MultipleMatches([f"/services/data/v{version}/sobjects/{obj.name}/{rid}" for rid in matches])
    return matches


def upsert(
    txn: Txn, obj: ObjectDef, ext_name: str, ext_value: Any, values: dict[str, Any], ctx: DmlContext
) -> tuple[str, bool]:
    """(id, created). The external id in the body, if any, must match the one given."""
    fd = external_id_field(obj, ext_name)
    if ext_value is None or ext_value == "":
        raise SalesforceError("MISSING_ARGUMENT", f"{fd.name} not specified", fields=[fd.name])
    body = dict(values)
    for key in list(body):
        if key.lower() == fd.name.lower():
            if body[key] is not None and str(body[key]).lower() != str(ext_value).lower():
                raise SalesforceError(
                    "INVALID_FIELD",
                    f"The value of the external ID field {fd.name} in the body does not match the URL",
                    fields=[fd.name],
                )
            del body[key]
    matches = find_by_external_id(txn.store, obj, fd, ext_value, ctx.version)
    if matches:
        return update(txn, obj, matches[0], body, ctx), False
    if fd.name == "Id":
        raise not_found()
    body[fd.name] = ext_value
    return create(txn, obj, body, ctx), True


def delete(txn: Txn, obj: ObjectDef, record_id: str, ctx: DmlContext) -> str:
    if not obj.deletable and not ctx.system_mode:
        raise SalesforceError("INVALID_TYPE_FOR_OPERATION", f"entity type cannot be deleted: {obj.label}")
    current = live_record(txn.store, obj, record_id)
    rec = dict(current)
    rec.update(
        {"IsDeleted": True, "LastModifiedDate": ctx.now, "LastModifiedById": ctx.user_id, "SystemModstamp": ctx.now}
    )
    txn.put(obj.name, rec)
    return _record_id(rec)


def record_json(obj: ObjectDef, rec: Record, version: str, fields: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "attributes": {"type": obj.name, "url": f"/services/data/v{version}/sobjects/{obj.name}/{rec['Id']}"}
    }
    names = fields if fields is not None else list(obj.fields)
    for name in names:
        out[name] = to_wire(rec.get(name))
    return out


def resolve_field_list(obj: ObjectDef, text: str) -> list[str]:
    names = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        fd = obj.field(part)
        if fd is None:
            raise SalesforceError(
                "INVALID_FIELD",
                f"No such column '{part}' on entity '{obj.name}'. If you are "
                "attempting to use a custom field, be sure to append the '__c' after the custom "
                "field name. Please reference your WSDL or the describe call for the appropriate names.",
            )
        names.append(fd.name)
    return names


def system_values(obj: ObjectDef, raw: dict[str, Any]) -> dict[str, Any]:
    """Typed values for seeding: every field settable, audit fields included."""
    out = {}
    for key, value in raw.items():
        if key == "attributes":
            continue
        fd = obj.field(key)
        if fd is None:
            raise SalesforceError("INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}")
        out[fd.name] = value if isinstance(value, (date, datetime)) else coerce(obj, fd, value)
    return out
