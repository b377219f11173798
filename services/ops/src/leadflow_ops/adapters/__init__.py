"""Adapters: read-model repository, Kafka lag reader, republisher."""
