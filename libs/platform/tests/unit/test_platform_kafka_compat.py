"""The kcat front door's answer rewriting, checked with aiokafka's own encoders and decoders."""

from __future__ import annotations

import struct

import pytest
from aiokafka.protocol.coordination import FindCoordinatorResponse_v0, FindCoordinatorResponse_v1
from aiokafka.protocol.metadata import MetadataResponse_v0, MetadataResponse_v1, MetadataResponse_v5
from hypothesis import given
from hypothesis import strategies as st
from leadflow_platform.kafka_compat import API_VERSIONS, new_event_loop, old_librdkafka, rewrite_response

pytestmark = pytest.mark.unit

HOST, PORT = b"127.0.0.1", 19094


def _frame(correlation: int, body: bytes) -> bytes:
    return struct.pack(">i", correlation) + body


def _api_versions_v3(tags: bytes) -> bytes:
    keys = [(0, 0, 9), (1, 0, 12), (18, 0, 3)]
    body = struct.pack(">h", 0) + bytes([len(keys) + 1])
    body += b"".join(struct.pack(">hhh", *k) + b"\x00" for k in keys)
    return body + struct.pack(">i", 0) + tags


# exactly what Tansu 0.6.0 sends: 4 tagged fields, all at their defaults
TANSU_TAGS = b"\x04" + b"\x00\x01\x01" + b"\x01\x08" + b"\xff" * 8 + b"\x02\x01\x01" + b"\x03\x01\x00"


def test_api_versions_defaults_are_dropped_and_the_rest_is_untouched() -> None:
    out = rewrite_response(API_VERSIONS, 3, _frame(7, _api_versions_v3(TANSU_TAGS)), HOST, PORT)
    assert out == _frame(7, _api_versions_v3(b"\x00"))


def test_api_versions_non_default_tags_are_kept() -> None:
    tags = b"\x02" + b"\x01\x08" + struct.pack(">q", 5) + b"\x03\x01\x01"
    frame = _frame(9, _api_versions_v3(tags))
    assert rewrite_response(API_VERSIONS, 3, frame, HOST, PORT) == frame


def test_api_versions_below_v3_has_no_tags_and_passes_through() -> None:
    body = struct.pack(">h", 0) + struct.pack(">i", 1) + struct.pack(">hhh", 18, 0, 3)
    assert rewrite_response(API_VERSIONS, 0, _frame(1, body), HOST, PORT) == _frame(1, body)


hosts = st.text(alphabet="abcdefghijklmnop.-0123456789", min_size=1, max_size=40)
topics = st.lists(st.text(alphabet="abcdef.", min_size=1, max_size=20), max_size=3, unique=True)


@given(host=hosts, port=st.integers(1, 65535), node=st.integers(0, 1000), names=topics)
def test_metadata_brokers_point_at_the_front_door_and_topics_survive(host, port, node, names) -> None:
    for cls, version in ((MetadataResponse_v0, 0), (MetadataResponse_v1, 1), (MetadataResponse_v5, 5)):
        parts = [(0, 0, node, [node], [node])] if version < 5 else [(0, 0, node, [node], [node], [])]
        topic_rows = [(0, n, *([False] if version >= 1 else []), parts) for n in names]
        if version == 0:
            resp = cls([(node, host, port)], topic_rows)
        elif version == 1:
            resp = cls([(node, host, port, None)], node, topic_rows)
        else:
            resp = cls(0, [(node, host, port, "r1")], "cluster", node, topic_rows)
        out = rewrite_response(3, version, _frame(3, resp.encode()), HOST, PORT)
        decoded = cls.decode(out[4:])
        assert [(b[0], b[1], b[2]) for b in decoded.brokers] == [(node, HOST.decode(), PORT)]
        assert decoded.topics == cls.decode(resp.encode()).topics


def test_find_coordinator_v0_and_v1_point_at_the_front_door() -> None:
    v0 = FindCoordinatorResponse_v0(0, 111, "broker.internal", 9092).encode()
    assert FindCoordinatorResponse_v0.decode(rewrite_response(10, 0, _frame(4, v0), HOST, PORT)[4:]).to_object() == {
        "error_code": 0,
        "coordinator_id": 111,
        "host": "127.0.0.1",
        "port": PORT,
    }
    v1 = FindCoordinatorResponse_v1(0, 0, None, 111, "broker.internal", 9092).encode()
    decoded = FindCoordinatorResponse_v1.decode(rewrite_response(10, 1, _frame(5, v1), HOST, PORT)[4:])
    assert (decoded.coordinator_id, decoded.host, decoded.port) == (111, "127.0.0.1", PORT)


def test_a_truncated_answer_is_an_error_not_a_silent_corruption() -> None:
    with pytest.raises(ValueError, match="short Kafka frame"):
        rewrite_response(API_VERSIONS, 3, _frame(7, _api_versions_v3(TANSU_TAGS))[:-4], HOST, PORT)


def _api_versions_request(name: str, version: str, api_version: int = 3) -> bytes:
    client_id = b"rdkafka"
    head = struct.pack(">hhih", API_VERSIONS, api_version, 1, len(client_id)) + client_id + b"\x00"
    body = bytes([len(name) + 1]) + name.encode() + bytes([len(version) + 1]) + version.encode() + b"\x00"
    return head + body


@pytest.mark.parametrize(
    ("name", "version", "old"),
    [
        ("librdkafka", "2.0.2", True),
        ("librdkafka", "1.9.2", True),
        ("librdkafka", "2.1.1", True),
        ("librdkafka", "2.2.0", False),
        ("librdkafka", "2.16.0", False),
        ("apache-kafka-java", "3.7.0", False),
    ],
)
def test_old_librdkafka_is_recognised_from_its_api_versions_request(name: str, version: str, old: bool) -> None:
    assert old_librdkafka(_api_versions_request(name, version)) is old


def test_requests_that_do_not_name_the_client_are_not_old_librdkafka() -> None:
    v0 = struct.pack(">hhih", API_VERSIONS, 0, 1, 7) + b"aiokafk"
    assert old_librdkafka(v0) is False
    assert old_librdkafka(b"\x00\x12") is False


def test_the_front_door_runs_on_uvloop_when_it_is_installed() -> None:
    pytest.importorskip("uvloop")
    loop = new_event_loop()
    try:
        assert type(loop).__module__.split(".")[0] == "uvloop", type(loop)
    finally:
        loop.close()
