import json
from typing import Any

import pytest
from leadflow_contracts import Event, LeadSubmitted, RejectionReason, topics
from leadflow_contracts.asyncapi import (
    CONTRACT_MARK,
    PUBLIC_TOPICS,
    TOPIC_CONTRACTS,
    channel_rows,
    complete_with_contracts,
    contract_schemas,
    is_opaque,
    public_document,
)

pytestmark = pytest.mark.unit


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_every_topic_has_exactly_one_contract():
    assert set(TOPIC_CONTRACTS) == set(topics.ALL_TOPICS)


def test_public_document_lists_the_outside_topics_from_the_outside_partys_side():
    doc = public_document()
    assert doc["asyncapi"] == "3.0.0"
    assert set(doc["channels"]) == {"leads.inbound", "leads.rejected", "sla.events", "crm.synced"}
    actions = {op["channel"]["$ref"].removeprefix("#/channels/"): op["action"] for op in doc["operations"].values()}
    assert actions == {
        "leads.inbound": "send",
        "leads.rejected": "receive",
        "sla.events": "receive",
        "crm.synced": "receive",
    }
    assert actions == PUBLIC_TOPICS


def test_every_reference_in_the_public_document_resolves():
    doc = public_document()
    refs = _refs(doc)
    assert refs
    for ref in refs:
        assert _resolve(doc, ref) is not None, ref


def test_lead_submitted_schema_names_every_field_and_the_rejection_codes():
    doc = public_document()
    schemas = doc["components"]["schemas"]
    assert set(schemas["LeadSubmitted"]["properties"]) == set(LeadSubmitted.model_fields)
    assert schemas["LeadSubmitted"]["required"] == ["occurred_at", "source"]
    assert schemas["RejectionReason"]["enum"] == [r.value for r in RejectionReason]
    assert "$defs" not in json.dumps(doc)


def test_messages_say_key_and_content_type():
    message = public_document()["components"]["messages"]["LeadSubmitted"]
    assert message["contentType"] == "application/json"
    assert "lead_id" in message["bindings"]["kafka"]["key"]["description"]
    assert message["headers"]["properties"]["content-type"]["const"] == "application/json"


def test_public_document_is_deterministic():
    assert json.dumps(public_document(), sort_keys=True) == json.dumps(public_document(), sort_keys=True)


def test_contract_schemas_refuse_two_different_models_with_one_name():
    def make(field_type: type) -> type[Event]:
        return type("Clash", (Event,), {"__annotations__": {"x": field_type}})

    class A(Event):
        inner: make(int)  # type: ignore[valid-type]

    class B(Event):
        inner: make(str)  # type: ignore[valid-type]

    with pytest.raises(ValueError, match="Clash"):
        contract_schemas([A, B])


def _faststream_like(payload_schema: dict[str, Any], address: str = "leads.inbound") -> dict[str, Any]:
    return {
        "asyncapi": "3.0.0",
        "channels": {
            "svc.in": {
                "address": address,
                "messages": {"SubscribeMessage": {"$ref": "#/components/messages/svc.in:SubscribeMessage"}},
            }
        },
        "operations": {"svc.in": {"action": "receive", "channel": {"$ref": "#/channels/svc.in"}}},
        "components": {
            "messages": {"svc.in:SubscribeMessage": {"payload": {"$ref": "#/components/schemas/P"}}},
            "schemas": {"P": payload_schema},
        },
    }


def test_opaque_payloads_get_the_topics_contract_and_the_empty_schema_goes():
    doc = complete_with_contracts(_faststream_like({"title": "EmptyPayload", "type": "null"}))
    message = doc["components"]["messages"]["svc.in:SubscribeMessage"]
    assert message["payload"] == {"$ref": "#/components/schemas/LeadSubmitted"}
    assert "LeadSubmitted" in message[CONTRACT_MARK]
    assert "P" not in doc["components"]["schemas"]
    assert {"LeadSubmitted", "SourceInfo", "Person"} <= set(doc["components"]["schemas"])
    for ref in _refs(doc):
        _resolve(doc, ref)


def test_an_untyped_batch_with_a_topic_prefix_is_completed_too():
    doc = complete_with_contracts(_faststream_like({"type": "array", "items": {}}, "t1-sla.events"), topic_prefix="t1-")
    assert doc["components"]["messages"]["svc.in:SubscribeMessage"]["payload"]["$ref"].endswith("/SlaEvent")


def test_typed_payloads_and_unknown_topics_are_left_alone():
    typed = {"type": "object", "properties": {"lead_id": {"type": "string"}}}
    original = _faststream_like(typed)
    assert complete_with_contracts(original) == original
    unknown = _faststream_like({"type": "null"}, "somebody.elses.topic")
    assert complete_with_contracts(unknown)["components"]["messages"] == unknown["components"]["messages"]


def test_is_opaque():
    assert is_opaque({"type": "null"})
    assert is_opaque({})
    assert is_opaque({"type": "array", "items": {}})
    assert not is_opaque({"type": "array", "items": {"$ref": "#/components/schemas/X"}})
    assert not is_opaque({"$ref": "#/components/schemas/X"})


def test_channel_rows_join_channels_operations_and_messages():
    rows = channel_rows(public_document())
    assert [r["address"] for r in rows] == ["crm.synced", "leads.inbound", "leads.rejected", "sla.events"]
    inbound = rows[1]
    assert inbound["actions"] == ["send"]
    assert inbound["schema"] == "LeadSubmitted"
