"""The object/field schema (one JSON file) that drives validation, SOQL and describe."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leadflow_sf_emulator.resources import schema_file

TEXT_TYPES = {"string", "textarea", "email", "phone", "url", "picklist", "multipicklist", "combobox", "id", "reference"}
NUMBER_TYPES = {"double", "currency", "percent", "int"}
_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
}


def _label_from_name(name: str) -> str:
    if name.endswith("__c"):
        return name[:-3].replace("_", " ")
    base = name[:-2] + " ID" if name.endswith("Id") and name != "Id" else name
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", base)


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    label: str
    length: int = 0
    required: bool = False
    createable: bool = True
    updateable: bool = True
    unique: bool = False
    external_id: bool = False
    values: tuple[str, ...] = ()
    restricted: bool = False
    default: Any = None
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    name_field: bool = False
    default_owner: bool = False
    precision: int = 0
    scale: int = 0
    extra_type_info: str | None = None

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")

    @property
    def nillable(self) -> bool:
        return not self.required and self.type != "boolean" and self.name != "Id"

    def describe(self) -> dict[str, Any]:
        picklist = [
            {"active": True, "defaultValue": v == self.default, "label": v, "validFor": None, "value": v}
            for v in self.values
        ]
        return {
            "aggregatable": self.type not in ("textarea", "multipicklist"),
            "autoNumber": False,
            "byteLength": self.length * 3,
            "calculated": False,
            "caseSensitive": False,
            "createable": self.createable,
            "custom": self.custom,
            "defaultValue": self.default if self.type == "boolean" and self.default is not None else None,
            "defaultedOnCreate": self.default is not None
            or self.type == "boolean"
            or self.default_owner
            or self.name
            in ("Id", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById", "SystemModstamp"),
            "digits": 9 if self.type == "int" else 0,
            "externalId": self.external_id,
            "extraTypeInfo": self.extra_type_info,
            "filterable": self.type not in ("textarea",),
            "groupable": self.type not in ("textarea", "double", "currency", "percent", "datetime", "multipicklist"),
            "idLookup": self.name == "Id" or self.external_id,
            "label": self.label,
            "length": self.length,
            "name": self.name,
            "nameField": self.name_field,
            "namePointing": len(self.reference_to) > 1,
            "nillable": self.nillable,
            "picklistValues": picklist,
            "polymorphicForeignKey": len(self.reference_to) > 1,
            "precision": self.precision,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "restrictedPicklist": self.restricted,
            "scale": self.scale,
            "soapType": _SOAP_TYPES.get(self.type, "xsd:string"),
            "sortable": self.type not in ("textarea", "multipicklist"),
            "type": self.type,
            "unique": self.unique,
            "updateable": self.updateable,
        }


@dataclass
class ObjectDef:
    name: str
    key_prefix: str
    label: str
    label_plural: str
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    fields: dict[str, FieldDef] = field(default_factory=dict)  # canonical name -> def, in order
    by_lower: dict[str, FieldDef] = field(default_factory=dict)
    relationships: dict[str, FieldDef] = field(default_factory=dict)  # lower relationship name -> lookup field

    def field(self, name: str) -> FieldDef | None:
        fd = self.fields.get(name)
        return fd if fd is not None else self.by_lower.get(name.lower())

    def finish(self) -> None:
        """Precompute what every write needs."""
        self.defaults = {f.name: f.default for f in self.fields.values()}
        self.required_names = [f.name for f in self.fields.values() if (f.required or f.default_owner) and f.createable]
        self.owner_fields = [f.name for f in self.fields.values() if f.default_owner]

    def relationship(self, name: str) -> FieldDef | None:
        return self.relationships.get(name.lower())

    @property
    def external_id_fields(self) -> list[FieldDef]:
        return [f for f in self.fields.values() if f.external_id]

    def urls(self, version: str) -> dict[str, str]:
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}

    def describe_basic(self, version: str) -> dict[str, Any]:
        return {
            "activateable": False,
            "createable": self.createable,
            "custom": False,
            "customSetting": False,
            "deletable": self.deletable,
            "deprecatedAndHidden": False,
            "feedEnabled": False,
            "hasSubtypes": False,
            "isSubtype": False,
            "keyPrefix": self.key_prefix,
            "label": self.label,
            "labelPlural": self.label_plural,
            "layoutable": True,
            "mergeable": self.name in ("Lead", "Account", "Contact"),
            "mruEnabled": True,
            "name": self.name,
            "queryable": True,
            "replicateable": True,
            "retrieveable": True,
            "searchable": True,
            "triggerable": True,
            "undeletable": self.deletable,
            "updateable": self.updateable,
            "urls": self.urls(version),
        }


_SYSTEM_FIELDS = [
    {"name": "Id", "type": "id", "length": 18, "readonly": True, "label": "Record ID"},
    {"name": "IsDeleted", "type": "boolean", "readonly": True, "label": "Deleted"},
    {"name": "CreatedDate", "type": "datetime", "readonly": True, "label": "Created Date"},
    {
        "name": "CreatedById",
        "type": "reference",
        "readonly": True,
        "referenceTo": ["User"],
        "relationshipName": "CreatedBy",
        "label": "Created By ID",
    },
    {"name": "LastModifiedDate", "type": "datetime", "readonly": True, "label": "Last Modified Date"},
    {
        "name": "LastModifiedById",
        "type": "reference",
        "readonly": True,
        "referenceTo": ["User"],
        "relationshipName": "LastModifiedBy",
        "label": "Last Modified By ID",
    },
    {"name": "SystemModstamp", "type": "datetime", "readonly": True, "label": "System Modstamp"},
]


def _field_def(raw: dict[str, Any]) -> FieldDef:
    t = raw["type"]
    readonly = bool(raw.get("readonly"))
    length = raw.get("length", 0)
    if t in ("picklist", "multipicklist") and not length:
        length = 255 if t == "picklist" else 4099
    if t in ("reference", "id"):
        length = 18
    return FieldDef(
        name=raw["name"],
        type=t,
        label=raw.get("label") or _label_from_name(raw["name"]),
        length=length,
        required=bool(raw.get("required")),
        createable=not readonly,
        updateable=not readonly and not raw.get("createOnly"),
        unique=bool(raw.get("unique")),
        external_id=bool(raw.get("externalId")),
        values=tuple(raw.get("values", ())),
        restricted=bool(raw.get("restricted")),
        default=raw.get("default", False if t == "boolean" else None),
        reference_to=tuple(raw.get("referenceTo", ())),
        relationship_name=raw.get("relationshipName"),
        name_field=bool(raw.get("nameField")),
        default_owner=bool(raw.get("defaultOwner")),
        precision=raw.get("precision", 0),
        scale=raw.get("scale", 0),
        extra_type_info=raw.get("extraTypeInfo"),
    )


class Schema:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.objects: dict[str, ObjectDef] = {}
        self.by_lower: dict[str, ObjectDef] = {}
        self.by_prefix: dict[str, ObjectDef] = {}
        for name, raw in doc["objects"].items():
            obj = ObjectDef(
                name=name,
                key_prefix=raw["keyPrefix"],
                label=raw.get("label", name),
                label_plural=raw.get("labelPlural", name + "s"),
                createable=raw.get("createable", True),
                updateable=raw.get("updateable", True),
                deletable=raw.get("deletable", True),
            )
            for rf in [_SYSTEM_FIELDS[0], *raw["fields"], *_SYSTEM_FIELDS[1:]]:
                fd = _field_def(rf)
                obj.fields[fd.name] = fd
                obj.by_lower[fd.name.lower()] = fd
                if fd.relationship_name:
                    obj.relationships[fd.relationship_name.lower()] = fd
            obj.finish()
            self.objects[name] = obj
            self.by_lower[name.lower()] = obj
            self.by_prefix[obj.key_prefix] = obj
        for obj in self.objects.values():  # every lookup must point at a known object
            for fd in obj.fields.values():
                for target in fd.reference_to:
                    if target not in self.objects:
                        raise ValueError(f"{obj.name}.{fd.name}: referenceTo unknown object {target!r}")

    def get(self, name: str) -> ObjectDef | None:
        return self.by_lower.get(name.lower())

    def object_for_id(self, record_id: str) -> ObjectDef | None:
        return self.by_prefix.get(record_id[:3])

    def describe_object(self, obj: ObjectDef, version: str) -> dict[str, Any]:
        children = []
        for other in self.objects.values():
            for fd in other.fields.values():
                if obj.name in fd.reference_to and fd.name not in ("CreatedById", "LastModifiedById"):
                    children.append(
                        {
                            "cascadeDelete": False,
                            "childSObject": other.name,
                            "deprecatedAndHidden": False,
                            "field": fd.name,
                            "relationshipName": _child_relationship(other, fd),
                        }
                    )
        out = obj.describe_basic(version)
        out.update(
            {
                "childRelationships": children,
                "fields": [f.describe() for f in obj.fields.values()],
                "recordTypeInfos": [],
                "supportedScopes": [{"label": "All " + obj.label_plural.lower(), "name": "everything"}],
                "urls": {**obj.urls(version), "uiDetailTemplate": None},
            }
        )
        return out

    def child_relationships(self, parent: ObjectDef) -> dict[str, tuple[ObjectDef, FieldDef]]:
        out: dict[str, tuple[ObjectDef, FieldDef]] = {}
        for other in self.objects.values():
            for fd in other.fields.values():
                if parent.name in fd.reference_to and fd.name not in ("CreatedById", "LastModifiedById"):
                    rel = _child_relationship(other, fd)
                    if rel:
                        out[rel.lower()] = (other, fd)
        return out


def _child_relationship(child: ObjectDef, fd: FieldDef) -> str | None:
    if fd.custom:
        return child.label_plural.replace(" ", "_") + "__r"
    if fd.name in ("OwnerId", "ConvertedAccountId", "ConvertedContactId", "ConvertedOpportunityId", "ManagerId"):
        return None
    if child.name == "Task":
        return "Tasks"
    return child.label_plural.replace(" ", "")


def load_schema(path: Path | None = None) -> Schema:
    with open(path or schema_file(), encoding="utf-8") as fh:
        return Schema(json.load(fh))
