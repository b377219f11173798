"""``handlers.by_partition``: how crm-sync splits a large batch into groups handled side by side."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from leadflow_crm_sync.handlers import by_partition
from leadflow_platform.consumer import Consumed
from leadflow_platform.kafka_io import RawRecord

TOPICS = ("leads.routed", "sla.events", "crm.changes")


def _batch(spec: list[tuple[int, int]]) -> list[Consumed[str]]:
    """(topic index, partition) per record, offsets in arrival order per topic-partition."""
    offsets: dict[tuple[int, int], int] = {}
    out = []
    for i, (t, p) in enumerate(spec):
        offset = offsets[t, p] = offsets.get((t, p), -1) + 1
        out.append(Consumed(RawRecord(f"k{p}".encode(), b"{}", TOPICS[t], p, offset), f"event-{i}"))
    return out


batches = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 11)), max_size=60)


@given(batches, st.integers(1, 4), st.integers(1, 40))
def test_every_record_lands_in_exactly_one_group_in_arrival_order_and_a_partition_in_one_group(
    spec: list[tuple[int, int]], parts: int, min_records: int
) -> None:
    batch = _batch(spec)
    groups = by_partition(batch, parts, min_records)
    assert sorted(e.event for g in groups for e in g) == sorted(e.event for e in batch)
    assert all(groups), "no empty group"
    for group in groups:
        order = [batch.index(e) for e in group]
        assert order == sorted(order), "arrival order kept within a group"
    owner = {e.record.partition: i for i, g in enumerate(groups) for e in g}
    assert all(owner[e.record.partition] == i for i, g in enumerate(groups) for e in g), (
        "one partition number (all three topics: one lead's events) in one group"
    )
    assert len(groups) <= max(parts, 1)
    if len(batch) < min_records or parts == 1:
        assert len(groups) == (1 if batch else 0)


def test_a_batch_over_the_threshold_on_several_partitions_is_split() -> None:
    batch = _batch([(0, p) for p in range(6)] * 2)
    groups = by_partition(batch, 2, 4)
    assert [{e.record.partition for e in g} for g in groups] == [{0, 2, 4}, {1, 3, 5}]
