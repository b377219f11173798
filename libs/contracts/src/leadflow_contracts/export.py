"""Export the JSON Schema of every event: ``python -m leadflow_contracts.export deploy/schemas``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from leadflow_contracts import EVENT_TYPES


def render_all() -> dict[str, str]:
    """File name → JSON Schema text for every event type (deterministic)."""
    out: dict[str, str] = {}
    for name, cls in sorted(EVENT_TYPES.items()):
        schema = cls.model_json_schema(mode="validation")
        schema["$id"] = f"https://leadflow.dev/schemas/{name}.json"
        out[f"{name}.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0] if args else "deploy/schemas")
    target.mkdir(parents=True, exist_ok=True)
    for file_name, text in render_all().items():
        (target / file_name).write_text(text)
    print(f"wrote {len(EVENT_TYPES)} schemas to {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
