"""`make run`'s supervisor: starts in order, waits for readiness, and on SIGINT stops every child."""

import os
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
