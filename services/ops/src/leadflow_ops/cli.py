"""``leadflow ops hash-password``: make a password hash for the users file."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from leadflow_ops.auth import DEFAULT_ITERATIONS, hash_password


def _hash(args: argparse.Namespace) -> int:
    password = sys.stdin.readline().rstrip("\n") if args.stdin else getpass.getpass("Password: ")
    if not password:
        print("empty password refused", file=sys.stderr)
        return 2
    print(hash_password(password, iterations=args.iterations))
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("ops", help="Ops console tools")
    sub = parser.add_subparsers(dest="ops_command", metavar="OPS_COMMAND", required=True)
    hp = sub.add_parser("hash-password", help="Print a PBKDF2 hash for services/ops users files")
    hp.add_argument("--stdin", action="store_true", help="Read the password from standard input")
    hp.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS)
    hp.set_defaults(func=_hash)
