"""pytest fixtures: one embedded Kafka broker and one PostgreSQL server per test session.

- ``kafka_bootstrap``: a real Kafka-protocol broker (Tansu) with the contract topics created.
- ``topic_namespace``: a fresh prefix per test for tests that need isolated topics.
- ``database_url``: parametrised over SQLite and PostgreSQL (pgserver); a fresh database per test.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import importlib.util
import itertools
import os
import pkgutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from leadflow_platform.embedded_kafka import EmbeddedKafka
from leadflow_platform.topics_admin import TopicSpec, ensure_topics, load_topics

_db_counter = itertools.count()


@pytest.fixture(scope="session")
def embedded_kafka() -> Iterator[EmbeddedKafka]:
    log = Path(tempfile.gettempdir()) / f"leadflow-test-tansu-{os.getpid()}.log"
    broker = EmbeddedKafka(log_file=log).start()
    try:
        broker.create_topics()
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(embedded_kafka: EmbeddedKafka) -> str:
    return embedded_kafka.bootstrap


TEST_SESSION_TIMEOUT_MS = 4_000
"""The consumer-group session of every service settings object a test on the embedded broker builds.

Tansu 0.6.0 answers a JoinGroup only once half the member's session timeout has passed (it sleeps in 1 s
steps: ``join`` in tansu-broker's coordinator/group/administrator.rs), so each group join and each rebalance
costs the client's default 10 s / 2 = 5 s, and crm-sync's 45 s / 2 = 22.5 s. At 4 s a join takes 2 s (3 s
would too), and a test that holds the event loop for up to 4 s does not cost its consumers their membership.
A setting the test passes itself still wins (constructor arguments come before the environment)."""


@functools.cache
def _import_settings_modules() -> None:
    """Import ``leadflow_*.settings`` of every installed member, so a test module that imports its service
    only inside a fixture still has the service's settings class known here."""
    for module in pkgutil.iter_modules():
        if not module.name.startswith("leadflow_"):
            continue
        with contextlib.suppress(ImportError):
            if importlib.util.find_spec(f"{module.name}.settings") is not None:
                importlib.import_module(f"{module.name}.settings")


def settings_env_prefixes() -> dict[str, int]:
    """Env prefix of every ``ServiceSettings`` class of the installed members (and of any other loaded one)
    → the smallest session timeout it accepts."""
    from leadflow_platform.settings import ServiceSettings

    _import_settings_modules()

    out: dict[str, int] = {}
    todo: list[type[ServiceSettings]] = [ServiceSettings]
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        field = cls.model_fields["session_timeout_ms"]
        floor = max((int(m.ge) for m in field.metadata if getattr(m, "ge", None) is not None), default=0)
        prefix = str(cls.model_config.get("env_prefix", ""))
        out[prefix] = max(out.get(prefix, 0), floor)
    return out


@pytest.fixture(scope="session")
def broker_test_modules(request: pytest.FixtureRequest) -> frozenset[pytest.Module]:
    """The collected test modules with at least one test on the embedded broker (found once per session)."""
    return frozenset(
        module
        for item in request.session.items
        if "embedded_kafka" in getattr(item, "fixturenames", ())
        and (module := item.getparent(pytest.Module)) is not None
    )


@pytest.fixture(scope="module", autouse=True)
def quick_group_joins(request: pytest.FixtureRequest, broker_test_modules: frozenset[pytest.Module]) -> Iterator[None]:
    """A test module with tests on the embedded broker: every service's group session is
    ``TEST_SESSION_TIMEOUT_MS`` (or the smallest its settings accept), so a join or rebalance takes ~2 s
    instead of 5-22 s. Module-scoped, so the module's own module-scoped stacks get it too."""
    if request.node not in broker_test_modules:
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        for prefix, floor in settings_env_prefixes().items():
            patch.setenv(f"{prefix}SESSION_TIMEOUT_MS", str(max(TEST_SESSION_TIMEOUT_MS, floor)))
        yield


class TopicNamespace:
    """Contract topics under a unique prefix, so one test's messages never reach another's."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.prefix = f"t{uuid.uuid4().hex[:8]}."

    def __call__(self, topic: str) -> str:
        return self.prefix + topic

    async def create(self, partitions: int = 3) -> None:
        specs = {self(name): TopicSpec(partitions=partitions) for name in load_topics()}
        await ensure_topics(self.bootstrap, specs)


@pytest.fixture
async def topic_namespace(kafka_bootstrap: str) -> TopicNamespace:
    ns = TopicNamespace(kafka_bootstrap)
    await ns.create()
    return ns


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    pgserver = pytest.importorskip("pgserver")
    workdir = tempfile.mkdtemp(prefix="leadflow-pg-")
    server = pgserver.get_server(workdir, cleanup_mode="delete")
    try:
        yield server
    finally:
        server.cleanup()


def _asyncpg_url(uri: str, database: str) -> str:
    # pgserver: postgresql://postgres:@/postgres?host=/tmp/xyz
    head, _, query = uri.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"postgresql+asyncpg://{base.split('://', 1)[1]}/{database}?{query}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    server = request.getfixturevalue("postgres_server")
    name = f"t{os.getpid()}_{next(_db_counter)}"
    server.psql(f"CREATE DATABASE {name};")
    return _asyncpg_url(server.get_uri(), name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


@contextlib.asynccontextmanager
async def running_apps(apps: Sequence[Any]) -> AsyncIterator[None]:
    """Run the lifespans of several service apps (``create_app``) side by side, as ``make run`` starts its
    services in one phase: each app's start-up, its consumer groups' joins included, overlaps the others'
    instead of following them. Each lifespan is entered and left in a task of its own (a lifespan may hold
    task-bound scopes); they stop in reverse order. A start-up that fails stops those already up and raises."""
    stops = [asyncio.Event() for _ in apps]
    started = [asyncio.get_running_loop().create_future() for _ in apps]

    async def run(app: Any, up: asyncio.Future[None], stop: asyncio.Event) -> None:
        try:
            async with app.router.lifespan_context(app):
                up.set_result(None)
                await stop.wait()
        except BaseException as exc:
            if not up.done():
                up.set_exception(exc)
                return
            raise

    tasks = [asyncio.create_task(run(app, up, stop)) for app, up, stop in zip(apps, started, stops, strict=True)]

    async def stop_all() -> list[BaseException]:
        """Stop every app, last first, whatever one of them raises on the way out; what they raised."""
        errors: list[BaseException] = []
        for task, stop in reversed(list(zip(tasks, stops, strict=True))):
            stop.set()
            try:
                await task
            except BaseException as exc:
                errors.append(exc)
        return errors

    try:
        await asyncio.gather(*started)
    except BaseException:
        await stop_all()  # the start-up's error is the one to raise
        raise
    try:
        yield
    finally:
        errors = await stop_all()
        if errors:
            raise errors[0]


async def wait_for(predicate: Any, timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll an (async or sync) predicate until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


async def consume(bootstrap: str, topic: str, count: int, timeout: float = 30.0) -> list[Any]:
    """Read ``count`` records from the start of ``topic`` (no consumer group: no 5 s assignment wait)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=10)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        for _ in range(50):
            if partitions:
                break
            await asyncio.sleep(0.1)
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic)
        tps = [TopicPartition(topic, p) for p in sorted(partitions or [])]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        out: list[Any] = []
        deadline = asyncio.get_running_loop().time() + timeout
        while len(out) < count and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                out.extend(records)
        return out
    finally:
        await consumer.stop()
