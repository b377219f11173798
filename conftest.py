"""Root conftest: shared fixtures for every test folder.

- leadflow_platform.testing.fixtures: embedded Kafka, topic namespaces, SQLite/PostgreSQL (pgserver) databases.
- leadflow_salesforce.pytest_plugin: one Salesforce emulator (HTTPS) per session, reset per test.
"""

pytest_plugins = ["leadflow_platform.testing.fixtures", "leadflow_salesforce.pytest_plugin"]
