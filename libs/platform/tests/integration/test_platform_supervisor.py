"""`make run`'s supervisor: starts in order, waits for readiness, and on SIGINT stops every child."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from leadflow_platform.embedded_kafka import free_port

pytestmark = pytest.mark.integration


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_supervisor_starts_in_order_and_leaves_no_orphans(tmp_path: Path):
    kafka_port, http_port = free_port(), free_port()
    base = tmp_path / "a" / "b" / "run.yaml"
    base.parent.mkdir(parents=True)
    base.write_text(
        f"""
processes:
  - name: kafka
    order: 0
    cmd: [python, -m, leadflow_platform.embedded_kafka, --port, "{kafka_port}"]
    ready_tcp: {kafka_port}
  - name: web
    order: 10
    cmd: [python, -m, http.server, "{http_port}", --bind, 127.0.0.1]
    ready_http: http://127.0.0.1:{http_port}/
"""
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "leadflow_platform.supervisor", str(base)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline().decode()
        lines.append(line)
        if "processes started" in line:
            break
    assert any("all 2 processes started" in ln for ln in lines), lines
    assert _port_open(kafka_port) and _port_open(http_port)
    os.killpg(proc.pid, signal.SIGINT)
    out = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 0, out
    assert "stopped" in out
    assert not _port_open(kafka_port) and not _port_open(http_port), "ports freed"
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert f"--port {kafka_port}" not in ps and f"http.server {http_port}" not in ps, "no orphans"


def test_supervisor_stops_everything_when_a_process_fails_to_start(tmp_path: Path):
    port = free_port()
    base = tmp_path / "a" / "b" / "run.yaml"
    base.parent.mkdir(parents=True)
    base.write_text(
        f"""
processes:
  - name: web
    order: 0
    cmd: [python, -m, http.server, "{port}", --bind, 127.0.0.1]
    ready_tcp: {port}
  - name: broken
    order: 1
    cmd: [python, -c, "import sys; sys.exit(3)"]
    ready_tcp: 1
"""
    )
    out = subprocess.run(
        [sys.executable, "-m", "leadflow_platform.supervisor", str(base)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 1
    assert "broken exited before it was ready (code 3)" in out.stdout
    assert not _port_open(port)


def _tree(tmp_path: Path, base: str, services: dict[str, str]) -> Path:
    """A repository-shaped tree: deploy/local/run.yaml plus services/<name>/run.yaml."""
    path = tmp_path / "deploy" / "local" / "run.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(base)
    for name, text in services.items():
        (tmp_path / "services" / name).mkdir(parents=True)
        (tmp_path / "services" / name / "run.yaml").write_text(text)
    return path


def _read_until(proc: subprocess.Popen, needle: str, timeout: float) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline().decode()
        if not line and proc.poll() is not None:
            break
        lines.append(line)
        if needle in line and sum(needle in ln for ln in lines) >= 1:
            return lines
    raise AssertionError(f"{needle!r} not seen: {''.join(lines)}")


def test_a_crashed_service_is_restarted_with_back_off_and_exclude_leaves_one_out(tmp_path: Path):
    marker = tmp_path / "starts.txt"
    crashy = (
        "import pathlib, sys, time; p = pathlib.Path(sys.argv[1]); "
        "p.write_text(p.read_text() + 'x' if p.exists() else 'x'); time.sleep(0.3); sys.exit(7)"
    )
    base = _tree(
        tmp_path,
        """
processes:
  - name: core
    order: 0
    cmd: [python, -c, "import time; time.sleep(600)"]
""",
        {
            "crashy": "processes:\n  - name: crashy\n    order: 20\n"
            f"    cmd: [python, -c, {crashy!r}, {str(marker)!r}]\n",
            "demo-generator": "processes:\n  - name: demo-generator\n    order: 90\n"
            "    cmd: [python, -c, \"print('demo generator running', flush=True); import time; time.sleep(600)\"]\n",
        },
    )
    env = {
        **os.environ,
        "LEADFLOW_RUN_RESTART_BACKOFF_INITIAL_SECONDS": "0.2",
        "LEADFLOW_RUN_RESTART_BACKOFF_MAX_SECONDS": "0.8",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "leadflow_platform.supervisor", str(base), "--exclude", "demo-generator"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=env,
    )
    try:
        lines = _read_until(proc, "processes started", 60)
        for _ in range(4):
            lines += _read_until(proc, "crashy restarted", 30)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        out = "".join(lines) + proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 0, out
    assert "all 2 processes started" in out  # core and crashy; the demo generator was left out
    assert "demo generator running" not in out
    waits = [float(w) for w in re.findall(r"crashy exited with 7 after [\d.]+s; restarting in ([\d.]+)s", out)]
    assert waits[:4] == [0.2, 0.4, 0.8, 0.8], out  # doubling, capped
    assert len(marker.read_text()) >= 4  # really started again (the last restart may not have run yet)
    assert "stopped" in out


def test_only_runs_the_named_services_and_the_base(tmp_path: Path):
    base = _tree(
        tmp_path,
        'processes:\n  - name: core\n    order: 0\n    cmd: [python, -c, "import time; time.sleep(60)"]\n',
        {n: f"processes:\n  - name: {n}\n    order: 20\n    cmd: [python, -c, pass]\n" for n in ("a", "b", "c")},
    )
    listed = subprocess.run(
        [sys.executable, "-m", "leadflow_platform.supervisor", str(base), "--only", "a,c", "--list"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stdout
    assert [ln.split()[-1] for ln in listed.stdout.splitlines()] == ["core", "a", "c"]
    typo = subprocess.run(
        [sys.executable, "-m", "leadflow_platform.supervisor", str(base), "--exclude", "d"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert typo.returncode == 2 and "unknown process d (known: a, b, c, core)" in typo.stdout


def test_ready_timeout_is_a_setting(tmp_path: Path):
    port = free_port()
    base = _tree(
        tmp_path,
        f'processes:\n  - name: deaf\n    order: 0\n    cmd: [python, -c, "import time; time.sleep(60)"]\n'
        f"    ready_tcp: {port}\n",
        {},
    )
    began = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "leadflow_platform.supervisor", str(base)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LEADFLOW_RUN_READY_TIMEOUT_SECONDS": "1.5"},
    )
    assert out.returncode == 1
    assert "deaf not ready after 1.5s" in out.stdout
    assert time.monotonic() - began < 20
