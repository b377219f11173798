"""``leadflow import FILE --source list_upload --campaign spring-webinar``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from leadflow_contracts import LeadSourceKind

from leadflow_importer.mapping import load_mapping
from leadflow_importer.runner import ImportOptions, run_import


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("import", help="Import a CSV/XLSX list of leads into leads.inbound.")
    p.add_argument("file", type=Path)
    p.add_argument(
        "--source",
        default="list_upload",
        choices=[k.value for k in LeadSourceKind],
        help="lead source kind (webinar, list_upload, partner, …)",
    )
    p.add_argument("--campaign", required=True, help="campaign name, e.g. 'nordic-trade-show-2026'")
    p.add_argument("--system", default="list-import", help="source system name recorded on each lead")
    p.add_argument("--mapping", type=Path, help="YAML: columns: {'Header': 'person.email', …}")
    p.add_argument("--bootstrap", default="127.0.0.1:19092")
    p.add_argument("--topic-prefix", default="")
    p.add_argument("--wait", type=float, default=60.0, help="seconds to wait for intake's verdicts")
    p.add_argument("--sheet", help="XLSX sheet name (default: the first)")
    p.add_argument("--ledger", type=Path, default=Path.home() / ".cache" / "leadflow" / "imports.sqlite")
    p.add_argument("--force", action="store_true", help="publish rows already imported before")
    p.add_argument(
        "--default-region",
        help="ISO country for national phone numbers of rows that name no country (use intake's for this source)",
    )
    p.add_argument(
        "--email-internationalization",
        action="store_true",
        help="the Salesforce org has Email Address Internationalization on "
        "(as INTAKE_EMAIL_ADDRESS_INTERNATIONALIZATION)",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if not args.file.exists():
        print(f"no such file: {args.file}", file=sys.stderr)
        return 2
    opts = ImportOptions(
        path=args.file,
        source_kind=args.source,
        campaign=args.campaign,
        source_system=args.system,
        bootstrap=args.bootstrap,
        topic_prefix=args.topic_prefix,
        mapping=load_mapping(args.mapping) if args.mapping else None,
        wait_seconds=args.wait,
        ledger=args.ledger,
        force=args.force,
        sheet=args.sheet,
        default_region=args.default_region.upper() if args.default_region else None,
        email_internationalization=args.email_internationalization,
    )
    try:
        summary = asyncio.run(run_import(opts))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for line in summary.lines():
        print(line)
    return 0
