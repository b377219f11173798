"""A producer may compress its batches with any codec Kafka defines (gzip, snappy, lz4, zstd: librdkafka, the Java
client and kcat all offer them), and Apache Kafka hands a batch to consumers as the producer wrote it. Every
leadflow consumer must read all four, or one compressing publisher stops the partition. The batch below is built
and read with the client's own wire code, as a fetch from Apache Kafka delivers it."""

from __future__ import annotations

import json

import pytest
from aiokafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

pytestmark = pytest.mark.unit

CODECS = {"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
"""The compression bits of a record batch's attributes (Kafka protocol, RecordBatch v2)."""


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_a_batch_compressed_with_any_kafka_codec_is_read(codec: str) -> None:
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=CODECS[codec],
        is_transactional=0,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 20,
    )
    values = [json.dumps({"event_id": f"e-{i}", "person": {"email": f"p{i}@example.com"}}).encode() for i in range(50)]
    for offset, value in enumerate(values):
        builder.append(offset, timestamp=None, key=f"k-{offset}".encode(), value=value, headers=[])
    wire = bytes(builder.build())
    batch = DefaultRecordBatch(wire)
    assert batch.compression_type == CODECS[codec]
    assert [r.value for r in batch] == values
