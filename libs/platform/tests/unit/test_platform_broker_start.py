"""``start_broker_joining_together``: a service's subscribers join their groups side by side."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from leadflow_platform.broker import start_broker_joining_together


class Sub:
    def __init__(self, name: str, log: list[str], seconds: float = 0.3, fails: bool = False) -> None:
        self.name, self.log, self.seconds, self.fails = name, log, seconds, fails

    async def start(self) -> None:  # like aiokafka's start of a subscribed consumer: waits for its assignment
        self.log.append(f"join {self.name}")
        await asyncio.sleep(self.seconds)
        if self.fails:
            raise ConnectionError(f"{self.name} could not join")
        self.log.append(f"joined {self.name}")


class Broker:
    """FastStream's order: connect, then each subscriber's start in turn, then the publishers."""

    def __init__(self, subscribers: list[Sub]) -> None:
        self.subscribers, self.log, self.running = subscribers, subscribers[0].log if subscribers else [], False

    async def connect(self) -> None:  # idempotent, as FastStream's
        if "connect" not in self.log:
            self.log.append("connect")

    async def start(self) -> None:
        await self.connect()
        for sub in self.subscribers:
            await sub.start()
        self.log.append("publishers")
        self.running = True


async def test_two_subscribers_join_side_by_side_and_keep_their_own_start_afterwards() -> None:
    log: list[str] = []
    broker = Broker([Sub("accepted", log), Sub("mirror", log)])
    started = time.perf_counter()
    await start_broker_joining_together(broker)
    took = time.perf_counter() - started
    assert took < 0.5, f"two 0.3 s joins one after the other take 0.6 s; side by side {took:.2f} s"
    assert log[:3] == ["connect", "join accepted", "join mirror"] and log[-1] == "publishers"
    assert log.count("join accepted") == 1 and log.count("join mirror") == 1, "each subscriber started once"
    assert broker.running and all("start" not in vars(sub) for sub in broker.subscribers)


async def test_a_subscriber_that_cannot_start_fails_the_start_and_the_others_are_cancelled() -> None:
    log: list[str] = []
    slow = Sub("slow", log, seconds=5)
    broker = Broker([Sub("bad", log, seconds=0.05, fails=True), slow])
    with pytest.raises(ConnectionError, match="bad could not join"):
        await start_broker_joining_together(broker)
    await asyncio.sleep(0)
    assert "joined slow" not in log and not broker.running
    assert all("start" not in vars(sub) for sub in broker.subscribers)


async def test_a_patched_start_or_a_single_subscriber_starts_as_before() -> None:
    log: list[str] = []
    one = Broker([Sub("only", log, seconds=0.01)])
    await start_broker_joining_together(one)
    assert log == ["connect", "join only", "joined only", "publishers"]

    calls: list[Any] = []
    patched = Broker([Sub("a", []), Sub("b", [])])

    async def fake_start() -> None:  # TestKafkaBroker patches the instance's start
        calls.append("fake")

    patched.start = fake_start  # type: ignore[method-assign]
    await start_broker_joining_together(patched)
    assert calls == ["fake"] and patched.subscribers[0].log == []
