"""Consumer lag and throughput from offsets (committed per group vs the log end)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

Partition = tuple[str, int]


@dataclass(frozen=True)
class LagRow:
    group: str
    service: str
    topic: str
    """Contract topic name (the deployment prefix removed)."""
    lag: int
    partitions: int
    committed: int
    end: int


def service_of(group: str) -> str:
    return group.removeprefix("leadflow-")


def contract_topic(topic: str, prefix: str) -> str:
    return topic[len(prefix) :] if prefix and topic.startswith(prefix) else topic


def consumer_lag(
    group: str,
    committed: Mapping[Partition, int],
    end: Mapping[Partition, int],
    prefix: str = "",
) -> list[LagRow]:
    """Lag per topic for one group. A partition without a committed offset counts from 0."""
    by_topic: dict[str, list[Partition]] = {}
    for tp in committed:
        by_topic.setdefault(tp[0], []).append(tp)
    rows = []
    for topic, tps in sorted(by_topic.items()):
        all_tps = sorted({*tps, *(p for p in end if p[0] == topic)})
        lag = 0
        done = 0
        last = 0
        for tp in all_tps:
            c = max(committed.get(tp, 0), 0)
            e = end.get(tp, c)
            lag += max(0, e - c)
            done += c
            last += e
        rows.append(
            LagRow(
                group=group,
                service=service_of(group),
                topic=contract_topic(topic, prefix),
                lag=lag,
                partitions=len(all_tps),
                committed=done,
                end=last,
            )
        )
    return rows


def throughput(previous: Mapping[str, int], current: Mapping[str, int], seconds: float) -> dict[str, float]:
    """Messages per second written to each topic between two samples of summed end offsets."""
    if seconds <= 0:
        return {}
    return {t: max(0, current[t] - previous.get(t, current[t])) / seconds for t in current}
