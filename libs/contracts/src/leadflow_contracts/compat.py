"""Schema evolution guard: compare the current JSON Schemas with the last released ones.

A change is *breaking* for consumers or producers when it removes or renames a field, narrows a
type (e.g. ``["string", "null"]`` → ``"string"``, ``number`` → ``integer``, fewer enum values), or adds a
required field. Adding optional fields is fine. ``python -m leadflow_contracts.compat RELEASED CURRENT``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Schema = dict[str, Any]


ALWAYS_SERIALISED = frozenset({"event_id"})
"""Envelope fields that had a default in the released schemas (so they were optional there) but that every
released producer serialised on every message: the v1 ``Event`` filled ``event_id`` from a default factory.
Requiring one of them now (issue 12: ids derived, never random) rejects no message that was ever produced."""


@dataclass(frozen=True)
class Breaking:
    schema: str
    path: str
    problem: str

    def __str__(self) -> str:
        return f"{self.schema}: {self.path}: {self.problem}"


def _resolve(node: Schema, root: Schema) -> Schema:
    while "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"external $ref not supported: {ref}")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _types(node: Schema, root: Schema) -> set[str]:
    """The set of JSON types a schema node accepts (anyOf/oneOf unioned; 'any' when unconstrained)."""
    node = _resolve(node, root)
    for key in ("anyOf", "oneOf"):
        if key in node:
            out: set[str] = set()
            for option in node[key]:
                out |= _types(option, root)
            return out
    if "const" in node:
        return {type(node["const"]).__name__}
    t = node.get("type")
    if t is None:
        return {"object"} if "properties" in node else {"any"}
    types = set(t) if isinstance(t, list) else {t}
    if "number" in types:
        types.add("integer")
    return types


def _enum(node: Schema, root: Schema) -> set[Any] | None:
    node = _resolve(node, root)
    if "enum" in node:
        return set(map(json.dumps, node["enum"]))
    for key in ("anyOf", "oneOf"):
        if key in node:
            values: set[Any] = set()
            for option in node[key]:
                sub = _enum(option, root)
                if sub is None:
                    if _resolve(option, root).get("type") == "null":
                        values.add("null")
                        continue
                    return None
                values |= sub
            return values
    return None


def _object_node(node: Schema, root: Schema) -> Schema | None:
    node = _resolve(node, root)
    if "properties" in node:
        return node
    for key in ("anyOf", "oneOf"):
        for option in node.get(key, []):
            found = _object_node(option, root)
            if found is not None:
                return found
    return None


def compare(name: str, old: Schema, new: Schema) -> list[Breaking]:
    problems: list[Breaking] = []

    def walk(o: Schema, n: Schema, path: str, depth: int = 0) -> None:
        if depth > 20:
            return
        old_types, new_types = _types(o, old), _types(n, new)
        if "any" not in new_types and not old_types <= new_types:
            problems.append(Breaking(name, path or "/", f"type narrowed {sorted(old_types)} → {sorted(new_types)}"))
        old_enum, new_enum = _enum(o, old), _enum(n, new)
        if old_enum is not None and new_enum is not None and not old_enum <= new_enum:
            problems.append(Breaking(name, path or "/", f"enum values removed: {sorted(old_enum - new_enum)}"))
        oo, no = _object_node(o, old), _object_node(n, new)
        if oo is None or no is None:
            old_items, new_items = _resolve(o, old).get("items"), _resolve(n, new).get("items")
            if isinstance(old_items, dict) and isinstance(new_items, dict):
                walk(old_items, new_items, path + "[]", depth + 1)
            return
        old_props, new_props = oo.get("properties", {}), no.get("properties", {})
        for field in old_props:
            if field not in new_props:
                problems.append(Breaking(name, f"{path}/{field}", "field removed or renamed"))
            else:
                walk(old_props[field], new_props[field], f"{path}/{field}", depth + 1)
        newly_required = set(no.get("required", [])) - set(oo.get("required", []))
        for field in sorted(newly_required):
            if field in ALWAYS_SERIALISED and field in old_props:
                continue  # every released producer already wrote it on every message
            problems.append(Breaking(name, f"{path}/{field}", "new required field"))

    walk(old, new, "")
    return problems


def compare_dirs(released: Path, current: Path) -> list[Breaking]:
    problems: list[Breaking] = []
    for old_file in sorted(released.glob("*.json")):
        new_file = current / old_file.name
        if not new_file.exists():
            problems.append(Breaking(old_file.stem, "/", "event schema removed"))
            continue
        problems.extend(compare(old_file.stem, json.loads(old_file.read_text()), json.loads(new_file.read_text())))
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    released = Path(args[0] if args else "deploy/schemas/released/v1")
    current = Path(args[1] if len(args) > 1 else "deploy/schemas")
    problems = compare_dirs(released, current)
    for p in problems:
        print(f"BREAKING {p}")
    print(f"{len(problems)} breaking change(s) against {released}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
