"""Sforce-Limit-Info parsing: the org's api-usage, whatever else the header carries."""

from __future__ import annotations

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from leadflow_platform.metrics import SALESFORCE_BUDGET
from leadflow_salesforce.limits import API_LIMIT, API_USED, ApiUsage, parse_limit_info, usage_hook

pytestmark = pytest.mark.unit

COUNTS = st.integers(0, 10**9)


@given(used=COUNTS, limit=COUNTS, app_used=COUNTS, app_limit=COUNTS, app_first=st.booleans(), spaces=st.booleans())
def test_the_org_usage_is_read_next_to_a_connected_apps(
    used: int, limit: int, app_used: int, app_limit: int, app_first: bool, spaces: bool
) -> None:
    sep = ", " if spaces else ","
    org = f"api-usage={used}/{limit}"
    app = f"per-app-api-usage={app_used}/{app_limit}(appName=sample-connected-app)"
    header = sep.join([app, org] if app_first else [org, app])
    assert parse_limit_info(header) == ApiUsage(used, limit)
    assert parse_limit_info(app) is None  # a connected app's own limit is not the org's budget
    assert ApiUsage(used, limit).remaining == max(0, limit - used)


@pytest.mark.parametrize("value", [None, "", "api-usage=", "api-usage=12", "api-usage=a/b", "nonsense"])
def test_no_usage_without_an_org_api_usage_entry(value: str | None) -> None:
    assert parse_limit_info(value) is None


def test_the_hook_exports_used_limit_and_remaining_per_service() -> None:
    response = requests.Response()
    response.headers["Sforce-Limit-Info"] = "api-usage=1234/15000"
    assert usage_hook("unit-test-svc")(response) is response
    assert API_USED.labels("unit-test-svc")._value.get() == 1234
    assert API_LIMIT.labels("unit-test-svc")._value.get() == 15000
    assert SALESFORCE_BUDGET.labels("unit-test-svc")._value.get() == 15000 - 1234
