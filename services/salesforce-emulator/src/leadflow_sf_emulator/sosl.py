"""A minimal SOSL `/search`: `FIND {terms} [IN ALL|NAME|EMAIL|PHONE FIELDS] [RETURNING Obj[(fields
[WHERE …] [ORDER BY …] [LIMIT n])], …] [LIMIT n]`.

Terms: words (all must match; `AND` is implicit, `OR` between words accepts either), `*` and `?`
wildcards, "quoted phrases". A word matches a whole token of a searchable field (text, e-mail, phone,
picklist), case-insensitively; an e-mail or phone also matches as a whole value. The answer is
`{"searchRecords": [...]}` with each record's `attributes` and the fields asked for (Id when none),
as the REST API returns it. Not emulated: stemming, relevance ranking, SNIPPET, WITH clauses.
"""

from __future__ import annotations

import re
from typing import Any

from leadflow_sf_emulator.errors import SalesforceError
from leadflow_sf_emulator.org import Org
from leadflow_sf_emulator.soql.parser import parse

_FIND = re.compile(r"^\s*FIND\s*\{(?P<terms>(?:[^}\\]|\\.)*)\}\s*(?P<rest>.*)$", re.IGNORECASE | re.DOTALL)
_IN = re.compile(r"^IN\s+(ALL|NAME|EMAIL|PHONE|SIDEBAR)\s+FIELDS\s*", re.IGNORECASE)
_RETURNING = re.compile(r"^RETURNING\s+", re.IGNORECASE)
_LIMIT = re.compile(r"^LIMIT\s+(\d+)\s*$", re.IGNORECASE)
_DEFAULT_OBJECTS = ("Lead", "Contact", "Account")
_SEARCHABLE = {"string", "email", "phone", "picklist", "textarea", "url", "combobox"}
_GROUP_TYPES = {"ALL": _SEARCHABLE, "NAME": {"string"}, "EMAIL": {"email"}, "PHONE": {"phone"}}
_TOKEN = re.compile(r"[\w]+", re.UNICODE)


def _malformed(text: str, message: str) -> SalesforceError:
    return SalesforceError("MALFORMED_SEARCH", f"{message}: {text[:200]}")


def _term_patterns(terms: str, text: str) -> list[list[re.Pattern[str]]]:
    """Alternatives (OR) of conjunctions (AND) of word patterns."""
    words = re.findall(r'"[^"]*"|\S+', terms.replace("\\", ""))
    groups: list[list[re.Pattern[str]]] = [[]]
    for w in words:
        up = w.upper()
        if up == "AND":
            continue
        if up == "OR":
            groups.append([])
            continue
        if up == "AND NOT" or w.startswith("-"):
            raise _malformed(text, "Negation is not supported by this emulator")
        phrase = w.strip('"').strip()
        if not phrase:
            continue
        body = r"\s+".join(re.escape(part).replace(r"\*", r"\w*").replace(r"\?", r"\w") for part in phrase.split())
        groups[-1].append(re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE | re.UNICODE))
    groups = [g for g in groups if g]
    if not groups or any(len(re.sub(r"[*?\"\s]", "", w)) < 2 for w in words if w.upper() not in ("AND", "OR")):
        raise _malformed(text, "search term must be longer than one character")
    return groups


def _split_returning(spec: str, text: str) -> tuple[list[tuple[str, str]], int | None]:
    """`Lead(Id, Name WHERE …), Contact LIMIT 5` → [("Lead", "Id, Name WHERE …"), ("Contact", "")], 5."""
    items: list[tuple[str, str]] = []
    i, n = 0, len(spec)
    while i < n:
        m = re.match(r"\s*([A-Za-z][A-Za-z0-9_]*)\s*", spec[i:])
        if not m:
            break
        name = m.group(1)
        if name.upper() == "LIMIT":
            break
        i += m.end()
        inner = ""
        if i < n and spec[i] == "(":
            depth, j = 0, i
            while j < n:
                depth += {"(": 1, ")": -1}.get(spec[j], 0)
                if depth == 0:
                    break
                j += 1
            if depth:
                raise _malformed(text, "unbalanced parentheses in RETURNING")
            inner, i = spec[i + 1 : j], j + 1
        items.append((name, inner.strip()))
        m2 = re.match(r"\s*,", spec[i:])
        if m2:
            i += m2.end()
        else:
            break
    rest = spec[i:].strip()
    limit = None
    if rest:
        lm = _LIMIT.match(rest)
        if not lm:
            raise _malformed(text, "unexpected token")
        limit = int(lm.group(1))
    return items, limit


def search(org: Org, text: str, version: str) -> dict[str, Any]:
    m = _FIND.match(text or "")
    if not m:
        raise _malformed(text, "search must start with FIND {terms}")
    patterns = _term_patterns(m.group("terms"), text)
    rest = m.group("rest").strip()
    group = "ALL"
    gm = _IN.match(rest)
    if gm:
        group = gm.group(1).upper()
        rest = rest[gm.end() :]
    if rest and _RETURNING.match(rest):
        items, limit = _split_returning(rest[_RETURNING.match(rest).end() :], text)  # type: ignore[union-attr]
    else:
        items, limit = [(o, "") for o in _DEFAULT_OBJECTS], None
        if rest:
            lm = _LIMIT.match(rest)
            if not lm:
                raise _malformed(text, "unexpected token")
            limit = int(lm.group(1))
    types = _GROUP_TYPES.get(group, _SEARCHABLE)
    engine = org.engine()
    out: list[dict[str, Any]] = []
    budget = min(limit if limit is not None else 2000, 2000)
    for name, inner in items:
        obj = org.schema.get(name)
        if obj is None:
            raise SalesforceError("INVALID_TYPE", f"sObject type '{name}' is not supported.")
        head = re.split(r"\s+(?=WHERE\b|ORDER\b|LIMIT\b|OFFSET\b)", inner, maxsplit=1, flags=re.IGNORECASE)
        fields_part = head[0].strip() if head and not re.match(r"(WHERE|ORDER|LIMIT)\b", head[0], re.I) else ""
        clauses = head[1] if len(head) > 1 else ("" if fields_part else inner)
        soql = f"SELECT {fields_part or 'Id'} FROM {obj.name} {clauses}".strip()  # noqa: S608 - SOQL, parsed
        plan = engine.plan(parse(soql))
        searchable = [f.name for f in obj.fields.values() if f.type in types]

        def hit(rec: dict[str, Any], searchable: list[str] = searchable) -> bool:
            values = [str(v) for f in searchable if (v := rec.get(f))]
            blob = " ".join(values)
            return any(all(p.search(blob) for p in conj) for conj in patterns)

        matching = [r for r in org.store.records(obj.name) if hit(r)]
        result = engine.execute(plan, source=matching)
        out.extend(result.records[: max(budget - len(out), 0)])
    return {"searchRecords": out}
