"""Helpers the services' benchmark scripts share: offsets, counting results, readiness, process CPU."""

from __future__ import annotations

import asyncio
import os
import time
import urllib.request
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from leadflow_platform.offsets import end_offsets_of_topics


async def end_offsets(bootstrap: str, names: list[str]) -> dict[TopicPartition, int]:
    """The current end offset of every partition of the named topics (where results will start)."""
    return await end_offsets_of_topics(bootstrap, names)


async def count_from(bootstrap: str, start: dict[TopicPartition, int], want: int, timeout: float) -> tuple[int, float]:
    """Count records after ``start`` until ``want`` arrived or ``timeout``; return (count, perf_counter
    of the last arrival)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=16 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        consumer.assign(list(start))
        for tp, off in start.items():
            consumer.seek(tp, off)
        seen, last = 0, time.perf_counter()
        deadline = time.monotonic() + timeout
        while seen < want and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=20000)
            got = sum(len(v) for v in batch.values())
            if got:
                seen += got
                last = time.perf_counter()
        return seen, last
    finally:
        await consumer.stop()


async def wait_http(url: str, timeout: float) -> None:
    """Wait until ``url`` answers 200 (a service's /readyz)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310, ASYNC210 - loopback, bench only
                if resp.status == 200:
                    return
        except OSError:
            pass
        await asyncio.sleep(0.2)
    raise TimeoutError(f"{url} not ready within {timeout}s")


def process_cpu_seconds(pid: int) -> float:
    """user + system CPU time of a process (Linux /proc), so contention from others does not count;
    0 where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
