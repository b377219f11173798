"""The org's daily API budget as every Salesforce response reports it, exported as Prometheus gauges.

Salesforce adds ``Sforce-Limit-Info: api-usage=<used>/<limit>`` to REST responses (also
``per-app-api-usage=<used>/<limit>(appName=…)`` for a connected app with its own limit, which is not the org's
budget). ``build_session(settings, metrics_service=…)`` installs a response hook that reads it on every call, so
every service that talks to Salesforce through this client exports, labelled with its name:

- ``leadflow_salesforce_api_used{service}``: requests used in Salesforce's rolling 24 h;
- ``leadflow_salesforce_api_limit{service}``: the org's daily limit;
- ``leadflow_salesforce_api_remaining{service}`` (the platform's gauge): limit − used.

The ops console reads crm-sync's (Org health, "API used").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from leadflow_platform.metrics import SALESFORCE_BUDGET
from prometheus_client import Gauge

LIMIT_HEADER = "Sforce-Limit-Info"

API_USED = Gauge("leadflow_salesforce_api_used", "Daily API requests used (Sforce-Limit-Info api-usage)", ["service"])
API_LIMIT = Gauge("leadflow_salesforce_api_limit", "Daily API request limit (Sforce-Limit-Info api-usage)", ["service"])

_ORG_USAGE = re.compile(r"(?:^|[,;\s])api-usage\s*=\s*(\d+)\s*/\s*(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class ApiUsage:
    used: int
    limit: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


def parse_limit_info(value: str | None) -> ApiUsage | None:
    """``api-usage=25/15000`` (among other comma-separated entries) → ``ApiUsage(25, 15000)``; ``None`` when the
    header is absent or carries no org usage (``per-app-api-usage`` alone is a connected app's, not the org's)."""
    if not value:
        return None
    match = _ORG_USAGE.search(value)
    if match is None:
        return None
    return ApiUsage(used=int(match[1]), limit=int(match[2]))


def record_usage(service: str, usage: ApiUsage) -> None:
    API_USED.labels(service).set(usage.used)
    API_LIMIT.labels(service).set(usage.limit)
    SALESFORCE_BUDGET.labels(service).set(usage.remaining)


def usage_hook(service: str) -> Callable[..., requests.Response]:
    """A ``requests`` response hook: export the usage each Salesforce response reports."""

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        usage = parse_limit_info(response.headers.get(LIMIT_HEADER))
        if usage is not None:
            record_usage(service, usage)
        return response

    return hook
