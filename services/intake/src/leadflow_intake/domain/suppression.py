"""The suppression list: SHA-256 hashes of normalised e-mail addresses (whole address lower-cased)
and E.164 phone numbers. A lead whose e-mail or phone is on it is rejected as ``suppressed``."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field


def suppression_hash(normalised_value: str) -> str:
    return hashlib.sha256(normalised_value.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class SuppressionList:
    hashes: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of_values(cls, values: Iterable[str]) -> SuppressionList:
        """Build from clear values that are already normalised (tests, tooling)."""
        return cls(frozenset(suppression_hash(v) for v in values))

    def __contains__(self, normalised_value: object) -> bool:
        return isinstance(normalised_value, str) and suppression_hash(normalised_value) in self.hashes

    def __len__(self) -> int:
        return len(self.hashes)
