"""``leadflow route check`` (validate the routing config against a roster) and ``leadflow route explain``
(route one LeadScored JSON and print the decision, its reason and the SLA)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leadflow_businesstime import load_calendar_file, load_sla_policies
from leadflow_contracts import LeadScored
from pydantic import ValidationError

from leadflow_route.adapters.roster_source import FixtureRosterSource
from leadflow_route.domain.config import RoutingConfigError, load_routing_config
from leadflow_route.domain.events import routing_request, sla_input
from leadflow_route.domain.ledger import Ledger
from leadflow_route.domain.routing import Router
from leadflow_route.domain.sla import SlaPlanner
from leadflow_route.settings import RouteSettings

DEMO_ORG = Path("services/salesforce-emulator/fixtures/demo_org.json")


def _common(parser: argparse.ArgumentParser) -> None:
    defaults = RouteSettings()
    parser.add_argument("--config", type=Path, default=defaults.routing_config, help="routing.yaml")
    parser.add_argument("--roster", type=Path, default=DEMO_ORG, help="demo_org.json-shaped Users/Groups file")


def _check(args: argparse.Namespace) -> int:
    try:
        config = load_routing_config(args.config)
    except RoutingConfigError as exc:
        print(f"invalid: {exc}", file=sys.stderr)
        return 1
    roster = asyncio.run(FixtureRosterSource(args.roster).fetch())
    problems = Router(config).problems(roster)
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    print(
        f"{args.config}: version {config.version}, policies {list(config.policies)}, teams {list(config.teams)}; "
        f"roster {len(roster.reps)} users, {len(roster.queues)} queues; {len(problems)} problem(s)"
    )
    return 1 if problems else 0


def _explain(args: argparse.Namespace) -> int:
    defaults = RouteSettings()
    try:
        event = LeadScored.model_validate_json(args.event.read_bytes())
        config = load_routing_config(args.config)
    except (ValidationError, RoutingConfigError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    roster = asyncio.run(FixtureRosterSource(args.roster).fetch())
    planner = SlaPlanner(load_sla_policies(defaults.sla_policies), load_calendar_file(defaults.calendars))
    now = datetime.fromisoformat(args.at).astimezone(UTC) if args.at else datetime.now(UTC)
    decision = Router(config).route(routing_request(event, []), roster, Ledger(), now)
    sla = planner.plan(sla_input(event, decision.team), now)
    out: dict[str, Any] = {
        "owner_id": decision.owner_id,
        "owner_type": decision.owner_type,
        "owner_name": decision.owner_name,
        "team": decision.team,
        "policy": decision.policy,
        "reason": decision.reason,
        "sla": sla.model_dump(mode="json"),
    }
    print(json.dumps(out, indent=2))
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("route", help="Check the routing configuration or explain a routing decision.")
    sub = parser.add_subparsers(dest="route_command", required=True)
    check = sub.add_parser("check", help="Validate routing.yaml and its references against a roster.")
    _common(check)
    check.set_defaults(func=_check)
    explain = sub.add_parser("explain", help="Route a LeadScored JSON file (empty ledger) and print why.")
    explain.add_argument("event", type=Path)
    explain.add_argument("--at", help="ISO time to route at (default: now)")
    _common(explain)
    explain.set_defaults(func=_explain)
