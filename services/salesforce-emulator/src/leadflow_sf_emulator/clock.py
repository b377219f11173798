"""The emulator's settable clock: wall time plus an offset, or a frozen instant."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class EmulatorClock:
    """`now()` is UTC, millisecond precision; tests move it with `set_offset`/`advance`/`freeze`."""

    def __init__(self, source: Callable[[], datetime] | None = None) -> None:
        self._source = source or (lambda: datetime.now(UTC))
        self._offset = timedelta(0)
        self._frozen: datetime | None = None
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            t = self._frozen if self._frozen is not None else self._source() + self._offset
        return t.replace(microsecond=(t.microsecond // 1000) * 1000)

    @property
    def offset(self) -> timedelta:
        return self._offset

    @property
    def frozen(self) -> bool:
        return self._frozen is not None

    def set_offset(self, offset: timedelta) -> None:
        with self._lock:
            self._frozen = None
            self._offset = offset

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            if self._frozen is not None:
                self._frozen += delta
            else:
                self._offset += delta

    def set_now(self, when: datetime, *, freeze: bool = False) -> None:
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        with self._lock:
            if freeze:
                self._frozen = when
            else:
                self._frozen = None
                self._offset = when - self._source()

    def unfreeze(self) -> None:
        with self._lock:
            if self._frozen is not None:
                self._offset = self._frozen - self._source()
                self._frozen = None

    def reset(self) -> None:
        with self._lock:
            self._frozen = None
            self._offset = timedelta(0)
