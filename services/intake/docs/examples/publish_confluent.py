"""Publish one lead to leads.inbound with confluent-kafka (librdkafka).

    python publish_confluent.py lead.json [--bootstrap 127.0.0.1:19092] [--topic leads.inbound]

Key = the lead's lead_id, value = the JSON bytes as they are, header content-type: application/json.
Exits 1 if the broker did not acknowledge the message.
"""

import argparse
import json
import sys
from pathlib import Path

from confluent_kafka import KafkaError, Message, Producer


def publish(bootstrap: str, topic: str, body: bytes) -> int:
    lead = json.loads(body)
    key = lead.get("lead_id") or lead["source"].get("record_id") or lead["event_id"]
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            # The embedded development broker has no idempotent producer; enable it on Apache Kafka.
            "enable.idempotence": False,
        }
    )
    failures: list[str] = []

    def delivered(err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            failures.append(str(err))
        else:
            print(f"published {key} to {msg.topic()}[{msg.partition()}]@{msg.offset()}")

    producer.produce(
        topic, value=body, key=key.encode(), headers={"content-type": b"application/json"}, on_delivery=delivered
    )
    remaining = producer.flush(30)
    if remaining or failures:
        print(f"not delivered: {failures or 'timed out'}", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description="Publish a LeadSubmitted JSON file to Kafka (confluent-kafka).")
    parser.add_argument("file", type=Path)
    parser.add_argument("--bootstrap", default="127.0.0.1:19092")
    parser.add_argument("--topic", default="leads.inbound")
    args = parser.parse_args()
    return publish(args.bootstrap, args.topic, args.file.read_bytes())


if __name__ == "__main__":
    sys.exit(main())
