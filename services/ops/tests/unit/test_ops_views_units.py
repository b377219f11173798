"""Team fairness, consumer lag arithmetic and the SVG charts."""

from __future__ import annotations

import pytest
from leadflow_ops.domain.fairness import RepInput, rotation, team_load
from leadflow_ops.domain.pipeline import consumer_lag, throughput
from leadflow_ops.web.charts import duration, hbar_chart, line_chart, stacked_bar_chart

pytestmark = pytest.mark.unit


def rep(
    owner: str,
    dealt: int,
    weight: float | None,
    *,
    absent: bool = False,
    open_leads: int = 0,
    other: int = 0,
    in_rotation: bool = True,
) -> RepInput:
    """A DACH rep with ``dealt`` round-robin leads and ``other`` leads routed to them otherwise."""
    return RepInput(
        owner, owner.upper(), "DACH", open_leads, 0, dealt + other, weight, 10, True, absent, dealt, in_rotation
    )


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


def test_repeats_and_key_accounts_do_not_count_in_the_share() -> None:
    """Route deals a and b 50/50 by weight; a also gets 60 repeats of people they own and key accounts. The
    share compares only the round-robin deals, so a fair round-robin is not flagged; assigned keeps them all."""
    rows = {r.owner_id: r for r in team_load([rep("a", 100, 1.0, other=60), rep("b", 100, 1.0)])}
    assert rows["a"].assigned == 160 and rows["a"].round_robin == 100
    assert rows["a"].share == pytest.approx(0.5) == rows["b"].share
    assert rows["a"].deviation == pytest.approx(0.0) and "unfair_share" not in rows["a"].attention
    # counted as before (every assignment), a would read 61.5 % against 50 %: z ≈ 3.6, "unfair"
    assert "unfair_share" not in rows["b"].attention
    skewed = {r.owner_id: r for r in team_load([rep("a", 160, 1.0), rep("b", 100, 1.0)])}
    assert "unfair_share" in skewed["a"].attention  # an unfair round-robin itself is still flagged


def test_a_leader_out_of_rotation_has_no_share_and_takes_none_of_the_weight() -> None:
    rows = {
        r.owner_id: r
        for r in team_load(
            [rep("a", 90, 2.0), rep("b", 45, 1.0), rep("lead", 0, 1.0, other=40, open_leads=5, in_rotation=False)]
        )
    }
    lead = rows["lead"]
    assert not lead.in_rotation and lead.assigned == 40 and lead.open_leads == 5
    assert (lead.share, lead.weight_share, lead.deviation, lead.deviation_z) == (None, None, None, None)
    assert "unfair_share" not in lead.attention
    # the weight shares are of the rotation only: 2/3 and 1/3, matching route's deals
    assert rows["a"].weight_share == pytest.approx(2 / 3) and rows["b"].weight_share == pytest.approx(1 / 3)
    assert rows["a"].share == pytest.approx(2 / 3) and rows["a"].deviation == pytest.approx(0.0)
    assert not any("unfair_share" in r.attention for r in rows.values())


def test_rotation_is_what_route_said_else_the_selling_roles() -> None:
    assert rotation(False, "Seller") is False  # route's word wins (weight 0, a role the team does not sell)
    assert rotation(True, "Junior") is True
    assert rotation(None, "Seller") is True and rotation(None, "Head of Sales") is False
    assert rotation(None, None) is True  # a user without a role is taken to sell


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
