"""Exponential backoff with full jitter, capped. Pure: the random draw is passed in."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    base: float = 0.5
    cap: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5
    """Fraction of the delay that is randomised: 0 = none, 1 = full jitter."""

    def delay(self, attempt: int, draw: float) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based); ``draw`` is uniform in [0, 1)."""
        if attempt < 1:
            return 0.0
        raw = min(self.cap, self.base * self.factor ** (attempt - 1))
        return raw * (1 - self.jitter) + raw * self.jitter * draw
