"""The pipeline with every service as its own process, as `make run` starts it, and a latency budget per hop.

    .venv/bin/python tests/bench/bench_processes.py [--burst 3000] [--rate 200] [--seconds 30] [--env K=V ...]
        [--prompt-fetch] [--watch-wait-ms 500] [--watch-all] [--partitions N] [--stages 5000]

``--env`` sets a variable for every service process (after its run.yaml), e.g. to run the previous
settings in the same conditions: ``--env INTAKE_KAFKA_LINGER_MS=5 --env INTAKE_BATCH_TIMEOUT_MS=50``.

Starts the embedded broker and the Salesforce emulator (HTTPS), then intake, enrich, score, route and
crm-sync each as a separate process with the command and environment of its services/<name>/run.yaml
(ports, databases and the broker address moved to free ones in a temporary folder). Prints, measured
in the same run:
- the raw aiokafka consume → produce hop (the ceiling of any service);
- burst: leads.inbound → CrmSynced leads/s and its ratio to the raw hop, Salesforce API calls per
  1,000 leads, CPU µs per lead of every process (from /proc: the services, the broker, the emulator and
  the bench itself), and the CPU ceiling: the leads/s this machine's cores would give if every one of
  them were busy for the burst and nothing waited (cores / CPU per lead in all processes), against
  which the burst's leads/s is a share;
- steady rate: publish → LeadRouted (no Salesforce call) and publish → CrmSynced percentiles, and the
  latency budget per hop: the time from a lead's event on one topic to its event on the next
  (broker + batch window + handler + database commit + publish confirm; crm-sync's hop includes the
  Salesforce call).
Latencies are measured from the record timestamps: each event's time is when its producer sent it, so
the figures do not depend on when the bench's own consumer fetched it. So that consumer takes as little
as it can from the pipeline it measures: it reads with ``--watch-wait-ms`` (default 500; the 10 ms wait
used before 2026-12-06 was 100 fetches a second), and while the pipeline runs it fetches crm.synced only
(to see when every lead is through) and reads the hops in between at the end (``TopicWatcher.focus``;
``--watch-all`` fetches every hop all along: 5-8 % more broker CPU per lead, 2026-12-06). Every fetch
that finds records costs the embedded broker CPU in proportion to the batches stored in the partition
(``embedded_kafka``'s docstring). With a wait of 20 ms or less the bench also prints the time the
watcher saw each event (the earlier method).
Then, per service, the batches of the steady phase: how many, records per batch, handler time per batch
and the share of the time its handler was busy (from its /metrics). Last, the stage capacity
(``--stages N``, default 5,000; 0 skips it): each service alone on N records waiting on its input topic,
its leads/s and CPU per lead; the slowest stage over the raw hop is the burst ratio a machine with a core
for every process would reach (``stage_capacity``).
``--partitions N`` creates every keyed topic with N partitions instead of deploy/topics.yaml's.
``--prompt-fetch`` puts every client on the embedded broker's front door with prompt fetch
(``leadflow_platform.kafka_compat``), to compare with the broker itself in the same conditions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import yaml
from aiokafka import AIOKafkaProducer
from leadflow_contracts import topics
from leadflow_platform.testing.bench import process_cpu_seconds
from leadflow_platform.testing.fixtures import wait_for
from leadflow_platform.topics_admin import ensure_topics, load_topics
from leadflow_salesforce.testing import running_emulator

sys.path.insert(0, str(Path(__file__).parent))
import itertools

from bench_pipeline import TopicWatcher, lead, pct, raw_hop, send_steady

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ["intake", "enrich", "score", "route", "crm-sync"]
PHASES = ["waited", "parse", "use_case", "publish", "ack"]
Phases = dict[str, tuple[float, float]]
HOPS = [topics.LEADS_INBOUND, topics.LEADS_ACCEPTED, topics.LEADS_ENRICHED, topics.LEADS_SCORED, topics.LEADS_ROUTED]
HOPS.append(topics.CRM_SYNCED)
CORES = len(os.sched_getaffinity(0))  # the cores this run may use


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 15 s (a service's graceful shutdown, the broker's front door)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


class Service:
    """One service process started from its run.yaml, with ports and state moved for the bench."""

    def __init__(
        self, name: str, bootstrap: str, emulator: Any, tmp: Path, base_env: dict[str, str], extra: dict[str, str]
    ) -> None:
        spec = yaml.safe_load((ROOT / "services" / name / "run.yaml").read_text())["processes"][0]
        self.name, self.cmd = name, [sys.executable if spec["cmd"][0] == "python" else spec["cmd"][0], *spec["cmd"][1:]]
        env = {**base_env, **{k: str(v) for k, v in (spec.get("env") or {}).items()}}
        prefix = next(k.split("_", 1)[0] + "_" for k in spec["env"] if k.endswith("_HTTP_PORT"))
        self.prefix, self.port = prefix, free_port()
        env.update(
            {
                f"{prefix}HTTP_PORT": str(self.port),
                f"{prefix}KAFKA_BOOTSTRAP": bootstrap,
                f"{prefix}DATABASE_URL": f"sqlite+aiosqlite:///{tmp / name}.db",
                f"{prefix}LOG_LEVEL": "WARNING",
                f"{prefix}SALESFORCE__LOGIN_URL": emulator.url,
                f"{prefix}SALESFORCE__CA_BUNDLE": str(emulator.ca_path),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(extra)
        self.env, self.log = env, tmp / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                self.cmd, env={**os.environ, **self.env}, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
            )

    def ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: see {self.log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=1) as r:
                return bool(r.status == 200)
        except Exception:
            return False

    def cpu(self) -> float:
        assert self.proc is not None
        return process_cpu_seconds(self.proc.pid)

    def metrics(self) -> str:
        """The service's /metrics page."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            return r.read().decode()  # type: ignore[no-any-return]

    def phases(self) -> Phases:
        """(count, seconds) of each phase of the consumer runtime's batch budget so far, from /metrics."""
        out: dict[str, list[float]] = {}
        for line in self.metrics().splitlines():
            name = line.split("{", 1)[0]
            if name not in ("leadflow_consumer_phase_seconds_count", "leadflow_consumer_phase_seconds_sum"):
                continue
            phase = line.split('phase="', 1)[1].split('"', 1)[0]
            out.setdefault(phase, [0.0, 0.0])[name.endswith("_sum")] += float(line.rsplit(" ", 1)[1])
        return {k: (v[0], v[1]) for k, v in out.items()}

    def batches(self) -> tuple[float, float, float]:
        """(batches handled, seconds in the handler, records in) so far, from the service's /metrics."""
        text = self.metrics()
        sums = {
            "leadflow_handler_seconds_count": 0.0,
            "leadflow_handler_seconds_sum": 0.0,
            "leadflow_events_in_total": 0.0,
        }
        for line in text.splitlines():
            name = line.split("{", 1)[0].split(" ", 1)[0]
            if '_batch"' in line:  # intake's own per-channel timing, nested inside the runtime's
                continue
            if name in sums:
                sums[name] += float(line.rsplit(" ", 1)[1])
        return (
            sums["leadflow_handler_seconds_count"],
            sums["leadflow_handler_seconds_sum"],
            sums["leadflow_events_in_total"],
        )

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)


async def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.05)


class BrokerProcess:
    """The embedded broker in its own process, as `make run` starts it: clients on the broker itself, or with
    ``door=True`` on the front door that answers fetches as records arrive (``--prompt-fetch``)."""

    def __init__(self, tmp: Path, door: bool) -> None:
        self.port, self.door_port = free_port(), free_port()
        self.door = door
        cmd = [sys.executable, "-m", "leadflow_platform.embedded_kafka", "--port", str(self.port), "--no-topics"]
        if door:
            cmd += ["--bootstrap-port", str(self.door_port), "--prompt-fetch"]
        self.log = tmp / "kafka.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)

    @property
    def direct(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.door_port if self.door else self.port}"

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"broker exited with {self.proc.returncode}: see {self.log}")
        return "ready" in self.log.read_text(errors="replace")

    def cpu(self) -> float:
        """The launcher (and its front door) plus the Tansu process it started."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return sum(process_cpu_seconds(pid) for pid in [self.proc.pid, *map(int, children)])

    def stop(self) -> None:
        stop_process(self.proc)


async def main(
    burst: int,
    rate: float,
    seconds: float,
    extra: dict[str, str] | None = None,
    door: bool = True,
    watch_wait_ms: int = 500,
    partitions: int | None = None,
    watch_all: bool = False,
    stages: int = 0,
) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="leadflow-bench-proc-"))
    base = yaml.safe_load((ROOT / "deploy/local/run.yaml").read_text()).get("env") or {}
    # make run's demo clock would run SLA arithmetic at 60x; the bench measures the production shape.
    base_env = {k: str(v) for k, v in base.items() if not k.startswith("LEADFLOW_DEMO_CLOCK")}
    kafka = BrokerProcess(tmp, door)
    with contextlib.ExitStack() as stack, running_emulator() as emu:
        stack.callback(kafka.stop)
        await wait_until(kafka.ready, 30, "broker ready")
        emu.seed("demo")
        emu.configure(dailyApiLimit=10_000_000, apiUsage=0)
        specs = load_topics()
        if partitions:  # every keyed topic; crm.roster keeps its single partition
            specs = {
                n: s.model_copy(update={"partitions": partitions}) if s.partitions > 1 else s for n, s in specs.items()
            }
        await ensure_topics(kafka.direct, specs)
        hop = await raw_hop(kafka.direct)
        services = [Service(name, kafka.bootstrap, emu, tmp, base_env, extra or {}) for name in SERVICES]
        for service in services:
            service.start()
        try:
            await wait_until(lambda: all(s.ready() for s in services), 180, "services ready")
            watcher = TopicWatcher(kafka.bootstrap, HOPS[1:], fetch_max_wait_ms=watch_wait_ms)
            await watcher.start()
            if not watch_all:  # the hops in between are read at the end (see TopicWatcher.focus)
                watcher.focus([topics.CRM_SYNCED])
            producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, linger_ms=1, acks="all")
            await producer.start()
            print(f"load average at start {os.getloadavg()[0]:.2f} ({CORES} cores); state in {tmp}")
            print(
                "clients connect to "
                + ("the front door with prompt fetch" if door else "the broker itself (as make run)")
            )
            print(f"raw aiokafka consume→produce hop on the broker itself (same run): {hop:,.0f} msg/s")
            if extra:
                print("service environment overrides: " + " ".join(f"{k}={v}" for k, v in sorted(extra.items())))

            # warm-up: every consumer group has joined and every service has loaded its caches
            for value, key in [lead(i, "warm") for i in range(30)]:
                await producer.send(topics.LEADS_INBOUND, value, key=key)
            await wait_until(lambda: watcher.count(topics.CRM_SYNCED, "bench-warm-") >= 30, 180, "warm-up synced")

            emulator = emu.process
            assert emulator is not None
            broker_name = "broker" + (" + front door" if door else "")

            def cpu_now() -> dict[str, float]:
                """CPU seconds so far of every process in the run, the bench's own included."""
                used = {s.name: s.cpu() for s in services}
                used[broker_name], used["emulator"] = kafka.cpu(), process_cpu_seconds(emulator.pid)
                return used | {"bench": time.process_time()}

            # 1) burst
            emu.control("DELETE", "requests")
            run = uuid.uuid4().hex[:6]
            msgs = [lead(i, run) for i in range(burst)]
            burst_cpu0 = cpu_now()
            started = time.time()
            for value, key in msgs:
                await producer.send(topics.LEADS_INBOUND, value, key=key)
            await producer.flush()
            prefix = f"bench-{run}-"
            await wait_until(lambda: watcher.count(topics.CRM_SYNCED, prefix) >= burst, 600, "burst synced")
            synced_at = watcher.published[topics.CRM_SYNCED]
            elapsed = max(t for k, t in synced_at.items() if k.startswith(prefix)) - started
            burst_cpu1 = cpu_now()
            cpu = {k: (burst_cpu1[k] - burst_cpu0[k]) / burst * 1e6 for k in burst_cpu1}
            calls = len(api_requests(emu))
            print(
                f"burst: {burst:,} leads inbound → CrmSynced in {elapsed:.1f} s = {burst / elapsed:,.0f} leads/s "
                f"(ratio to the raw hop: {burst / elapsed / hop:.3f})"
            )
            print(f"Salesforce API requests during the burst: {calls} = {calls / burst * 1000:.2f} per 1,000 leads")
            print("CPU per lead: " + ", ".join(f"{name} {us:,.0f} µs" for name, us in cpu.items()))
            # What this machine could reach at best: every core busy for the burst, nothing waiting.
            ceiling = CORES / (sum(cpu.values()) / 1e6)
            print(
                f"CPU ceiling: {CORES} cores / {sum(cpu.values()):,.0f} µs of CPU per lead in all the processes = "
                f"{ceiling:,.0f} leads/s = {ceiling / hop:.3f} of the raw hop; the burst reached "
                f"{burst / elapsed / ceiling:.0%} of it"
            )

            # 2) steady rate: end-to-end latencies and the budget per hop
            run = uuid.uuid4().hex[:6]
            prefix = f"bench-{run}-"
            batches0 = {s.name: s.batches() for s in services}
            phases0 = {s.name: s.phases() for s in services}
            emu.control("DELETE", "requests")
            steady_cpu0 = cpu_now()
            steady_started = time.perf_counter()
            sent_at = await send_steady(producer, topics.LEADS_INBOUND, run, rate, seconds)
            n = len(sent_at)
            with contextlib.suppress(TimeoutError):
                await wait_until(lambda: watcher.count(topics.CRM_SYNCED, prefix) >= n, 120, "steady synced")
            steady_seconds = time.perf_counter() - steady_started
            steady_cpu = cpu_now()
            if not watch_all:
                watcher.focus(None)
                with contextlib.suppress(TimeoutError):
                    await wait_until(lambda: all(watcher.count(t, prefix) >= n for t in HOPS[1:]), 60, "every hop read")
            at = {topics.LEADS_INBOUND: sent_at, **watcher.published}

            def lat(src: str, dst: str, at: dict[str, dict[str, float]] = at) -> list[float]:
                return [(at[dst][k] - t) * 1000 for k, t in at[src].items() if k.startswith(prefix) and k in at[dst]]

            seen = {topics.LEADS_INBOUND: sent_at, **watcher.seen}
            for dst in (topics.LEADS_ROUTED, topics.CRM_SYNCED):
                for how, when in [("published", at), (f"seen by a consumer (fetch wait {watch_wait_ms} ms)", seen)]:
                    if when is seen and (watch_wait_ms > 20 or not (watch_all or dst == topics.CRM_SYNCED)):
                        continue
                    values = lat(topics.LEADS_INBOUND, dst, when)
                    print(
                        f"steady {rate:.0f} leads/s for {seconds:.0f} s, publish → {dst} {how}: {len(values)}/{n}; "
                        f"p50 {pct(values, 50):.0f} ms, p90 {pct(values, 90):.0f} ms, "
                        f"p99 {pct(values, 99):.0f} ms, max {max(values):.0f} ms"
                    )
            used = {k: steady_cpu[k] - steady_cpu0[k] for k in steady_cpu}
            print(
                f"CPU in the steady phase ({sum(used.values()) / steady_seconds:.2f} of {CORES} cores), µs per lead: "
                + ", ".join(f"{k} {v / n * 1e6:,.0f}" for k, v in used.items())
            )
            print("latency budget per hop (p50 / p99 ms):")
            owners = dict(zip(HOPS[1:], SERVICES, strict=True))
            for src, dst in itertools.pairwise(HOPS):
                values = lat(src, dst)
                print(f"  {src:>15} → {dst:<15} ({owners[dst]:>8}): {pct(values, 50):7.1f} / {pct(values, 99):7.1f}")
            print_salesforce_requests(api_requests(emu), n)
            print("batches in the steady phase (handler = parse + use case + database + publish confirm):")
            for service in services:
                (b0, h0, r0), (b1, h1, r1) = batches0[service.name], service.batches()
                count = max(b1 - b0, 1)
                print(
                    f"  {service.name:>8}: {b1 - b0:,.0f} batches, {(r1 - r0) / count:.1f} records each, "
                    f"handler {(h1 - h0) / count * 1000:.1f} ms per batch, "
                    f"busy {(h1 - h0) / steady_seconds * 100:.0f} % of the time"
                )
            print_phases({s.name: (phases0[s.name], s.phases()) for s in services})
            if stages:
                watcher.focus(None)
                await stage_capacity(services, kafka, emu, producer, watcher, stages, hop)
            print(f"load average at end {os.getloadavg()[0]:.2f}")
            await watcher.stop()
            await producer.stop()
        finally:
            for service in reversed(services):
                service.stop()


async def stage_capacity(
    services: list[Service],
    kafka: BrokerProcess,
    emu: Any,
    producer: AIOKafkaProducer,
    watcher: TopicWatcher,
    n: int,
    hop: float,
) -> None:
    """Each service alone on a full input topic: the leads/s it reaches when it has a core to itself.

    Every service is stopped (a graceful stop commits its offsets), ``n`` leads go to leads.inbound, and then the
    services run one at a time in pipeline order, each on the records the one before it left on its input topic, and
    stop again. A stage is timed from the first answer of its /metrics that counts records in (polled every 5 ms) to
    its last output record's timestamp, over the leads not yet counted then. The service's event loop answers
    /metrics only between the steps of a batch, so that moment falls inside or at the end of the first batch; the
    figure leaves the first batch out, and its start-up and group join with it. On this 2-core machine a lone
    service gets about one core while the broker and the emulator share the other; with all five running at once, as
    in the burst above, they share two. So the slowest stage is what the burst can reach on a machine with a core
    for every process, if the broker keeps up with all of them (not shown here). The restarted services use a 6 s
    group session (crm-sync's floor) so each joins in ~3 s instead of up to 22 s (the embedded broker answers a join
    after half the session: ``leadflow_platform.testing.fixtures``); the session does not change how fast a member
    consumes."""
    for service in services:
        service.stop()
    run = uuid.uuid4().hex[:6]
    prefix = f"bench-{run}-"
    for value, key in (lead(i, run) for i in range(n)):
        await producer.send(topics.LEADS_INBOUND, value, key=key)
    await producer.flush()
    print(f"stage capacity: each service alone on {n:,} records waiting on its input topic (leads/s, CPU µs per lead):")
    rates: dict[str, float] = {}
    for service, out in zip(services, HOPS[1:], strict=True):
        service.env[f"{service.prefix}SESSION_TIMEOUT_MS"] = "6000"
        emu.control("DELETE", "requests")
        service.start()
        try:
            await wait_until(service.ready, 120, f"{service.name} ready")
            # records in: its group joined and its first batch reached the handler
            first = await wait_for(lambda s=service: s.batches()[2], timeout=60, interval=0.005)
            started, cpu0, broker0 = time.time(), service.cpu(), kafka.cpu()
            await wait_until(lambda o=out: watcher.count(o, prefix) >= n, 600, f"{service.name} stage")
            cpu, broker = service.cpu() - cpu0, kafka.cpu() - broker0
        finally:
            service.stop()
        calls = len(api_requests(emu))
        api = f"; {calls / n * 1000:.2f} Salesforce API requests per 1,000 leads" if calls else ""
        last = max(t for k, t in watcher.published[out].items() if k.startswith(prefix))
        counted = n - int(first)  # the first batch (its records) is mostly done before /metrics can answer
        if counted < n / 2:
            print(
                f"  {service.name:>8}: its first batch held {int(first):,} of the {n:,} (no rate): "
                "give --stages at least 3 × its batch size"
            )
            continue
        rates[service.name] = counted / max(last - started, 1e-3)
        print(
            f"  {service.name:>8}: {rates[service.name]:7,.0f} leads/s over {counted:,} leads; "
            f"CPU per lead {cpu / counted * 1e6:5,.0f} µs, broker {broker / counted * 1e6:4,.0f} µs{api}"
        )
    if len(rates) < len(services):
        return  # a stage without a rate: no slowest stage to name
    slowest = min(rates, key=lambda k: rates[k])
    print(
        f"  slowest stage {slowest}: {rates[slowest]:,.0f} leads/s = {rates[slowest] / hop:.3f} of the raw hop "
        "(the burst's ceiling with a core for every process)"
    )


def print_phases(before_after: dict[str, tuple[Phases, Phases]]) -> None:
    """The consumer runtime's budget of a batch in the steady phase, mean ms per batch of each service."""
    print(
        "budget of a batch, mean ms (waited = age of its records when the handler starts: broker, fetch, batch"
        " window and the batch before it; use_case = database, Salesforce, its own publishes; publish = the"
        " runtime's confirm; ack = FastStream's acknowledgement until the next poll, the offset commit unless"
        " it runs in the background):"
    )
    for name, (before, after) in before_after.items():
        cells = []
        for phase in PHASES:
            n0, s0 = before.get(phase, (0.0, 0.0))
            n1, s1 = after.get(phase, (0.0, 0.0))
            if n1 > n0:
                cells.append(f"{phase} {(s1 - s0) / (n1 - n0) * 1000:.1f}")
        print(f"  {name:>8}: " + ", ".join(cells))


def api_requests(emu: Any) -> list[dict[str, Any]]:
    """The Salesforce API requests in the emulator's log since it was last cleared (its control calls left out)."""
    return [r for r in emu.requests_log(limit=100_000) if "/services/" in r.get("path", "")]


def print_salesforce_requests(log: list[dict[str, Any]], leads: int) -> None:
    """The steady phase's Salesforce API requests by method and path (ids folded), with the emulator's own time."""
    groups: dict[str, list[float]] = {}
    for r in log:
        path = "/".join(
            "{id}" if len(p) in (15, 18) and p[:3].isalnum() and any(c.isdigit() for c in p) else p
            for p in r["path"].split("?")[0].split("/")
        )
        groups.setdefault(f"{r['method']} {path.split('/services/', 1)[1]}", []).append(r["duration_ms"])
    total = sum(len(v) for v in groups.values())
    print(
        f"Salesforce API requests in the steady phase: {total} = {total / max(leads, 1):.2f} per lead "
        "(emulator time p50 / p99 ms):"
    )
    for name, values in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        print(f"  {len(values):6,} {name}: {pct(values, 50):.1f} / {pct(values, 99):.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--burst", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--env", action="append", default=[], metavar="K=V", help="for every service process")
    parser.add_argument(
        "--prompt-fetch",
        action="store_true",
        help="every client talks to the broker through the front door with prompt fetch (embedded_kafka "
        "--prompt-fetch) instead of to the broker itself, as make run does",
    )
    parser.add_argument(
        "--watch-wait-ms",
        type=int,
        default=500,
        help="fetch wait of the bench's own consumer (latencies come from record timestamps either way)",
    )
    parser.add_argument(
        "--partitions",
        type=int,
        default=None,
        help="partitions of every keyed topic instead of deploy/topics.yaml's",
    )
    parser.add_argument(
        "--watch-all",
        action="store_true",
        help="the bench's consumer fetches every hop while the pipeline runs (before 2026-12-06's fourth "
        "session); by default it fetches crm.synced only and reads the other hops at the end",
    )
    parser.add_argument(
        "--stages",
        type=int,
        default=5000,
        metavar="N",
        help="then each service alone on N leads waiting on its input topic (stage capacity); 0: skip",
    )
    args = parser.parse_args()
    extra = dict(kv.split("=", 1) for kv in args.env)
    asyncio.run(
        main(
            args.burst,
            args.rate,
            args.seconds,
            extra,
            door=args.prompt_fetch,
            watch_wait_ms=args.watch_wait_ms,
            partitions=args.partitions,
            watch_all=args.watch_all,
            stages=args.stages,
        )
    )
