"""``make run``: start every process of the local system in order, wait for each to be ready,
stream their output with a prefix, and on Ctrl-C/SIGTERM stop them all (reverse order, SIGTERM then
SIGKILL), so no orphan keeps a port.

Processes come from ``deploy/local/run.yaml`` (the base: broker, emulator) and one ``run.yaml``
per service (``services/*/run.yaml``), sorted by ``order``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field


class Process(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    cmd: list[str]
    order: int = 50
    env: dict[str, str] = Field(default_factory=dict)
    ready_tcp: int | None = None
    ready_http: str | None = None
    ready_timeout: float = 60.0
    urls: dict[str, str] = Field(default_factory=dict)
    oneshot: bool = False


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
        procs.extend(data.processes)
    return env, sorted(procs, key=lambda p: (p.order, p.name))


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


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    base = Path(args[0] if args else "deploy/local/run.yaml")
    env_extra, procs = load(base)
    width = max(len(p.name) for p in procs)
    children: list[tuple[Process, subprocess.Popen[bytes]]] = []
    stopping = threading.Event()

    def stop_all(*_: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, stop_all)
    signal.signal(signal.SIGTERM, stop_all)
    code = 0
    try:
        # Processes whose `order` shares a tens digit form a phase: a phase starts together and
        # must be ready before the next one starts (broker + emulator, then intake, then …).
        phases: dict[int, list[Process]] = {}
        for proc in procs:
            phases.setdefault(proc.order // 10, []).append(proc)
        for phase in sorted(phases):
            if stopping.is_set():
                break
            started: list[tuple[Process, subprocess.Popen[bytes]]] = []
            for proc in phases[phase]:
                env = {**os.environ, **env_extra, **proc.env, "PYTHONUNBUFFERED": "1"}
                child = subprocess.Popen(  # noqa: S603
                    _resolve(proc.cmd),
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                children.append((proc, child))
                started.append((proc, child))
                threading.Thread(target=_pump, args=(proc.name, child.stdout, width), daemon=True).start()
            for proc, child in started:
                if proc.oneshot:
                    continue
                deadline = time.monotonic() + proc.ready_timeout
                while not _ready(proc):
                    if child.poll() is not None or stopping.is_set():
                        raise RuntimeError(f"{proc.name} exited before it was ready (code {child.returncode})")
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{proc.name} not ready after {proc.ready_timeout}s")
                    time.sleep(0.1)
                for label, url in proc.urls.items():
                    print(f"{'leadflow':<{width}} | {proc.name} {label}: {url}", flush=True)
        print(f"{'leadflow':<{width}} | all {len(children)} processes started; Ctrl-C stops them", flush=True)
        while not stopping.is_set():
            for proc, child in children:
                if not proc.oneshot and child.poll() is not None:
                    print(f"{'leadflow':<{width}} | {proc.name} exited with {child.returncode}; stopping", flush=True)
                    code = 1
                    stopping.set()
            stopping.wait(0.5)
    except (RuntimeError, OSError) as exc:
        print(f"{'leadflow':<{width}} | {exc}", flush=True)
        code = 1
    finally:
        for _proc, child in reversed(children):
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc, child in reversed(children):
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"{'leadflow':<{width}} | {proc.name} did not stop in time; killing", flush=True)
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        print(f"{'leadflow':<{width}} | stopped", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
