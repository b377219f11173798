"""Salesforce API budget as crm-sync last saw it, read from crm-sync's Prometheus ``/metrics``.

crm-sync is the one service that talks to Salesforce; it exports the ``Sforce-Limit-Info`` it reads as
``leadflow_salesforce_api_remaining`` (and, when it has them, ``…_used`` / ``…_limit``). Sampled in the
background so no page waits on it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

REMAINING = "leadflow_salesforce_api_remaining"
USED = "leadflow_salesforce_api_used"
LIMIT = "leadflow_salesforce_api_limit"


@dataclass(frozen=True)
class Budget:
    at: float = 0.0
    remaining: float | None = None
    used: float | None = None
    limit: float | None = None
    error: str | None = None


def parse_budget(text: str, at: float, service: str = "crm-sync") -> Budget:
    """The budget crm-sync last read (``leadflow_salesforce_api_*{service="crm-sync"}``; a sample without that
    label only when there is none with it)."""
    values: dict[str, float] = {}
    exact: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in (REMAINING, USED, LIMIT):
                values[sample.name] = sample.value
                if sample.labels.get("service") == service:
                    exact[sample.name] = sample.value
    if exact:
        values = exact
    remaining, used, limit = values.get(REMAINING), values.get(USED), values.get(LIMIT)
    if limit is None and remaining is not None and used is not None:
        limit = remaining + used
    if used is None and remaining is not None and limit is not None:
        used = limit - remaining
    if remaining is None:
        return Budget(at=at, error="crm-sync has not read Sforce-Limit-Info yet")
    return Budget(at=at, remaining=remaining, used=used, limit=limit)


class BudgetProbe:
    def __init__(self, url: str | None, timeout: float = 2.0) -> None:
        self.url = url
        self.timeout = timeout
        self.snapshot = Budget(error="not sampled yet" if url else "OPS_CRM_SYNC_METRICS_URL is not set")

    async def sample(self) -> Budget:
        if not self.url:
            return self.snapshot
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.get(self.url)
                response.raise_for_status()
            self.snapshot = parse_budget(response.text, time.time())
        except (httpx.HTTPError, ValueError) as exc:
            self.snapshot = Budget(at=time.time(), error=f"crm-sync metrics unavailable ({type(exc).__name__})")
        return self.snapshot
