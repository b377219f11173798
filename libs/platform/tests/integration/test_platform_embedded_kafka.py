import pytest
from aiokafka import AIOKafkaProducer
from leadflow_contracts import topics
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
