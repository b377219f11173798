"""Kafka wire primitives, and the few Fetch and Produce fields the front door's prompt fetch needs, read off the wire.

Field layouts are those of the Kafka protocol's message definitions (``FetchRequest.json``,
``FetchResponse.json``, ``ProduceRequest.json``): Fetch v0-v17 (flexible from v12, topic ids from v13,
no ``ReplicaId`` from v15), Produce v0-v12 (flexible from v9). Frames are passed without their 4-byte
length prefix. A frame that cannot be read raises ``ValueError``; the caller then passes it through.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = [
    "API_FETCH",
    "API_PRODUCE",
    "FetchRequestInfo",
    "fetch_request",
    "fetch_response_bytes",
    "produce_request",
    "with_max_wait",
]

API_PRODUCE = 0
API_FETCH = 1


class _Reader:
    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def skip(self, n: int) -> None:
        """Move past ``n`` bytes without copying them (record batches can be megabytes)."""
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError("short Kafka frame")
        self.pos += n

    def take(self, n: int) -> bytes:
        start = self.pos
        self.skip(n)
        return self.data[start : self.pos]

    def int16(self) -> int:
        return int(struct.unpack(">h", self.take(2))[0])

    def int32(self) -> int:
        return int(struct.unpack(">i", self.take(4))[0])

    def uvarint(self) -> int:
        shift = value = 0
        while True:
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 63:
                raise ValueError("bad varint")

    def string(self, compact: bool) -> bytes | None:
        n = self.uvarint() - 1 if compact else self.int16()
        return None if n < 0 else self.take(n)

    def tags(self) -> list[tuple[int, bytes]]:
        return [(self.uvarint(), self.take(self.uvarint())) for _ in range(self.uvarint())]


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _string(value: bytes | None, compact: bool) -> bytes:
    if compact:
        return _uvarint(0 if value is None else len(value) + 1) + (value or b"")
    return struct.pack(">h", -1 if value is None else len(value)) + (value or b"")


def _tags(tags: list[tuple[int, bytes]]) -> bytes:
    return _uvarint(len(tags)) + b"".join(_uvarint(t) + _uvarint(len(v)) + v for t, v in tags)


TopicKey = str | bytes
"""A topic by name (Fetch < v13, Produce) or by its 16-byte id (Fetch v13+)."""


def _flexible(api_key: int, version: int) -> bool:
    return version >= (12 if api_key == API_FETCH else 9)


def _skip_request_header(r: _Reader, flexible: bool) -> None:
    r.skip(8)  # api key, version, correlation id
    r.string(compact=False)  # client id: never compact, even in header v2
    if flexible:
        r.tags()


def _array_len(r: _Reader, compact: bool) -> int:
    n = r.uvarint() - 1 if compact else r.int32()
    return max(n, 0)


def _bytes_len(r: _Reader, compact: bool) -> int:
    """Length of a (nullable) bytes field: -1 for null."""
    return r.uvarint() - 1 if compact else r.int32()


@dataclass(frozen=True)
class FetchRequestInfo:
    version: int
    wait_offset: int
    """Where the int32 MaxWaitMs sits in the frame."""
    max_wait_ms: int
    min_bytes: int
    topics: frozenset[TopicKey]
    """Empty for an incremental fetch-session request that names no partition."""


def _request_body(frame: bytes, api_key: int) -> tuple[int, bool, _Reader]:
    """(version, flexible, a reader at the start of the body) of a request of kind ``api_key``."""
    key, version = struct.unpack(">hh", frame[:4])
    if key != api_key:
        raise ValueError(f"not a request of API key {api_key}")
    flexible = _flexible(api_key, version)
    r = _Reader(frame)
    _skip_request_header(r, flexible)
    return version, flexible, r


def fetch_request(frame: bytes) -> FetchRequestInfo:
    version, flexible, r = _request_body(frame, API_FETCH)
    if version < 15:
        r.skip(4)  # replica id
    wait_offset = r.pos
    max_wait = r.int32()
    min_bytes = r.int32()
    if version >= 3:
        r.skip(4)  # max bytes
    if version >= 4:
        r.skip(1)  # isolation level
    if version >= 7:
        r.skip(8)  # session id, session epoch
    topics: set[TopicKey] = set()
    for _ in range(_array_len(r, flexible)):
        if version >= 13:
            topics.add(r.take(16))
        else:
            topics.add((r.string(flexible) or b"").decode("utf-8", "replace"))
        for _ in range(_array_len(r, flexible)):
            r.skip(4)  # partition
            if version >= 9:
                r.skip(4)  # current leader epoch
            r.skip(8)  # fetch offset
            if version >= 12:
                r.skip(4)  # last fetched epoch
            if version >= 5:
                r.skip(8)  # log start offset
            r.skip(4)  # partition max bytes
            if flexible:
                r.tags()
        if flexible:
            r.tags()
    return FetchRequestInfo(version, wait_offset, max_wait, min_bytes, frozenset(topics))


def with_max_wait(frame: bytes, info: FetchRequestInfo, max_wait_ms: int) -> bytes:
    """The same Fetch request asking the broker to wait at most ``max_wait_ms``."""
    at = info.wait_offset
    return frame[:at] + struct.pack(">i", max_wait_ms) + frame[at + 4 :]


def fetch_response_bytes(frame: bytes, version: int) -> int:
    """Record bytes in a Fetch response, or -1 when the response carries an error (answer it at once)."""
    flexible = _flexible(API_FETCH, version)
    r = _Reader(frame)
    r.skip(4)  # correlation id
    if flexible:
        r.tags()
    if version >= 1:
        r.skip(4)  # throttle time
    if version >= 7:
        if r.int16() != 0:
            return -1
        r.skip(4)  # session id
    total = 0
    error = False
    for _ in range(_array_len(r, flexible)):
        if version >= 13:
            r.skip(16)
        else:
            r.string(flexible)
        for _ in range(_array_len(r, flexible)):
            r.skip(4)  # partition index
            error |= r.int16() != 0
            r.skip(8)  # high watermark
            if version >= 4:
                r.skip(8)  # last stable offset
            if version >= 5:
                r.skip(8)  # log start offset
            if version >= 4:
                for _ in range(_array_len(r, flexible)):  # aborted transactions (null reads as 0)
                    r.skip(16)
                    if flexible:
                        r.tags()
            if version >= 11:
                r.skip(4)  # preferred read replica
            size = _bytes_len(r, flexible)
            if size > 0:
                r.skip(size)
                total += size
            if flexible:
                r.tags()
        if flexible:
            r.tags()
    return -1 if error else total


def produce_request(frame: bytes) -> tuple[int, frozenset[str] | None]:
    """A Produce request's acks and the topics it writes to (None: not known, v13+ names them by id).

    acks 0 means the broker sends no answer at all."""
    version, flexible, r = _request_body(frame, API_PRODUCE)
    if version >= 3:
        r.string(flexible)  # transactional id
    acks = r.int16()
    if version >= 13:
        return acks, None
    r.skip(4)  # timeout
    topics: set[str] = set()
    for _ in range(_array_len(r, flexible)):
        topics.add((r.string(flexible) or b"").decode("utf-8", "replace"))
        for _ in range(_array_len(r, flexible)):
            r.skip(4)  # partition
            size = _bytes_len(r, flexible)
            if size > 0:
                r.skip(size)
            if flexible:
                r.tags()
        if flexible:
            r.tags()
    return acks, frozenset(topics)
