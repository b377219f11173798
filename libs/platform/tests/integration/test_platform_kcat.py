"""Debian's kcat (librdkafka 2.0.x) against the embedded broker, as `make run` starts it.

`make test` installs kcat with apt-get (browser-deps); without it these tests skip with the reason.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from leadflow_platform.embedded_kafka import EmbeddedKafka, free_port
from leadflow_platform.testing.fixtures import consume

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("kcat") is None, reason="kcat is not on PATH (make browser-deps: apt-get install kcat)"
    ),
]


def _librdkafka_version() -> tuple[int, int]:
    out = subprocess.run(["kcat", "-V"], capture_output=True, text=True, timeout=10).stdout
    found = re.search(r"librdkafka ([0-9]+)\.([0-9]+)", out)
    return (int(found.group(1)), int(found.group(2))) if found else (99, 0)


def _kcat(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["kcat", *args], input=stdin, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def broker() -> Iterator[EmbeddedKafka]:
    log = Path(tempfile.gettempdir()) / "leadflow-test-tansu-kcat.log"
    with EmbeddedKafka(log_file=log, compat_port=free_port()) as b:
        b.create_topics()
        yield b


def test_kcat_publishes_through_the_compat_port_and_reads_back(broker: EmbeddedKafka) -> None:
    assert broker.compat_bootstrap
    lines = [f'{{"n": {i}, "name": "Zoë {i}"}}' for i in range(25)]
    produced = _kcat(
        "-b",
        broker.compat_bootstrap,
        "-P",
        "-t",
        "leads.inbound",
        "-K",
        "|",
        stdin="".join(f"k{i % 5}|{line}\n" for i, line in enumerate(lines)),
    )
    assert produced.returncode == 0, produced.stderr
    records = asyncio.run(consume(broker.bootstrap, "leads.inbound", 25))
    assert sorted(r.value.decode() for r in records) == sorted(lines)
    read = _kcat(
        "-b", broker.compat_bootstrap, "-C", "-t", "leads.inbound", "-o", "beginning", "-e", "-q", "-f", "%k|%s\\n"
    )
    assert read.returncode == 0, read.stderr
    assert sorted(read.stdout.splitlines()) == sorted(f"k{i % 5}|{line}" for i, line in enumerate(lines))


def test_kcat_metadata_from_the_compat_port_names_only_the_compat_port(broker: EmbeddedKafka) -> None:
    listing = _kcat("-b", broker.compat_bootstrap or "", "-L", "-t", "leads.inbound")
    assert listing.returncode == 0, listing.stderr
    assert f"at {broker.compat_bootstrap}" in listing.stdout
    assert f"at {broker.bootstrap}" not in listing.stdout


def test_old_librdkafka_on_the_direct_port_fails_the_way_the_docs_say(broker: EmbeddedKafka) -> None:
    """Documents why the compat port exists; a kcat built on librdkafka >= 2.2 simply works."""
    direct = _kcat("-b", broker.bootstrap, "-P", "-t", "leads.inbound", stdin="x\n")
    if _librdkafka_version() >= (2, 2):
        assert direct.returncode == 0, direct.stderr
    else:
        assert "Read underflow" in direct.stderr


@pytest.fixture(scope="module")
def make_run_broker() -> Iterator[EmbeddedKafka]:
    """As `make run` starts it: the front door is the bootstrap address of every client."""
    log = Path(tempfile.gettempdir()) / "leadflow-test-tansu-kcat-bootstrap.log"
    with EmbeddedKafka(log_file=log, compat_port=free_port(), compat_redirect_all=False) as b:
        b.create_topics()
        yield b


def test_first_kcat_publish_on_the_make_run_address_works_and_others_go_direct(make_run_broker: EmbeddedKafka) -> None:
    bootstrap = make_run_broker.compat_bootstrap
    assert bootstrap
    produced = _kcat("-b", bootstrap, "-P", "-t", "leads.inbound", "-k", "k1", stdin='{"first": true}\n')
    assert produced.returncode == 0, produced.stderr
    listing = _kcat("-b", bootstrap, "-L", "-t", "leads.inbound")
    assert f"at {bootstrap}" in listing.stdout  # old librdkafka stays on the front door

    async def aiokafka_view() -> tuple[list[tuple[str, int]], list[bytes]]:
        from aiokafka import AIOKafkaProducer

        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            brokers = [(b.host, b.port) for b in producer.client.cluster.brokers()]
            await producer.send_and_wait("leads.inbound", b'{"second": true}', key=b"k2")
        finally:
            await producer.stop()
        records = await consume(bootstrap, "leads.inbound", 2)
        return brokers, sorted(r.value for r in records)

    brokers, values = asyncio.run(aiokafka_view())
    assert brokers == [(make_run_broker.host, make_run_broker.port)]  # a current client talks to Tansu itself
    assert values == [b'{"first": true}', b'{"second": true}']


def test_make_runs_broker_command_line_serves_kcat_on_the_bootstrap_port() -> None:
    """The exact command of deploy/local/run.yaml (ports swapped for free ones): kcat -P then -C work."""
    import sys

    import yaml

    repo = Path(__file__).resolve().parents[4]
    run = yaml.safe_load((repo / "deploy" / "local" / "run.yaml").read_text(encoding="utf-8"))
    (kafka,) = [p for p in run["processes"] if p["name"] == "kafka"]
    direct, bootstrap = free_port(), free_port()
    cmd = [sys.executable if c == "python" else c for c in kafka["cmd"]]
    cmd = [{"19094": str(direct), "19092": str(bootstrap)}.get(c, c) for c in cmd]
    assert str(bootstrap) in cmd and str(direct) in cmd, cmd
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "ready" in line:
                break
        assert f"bootstrap 127.0.0.1:{bootstrap}" in "".join(lines), lines
        sent = _kcat("-b", f"127.0.0.1:{bootstrap}", "-P", "-t", "leads.inbound", "-k", "x", stdin="hello kcat\n")
        assert sent.returncode == 0, sent.stderr
        read = _kcat("-b", f"127.0.0.1:{bootstrap}", "-C", "-t", "leads.inbound", "-o", "beginning", "-e", "-q")
        assert read.stdout.splitlines() == ["hello kcat"]
    finally:
        proc.terminate()
        proc.wait(10)
