"""Client type from the matched account's fields.

Precedence: credit_hold (overdue debt) > key_account > dormant (Client_Type__c, or no activity for N
months before the lead's time) > regional / retail (Client_Type__c) > existing_customer (customer type,
or an owned account that is not marked new/prospect) > new.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from leadflow_contracts import ClientType

from leadflow_enrich.domain.policy import ClientTypePolicy
from leadflow_enrich.domain.records import AccountRecord


@dataclass(frozen=True, slots=True)
class ClientTypeDecision:
    client_type: ClientType
    reason: str


def _months_between(earlier: date, later: date) -> int:
    months = (later.year - earlier.year) * 12 + (later.month - earlier.month)
    if later.day < earlier.day:
        months -= 1
    return months


@lru_cache(maxsize=256)
def _lowered(options: tuple[str, ...]) -> frozenset[str]:
    return frozenset(o.lower() for o in options)


def _in(value: str | None, options: tuple[str, ...]) -> bool:
    return value is not None and value.strip().lower() in _lowered(options)


def classify(account: AccountRecord | None, on: date, policy: ClientTypePolicy) -> ClientTypeDecision:
    """``on`` is the lead's date (from the event, never the wall clock)."""
    if account is None:
        return ClientTypeDecision(ClientType.NEW, "no matched account")
    ct = account.client_type
    if account.overdue_debt:
        return ClientTypeDecision(ClientType.CREDIT_HOLD, f"account {account.id} has overdue debt")
    if account.key_account or _in(ct, policy.key_account_client_types):
        return ClientTypeDecision(ClientType.KEY_ACCOUNT, f"account {account.id} is a key account")
    if _in(ct, policy.dormant_client_types):
        return ClientTypeDecision(ClientType.DORMANT, f"account {account.id} client type is {ct}")
    if policy.dormant_after_months > 0 and account.last_activity is not None:
        idle = _months_between(account.last_activity, on)
        if idle >= policy.dormant_after_months:
            return ClientTypeDecision(
                ClientType.DORMANT,
                f"account {account.id} last active {account.last_activity.isoformat()} ({idle} months ago, "
                f"limit {policy.dormant_after_months})",
            )
    if _in(ct, policy.regional_client_types):
        return ClientTypeDecision(ClientType.REGIONAL, f"account {account.id} client type is {ct}")
    if _in(ct, policy.retail_client_types):
        return ClientTypeDecision(ClientType.RETAIL, f"account {account.id} client type is {ct}")
    if _in(ct, policy.customer_client_types) or any(
        (account.type or "").lower().startswith(p.lower()) for p in policy.customer_account_types_prefix
    ):
        return ClientTypeDecision(
            ClientType.EXISTING_CUSTOMER, f"account {account.id} is a customer ({ct or account.type})"
        )
    if _in(ct, policy.new_client_types) or _in(account.type, policy.new_client_types):
        return ClientTypeDecision(ClientType.NEW, f"account {account.id} is a prospect ({ct or account.type})")
    if account.owner_id:
        return ClientTypeDecision(ClientType.EXISTING_CUSTOMER, f"account {account.id} has owner {account.owner_id}")
    return ClientTypeDecision(ClientType.NEW, f"account {account.id} has no owner or customer type")
