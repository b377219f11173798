"""``leadflow <command> …``. Each workspace member that offers a command registers
``[project.entry-points."leadflow.commands"] name = "module:register"`` where
``register(subparsers)`` adds an argparse sub-parser whose ``func(args) -> int`` runs it.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="leadflow", description="Leadflow command line.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for ep in sorted(entry_points(group="leadflow.commands"), key=lambda e: e.name):
        try:
            register = ep.load()
        except ImportError as exc:  # one broken plug-in must not take the others down
            print(f"leadflow: command {ep.name!r} unavailable: {exc}", file=sys.stderr)
            continue
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    return int(func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
