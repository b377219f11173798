"""deploy/prometheus and deploy/grafana match the metrics the code defines and the service ports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import leadflow_ops.metrics  # noqa: F401 - registers ops' collectors
import leadflow_platform.metrics  # noqa: F401 - registers the shared collectors
import pytest
import yaml
from prometheus_client.registry import REGISTRY

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[4]
PROM = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "leadflow-overview.json"
PORTS = {
    "intake": 8001,
    "enrich": 8002,
    "score": 8003,
    "route": 8004,
    "crm-sync": 8005,
    "crm-changes": 8006,
    "sla-monitor": 8007,
    "telesales-sim": 8009,
    "ops": 8080,
    "salesforce-emulator": 8443,
}


def known_series() -> set[str]:
    names: set[str] = set()
    for metric in REGISTRY.collect():
        if not metric.name.startswith("leadflow_"):
            continue
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "gauge": [""]}.get(
            metric.type, [""]
        )
        names.update(metric.name + s for s in suffixes)
    return names


def referenced(text: str) -> set[str]:
    return set(re.findall(r"\bleadflow_[a-z_]+\b", text))


def test_alert_rules_and_dashboard_use_only_defined_metrics() -> None:
    known = known_series()
    rules = yaml.safe_load((PROM / "alerts.yml").read_text())
    exprs = " ".join(r["expr"] for g in rules["groups"] for r in g["rules"])
    dash = json.loads(DASHBOARD.read_text())
    dash_exprs = " ".join(t["expr"] for p in dash["panels"] for t in p.get("targets", []))
    dash_exprs += " ".join(v["query"] for v in dash["templating"]["list"])
    unknown = (referenced(exprs) | referenced(dash_exprs)) - known
    assert not unknown, f"not defined by any collector: {sorted(unknown)}"
    assert {
        "leadflow_consumer_lag",
        "leadflow_salesforce_api_remaining",
        "leadflow_dead_letters_total",
        "leadflow_sla_events_total",
    } <= referenced(exprs)


def test_alerts_cover_the_four_required_conditions() -> None:
    rules = yaml.safe_load((PROM / "alerts.yml").read_text())
    names = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    assert {
        "LeadflowSlaBreachRateHigh",
        "LeadflowConsumerLagGrowing",
        "LeadflowSalesforceApiBudgetLow",
        "LeadflowDeadLettersRising",
    } <= names
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in {"page", "warning"} and rule["annotations"]["summary"]


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus.compose.yml"])
def test_scrape_config_lists_every_service_port(config: str) -> None:
    data = yaml.safe_load((PROM / config).read_text())
    targets = {
        static["labels"]["service"]: int(target.rsplit(":", 1)[1])
        for job in data["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    assert targets == PORTS
    assert data["rule_files"] == ["alerts.yml"]


def test_dashboard_is_importable_json() -> None:
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] == "leadflow-overview" and dash["__inputs"][0]["pluginId"] == "prometheus"
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    for p in dash["panels"]:
        if p["type"] != "row":
            assert p["targets"] and p["datasource"]["uid"] == "${DS_PROMETHEUS}"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (apt-get install prometheus)")
def test_promtool_validates_config_and_alert_unit_tests() -> None:
    for args in (["check", "config", str(PROM / "prometheus.yml")], ["test", "rules", str(PROM / "alerts_test.yml")]):
        result = subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
