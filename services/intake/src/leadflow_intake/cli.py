"""``leadflow intake …``: ``sign`` prints a signed curl command, ``hash`` prints suppression lines."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("intake", help="intake tools: sign a webhook request, hash suppressed contacts")
    sub = parser.add_subparsers(dest="intake_command", metavar="TOOL", required=True)

    sign = sub.add_parser("sign", help="print a signed curl command for POST /v1/leads")
    sign.add_argument("body")
    sign.add_argument("--source", required=True)
    sign.add_argument("--key", required=True)
    sign.add_argument("--secret-env", required=True)
    sign.add_argument("--url", default="http://127.0.0.1:8001/v1/leads")
    sign.add_argument("--headers-only", action="store_true")
    sign.set_defaults(func=_sign)

    hashes = sub.add_parser("hash", help="print suppression-list lines for e-mails / phones")
    hashes.add_argument("values", nargs="+")
    hashes.add_argument("--region", default=None)
    hashes.set_defaults(func=_hash)


def _sign(args: argparse.Namespace) -> int:
    from leadflow_intake.sign import main

    argv = [args.body, "--source", args.source, "--key", args.key, "--secret-env", args.secret_env, "--url", args.url]
    return main([*argv, "--headers-only"] if args.headers_only else argv)


def _hash(args: argparse.Namespace) -> int:
    from leadflow_intake.hash_contact import main

    return main([*args.values, *(["--region", args.region] if args.region else [])])
