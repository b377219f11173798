"""Team fairness, consumer lag arithmetic and the SVG charts."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from leadflow_ops.domain.fairness import Z_ATTENTION, RepInput, pool_odds, rotation, share_z, team_load
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
    # no deal carried a pool (older events): expected from the weight share of the 100 deals
    assert rows["a"].expected == pytest.approx(100 * 2 / 3) and rows["a"].deviation == pytest.approx(60 - 100 * 2 / 3)
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
    assert lead.expected_share is None
    assert "unfair_share" not in lead.attention
    # the weight shares are of the rotation only: 2/3 and 1/3, matching route's deals
    assert rows["a"].weight_share == pytest.approx(2 / 3) and rows["b"].weight_share == pytest.approx(1 / 3)
    assert rows["a"].share == pytest.approx(2 / 3) and rows["a"].deviation == pytest.approx(0.0)
    assert not any("unfair_share" in r.attention for r in rows.values())


def pooled_team(leads: int, *, never_wins: str | None = None, seed: int = 7) -> dict[str, RepInput]:
    """A team dealt ``leads`` round-robin leads the way route deals them: a fifth are Dutch and only ``nl``
    speaks Dutch (the pool is ``nl`` alone), the rest are drawn from all five reps by weight. ``never_wins``
    stays in every pool but the draw passes over it (an unfair round-robin)."""
    weights = {"nl": 1.0, "a": 2.0, "b": 1.0, "c": 1.0, "z": 1.0}
    draw = random.Random(seed)
    dealt = dict.fromkeys(weights, 0)
    expected = dict.fromkeys(weights, 0.0)
    variance = dict.fromkeys(weights, 0.0)
    for i in range(leads):
        pool = [("nl", weights["nl"])] if i % 5 == 0 else list(weights.items())
        for owner, p in pool_odds(pool):
            expected[owner] += p
            variance[owner] += p * (1 - p)
        winnable = [(u, w) for u, w in pool if u != never_wins]
        dealt[draw.choices([u for u, _ in winnable], [w for _, w in winnable])[0]] += 1
    return {
        u: replace(rep(u, dealt[u], w), team="Benelux", expected=expected[u], variance=variance[u])
        for u, w in weights.items()
    }


def test_the_only_speaker_of_a_language_who_wins_its_leads_is_not_flagged() -> None:
    """Route rightly deals every Dutch lead to the only Dutch speaker: far above the weight share (which flags
    it), right on what the pools let it win."""
    inputs = pooled_team(500)
    rows = {r.owner_id: r for r in team_load(inputs.values())}
    nl = rows["nl"]
    assert nl.round_robin > 100 + 30  # all 100 Dutch leads and its draws of the rest
    assert abs(share_z(nl.round_robin, 500, nl.weight_share) or 0) > Z_ATTENTION  # the weight share cries foul
    assert nl.expected == pytest.approx(100 + 400 / 6)
    assert abs(nl.deviation_z or 0) < Z_ATTENTION and "unfair_share" not in nl.attention
    assert not any("unfair_share" in r.attention for r in rows.values())
    assert nl.weight_share == pytest.approx(1 / 6)  # the Salesforce weight share is shown as it was
    assert sum(r.expected or 0 for r in rows.values()) == pytest.approx(500)
    # the chart's expected share: the pools' odds over the team's deals, adding up to the whole team
    assert nl.expected_share == pytest.approx((100 + 400 / 6) / 500)
    assert sum(r.expected_share or 0 for r in rows.values()) == pytest.approx(1.0)
    assert abs((nl.share or 0) - (nl.expected_share or 0)) < abs((nl.share or 0) - (nl.weight_share or 0))


def test_a_rep_in_every_pool_who_never_wins_is_flagged() -> None:
    rows = {r.owner_id: r for r in team_load(pooled_team(500, never_wins="z").values())}
    z = rows["z"]
    assert z.round_robin == 0 and z.expected == pytest.approx(400 / 6)
    assert (z.deviation_z or 0) < -Z_ATTENTION and "unfair_share" in z.attention
    assert z.deviation == pytest.approx(-400 / 6)


def test_a_rep_in_no_pool_expects_nothing_and_a_certain_win_is_no_surprise() -> None:
    """Back from absence (in no pool of the window) and winning nothing: fair. The only member of every pool it
    was in (variance 0) winning them all: fair."""
    rows = {
        r.owner_id: r
        for r in team_load(
            [
                RepInput("back", "BACK", "T", 0, 0, 0, 1.0, None, True, False, 0, True, 0.0, 0.0),
                RepInput("solo", "SOLO", "T", 0, 0, 40, 1.0, None, True, False, 40, True, 40.0, 0.0),
            ]
        )
    }
    assert rows["back"].expected == 0.0 and rows["back"].deviation_z == 0.0
    assert rows["solo"].deviation_z == 0.0 and not rows["solo"].attention
    assert rows["back"].weight_share == pytest.approx(0.5)  # the weight share alone would call both unfair


def test_pool_odds_are_weight_over_the_pools_weights() -> None:
    assert pool_odds([("a", 2.0), ("b", 1.0), ("c", 1.0)]) == [("a", 0.5), ("b", 0.25), ("c", 0.25)]
    assert pool_odds([]) == [] and pool_odds([("a", 0.0)]) == []


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
