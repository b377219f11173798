"""A compatibility front door to the embedded broker for librdkafka < 2.2 clients (Debian 12's kcat).

Why it is needed (read in tansu-io/tansu v0.6.0 and librdkafka):

- Tansu writes every tagged field of ApiVersionsResponse v3+, even at its default value
  (``SupportedFeatures=[]``, ``FinalizedFeaturesEpoch=-1``, ``FinalizedFeatures=[]``,
  ``ZkMigrationReady=false``). KIP-482 lets a broker omit a tagged field that holds its default, and
  Apache Kafka does.
- librdkafka before 2.2 skips a tagged field by reading its length and skipping ``length - 1`` bytes
  (fixed by confluentinc/librdkafka#4278). One non-empty tagged field therefore desynchronises the
  parser: ``Protocol read buffer underflow for ApiVersion v3 … ApiVersionRequest failed: Local: Read
  underflow``. ``-X api.version.request=false`` does not help: any ``broker.version.fallback`` ≥ 0.10
  still sends ApiVersionRequest, and a lower one produces MessageSet v0/v1, which Tansu refuses.

The front door forwards bytes both ways, frame by frame, and changes three kinds of answer:

- ApiVersions v3+: tagged fields that hold their default value are dropped (same meaning, shorter).
- Metadata and FindCoordinator: the broker address becomes the front door's own, so the client's
  next connections come back through it.

Everything else is passed through unchanged, in the order the client asked, except with
``prompt_fetch``: a Fetch is then answered as soon as records arrive instead of when its wait runs out
(Tansu 0.6.0 holds a fetch that finds no records and reads again only about half its wait later; see
``CompatFrontDoor._prompt_fetch``).

It is a development aid for ``make run``; leadflow's services talk to the broker directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import struct
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from leadflow_platform.kafka_wire import (
    API_FETCH,
    API_PRODUCE,
    FetchRequestInfo,
    _Reader,
    _string,
    _tags,
    _uvarint,
    fetch_request,
    fetch_response_bytes,
    produce_request,
    with_max_wait,
)

__all__ = ["CompatFrontDoor", "old_librdkafka", "rewrite_response"]

API_METADATA = 3
API_FIND_COORDINATOR = 10
API_VERSIONS = 18
_TRACKED = {API_METADATA, API_FIND_COORDINATOR, API_VERSIONS}
BROKER_FETCHES = -1
"""Key in ``CompatFrontDoor.requests`` for the fetches the front door itself sent the broker."""
API_NAMES = {
    API_PRODUCE: "Produce",
    API_FETCH: "Fetch",
    2: "ListOffsets",
    API_METADATA: "Metadata",
    8: "OffsetCommit",
    9: "OffsetFetch",
    API_FIND_COORDINATOR: "FindCoordinator",
    11: "JoinGroup",
    12: "Heartbeat",
    13: "LeaveGroup",
    14: "SyncGroup",
    API_VERSIONS: "ApiVersions",
    BROKER_FETCHES: "Fetch sent to the broker",
}


def request_counts(requests: Counter[int]) -> str:
    """``Produce 812, Fetch 3,001, ...``: the front door's requests by API, most first."""
    return ", ".join(f"{API_NAMES.get(key, f'API {key}')} {n:,}" for key, n in requests.most_common())


# ApiVersionsResponse tagged fields and the encoding of their default value
_API_VERSIONS_TAG_DEFAULTS = {0: b"\x01", 1: struct.pack(">q", -1), 2: b"\x01", 3: b"\x00"}


def _api_versions(body: bytes, version: int) -> bytes:
    if version < 3:
        return body
    r = _Reader(body)
    r.take(2)  # error code
    for _ in range(r.uvarint() - 1):
        r.take(6)
        r.tags()
    r.take(4)  # throttle time
    head = body[: r.pos]
    kept = [(t, v) for t, v in r.tags() if _API_VERSIONS_TAG_DEFAULTS.get(t) != v]
    return head + _tags(kept) + body[r.pos :]


def _metadata(body: bytes, version: int, host: bytes, port: int) -> bytes:
    compact = version >= 9
    r = _Reader(body)
    if version >= 3:
        r.take(4)  # throttle time
    start = r.pos
    count = r.uvarint() - 1 if compact else r.int32()
    brokers = []
    for _ in range(max(count, 0)):
        node = r.int32()
        r.string(compact)
        r.int32()
        rack = r.string(compact) if version >= 1 else None
        tags = r.tags() if compact else []
        brokers.append((node, rack, tags))
    out = bytearray(body[:start])
    out += _uvarint(len(brokers) + 1) if compact else struct.pack(">i", len(brokers))
    for node, rack, tags in brokers:
        out += struct.pack(">i", node) + _string(host, compact) + struct.pack(">i", port)
        if version >= 1:
            out += _string(rack, compact)
        if compact:
            out += _tags(tags)
    return bytes(out) + body[r.pos :]


def _find_coordinator(body: bytes, version: int, host: bytes, port: int) -> bytes:
    compact = version >= 3
    r = _Reader(body)
    out = bytearray()
    if version >= 1:
        out += r.take(4)  # throttle time
    if version < 4:
        out += r.take(2)  # error code
        if version >= 1:
            out += _string(r.string(compact), compact)  # error message
        out += r.take(4)  # node id
        r.string(compact)
        r.int32()
        out += _string(host, compact) + struct.pack(">i", port)
        return bytes(out) + body[r.pos :]
    count = r.uvarint() - 1
    out += _uvarint(count + 1)
    for _ in range(max(count, 0)):
        out += _string(r.string(True), True)  # key
        out += r.take(4)  # node id
        r.string(True)
        r.int32()
        out += _string(host, True) + struct.pack(">i", port)
        out += r.take(2)  # error code
        out += _string(r.string(True), True)  # error message
        out += _tags(r.tags())
    return bytes(out) + body[r.pos :]


def _flexible_header(api_key: int, version: int) -> bool:
    if api_key == API_METADATA:
        return version >= 9
    if api_key == API_FIND_COORDINATOR:
        return version >= 3
    return False  # ApiVersions answers always use response header v0


def rewrite_response(api_key: int, version: int, frame: bytes, host: bytes, port: int) -> bytes:
    """Rewrite one response frame (without its length prefix) as described in the module docstring."""
    r = _Reader(frame)
    r.take(4)  # correlation id
    if _flexible_header(api_key, version):
        r.tags()
    head, body = frame[: r.pos], frame[r.pos :]
    if api_key == API_VERSIONS:
        return head + _api_versions(body, version)
    if api_key == API_METADATA:
        return head + _metadata(body, version, host, port)
    if api_key == API_FIND_COORDINATOR:
        return head + _find_coordinator(body, version, host, port)
    return frame


def old_librdkafka(request: bytes) -> bool:
    """Is this ApiVersions request (a frame without its length prefix) from librdkafka < 2.2?

    v3+ requests name the client (KIP-511): header v2 (api key, version, correlation id, client id,
    tagged fields), then ``client_software_name`` and ``client_software_version`` as compact strings."""
    try:
        r = _Reader(request)
        api_key, version = r.int16(), r.int16()
        if api_key != API_VERSIONS or version < 3:
            return False
        r.take(4)
        r.string(compact=False)  # client id (header strings stay non-compact)
        r.tags()
        name = (r.string(compact=True) or b"").decode("utf-8", "replace")
        soft = (r.string(compact=True) or b"").decode("utf-8", "replace")
    except ValueError:
        return False
    if name != "librdkafka":
        return False
    parts = [int(p) for p in soft.lstrip("v").split("-")[0].split(".")[:2] if p.isdigit()]
    return len(parts) == 2 and (parts[0], parts[1]) < (2, 2)


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    size = struct.unpack(">i", await reader.readexactly(4))[0]
    return await reader.readexactly(size)


class _Wakeups:
    """Produce answers seen per topic, and the prompt fetches waiting for the next one.

    A fetch that names its topics by id (Fetch v13+), or names none (an incremental fetch session),
    waits on ``None``: it wakes on any produce."""

    def __init__(self) -> None:
        self._seq: dict[str | None, int] = {None: 0}
        self._waiters: dict[str | None, set[asyncio.Future[None]]] = {}

    @staticmethod
    def keys(topics: frozenset[str | bytes] | None) -> tuple[str | None, ...]:
        if not topics or any(isinstance(t, bytes) for t in topics):
            return (None,)
        return tuple(t for t in topics if isinstance(t, str))

    def mark(self, keys: tuple[str | None, ...]) -> int:
        return sum(self._seq.get(k, 0) for k in keys)

    def notify(self, topics: frozenset[str] | None) -> None:
        if topics is None:  # topics not known: wake every waiter
            touched: tuple[str | None, ...] = (None, *[k for k in self._waiters if k is not None])
        else:
            touched = (None, *topics)
        for key in touched:
            self._seq[key] = self._seq.get(key, 0) + 1
            for fut in self._waiters.pop(key, ()):
                if not fut.done():
                    fut.set_result(None)

    async def wait(self, keys: tuple[str | None, ...], mark: int, timeout: float) -> None:
        if self.mark(keys) != mark or timeout <= 0:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        for key in keys:
            self._waiters.setdefault(key, set()).add(fut)
        try:
            await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            pass
        finally:
            for key in keys:
                waiting = self._waiters.get(key)
                if waiting is not None:
                    waiting.discard(fut)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop when it is installed (a platform dependency outside Windows), else asyncio's: the front
    door is a byte pump, where uvloop's C transports cost less per request."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


@dataclass
class CompatFrontDoor:
    """Listen on ``host:port`` and forward to the broker at ``upstream_host:upstream_port``."""

    upstream_host: str
    upstream_port: int
    host: str = "127.0.0.1"
    port: int = 0
    redirect_all: bool = True
    """True: every client's Metadata points here (a separate port for old clients). False: only
    librdkafka < 2.2 stays on the front door; other clients get the broker's own address and connect
    to it directly after bootstrap (the front door then costs them nothing)."""
    prompt_fetch: bool = False
    """Answer a Fetch as soon as records are there, as Apache Kafka does (see ``_prompt_fetch``).
    Only clients that stay on the front door get it: use with ``redirect_all``."""

    def __post_init__(self) -> None:
        self._server: asyncio.base_events.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._wakeups = _Wakeups()
        self.fetches: Counter[str] = Counter()
        """Fetches seen, by how they were answered: ``prompt vN`` (by the front door, as records arrived)
        or ``passed vN`` (forwarded as they came: prompt fetch off, no wait, or a request it cannot read)."""
        self.requests: Counter[int] = Counter()
        """Requests by API key: from clients, and ``BROKER_FETCHES`` for the fetches the front door sent the
        broker on their behalf (a prompt fetch asks again after each wake-up)."""

    def _produced(self, topics: frozenset[str] | None, _answer: asyncio.Future[bytes]) -> None:
        self._wakeups.notify(topics)

    async def _prompt_fetch(
        self, frame: bytes, info: FetchRequestInfo, ask: Callable[[bytes], asyncio.Future[bytes]]
    ) -> bytes:
        """Tansu 0.6.0 holds a Fetch that finds no records and does not wake on a Produce: it reads
        again only after sleeping about half the remaining wait (a record produced into a held 500 ms
        fetch waited p50 131 ms, max 250 ms; 2026-12-06). So the front door asks
        the broker with MaxWaitMs 1 (0 makes Tansu 0.6.0 answer with no topics at all), answers at once
        when records (or an error) come back, and otherwise waits, up to the client's own MaxWaitMs, for
        a Produce answer on one of the fetched topics, then asks again. The client sees Apache Kafka's
        behaviour: a fetch returns when data arrives, or empty when its wait runs out. Records produced
        past the front door are still seen, at the latest when the client's wait runs out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + info.max_wait_ms / 1000
        quick = with_max_wait(frame, info, 1)
        keys = self._wakeups.keys(info.topics)
        while True:
            mark = self._wakeups.mark(keys)
            self.requests[BROKER_FETCHES] += 1
            answer = await ask(quick)
            try:
                size = fetch_response_bytes(answer, info.version)
            except ValueError:
                return answer
            remaining = deadline - loop.time()
            if size < 0 or size >= max(info.min_bytes, 1) or remaining <= 0:
                return answer
            await self._wakeups.wait(keys, mark, remaining)

    async def _pipe(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        except OSError:
            client_w.close()
            return
        loop = asyncio.get_running_loop()
        asked: dict[int, asyncio.Future[bytes]] = {}
        answers: asyncio.Queue[tuple[Awaitable[bytes], tuple[int, int] | None]] = asyncio.Queue()
        advertised = self.host.encode()
        redirect = [self.redirect_all]
        parked: set[asyncio.Future[bytes]] = set()  # prompt fetches of this connection

        def send(frame: bytes) -> None:
            up_w.write(struct.pack(">i", len(frame)) + frame)

        def ask(frame: bytes) -> asyncio.Future[bytes]:
            """Send a request to the broker; the future gets its answer (matched by correlation id)."""
            fut: asyncio.Future[bytes] = loop.create_future()
            asked[struct.unpack(">i", frame[4:8])[0]] = fut
            send(frame)
            return fut

        async def requests() -> None:
            while True:
                frame = await _read_frame(client_r)
                api_key, version = struct.unpack(">hh", frame[:4])
                self.requests[api_key] += 1
                if api_key == API_VERSIONS and not self.redirect_all:
                    redirect[0] = old_librdkafka(frame)
                rewrite = (
                    (api_key, version) if api_key == API_VERSIONS or (api_key in _TRACKED and redirect[0]) else None
                )
                answer: Awaitable[bytes]
                if api_key == API_PRODUCE:
                    try:
                        acks, topics = produce_request(frame)
                    except ValueError:
                        acks, topics = -1, None
                    if acks == 0:  # no answer will come
                        send(frame)
                        self._wakeups.notify(topics)
                        await up_w.drain()
                        continue
                    produced = ask(frame)
                    produced.add_done_callback(functools.partial(self._produced, topics))
                    answer = produced
                elif api_key == API_FETCH and self.prompt_fetch:
                    try:
                        info: FetchRequestInfo | None = fetch_request(frame)
                    except ValueError:
                        info = None
                    if info is not None and info.max_wait_ms > 0:
                        self.fetches[f"prompt v{version}"] += 1
                        answer = asyncio.ensure_future(self._prompt_fetch(frame, info, ask))
                        parked.add(answer)
                        answer.add_done_callback(parked.discard)
                    else:
                        self.fetches[f"passed v{version}"] += 1
                        answer = ask(frame)
                else:
                    answer = ask(frame)
                answers.put_nowait((answer, rewrite))
                await up_w.drain()

        async def from_broker() -> None:
            while True:
                frame = await _read_frame(up_r)
                fut = asked.pop(struct.unpack(">i", frame[:4])[0], None)
                if fut is not None and not fut.done():
                    fut.set_result(frame)

        async def to_client() -> None:
            """Answers in the order of the client's requests, as a broker sends them."""
            while True:
                answer, rewrite = await answers.get()
                frame = await answer
                if rewrite is not None:
                    with contextlib.suppress(ValueError):  # an answer we cannot parse goes through as is
                        frame = rewrite_response(rewrite[0], rewrite[1], frame, advertised, self.port)
                client_w.write(struct.pack(">i", len(frame)) + frame)
                if answers.empty():
                    await client_w.drain()

        tasks = [asyncio.create_task(requests()), asyncio.create_task(from_broker()), asyncio.create_task(to_client())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            pass  # the front door is stopping; asyncio's stream callback would report a cancelled _pipe
        finally:
            for task in tasks:
                task.cancel()
            for fetch in parked:
                fetch.cancel()
            for w in (up_w, client_w):
                with contextlib.suppress(Exception):
                    w.close()

    async def serve(self) -> asyncio.base_events.Server:
        """Start listening in the running loop (``port=0`` picks a free port, then ``self.port`` is set)."""
        self._server = await asyncio.start_server(self._pipe, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self._server

    def start_in_thread(self) -> CompatFrontDoor:
        """Run the front door on its own event loop in a daemon thread (for sync callers)."""
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.serve())
            except BaseException as exc:  # reported to the caller below
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="kafka-compat-front-door", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]
        return self

    def stop(self) -> None:
        loop, server = self._loop, self._server
        if loop is not None and server is not None:

            async def shut() -> None:
                server.close()
                tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                for task in tasks:  # open connections: end them before the loop closes
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                loop.stop()

            loop.call_soon_threadsafe(lambda: loop.create_task(shut()))
        if self._thread is not None:
            self._thread.join(5)
