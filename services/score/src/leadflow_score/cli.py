"""``leadflow score check [--ruleset FILE]`` and ``leadflow score explain FILE`` (a LeadEnriched JSON)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from leadflow_contracts import LeadEnriched
from pydantic import ValidationError

from leadflow_score.adapters.ruleset_file import load_ruleset
from leadflow_score.domain.engine import blend, score_rules
from leadflow_score.domain.ruleset import RulesetError


def _check(args: argparse.Namespace) -> int:
    try:
        rs = load_ruleset(args.ruleset)
    except RulesetError as e:
        print(f"invalid: {e}", file=sys.stderr)
        return 1
    print(
        f"ok: {rs.version} ({len(rs.fit.rules)} fit rules, {len(rs.engagement.rules)} engagement rules, "
        f"half-life {rs.engagement.half_life_days:g} days)"
    )
    return 0


def _explain(args: argparse.Namespace) -> int:
    try:
        rs = load_ruleset(args.ruleset)
        event = LeadEnriched.model_validate_json(Path(args.event).read_bytes())
    except (RulesetError, ValidationError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    rules = score_rules(event, rs)
    score = blend(rules, None, 0.0, rs)
    print(
        f"{event.lead_id}: score {score.score:g}, fit {score.fit:g}, engagement {score.engagement:g} "
        f"({rules.band}), grade {score.grade.value}, rating {score.rating.value} [{rs.version}]"
    )
    for r in rules.reasons:
        print(f"  {r.points:+7.2f}  {r.component:<10}  {r.reason}")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("score", help="Validate a scoring rule set or explain a lead's score.")
    sub = parser.add_subparsers(dest="score_command", required=True)
    check = sub.add_parser("check", help="Validate a rule set (default: the bundled one).")
    check.add_argument("--ruleset", type=Path, default=None)
    check.set_defaults(func=_check)
    explain = sub.add_parser("explain", help="Score a LeadEnriched JSON file and print every reason.")
    explain.add_argument("event", type=Path)
    explain.add_argument("--ruleset", type=Path, default=None)
    explain.set_defaults(func=_explain)
