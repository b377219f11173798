import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from leadflow_contracts import topics
from leadflow_platform.embedded_kafka import EmbeddedKafka
from leadflow_platform.testing.fixtures import consume
from leadflow_platform.topics_admin import load_topics

pytestmark = pytest.mark.integration


async def test_embedded_broker_round_trip_with_contract_topics(kafka_bootstrap, topic_namespace):
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, compression_type="gzip")
    await producer.start()
    try:
        for i in range(20):
            await producer.send(topic_namespace(topics.LEADS_INBOUND), f"v{i}".encode(), key=f"k{i % 4}".encode())
        await producer.flush()
    finally:
        await producer.stop()
    records = await consume(kafka_bootstrap, topic_namespace(topics.LEADS_INBOUND), 20)
    assert sorted(r.value for r in records) == sorted(f"v{i}".encode() for i in range(20))
    by_key = {}
    for r in records:
        by_key.setdefault(r.key, set()).add(r.partition)
    assert all(len(parts) == 1 for parts in by_key.values()), "one key, one partition"


def test_topics_file_covers_every_contract_topic():
    assert set(load_topics()) >= set(topics.ALL_TOPICS)


def _tokio_workers(pid: int) -> int:
    tasks = Path(f"/proc/{pid}/task")
    return sum(1 for t in tasks.iterdir() if (t / "comm").read_text().strip().startswith("tokio-rt-worker"))


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the broker's threads from /proc")
@pytest.mark.parametrize(("worker_threads", "env", "expected"), [(1, None, 1), (None, None, 0), (1, "3", 3)])
def test_the_broker_runs_the_worker_threads_it_is_given(monkeypatch, worker_threads, env, expected):
    """One tokio worker by default; None leaves tokio's default (one per core); TOKIO_WORKER_THREADS set by
    the operator wins over the default."""
    if env is None:
        monkeypatch.delenv("TOKIO_WORKER_THREADS", raising=False)
    else:
        monkeypatch.setenv("TOKIO_WORKER_THREADS", env)
    with EmbeddedKafka(worker_threads=worker_threads) as broker:
        pid = broker.pid
        assert pid is not None, "a running broker has a process id"
        workers = _tokio_workers(pid)
    assert workers == (expected or len(os.sched_getaffinity(0)))
    assert broker.pid is None, "a stopped broker has none"
    assert not Path(f"/proc/{pid}").exists(), "the id was the broker's own: its process is gone"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the broker's memory from /proc")
def test_the_launcher_warns_when_the_broker_memory_passes_the_threshold():
    """make run's broker keeps every record: its launcher says so once the memory passes --warn-memory-mb
    (1 MB here, so at the first check), and goes on serving."""
    from leadflow_platform.embedded_kafka import free_port

    port = free_port()
    cmd = [sys.executable, "-m", "leadflow_platform.embedded_kafka", "--port", str(port), "--no-topics"]
    proc = subprocess.Popen([*cmd, "--warn-memory-mb", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        readable, _, _ = select.select([proc.stderr], [], [], 20)
        assert readable, "no warning within 20 s"
        line = proc.stderr.readline()
        assert "embedded broker memory" in line and "passed 1 MB" in line, line
        assert proc.poll() is None, "a warning, not a stop"
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
