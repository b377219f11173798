"""The API budget: below the reserve only SLA-critical writes go through; the rest waits."""

from __future__ import annotations

from dataclasses import dataclass

from leadflow_crm_sync.domain.policy import BudgetPolicy, WriteKind


@dataclass(frozen=True)
class ApiUsage:
    used: int
    total: int

    @property
    def remaining(self) -> int:
        return max(0, self.total - self.used)


@dataclass(frozen=True)
class BudgetDecision:
    allowed: bool
    reason: str


def reserve(policy: BudgetPolicy, usage: ApiUsage) -> int:
    return max(policy.reserve_requests, int(policy.reserve_fraction * usage.total))


def decide(kind: WriteKind, usage: ApiUsage | None, policy: BudgetPolicy) -> BudgetDecision:
    if usage is None:
        return BudgetDecision(True, "budget unknown (no Sforce-Limit-Info yet)")
    floor = reserve(policy, usage)
    if usage.remaining > floor:
        return BudgetDecision(True, f"{usage.remaining} requests left, above the reserve of {floor}")
    if kind in policy.critical:
        return BudgetDecision(True, f"{kind.value} is critical; {usage.remaining} left, reserve {floor}")
    return BudgetDecision(False, f"{kind.value} deferred: {usage.remaining} requests left, reserve {floor}")
