"""Adapters: the timer store (database) and the event publisher (Kafka)."""
