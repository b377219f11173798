"""Stopping the emulator (SIGTERM, as make run's Ctrl-C and the test handles do): a client's idle keep-alive
HTTPS connection does not hold the stop for the grace period, and a request in flight still gets its answer."""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

import pytest
from leadflow_salesforce import connect
from leadflow_salesforce.testing import start_emulator

pytestmark = pytest.mark.integration

GRACE_SECONDS = 5  # the emulator's timeout_graceful_shutdown
STOPPED = (0, -signal.SIGTERM)  # uvicorn re-raises the signal it caught once its graceful shutdown is done


def test_an_idle_keep_alive_client_does_not_hold_the_stop() -> None:
    handle = start_emulator(seed="demo")
    try:
        sf = connect(handle.salesforce_settings())
        assert sf.query("SELECT Id FROM Lead LIMIT 1")["totalSize"] == 1  # the session keeps its TLS connection
        assert handle.process is not None
        started = time.monotonic()
        handle.process.send_signal(signal.SIGTERM)
        code = handle.process.wait(timeout=GRACE_SECONDS + 5)
        assert code in STOPPED
        assert time.monotonic() - started < GRACE_SECONDS / 2
    finally:
        handle.stop()


def test_a_request_in_flight_at_the_stop_is_answered() -> None:
    handle = start_emulator(seed="demo")
    try:
        sf = connect(handle.salesforce_settings())
        sf.query("SELECT Id FROM Lead LIMIT 1")
        handle.add_fault(kind="latency", path="*/query*", latency_ms=1_500, times=1)
        answer: dict[str, Any] = {}

        def slow_query() -> None:
            answer.update(sf.query("SELECT Id FROM Lead LIMIT 2"))

        worker = threading.Thread(target=slow_query)
        worker.start()
        time.sleep(0.5)  # the query is inside its injected latency
        assert handle.process is not None
        handle.process.send_signal(signal.SIGTERM)
        worker.join(timeout=GRACE_SECONDS + 5)
        assert answer.get("totalSize") == 2
        assert handle.process.wait(timeout=GRACE_SECONDS + 5) in STOPPED
    finally:
        handle.stop()
