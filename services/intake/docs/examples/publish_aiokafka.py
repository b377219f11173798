"""Publish one lead to leads.inbound with aiokafka.

    python publish_aiokafka.py lead.json [--bootstrap 127.0.0.1:19092] [--topic leads.inbound]

Key = the lead's lead_id (or your record id), value = the JSON bytes as they are, header
content-type: application/json. Waits for the broker's acknowledgement (acks=all).
"""

import argparse
import asyncio
import json
import sys
from pathlib import Path

from aiokafka import AIOKafkaProducer


async def publish(bootstrap: str, topic: str, body: bytes) -> None:
    lead = json.loads(body)
    key = lead.get("lead_id") or lead["source"].get("record_id") or lead["event_id"]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        meta = await producer.send_and_wait(
            topic, body, key=key.encode(), headers=[("content-type", b"application/json")]
        )
    finally:
        await producer.stop()
    print(f"published {key} to {meta.topic}[{meta.partition}]@{meta.offset}")


def main() -> int:
    parser = argparse.ArgumentParser(description="Publish a LeadSubmitted JSON file to Kafka (aiokafka).")
    parser.add_argument("file", type=Path)
    parser.add_argument("--bootstrap", default="127.0.0.1:19092")
    parser.add_argument("--topic", default="leads.inbound")
    args = parser.parse_args()
    asyncio.run(publish(args.bootstrap, args.topic, args.file.read_bytes()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
