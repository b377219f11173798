import os
import subprocess
import sys
from pathlib import Path

import pytest
from leadflow_platform.embedded_kafka import MemoryWatch, resident_kb

pytestmark = pytest.mark.unit


def test_memory_watch_warns_once_per_doubling():
    watch = MemoryWatch(1024)
    assert watch.check(10) is None
    assert watch.check(1023.9) is None
    first = watch.check(1024)
    assert first is not None and "1,024 MB" in first and "make run" in first
    assert watch.check(1500) is None, "no second warning before twice the first threshold"
    assert watch.check(2047) is None
    assert watch.check(2048) is not None
    assert watch.check(4000) is None


def test_memory_watch_skips_the_thresholds_a_jump_passes():
    watch = MemoryWatch(100)
    warning = watch.check(900)
    assert warning is not None and "passed 100 MB" in warning
    assert watch.check(1000) is None, "100, 200, 400 and 800 were all passed by the one jump"
    assert watch.check(1600) is not None


def test_memory_watch_off_at_zero():
    watch = MemoryWatch(0)
    assert watch.check(1_000_000) is None


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_resident_kb_of_a_live_and_a_gone_process():
    mine = resident_kb(os.getpid())
    assert mine is not None and mine > 1024, "a Python process holds more than 1 MB"
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert resident_kb(child.pid) is None
