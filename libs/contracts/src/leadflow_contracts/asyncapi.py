"""AsyncAPI 3.0 documents from the contracts: which event travels on which topic, and its JSON Schema.

Pure data, no I/O and no broker. Two uses:

- ``public_document()``: the combined document for outside parties (``leads.inbound``,
  ``leads.rejected``, ``sla.events``, ``crm.synced``), written from their point of view
  (they *send* leads, they *receive* verdicts and outcomes).
- ``complete_with_contracts(doc)``: a document FastStream generated from a service's broker lists
  the channels the service uses; subscribers that read raw bytes (intake judges every byte
  itself) or an untyped batch show an empty payload there. This fills those payloads with the
  contract of the topic, so every channel says what travels on it.

Schemas are the validation-mode JSON Schemas the contracts export to ``deploy/schemas``, with
their ``$defs`` moved to ``components/schemas`` (one shared definition per model).
"""

from __future__ import annotations

import copy
from importlib import metadata
from typing import Any, Final, Literal

from leadflow_contracts import topics
from leadflow_contracts.base import Event
from leadflow_contracts.crm import CrmChange, CrmSynced
from leadflow_contracts.lead import LeadAccepted, LeadRejected, LeadSubmitted
from leadflow_contracts.pipeline import DeadLetter, LeadEnriched, LeadRouted, LeadScored, ReassignRequested
from leadflow_contracts.roster import RosterPublished
from leadflow_contracts.sla import SlaEvent

ASYNCAPI_VERSION: Final = "3.0.0"
KAFKA_BINDING_VERSION: Final = "0.5.0"
SCHEMA_REF: Final = "#/components/schemas/{model}"
CONTRACT_MARK: Final = "x-leadflow-payload-from"
"""Set on a message whose payload ``complete_with_contracts`` took from the contracts."""

TOPIC_CONTRACTS: Final[dict[str, type[Event]]] = {
    topics.LEADS_INBOUND: LeadSubmitted,
    topics.LEADS_ACCEPTED: LeadAccepted,
    topics.LEADS_REJECTED: LeadRejected,
    topics.LEADS_ENRICHED: LeadEnriched,
    topics.LEADS_SCORED: LeadScored,
    topics.LEADS_ROUTED: LeadRouted,
    topics.LEADS_REASSIGN: ReassignRequested,
    topics.LEADS_DEADLETTER: DeadLetter,
    topics.CRM_SYNCED: CrmSynced,
    topics.CRM_CHANGES: CrmChange,
    topics.SLA_EVENTS: SlaEvent,
    topics.CRM_ROSTER: RosterPublished,
}
"""The one event type each topic carries (a Kafka record = one JSON event, keyed by ``lead_id``)."""

Action = Literal["send", "receive"]

PUBLIC_TOPICS: Final[dict[str, Action]] = {
    topics.LEADS_INBOUND: "send",
    topics.LEADS_REJECTED: "receive",
    topics.SLA_EVENTS: "receive",
    topics.CRM_SYNCED: "receive",
}
"""Topics outside parties use, and what they do with each (from their point of view)."""

TOPIC_DESCRIPTIONS: Final[dict[str, str]] = {
    topics.LEADS_INBOUND: "Leads from marketing systems (web forms, webinars, list uploads, partners). "
    "Intake judges every record byte by byte: each one becomes exactly one LeadAccepted on "
    "leads.accepted or one LeadRejected on leads.rejected.",
    topics.LEADS_ACCEPTED: "Leads intake accepted: normalised contact data plus the trace of why.",
    topics.LEADS_REJECTED: "Intake's verdict on input it could not accept: reason code, a message naming "
    "the bad field and the original bytes (base64). Nothing is dropped.",
    topics.LEADS_ENRICHED: "Accepted leads matched against the Salesforce mirror and firmographics.",
    topics.LEADS_SCORED: "Enriched leads with a score, a grade and the reasons.",
    topics.LEADS_ROUTED: "Scored leads with an owner (rep, queue or team lead) and an SLA target.",
    topics.LEADS_REASSIGN: "Requests to route a lead again (SLA breach, owner absent).",
    topics.LEADS_DEADLETTER: "Messages a service could not process after intake, with reason and bytes.",
    topics.CRM_SYNCED: "What leadflow wrote to Salesforce for a lead (upsert, callback task, conversion).",
    topics.CRM_CHANGES: "Changes made in Salesforce (Lead, Task, Opportunity, User), keyed by lead.",
    topics.SLA_EVENTS: "SLA warnings, breaches, met targets and escalation steps for a routed lead.",
    topics.CRM_ROSTER: "Route's roster: every rep with route's weight, caps and availability, and the queues.",
}

LOCAL_BROKER: Final = "127.0.0.1:19092"


def contracts_version() -> str:
    try:
        return metadata.version("leadflow-contracts")
    except metadata.PackageNotFoundError:  # pragma: no cover - source checkout without install
        return "0.0.0"


def _summary(cls: type[Event]) -> str:
    doc = cls.__dict__.get("__doc__") or ""
    if not doc.strip():
        topic = next((t for t, c in TOPIC_CONTRACTS.items() if c is cls), None)
        return TOPIC_DESCRIPTIONS[topic] if topic else cls.__name__
    return " ".join(doc.strip().split("\n\n")[0].split()).replace("``", "")


def contract_schemas(classes: list[type[Event]]) -> dict[str, dict[str, Any]]:
    """Model name → JSON Schema for ``classes`` and every model they use, refs pointing at
    ``#/components/schemas/<Model>``. Raises if two models of the same name differ."""
    out: dict[str, dict[str, Any]] = {}
    for cls in classes:
        schema = cls.model_json_schema(mode="validation", ref_template=SCHEMA_REF)
        defs: dict[str, dict[str, Any]] = schema.pop("$defs", {})
        for name, sub in [(cls.__name__, schema), *defs.items()]:
            if name in out and out[name] != sub:
                raise ValueError(f"two different schemas are named {name}")
            out[name] = sub
    return out


def kafka_message(cls: type[Event]) -> dict[str, Any]:
    """The AsyncAPI message object of one contract: JSON payload, key = lead_id, content-type header."""
    return {
        "name": cls.__name__,
        "title": cls.__name__,
        "summary": _summary(cls),
        "contentType": "application/json",
        "payload": {"$ref": SCHEMA_REF.format(model=cls.__name__)},
        "headers": {
            "type": "object",
            "properties": {
                "content-type": {
                    "type": "string",
                    "const": "application/json",
                    "description": "Kafka record header. Recommended; intake reads the value as JSON either way.",
                }
            },
        },
        "bindings": {
            "kafka": {
                "bindingVersion": KAFKA_BINDING_VERSION,
                "key": {"type": "string", "description": "The lead_id (UTF-8): one lead's events stay in order."},
            }
        },
    }


def public_document(*, server: str = LOCAL_BROKER) -> dict[str, Any]:
    """The combined AsyncAPI document for outside parties (deterministic: no clock, sorted by topic)."""
    classes = [TOPIC_CONTRACTS[t] for t in sorted(PUBLIC_TOPICS)]
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in sorted(PUBLIC_TOPICS):
        cls = TOPIC_CONTRACTS[topic]
        action = PUBLIC_TOPICS[topic]
        messages[cls.__name__] = kafka_message(cls)
        channels[topic] = {
            "address": topic,
            "title": topic,
            "description": TOPIC_DESCRIPTIONS[topic],
            "messages": {cls.__name__: {"$ref": f"#/components/messages/{cls.__name__}"}},
            "servers": [{"$ref": "#/servers/local"}],
            "bindings": {"kafka": {"bindingVersion": KAFKA_BINDING_VERSION, "topic": topic}},
        }
        operations[f"{action}{cls.__name__}"] = {
            "action": action,
            "title": f"{'Publish' if action == 'send' else 'Consume'} {cls.__name__}",
            "channel": {"$ref": f"#/channels/{topic}"},
            "messages": [{"$ref": f"#/channels/{topic}/messages/{cls.__name__}"}],
        }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "leadflow public events",
            "version": contracts_version(),
            "description": "The Kafka topics outside parties use. Marketing systems send LeadSubmitted "
            "to leads.inbound (or POST it to intake's /v1/leads) and read intake's verdicts, SLA events "
            "and Salesforce outcomes. Every record is one JSON event keyed by its lead_id. Operations are "
            "described from the outside party's side: 'send' = you publish, 'receive' = you consume. "
            "Consumers must ignore fields they do not know (fields are added, never renamed or removed).",
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": server,
                "protocol": "kafka",
                "description": "The embedded broker `make run` starts; use your Kafka bootstrap servers elsewhere.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": contract_schemas(classes)},
    }


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


_TYPED_KEYS = ("properties", "$ref", "anyOf", "oneOf", "allOf", "enum", "const")


def is_opaque(schema: dict[str, Any]) -> bool:
    """A payload schema that says nothing about the content: null, bytes, ``{}``, an untyped array."""
    if any(key in schema for key in _TYPED_KEYS):
        return False
    items = schema.get("items")
    if isinstance(items, dict) and not is_opaque(items):
        return False
    return schema.get("type") in (None, "null", "array", "string", "object")


def complete_with_contracts(doc: dict[str, Any], *, topic_prefix: str = "") -> dict[str, Any]:
    """A copy of the FastStream-generated ``doc`` in which every message on a contract topic whose
    payload is opaque gets the topic's contract as payload (marked with ``x-leadflow-payload-from``).
    Typed payloads FastStream derived from handler signatures are kept as they are."""
    out = copy.deepcopy(doc)
    components = out.setdefault("components", {})
    schemas: dict[str, Any] = components.setdefault("schemas", {})
    used: list[type[Event]] = []
    for channel in out.get("channels", {}).values():
        topic = str(channel.get("address", "")).removeprefix(topic_prefix)
        cls = TOPIC_CONTRACTS.get(topic)
        if cls is None:
            continue
        for ref in channel.get("messages", {}).values():
            message = _resolve(out, ref["$ref"]) if "$ref" in ref else ref
            payload = message.get("payload", {})
            target = _resolve(out, payload["$ref"]) if "$ref" in payload else payload
            if not is_opaque(target):
                continue
            message["payload"] = {"$ref": SCHEMA_REF.format(model=cls.__name__)}
            message[CONTRACT_MARK] = f"leadflow_contracts.{cls.__name__} (the record on {topic})"
            message.setdefault("contentType", "application/json")
            used.append(cls)
    for name, schema in contract_schemas(used).items():
        if name in schemas and schemas[name] != schema:
            raise ValueError(f"the document already has a different schema named {name}")
        schemas[name] = schema
    referenced = _referenced_schemas(out)
    for name in [n for n in schemas if n not in referenced]:
        del schemas[name]  # e.g. FastStream's EmptyPayload once nothing points at it
    if not schemas:
        del components["schemas"]
    return out


def _referenced_schemas(doc: dict[str, Any]) -> set[str]:
    prefix = "#/components/schemas/"
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(prefix):
                found.add(ref.removeprefix(prefix))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk({k: v for k, v in doc.items() if k != "components"})
    walk(doc.get("components", {}).get("messages", {}))
    # schemas referenced from schemas (nested models)
    pending = list(found)
    schemas = doc.get("components", {}).get("schemas", {})
    while pending:
        before = set(found)
        walk(schemas.get(pending.pop(), {}))
        pending.extend(found - before)
    return found


def channel_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (channel, message): what an HTML or text renderer shows. Pure lookup."""
    rows: list[dict[str, Any]] = []
    actions: dict[str, list[str]] = {}
    for op in doc.get("operations", {}).values():
        channel_ref = op.get("channel", {}).get("$ref", "")
        actions.setdefault(channel_ref.removeprefix("#/channels/"), []).append(op.get("action", ""))
    for key in sorted(doc.get("channels", {})):
        channel = doc["channels"][key]
        for name in sorted(channel.get("messages", {})):
            ref = channel["messages"][name]
            message = _resolve(doc, ref["$ref"]) if "$ref" in ref else ref
            payload_ref = message.get("payload", {}).get("$ref", "")
            rows.append(
                {
                    "channel": key,
                    "address": channel.get("address", key),
                    "description": channel.get("description", ""),
                    "actions": sorted(set(actions.get(key, []))),
                    "message": message.get("name", name),
                    "summary": message.get("summary", ""),
                    "schema": payload_ref.removeprefix("#/components/schemas/") or None,
                }
            )
    return rows
