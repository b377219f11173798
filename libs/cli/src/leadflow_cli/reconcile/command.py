"""``leadflow reconcile``: what leadflow believes (its topics, read to the end) against Salesforce (paged SOQL).

Prints every difference by lead and a summary; exit code 0 when there is none, 1 when there are
differences, 2 when it could not read one of the sides. Settings: env prefix ``RECONCILE_``
(``RECONCILE_KAFKA_BOOTSTRAP``, ``RECONCILE_TOPIC_PREFIX``, ``RECONCILE_SALESFORCE__LOGIN_URL`` /
``__USERNAME`` / ``__PASSWORD`` / ``__SECURITY_TOKEN`` / ``__CA_BUNDLE``…), or the options below.

Run it when the pipeline is quiet: a lead still on its way (or a rep's change not yet polled by
crm-changes) is a real, temporary difference. On a running system, ``--settle SECONDS`` reconciles twice,
that far apart, and lists only the differences found both times (the same lead, the same kind): what was
merely in motion during the first pass has settled by the second; the summary counts what was left out.

``--write FILE`` also writes the JSON document to FILE (atomically; the ops console's Pipeline health shows the
last one, ``OPS_RECONCILE_RESULT_FILE``), and ``--every SECONDS`` repeats the reconcile until stopped (``make run``
runs it that way); a pass that cannot read a side writes ``{"error": …}`` and the loop goes on.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leadflow_platform.settings import ServiceSettings
from leadflow_salesforce import SalesforceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from leadflow_cli.reconcile.belief import Belief
from leadflow_cli.reconcile.compare import Difference, SalesforceView, compare, lead_is_open


class ReconcileSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="RECONCILE_", env_file=".env", extra="ignore", env_nested_delimiter="__"
    )

    service_name: str = "reconcile"
    salesforce: SalesforceSettings = Field(default_factory=SalesforceSettings)
    read_timeout_seconds: float = Field(default=120.0, gt=0, description="Reading the topics to their end.")


def external_id(lead_id: str) -> str:
    """``Leadflow_Id__c`` of a lead, exactly as crm-sync derives it."""
    from leadflow_crm_sync.domain.ids import lead_external_id

    return lead_external_id(lead_id)


@dataclass
class Report:
    differences: list[Difference]
    belief: Belief
    view: SalesforceView
    queries: int
    seconds: float
    transient: int = 0
    """Differences of the first pass that were gone by the second (``--settle``)."""

    def summary(self) -> dict[str, Any]:
        own = self.belief.own_leads()
        return {
            "differences": len(self.differences),
            "by_kind": dict(sorted(Counter(d.kind for d in self.differences).items())),
            "leadflow": {
                "routed_leads": sum(1 for b in self.belief.leads.values() if b.routed is not None),
                "own_leads": len(own),
                "merged_leads": len(self.belief.merged_leads()),
                "open_on_board": len(self.belief.open_on_board()),
                "records_read": dict(sorted(self.belief.counts.items())),
            },
            "salesforce": {
                "leadflow_leads": len(self.view.leads_by_ext),
                "open_leadflow_leads": sum(1 for lead in self.view.leads_by_ext.values() if lead_is_open(lead)),
                "soql_queries": self.queries,
            },
            "seconds": round(self.seconds, 2),
            "transient_left_out": self.transient,
        }


async def reconcile(
    settings: ReconcileSettings,
    *,
    salesforce: Any = None,
    settle: float = 0.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Report:
    """One pass; with ``settle`` > 0 a second pass that long after, keeping the differences found both times."""
    from leadflow_cli.reconcile.sources import connect_salesforce, read_belief, read_salesforce

    started = time.perf_counter()
    sf = salesforce if salesforce is not None else await asyncio.to_thread(connect_salesforce, settings.salesforce)

    async def one_pass() -> tuple[list[Difference], Belief, SalesforceView, int]:
        belief = await read_belief(
            settings.kafka_bootstrap, settings.topic_prefix, timeout=settings.read_timeout_seconds
        )
        view, queries = await asyncio.to_thread(read_salesforce, sf, belief)
        return compare(belief, view, external_id), belief, view, queries

    differences, belief, view, queries = await one_pass()
    transient = 0
    if settle > 0 and differences:
        await sleep(settle)
        first = {(d.lead_id, d.kind) for d in differences}
        again, belief, view, more = await one_pass()
        differences = [d for d in again if (d.lead_id, d.kind) in first]
        transient, queries = len(first) - len(differences), queries + more
    return Report(differences, belief, view, queries, time.perf_counter() - started, transient)


def _print_text(report: Report, limit: int) -> None:
    for d in report.differences[:limit]:
        print(f"{d.lead_id}\t{d.kind}\tleadflow: {d.leadflow}\tsalesforce: {d.salesforce}")
    if len(report.differences) > limit:
        print(f"… and {len(report.differences) - limit} more (--limit)")
    s = report.summary()
    lf, sf = s["leadflow"], s["salesforce"]
    print(
        f"leadflow: {lf['routed_leads']} routed leads ({lf['own_leads']} own, {lf['merged_leads']} merged), "
        f"{lf['open_on_board']} open on the board; Salesforce: {sf['leadflow_leads']} leadflow Leads, "
        f"{sf['open_leadflow_leads']} open ({sf['soql_queries']} SOQL queries, {s['seconds']} s)"
    )
    if report.differences:
        kinds = ", ".join(f"{k} {n}" for k, n in s["by_kind"].items())
        print(f"{len(report.differences)} differences: {kinds}")
    else:
        print("0 differences")
    if report.transient:
        print(f"({report.transient} differences of the first pass had settled by the second: left out)")


def document(report: Report, finished_at: datetime) -> dict[str, Any]:
    """The ``--json`` / ``--write`` document: the summary (with when the run finished) and every difference."""
    summary = {**report.summary(), "finished_at": finished_at.isoformat()}
    return {"summary": summary, "differences": [d.as_dict() for d in report.differences]}


def write_atomically(path: Path, doc: dict[str, Any]) -> None:
    """Write ``doc`` to ``path`` so a reader sees the previous file or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _once(args: argparse.Namespace, settings: ReconcileSettings) -> int:
    try:
        report = asyncio.run(reconcile(settings, settle=args.settle))
    except Exception as e:  # the command's boundary: say what failed, exit 2
        message = f"cannot reconcile: {type(e).__name__}: {e}"
        print(f"leadflow reconcile: {message}", file=sys.stderr)
        if args.write:
            write_atomically(args.write, {"error": message, "finished_at": datetime.now(UTC).isoformat()})
        return 2
    doc = document(report, datetime.now(UTC))
    if args.write:
        write_atomically(args.write, doc)
    if args.json:
        json.dump(doc, sys.stdout, indent=2)
        print()
    else:
        _print_text(report, args.limit)
    sys.stdout.flush()
    return 1 if report.differences else 0


def run(args: argparse.Namespace) -> int:
    overrides: dict[str, Any] = {}
    if args.bootstrap:
        overrides["kafka_bootstrap"] = args.bootstrap
    if args.topic_prefix is not None:
        overrides["topic_prefix"] = args.topic_prefix
    try:
        settings = ReconcileSettings(**overrides)
    except Exception as e:
        print(f"leadflow reconcile: cannot reconcile: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    while True:
        started = time.monotonic()
        code = _once(args, settings)
        if not args.every:
            return code
        time.sleep(max(1.0, args.every - (time.monotonic() - started)))


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "reconcile",
        help="Compare what leadflow believes (its topics) with Salesforce (SOQL); list every "
        "difference by lead; exit 1 when there is any.",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--bootstrap", help="Kafka bootstrap (default: RECONCILE_KAFKA_BOOTSTRAP)")
    parser.add_argument("--topic-prefix", default=None, help="Topic prefix (default: RECONCILE_TOPIC_PREFIX)")
    parser.add_argument("--json", action="store_true", help="One JSON document: summary and differences.")
    parser.add_argument("--limit", type=int, default=200, help="Differences printed in text mode (default 200).")
    parser.add_argument(
        "--settle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="On a running system: reconcile again after SECONDS and list only the differences found both times.",
    )
    parser.add_argument(
        "--write",
        type=Path,
        default=None,
        metavar="FILE",
        help="Also write the JSON document to FILE, atomically (the console's last reconcile).",
    )
    parser.add_argument(
        "--every",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="Reconcile again every SECONDS until stopped (with --write: the console's periodic check).",
    )
    parser.set_defaults(func=run)
