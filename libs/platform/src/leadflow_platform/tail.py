"""``make tail TOPIC=leads.accepted``: print a topic's messages (from the start, then follow)."""

from __future__ import annotations

import argparse
import asyncio
import json

from aiokafka import AIOKafkaConsumer, TopicPartition


async def tail(bootstrap: str, topic: str, from_start: bool, limit: int | None) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
        if not parts:
            raise SystemExit(f"no such topic: {topic}")
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        if from_start:
            await consumer.seek_to_beginning(*tps)
        seen = 0
        async for record in consumer:
            try:
                value = json.dumps(json.loads(record.value or b"null"), ensure_ascii=False)
            except ValueError:
                value = repr(record.value[:200] if record.value else record.value)
            key = record.key.decode(errors="replace") if record.key else None
            print(f"{record.partition}:{record.offset} key={key} {value}", flush=True)
            seen += 1
            if limit and seen >= limit:
                return
    finally:
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("topic")
    parser.add_argument("--bootstrap", default="127.0.0.1:19092")
    parser.add_argument("--new", action="store_true", help="only messages arriving from now on")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    try:
        asyncio.run(tail(args.bootstrap, args.topic, not args.new, args.limit))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
