"""Team fairness, consumer lag arithmetic and the SVG charts."""

from __future__ import annotations

import pytest
from leadflow_ops.domain.fairness import RepInput, team_load
from leadflow_ops.domain.pipeline import consumer_lag, throughput
from leadflow_ops.web.charts import duration, hbar_chart, line_chart, stacked_bar_chart

pytestmark = pytest.mark.unit


def rep(owner: str, assigned: int, weight: float | None, *, absent: bool = False, open_leads: int = 0) -> RepInput:
    return RepInput(owner, owner.upper(), "DACH", open_leads, 0, assigned, weight, 10, True, absent)


def test_round_robin_share_is_compared_with_weight_share_of_available_reps() -> None:
    rows = {
        r.owner_id: r
        for r in team_load([rep("a", 60, 2.0, open_leads=12), rep("b", 40, 1.0), rep("c", 0, 1.0, absent=True)])
    }
    assert rows["a"].share == pytest.approx(0.6) and rows["a"].weight_share == pytest.approx(2 / 3)
    assert rows["a"].deviation == pytest.approx((0.6 - 2 / 3) * 100)
    assert rows["b"].weight_share == pytest.approx(1 / 3)
    assert rows["c"].weight_share == 0.0 and rows["c"].availability == "absent" and not rows["c"].available
    assert rows["a"].cap_used == pytest.approx(1.2)


def test_missing_weight_counts_as_one_and_no_assignments_means_no_share() -> None:
    rows = team_load([rep("a", 0, None), rep("b", 0, None)])
    assert all(r.share is None and r.weight_share == pytest.approx(0.5) for r in rows)


def test_consumer_lag_per_topic_strips_the_prefix() -> None:
    committed = {("p.leads.routed", 0): 10, ("p.leads.routed", 1): 5, ("p.sla.events", 0): 7}
    end = {("p.leads.routed", 0): 12, ("p.leads.routed", 1): 5, ("p.leads.routed", 2): 3, ("p.sla.events", 0): 7}
    rows = {r.topic: r for r in consumer_lag("leadflow-ops", committed, end, prefix="p.")}
    assert rows["leads.routed"].lag == 2 + 0 + 3  # the uncommitted partition counts from 0
    assert rows["leads.routed"].partitions == 3 and rows["leads.routed"].service == "ops"
    assert rows["sla.events"].lag == 0


def test_throughput_from_two_samples() -> None:
    assert throughput({"a": 100}, {"a": 160, "b": 5}, 2.0) == {"a": 30.0, "b": 0.0}
    assert throughput({"a": 1}, {"a": 2}, 0) == {}


def test_charts_escape_labels() -> None:
    svg = str(hbar_chart([("<script>alert(1)</script>", 3.0), ("ok", None)]))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    svg2 = str(stacked_bar_chart([("<b>", [1.0, 2.0])], ["sys", "hum"], ["s", "h"], fmt=duration))
    assert "<b>" not in svg2 and 'class="sys"' in svg2 and 'class="hum"' in svg2
    assert "<path" in str(line_chart([(1, 0.2), (2, 0.9)], target=0.8, marks=[(2, "needed")]))


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "–"), (42, "42s"), (245, "4m 05s"), (7800, "2h 10m"), (3 * 86400 + 4 * 3600, "3d 4h"), (-90, "-1m 30s")],
)
def test_duration(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text
