"""``make run``: start every process of the local system in order, wait for each to be ready,
stream their output with a prefix, restart a process that crashes (with back-off, and says so), and
on Ctrl-C/SIGTERM stop them all (reverse order, SIGTERM then SIGKILL), so no orphan keeps a port.

Processes come from ``deploy/local/run.yaml`` (the base: broker, emulator) and one ``run.yaml``
per service (``services/*/run.yaml``), sorted by ``order``. ``--only`` / ``--exclude`` (``make run
ONLY=route,score`` / ``EXCLUDE=demo-generator``) choose which run; the base processes always run
with ``--only`` unless excluded by name. Timeouts and back-off are ``LEADFLOW_RUN_*`` settings.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SupervisorSettings(BaseSettings):
    """How ``make run`` supervises (env prefix ``LEADFLOW_RUN_``)."""

    model_config = SettingsConfigDict(env_prefix="LEADFLOW_RUN_", env_file=".env", extra="ignore")

    only: str = Field(default="", description="Comma/space separated process names to run (plus the base ones).")
    exclude: str = Field(default="", description="Comma/space separated process names to leave out.")
    ready_timeout_seconds: float = Field(default=60.0, gt=0, description="Per process unless its run.yaml says.")
    start_retries: int = Field(default=2, ge=0, description="Restarts of a process that dies before it is ready.")
    restart_backoff_initial_seconds: float = Field(default=1.0, ge=0)
    restart_backoff_max_seconds: float = Field(default=30.0, ge=0)
    restart_stable_seconds: float = Field(
        default=60.0, gt=0, description="A process that ran this long before it crashed starts the back-off afresh."
    )
    stop_timeout_seconds: float = Field(default=15.0, gt=0, description="SIGTERM → SIGKILL grace at shutdown.")
    demo_clock_anchor: datetime | None = Field(
        default=None,
        validation_alias="LEADFLOW_DEMO_CLOCK_ANCHOR",
        description="Set once for every child when the demo clock is on and no anchor is given.",
    )


class Process(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    cmd: list[str]
    order: int = 50
    env: dict[str, str] = Field(default_factory=dict)
    ready_tcp: int | None = None
    ready_http: str | None = None
    ready_timeout: float | None = Field(default=None, gt=0, description="None: LEADFLOW_RUN_READY_TIMEOUT_SECONDS.")
    urls: dict[str, str] = Field(default_factory=dict)
    oneshot: bool = False
    restart: Literal["on-failure", "always", "never"] = Field(
        default="on-failure", description="on-failure: restart after a non-zero exit or a signal."
    )
    base: bool = Field(default=False, description="From the base file (broker, emulator): kept by --only.")


class RunFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    env: dict[str, str] = Field(default_factory=dict)
    processes: list[Process] = Field(default_factory=list)


def load(base: Path) -> tuple[dict[str, str], list[Process]]:
    root = base.resolve().parents[2]
    files = [base, *sorted(root.glob("services/*/run.yaml"))]
    env: dict[str, str] = {}
    procs: list[Process] = []
    for path in files:
        data = RunFile.model_validate(yaml.safe_load(path.read_text()) or {})
        env.update(data.env)
        procs.extend(p.model_copy(update={"base": True}) if path == base else p for p in data.processes)
    return env, sorted(procs, key=lambda p: (p.order, p.name))


def names(text: str | Iterable[str]) -> list[str]:
    """``"a, b c"`` or ``["a,b", "c"]`` → ``["a", "b", "c"]``."""
    parts = [text] if isinstance(text, str) else list(text)
    return [n for part in parts for n in re.split(r"[\s,]+", part) if n]


def select(procs: list[Process], only: Iterable[str] = (), exclude: Iterable[str] = ()) -> list[Process]:
    """The processes to run: ``only`` the named ones (and the base ones), minus ``exclude``.

    An unknown name is an error that lists the known ones (a typo must not silently run everything).
    """
    wanted, unwanted = set(only), set(exclude)
    known = {p.name for p in procs}
    unknown = sorted((wanted | unwanted) - known)
    if unknown:
        raise ValueError(f"unknown process {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    chosen = [p for p in procs if not wanted or p.name in wanted or p.base]
    return [p for p in chosen if p.name not in unwanted]


def backoff(failures: int, initial: float, maximum: float) -> float:
    """Seconds to wait before restart number ``failures`` (1, 2, …): doubling from ``initial`` up to ``maximum``."""
    if failures <= 0:
        return 0.0
    return float(min(maximum, initial * 2 ** min(failures - 1, 30)))


def _ready(proc: Process) -> bool:
    if proc.ready_tcp:
        try:
            with socket.create_connection(("127.0.0.1", proc.ready_tcp), timeout=0.3):
                return True
        except OSError:
            return False
    if proc.ready_http:
        try:
            with urllib.request.urlopen(proc.ready_http, timeout=1) as resp:  # noqa: S310 - loopback only
                return bool(resp.status == 200)
        except Exception:
            return False
    return True


def _resolve(cmd: list[str]) -> list[str]:
    """``python`` is this interpreter; console scripts are looked up next to it (the venv's bin)."""
    if cmd[0] == "python":
        return [sys.executable, *cmd[1:]]
    beside = Path(sys.executable).parent / cmd[0]
    return [str(beside), *cmd[1:]] if beside.exists() else cmd


def _pump(name: str, stream: Any, width: int) -> None:
    for raw in iter(stream.readline, b""):
        sys.stdout.write(f"{name:<{width}} | {raw.decode(errors='replace')}")
        sys.stdout.flush()


@dataclass
class Child:
    proc: Process
    popen: subprocess.Popen[bytes]
    started: float
    failures: int = 0
    """Crashes in a row (reset by a run longer than ``restart_stable_seconds``)."""
    restarts: int = 0
    restart_at: float | None = None
    ready: bool = False


class Supervisor:
    def __init__(self, procs: list[Process], env: dict[str, str], settings: SupervisorSettings) -> None:
        self.procs = procs
        self.env = env
        self.settings = settings
        self.width = max([len(p.name) for p in procs] + [len("leadflow")])
        self.children: list[Child] = []
        self.stopping = threading.Event()

    def say(self, text: str) -> None:
        print(f"{'leadflow':<{self.width}} | {text}", flush=True)

    def spawn(self, proc: Process) -> subprocess.Popen[bytes]:
        env = {**os.environ, **self.env, **proc.env, "PYTHONUNBUFFERED": "1"}
        child = subprocess.Popen(  # noqa: S603
            _resolve(proc.cmd), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
        threading.Thread(target=_pump, args=(proc.name, child.stdout, self.width), daemon=True).start()
        return child

    def ready_timeout(self, proc: Process) -> float:
        return proc.ready_timeout or self.settings.ready_timeout_seconds

    def wait_ready(self, child: Child) -> None:
        """Block until ``child`` is ready; a crash before that is retried ``start_retries`` times."""
        proc = child.proc
        deadline = time.monotonic() + self.ready_timeout(proc)
        while not _ready(proc):
            if self.stopping.is_set():
                raise RuntimeError("stopping")
            code = child.popen.poll()
            if code is not None:
                if proc.restart == "never" or child.restarts >= self.settings.start_retries:
                    raise RuntimeError(f"{proc.name} exited before it was ready (code {code})")
                child.failures += 1
                delay = self._delay(child)
                self.say(f"{proc.name} exited before it was ready (code {code}); restarting in {delay:.1f}s")
                self.stopping.wait(delay)
                self._respawn(child)
                deadline = time.monotonic() + self.ready_timeout(proc)
                continue
            if time.monotonic() > deadline:
                raise RuntimeError(f"{proc.name} not ready after {self.ready_timeout(proc):g}s")
            time.sleep(0.1)
        child.ready = True

    def _delay(self, child: Child) -> float:
        s = self.settings
        return backoff(child.failures, s.restart_backoff_initial_seconds, s.restart_backoff_max_seconds)

    def _respawn(self, child: Child) -> None:
        child.popen = self.spawn(child.proc)
        child.started = time.monotonic()
        child.restarts += 1
        child.restart_at = None
        child.ready = False

    def start(self) -> None:
        # Processes whose `order` shares a tens digit form a phase: a phase starts together and
        # must be ready before the next one starts (broker + emulator; the services, which need only
        # those two; the demo's leads and reconcile). Kafka decouples the services, so they start side
        # by side: make run was ready in 32 s that way against 59 s in five phases (16.5 s with the
        # services' 6 s group sessions of deploy/local/run.yaml, 13.4 s with their joins side by side).
        phases: dict[int, list[Process]] = {}
        for proc in self.procs:
            phases.setdefault(proc.order // 10, []).append(proc)
        for phase in sorted(phases):
            if self.stopping.is_set():
                return
            started = [Child(proc, self.spawn(proc), time.monotonic()) for proc in phases[phase]]
            self.children.extend(started)
            for child in started:
                if child.proc.oneshot:
                    continue
                self.wait_ready(child)
                for label, url in child.proc.urls.items():
                    self.say(f"{child.proc.name} {label}: {url}")
        self.say(f"all {len(self.children)} processes started; Ctrl-C stops them")

    def watch_once(self) -> None:
        """One look at every child: schedule restarts for crashed ones, restart those whose time has come."""
        now = time.monotonic()
        for child in self.children:
            proc = child.proc
            if proc.oneshot:
                continue
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self._respawn(child)
                    self.say(f"{proc.name} restarted (restart {child.restarts}, pid {child.popen.pid})")
                continue
            code = child.popen.poll()
            if code is None:
                if not child.ready and _ready(proc):
                    child.ready = True
                    if child.restarts:
                        self.say(f"{proc.name} is ready again")
                continue
            ran = now - child.started
            if proc.restart == "never" or (proc.restart == "on-failure" and code == 0):
                self.say(f"{proc.name} exited with {code} after {ran:.1f}s; not restarting (restart: {proc.restart})")
                child.restart_at = float("inf")
                continue
            child.failures = 1 if ran >= self.settings.restart_stable_seconds else child.failures + 1
            delay = self._delay(child)
            child.restart_at = now + delay
            self.say(
                f"{proc.name} exited with {code} after {ran:.1f}s; restarting in {delay:.1f}s "
                f"(crash {child.failures} in a row)"
            )

    def stop(self) -> None:
        """Services first, then the base processes (broker, emulator) they are still talking to."""
        for group in ([c for c in self.children if not c.proc.base], [c for c in self.children if c.proc.base]):
            for child in reversed(group):
                if child.popen.poll() is None:
                    os.killpg(child.popen.pid, signal.SIGTERM)
            deadline = time.monotonic() + self.settings.stop_timeout_seconds
            for child in reversed(group):
                try:
                    child.popen.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    self.say(f"{child.proc.name} did not stop in time; killing")
                    os.killpg(child.popen.pid, signal.SIGKILL)
                    child.popen.wait()
        self.say("stopped")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m leadflow_platform.supervisor", description=__doc__)
    p.add_argument("base", nargs="?", default="deploy/local/run.yaml", help="the base run.yaml")
    p.add_argument("--only", action="append", default=[], help="run only these (comma separated; repeatable)")
    p.add_argument("--exclude", action="append", default=[], help="leave these out (comma separated; repeatable)")
    p.add_argument("--list", action="store_true", help="print the processes that would run, then exit")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = SupervisorSettings()
    env_extra, procs = load(Path(args.base))
    try:
        procs = select(procs, names([settings.only, *args.only]), names([settings.exclude, *args.exclude]))
    except ValueError as exc:
        print(f"leadflow | {exc}", flush=True)
        return 2
    if not procs:
        print("leadflow | nothing to run", flush=True)
        return 2
    if args.list:
        for proc in procs:
            print(f"{proc.order:>3} {proc.name}")
        return 0
    demo_scale = env_extra.get("LEADFLOW_DEMO_CLOCK_SCALE") or os.environ.get("LEADFLOW_DEMO_CLOCK_SCALE")
    if demo_scale and settings.demo_clock_anchor is None and "LEADFLOW_DEMO_CLOCK_ANCHOR" not in env_extra:
        # One anchor for every process and every restart, so they all agree on the demo time.
        env_extra = {**env_extra, "LEADFLOW_DEMO_CLOCK_ANCHOR": datetime.now(UTC).isoformat()}
    sup = Supervisor(procs, env_extra, settings)
    if demo_scale:
        sup.say(f"demo clock on: SLA time runs {demo_scale}x faster (LEADFLOW_DEMO_CLOCK_SCALE)")

    def stop_all(*_: Any) -> None:
        sup.stopping.set()

    signal.signal(signal.SIGINT, stop_all)
    signal.signal(signal.SIGTERM, stop_all)
    code = 0
    try:
        sup.start()
        while not sup.stopping.is_set():
            sup.watch_once()
            sup.stopping.wait(0.5)
    except (RuntimeError, OSError) as exc:
        if not sup.stopping.is_set():
            sup.say(str(exc))
            code = 1
    finally:
        sup.stop()
    return code


if __name__ == "__main__":
    sys.exit(main())
