"""The front door's reading of Fetch and Produce frames, checked against aiokafka's own encoders."""

from __future__ import annotations

import struct

import pytest
from aiokafka.protocol import fetch as f
from aiokafka.protocol import produce as p
from hypothesis import given
from hypothesis import strategies as st
from leadflow_platform.kafka_wire import fetch_request, fetch_response_bytes, produce_request, with_max_wait

pytestmark = pytest.mark.unit

names = st.text(alphabet="abcdefghij.-_", min_size=1, max_size=30)
topics = st.dictionaries(names, st.lists(st.integers(0, 50), min_size=1, max_size=4, unique=True), max_size=4)


def _request(api_key: int, version: int, correlation: int, body: bytes, client: bytes = b"bench") -> bytes:
    """Request header v1 (api key, version, correlation id, client id), as aiokafka sends it."""
    return struct.pack(">hhih", api_key, version, correlation, len(client)) + client + body


def _fetch_body(version: int, wait: int, min_bytes: int, request_topics: dict[str, list[int]]) -> bytes:
    if version == 4:
        parts = {t: [(i, 10 * i, 1 << 20) for i in ps] for t, ps in request_topics.items()}
        return f.FetchRequest_v4(-1, wait, min_bytes, 50 << 20, 0, list(parts.items())).encode()
    if version == 7:
        parts7 = {t: [(i, 10 * i, 0, 1 << 20) for i in ps] for t, ps in request_topics.items()}
        return f.FetchRequest_v7(-1, wait, min_bytes, 50 << 20, 0, 0, -1, list(parts7.items()), []).encode()
    parts11 = {t: [(i, -1, 10 * i, 0, 1 << 20) for i in ps] for t, ps in request_topics.items()}
    return f.FetchRequest_v11(-1, wait, min_bytes, 50 << 20, 0, 0, -1, list(parts11.items()), [], "rack").encode()


@given(version=st.sampled_from([4, 7, 11]), wait=st.integers(0, 60_000), min_bytes=st.integers(0, 1 << 20), t=topics)
def test_fetch_request_fields_and_the_wait_rewritten(version, wait, min_bytes, t) -> None:
    frame = _request(1, version, 42, _fetch_body(version, wait, min_bytes, t))
    info = fetch_request(frame)
    assert (info.version, info.max_wait_ms, info.min_bytes, info.topics) == (version, wait, min_bytes, frozenset(t))
    quick = with_max_wait(frame, info, 1)
    assert len(quick) == len(frame)
    again = fetch_request(quick)
    assert (again.max_wait_ms, again.min_bytes, again.topics) == (1, min_bytes, frozenset(t))
    # nothing but the four bytes of the wait changed
    assert quick[: info.wait_offset] == frame[: info.wait_offset]
    assert quick[info.wait_offset + 4 :] == frame[info.wait_offset + 4 :]


def _fetch_response(version: int, partitions: dict[str, list[tuple[int, bytes, int]]]) -> bytes:
    rows: list[tuple[object, ...]] = []
    for topic, parts in partitions.items():
        if version == 4:
            rows.append((topic, [(i, err, 100, 100, [], data) for i, data, err in parts]))
        elif version == 7:
            rows.append((topic, [(i, err, 100, 100, 0, [(5, 6)], data) for i, data, err in parts]))
        else:
            rows.append((topic, [(i, err, 100, 100, 0, [], -1, data) for i, data, err in parts]))
    if version == 4:
        body = f.FetchResponse_v4(0, rows).encode()
    elif version == 7:
        body = f.FetchResponse_v7(0, 0, 0, rows).encode()
    else:
        body = f.FetchResponse_v11(0, 0, 0, rows).encode()
    return struct.pack(">i", 42) + body


records = st.binary(max_size=200)
partition_rows = st.lists(st.tuples(st.integers(0, 9), records), max_size=4)


@given(version=st.sampled_from([4, 7, 11]), data=st.dictionaries(names, partition_rows, max_size=3))
def test_fetch_response_counts_record_bytes(version, data) -> None:
    frame = _fetch_response(version, {t: [(i, b, 0) for i, b in rows] for t, rows in data.items()})
    assert fetch_response_bytes(frame, version) == sum(len(b) for rows in data.values() for _, b in rows)


@pytest.mark.parametrize("version", [4, 7, 11])
def test_a_partition_error_is_answered_at_once(version) -> None:
    frame = _fetch_response(version, {"a": [(0, b"", 0), (1, b"", 6)]})  # NOT_LEADER_FOR_PARTITION
    assert fetch_response_bytes(frame, version) == -1


def test_an_empty_answer_has_no_bytes_and_a_short_frame_is_refused() -> None:
    assert fetch_response_bytes(_fetch_response(11, {}), 11) == 0
    assert fetch_response_bytes(_fetch_response(11, {"a": [(0, b"", 0)]}), 11) == 0
    with pytest.raises(ValueError):
        fetch_response_bytes(_fetch_response(11, {"a": [(0, b"xyz", 0)]})[:-2], 11)


@given(version=st.sampled_from([3, 5, 7, 8]), acks=st.sampled_from([-1, 0, 1]), t=topics)
def test_produce_request_acks_and_topics(version, acks, t) -> None:
    cls = getattr(p, f"ProduceRequest_v{version}")
    rows = [(topic, [(i, b"records" * i) for i in parts]) for topic, parts in t.items()]
    frame = _request(0, version, 7, cls(None, acks, 30_000, rows).encode())
    assert produce_request(frame) == (acks, frozenset(t))


def test_frames_of_other_requests_are_refused() -> None:
    produce = _request(0, 3, 1, p.ProduceRequest_v3(None, 1, 1000, []).encode())
    fetch = _request(1, 4, 1, _fetch_body(4, 500, 1, {}))
    with pytest.raises(ValueError):
        fetch_request(produce)
    with pytest.raises(ValueError):
        produce_request(fetch)
