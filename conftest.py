"""Root conftest: shared fixtures (embedded Kafka, PostgreSQL via pgserver, databases) for every test folder."""

pytest_plugins = ["leadflow_platform.testing.fixtures"]
