"""Adapters: the seen-events repository, the Kafka publisher, configuration file loaders."""
