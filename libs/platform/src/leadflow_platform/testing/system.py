"""The local system as `make run` starts it, for end-to-end tests: the supervisor and its processes.

`running_system(tmp, names)` writes `deploy/local/run.yaml` + `services/*/run.yaml` (only the named
processes) into a temporary tree with free ports and a temporary state folder, starts
`python -m leadflow_platform.supervisor` on it as its own process group, waits until every process is
ready and yields a :class:`System`; at the end it stops the supervisor with SIGINT, as Ctrl-C would.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from leadflow_platform.embedded_kafka import free_port
from leadflow_platform.supervisor import load

REPO = Path(__file__).resolve().parents[5]


@dataclass
class System:
    bootstrap: str
    emulator_url: str
    ca: Path
    proc: subprocess.Popen[bytes]
    lines: list[str] = field(default_factory=list)

    def tail(self, n: int = 60) -> str:
        return "".join(self.lines[-n:])

    def child_pid(self, module: str) -> int:
        """The pid of the supervisor's child running ``python -m <module>``."""
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == self.proc.pid and module.encode() in cmdline:
                return int(entry.name)
        raise LookupError(f"no child of the supervisor runs {module}")


def run_file(tmp: Path, names: Iterable[str], *, ready_timeout: float = 150.0) -> tuple[Path, str, str, Path]:
    """The run files of `make run`, only ``names``, on free ports and under ``tmp``; real time (no demo clock)."""
    wanted = set(names)
    env, procs = load(REPO / "deploy" / "local" / "run.yaml")
    procs = [p for p in procs if p.name in wanted]
    missing = wanted - {p.name for p in procs}
    assert not missing, f"no such process in make run: {sorted(missing)}"
    kafka, compat, emu = free_port(), free_port(), free_port()
    swaps = {
        "127.0.0.1:19092": f"127.0.0.1:{kafka}",
        '"19092"': f'"{kafka}"',
        '"19094"': f'"{compat}"',
        "https://127.0.0.1:8443": f"https://127.0.0.1:{emu}",
        '"8443"': f'"{emu}"',
        ".run/sfemu-certs": str(tmp / "certs"),
        ".run/sfemu.db": str(tmp / "sfemu.db"),
        "sqlite+aiosqlite:///./var/": f"sqlite+aiosqlite:///{tmp}/",
        "var/models": str(tmp / "models"),
    }
    for port in range(8000, 8020):
        new = str(free_port())
        swaps[f"127.0.0.1:{port}/"] = f"127.0.0.1:{new}/"
        swaps[f'"{port}"'] = f'"{new}"'
    env = {k: v for k, v in env.items() if not k.startswith("LEADFLOW_DEMO_CLOCK")}
    doc = json.dumps({"env": env, "processes": [p.model_dump(exclude={"base"}) for p in procs]})
    for old, new in swaps.items():
        doc = doc.replace(old, new)
    data = json.loads(doc)
    for p in data["processes"]:
        if p["ready_tcp"] == 19092:
            p["ready_tcp"] = kafka
        elif p["ready_tcp"] == 8443:
            p["ready_tcp"] = emu
        p["ready_timeout"] = ready_timeout
    base = tmp / "tree" / "deploy" / "local" / "run.yaml"
    base.parent.mkdir(parents=True)
    base.write_text(json.dumps(data, indent=1))  # JSON is YAML
    return base, f"127.0.0.1:{kafka}", f"https://127.0.0.1:{emu}", tmp / "certs" / "ca.pem"


@contextlib.contextmanager
def running_system(tmp: Path, names: Iterable[str], *, start_timeout: float = 240.0) -> Iterator[System]:
    base, bootstrap, url, ca = run_file(tmp, names)
    proc = subprocess.Popen(  # noqa: S603 - this interpreter and our own supervisor
        [sys.executable, "-m", "leadflow_platform.supervisor", str(base)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    system = System(bootstrap, url, ca, proc)
    started = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            line = raw.decode(errors="replace")
            system.lines.append(line)
            if "processes started" in line:
                started.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        deadline = time.monotonic() + start_timeout
        while not started.wait(0.5):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the system did not start:\n{system.tail()}")
        yield system
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
