"""Bind a parsed SOQL query to the schema and run it over the store."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from leadflow_sf_emulator import ids
from leadflow_sf_emulator.errors import SalesforceError
from leadflow_sf_emulator.schema import NUMBER_TYPES, FieldDef, ObjectDef, Schema, _child_relationship
from leadflow_sf_emulator.soql import ast
from leadflow_sf_emulator.soql.dates import date_range, datetime_range
from leadflow_sf_emulator.soql.parser import parse, soql_error
from leadflow_sf_emulator.store import Record, Store
from leadflow_sf_emulator.values import to_wire

_TEXT = {"string", "textarea", "email", "phone", "url", "picklist", "combobox"}
_TYPE_WORD = {
    "boolean": "boolean",
    "int": "integer",
    "double": "double",
    "currency": "double",
    "percent": "double",
    "date": "date",
    "datetime": "dateTime",
}
_CUSTOM_FIELD_HINT = (
    "If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. "
    "Please reference your WSDL or the describe call for the appropriate names."
)
_CUSTOM_OBJECT_HINT = (
    "If you are attempting to use a custom object, be sure to append the '__c' after the entity name. "
    "Please reference your WSDL or the describe call for the appropriate names."
)
_CUSTOM_REL_HINT = (
    "If you are attempting to use a custom relationship, be sure to append the '__r' after the custom "
    "relationship name. Please reference your WSDL or the describe call for the appropriate names."
)


@dataclass
class BoundPath:
    rels: list[FieldDef]  # lookup fields walked, in order
    rel_objects: list[list[ObjectDef]]  # the possible targets of each lookup
    name: str  # canonical final field name
    fd: FieldDef

    @property
    def key(self) -> str:
        return ".".join([r.relationship_name or "" for r in self.rels] + [self.name])


@dataclass
class BoundAggregate:
    func: str
    path: BoundPath | None
    key: str


@dataclass
class BoundChild:
    rel_name: str
    child: ObjectDef
    fk: str
    plan: Plan


@dataclass(frozen=True)
class IndexedPredicate:
    """A WHERE test that also names an indexed field and the values it must equal (`index_hint`), so `execute`
    can look the candidate rows up in the store's index instead of scanning the table."""

    test: Callable[[Record], bool]
    index_hint: tuple[str, list[str]]

    def __call__(self, rec: Record) -> bool:
        return self.test(rec)


def _row_value(key: str) -> Callable[[dict[str, Any]], Any]:
    """Read one column of an aggregate result row (None when absent)."""
    return lambda row: row.get(key)


def _present_values(get: Callable[[Record], Any]) -> Callable[[list[Record]], list[Any]]:
    """The non-null values of one field over a group's records."""
    return lambda rows: [v for r in rows if (v := get(r)) is not None]


@dataclass
class Plan:
    obj: ObjectDef
    columns: list[Any] = field(default_factory=list)  # BoundPath | BoundAggregate | BoundChild
    predicate: Callable[[Record], bool] | None = None
    order: list[tuple[Callable[[Any], Any], bool, bool, bool]] = field(default_factory=list)
    group_by: list[BoundPath] = field(default_factory=list)
    count_only: bool = False
    aggregate: bool = False
    limit: int | None = None
    offset: int = 0
    having: Callable[[list[Record]], bool] | None = None


@dataclass
class QueryResult:
    obj: ObjectDef
    total_size: int
    records: list[dict[str, Any]]
    columns: list[str]  # flat column names (for CSV)
    rows: list[list[Any]]  # flat typed values (for CSV)


class QueryEngine:
    def __init__(self, store: Store, *, now: Callable[[], datetime], tz: str, version: str) -> None:
        self.store = store
        self.schema: Schema = store.schema
        self.now = now
        self.tz = tz
        self.version = version

    # ---- binding ----------------------------------------------------------------------------------
    def _err(self, q: ast.Query, pos: ast.Pos, code: str, message: str) -> SalesforceError:
        return soql_error(code, q.text, pos, message)

    def bind_path(self, q: ast.Query, obj: ObjectDef, ref: ast.FieldRef) -> BoundPath:
        path = list(ref.path)
        if len(path) > 1 and path[0].lower() == obj.name.lower() and obj.relationship(path[0]) is None:
            path = path[1:]
        if len(path) > 6:
            raise self._err(
                q, ref.pos, "MALFORMED_QUERY", "SOQL statements cannot query more than 5 levels of relationships"
            )
        current = [obj]
        rels: list[FieldDef] = []
        rel_objects: list[list[ObjectDef]] = []
        for seg in path[:-1]:
            fd = next((o.relationship(seg) for o in current if o.relationship(seg) is not None), None)
            if fd is None:
                raise self._err(
                    q,
                    ref.pos,
                    "INVALID_FIELD",
                    f"Didn't understand relationship '{seg}' in field path. {_CUSTOM_REL_HINT}",
                )
            rels.append(fd)
            current = [self.schema.objects[t] for t in fd.reference_to]
            rel_objects.append(current)
        last = path[-1]
        final = next((o.field(last) for o in current if o.field(last) is not None), None)
        if final is None:
            raise self._err(
                q,
                ref.pos,
                "INVALID_FIELD",
                f"No such column '{last}' on entity '{current[0].name}'. {_CUSTOM_FIELD_HINT}",
            )
        return BoundPath(rels, rel_objects, final.name, final)

    def getter(self, bp: BoundPath) -> Callable[[Record], Any]:
        name = bp.name
        if not bp.rels:
            return lambda rec: rec.get(name)
        store = self.store
        rels = [r.name for r in bp.rels]

        def get(rec: Record) -> Any:
            r: Record | None = rec
            for rel in rels:
                pid = r.get(rel) if r is not None else None
                if pid is None:
                    return None
                found = store.get(pid)
                if found is None:
                    return None
                r = found[1]
            return r.get(name) if r is not None else None

        return get

    def plan(self, q: ast.Query, obj: ObjectDef | None = None) -> Plan:
        if obj is None:
            obj = self.schema.get(q.sobject)
            if obj is None:
                raise self._err(
                    q,
                    q.sobject_pos,
                    "INVALID_TYPE",
                    f"sObject type '{q.sobject}' is not supported. {_CUSTOM_OBJECT_HINT}",
                )
        plan = Plan(obj)
        items: list[Any] = []
        for item in q.select:
            if isinstance(item, ast.FieldsFn):
                if item.kind == "ALL" and (q.limit is None or q.limit > 200):
                    raise self._err(
                        q, item.pos, "MALFORMED_QUERY", "The SOQL FIELDS function must have a LIMIT of at most 200"
                    )
                for fd in obj.fields.values():
                    if item.kind == "ALL" or (item.kind == "CUSTOM") == fd.custom:
                        items.append(ast.FieldRef([fd.name], item.pos))
            else:
                items.append(item)
        aggs = [i for i in items if isinstance(i, ast.Aggregate)]
        seen: set[str] = set()
        expr_n = 0
        for item in items:
            if isinstance(item, ast.FieldRef):
                bp = self.bind_path(q, obj, item)
                if bp.key.lower() in seen:
                    raise self._err(q, item.pos, "MALFORMED_QUERY", f"duplicate field selected: {item.text}")
                seen.add(bp.key.lower())
                plan.columns.append(bp)
            elif isinstance(item, ast.Aggregate):
                if item.field is None:  # COUNT()
                    if len(items) > 1 or q.group_by:
                        raise self._err(
                            q,
                            item.pos,
                            "MALFORMED_QUERY",
                            "COUNT() and non-aggregate fields or GROUP BY cannot be mixed",
                        )
                    plan.count_only = True
                    continue
                bp = self.bind_path(q, obj, item.field)
                if item.func in ("SUM", "AVG") and bp.fd.type not in NUMBER_TYPES:
                    raise self._err(
                        q,
                        item.pos,
                        "MALFORMED_QUERY",
                        f"field {item.field.text} does not support aggregate operator {item.func}",
                    )
                key = item.alias or f"expr{expr_n}"
                if not item.alias:
                    expr_n += 1
                plan.columns.append(BoundAggregate(item.func, bp, key))
            elif isinstance(item, ast.SubQuery):
                if aggs:
                    raise self._err(q, item.pos, "MALFORMED_QUERY", "Nested queries cannot be used with aggregates")
                plan.columns.append(self.bind_child(q, obj, item))
        plan.aggregate = bool(aggs) and not plan.count_only
        if q.group_by:
            plan.aggregate = True
            plan.group_by = [self.bind_path(q, obj, g) for g in q.group_by]
        if plan.aggregate:
            group_keys = {g.key.lower() for g in plan.group_by}
            for col in plan.columns:
                if isinstance(col, BoundPath) and col.key.lower() not in group_keys:
                    raise self._err(
                        q, q.sobject_pos, "MALFORMED_QUERY", f"Field must be grouped or aggregated: {col.name}"
                    )
        if q.having is not None:
            if not q.group_by:
                raise self._err(q, q.sobject_pos, "MALFORMED_QUERY", "HAVING requires a GROUP BY clause")
            plan.having = self.having(q, obj, q.having, {g.key.lower() for g in plan.group_by})
        if q.where is not None:
            plan.predicate = self.condition(q, obj, q.where)
        for sort_key in q.order_by:
            if isinstance(sort_key.field, ast.Aggregate):
                if not plan.aggregate:
                    raise self._err(
                        q, sort_key.field.pos, "MALFORMED_QUERY", "Aggregate ordering requires an aggregate query"
                    )
                match = next(
                    (
                        c
                        for c in plan.columns
                        if isinstance(c, BoundAggregate)
                        and c.func == sort_key.field.func
                        and c.path is not None
                        and sort_key.field.field is not None
                        and c.path.key.lower() == self.bind_path(q, obj, sort_key.field.field).key.lower()
                    ),
                    None,
                )
                if match is None:
                    raise self._err(q, sort_key.field.pos, "MALFORMED_QUERY", "Ordered aggregate must be selected")
                k = match.key
                fold = True
                getter: Callable[[Any], Any] = _row_value(k)
            else:
                bp = self.bind_path(q, obj, sort_key.field)
                if bp.fd.type in ("textarea", "multipicklist") and (
                    bp.fd.length > 255 or bp.fd.type == "multipicklist"
                ):
                    raise self._err(
                        q, sort_key.field.pos, "INVALID_FIELD", f"field '{bp.name}' can not be sorted in a query call"
                    )
                fold = bp.fd.type not in ("id", "reference")
                if plan.aggregate:
                    k = bp.name
                    getter = _row_value(k)
                else:
                    getter = self.getter(bp)
            nulls_first = sort_key.nulls_first if sort_key.nulls_first is not None else not sort_key.desc
            plan.order.append((getter, sort_key.desc, nulls_first, fold))
        if q.offset is not None and q.offset > 2000:
            raise SalesforceError("NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000")
        plan.limit = q.limit
        plan.offset = q.offset or 0
        return plan

    def bind_child(self, q: ast.Query, parent: ObjectDef, item: ast.SubQuery) -> BoundChild:
        sub = item.query
        rels = self.schema.child_relationships(parent)
        found = rels.get(sub.sobject.lower())
        if found is None:
            raise self._err(
                q,
                sub.sobject_pos,
                "INVALID_TYPE",
                f"Didn't understand relationship '{sub.sobject}' in FROM part of query call. {_CUSTOM_REL_HINT}",
            )
        child, fd = found
        sub_plan = self.plan(sub, child)
        if sub_plan.aggregate or sub_plan.count_only:
            raise self._err(q, item.pos, "MALFORMED_QUERY", "Aggregates are not supported in nested queries")
        rel_name = _child_relationship(child, fd) or sub.sobject
        return BoundChild(rel_name, child, fd.name, sub_plan)

    # ---- WHERE ------------------------------------------------------------------------------------
    def condition(self, q: ast.Query, obj: ObjectDef, node: Any) -> Callable[[Record], bool]:
        if isinstance(node, ast.BoolOp):
            parts = [self.condition(q, obj, i) for i in node.items]
            if node.op == "AND":

                def every(r: Record) -> bool:
                    return all(p(r) for p in parts)

                hint = next((p.index_hint for p in parts if isinstance(p, IndexedPredicate)), None)
                return IndexedPredicate(every, hint) if hint else every
            return lambda r: any(p(r) for p in parts)
        if isinstance(node, ast.Not):
            inner = self.condition(q, obj, node.item)
            return lambda r: not inner(r)
        return self.comparison(q, obj, node)

    # ---- HAVING ------------------------------------------------------------------------------------
    def having(self, q: ast.Query, obj: ObjectDef, node: Any, group_keys: set[str]) -> Callable[[list[Record]], bool]:
        """A test on one group's records: aggregates over the group, grouped fields on its first row."""
        if isinstance(node, ast.BoolOp):
            parts = [self.having(q, obj, i, group_keys) for i in node.items]
            if node.op == "AND":
                return lambda rows: all(p(rows) for p in parts)
            return lambda rows: any(p(rows) for p in parts)
        if isinstance(node, ast.Not):
            inner = self.having(q, obj, node.item, group_keys)
            return lambda rows: not inner(rows)
        if isinstance(node, ast.AggComparison):
            agg = node.agg
            if agg.field is None:
                values: Callable[[list[Record]], list[Any]] = lambda rows: list(rows)  # noqa: E731
                lit = self._number_literal(q, node.value)
            else:
                bp = self.bind_path(q, obj, agg.field)
                g = self.getter(bp)
                values = _present_values(g)
                if agg.func in ("COUNT", "COUNT_DISTINCT", "SUM", "AVG"):
                    lit = self._number_literal(q, node.value)
                else:
                    lit = self._literal(q, bp.fd, node.value, node.op)
            func, op = agg.func, node.op

            def test(rows: list[Record]) -> bool:
                v = _agg(func, values(rows))
                if v is None or lit is None:
                    return (op == "=" and v is None and lit is None) or (op == "!=" and (v is None) != (lit is None))
                if isinstance(lit, datetime | date) and isinstance(v, str):
                    return _compare(op, v, to_wire(lit))
                return _compare(op, v, lit)

            return test
        assert isinstance(node, ast.Comparison)
        if self.bind_path(q, obj, node.field).key.lower() not in group_keys:
            raise self._err(
                q, node.pos, "MALFORMED_QUERY", f"field '{node.field.text}' can not be filtered in a HAVING clause"
            )
        row_test = self.condition(q, obj, node)
        return lambda rows: bool(rows) and row_test(rows[0])

    def _number_literal(self, q: ast.Query, lit: ast.Literal) -> Any:
        if lit.kind != "number":
            raise self._err(q, lit.pos, "MALFORMED_QUERY", "value of aggregate filter must be a number")
        return lit.value

    def _literal(self, q: ast.Query, fd: FieldDef, lit: ast.Literal, op: str) -> Any:
        """The literal as a comparable value for this field, or the Salesforce type error."""
        t = fd.type
        if lit.kind == "null":
            return None

        def type_error() -> SalesforceError:
            word = _TYPE_WORD.get(t, "string")
            quoted = "should be enclosed in quotes" if word == "string" else "should not be enclosed in quotes"
            return self._err(
                q,
                lit.pos,
                "INVALID_FIELD",
                f"value of filter criterion for field '{fd.name}' must be of type {word} and {quoted}",
            )

        if t in ("id", "reference"):
            if lit.kind != "string":
                raise type_error()
            if lit.value == "":
                return None
            norm = ids.normalize(lit.value)
            if norm is None:
                if op in ("LIKE",):
                    return lit.value
                raise self._err(q, lit.pos, "INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {lit.value}")
            return norm
        if t in _TEXT or t == "multipicklist":
            if lit.kind != "string":
                raise type_error()
            return lit.value if op == "LIKE" else (lit.value.replace("\\_", "_").replace("\\%", "%") or None)
        if t == "boolean":
            if lit.kind != "boolean":
                raise type_error()
            return lit.value
        if t in NUMBER_TYPES:
            if lit.kind != "number":
                raise type_error()
            return lit.value
        if t == "date":
            if lit.kind == "date":
                return lit.value
            if lit.kind == "dateliteral":
                return ("range", date_range(lit.value, lit.n, self.now(), self.tz))
            raise type_error()
        if t == "datetime":
            if lit.kind == "datetime":
                return lit.value
            if lit.kind == "dateliteral":
                return ("range", datetime_range(lit.value, lit.n, self.now(), self.tz))
            raise type_error()
        raise type_error()

    def comparison(self, q: ast.Query, obj: ObjectDef, c: ast.Comparison) -> Callable[[Record], bool]:
        fn = self._comparison(q, obj, c)
        if c.op in ("=", "IN"):
            bp = self.bind_path(q, obj, c.field)
            indexed = bp.name == "Id" or (obj.name, bp.name) in self.store.indexes
            lits: list[ast.Literal]
            if isinstance(c.value, ast.SemiJoin):
                lits = []
            elif isinstance(c.value, list):
                lits = c.value
            else:
                lits = [c.value]
            if lits and not bp.rels and indexed and all(lit.kind == "string" for lit in lits):
                values = [self._literal(q, bp.fd, lit, c.op) for lit in lits]
                if all(isinstance(v, str) for v in values):
                    return IndexedPredicate(fn, (bp.name, values))
        return fn

    def _comparison(self, q: ast.Query, obj: ObjectDef, c: ast.Comparison) -> Callable[[Record], bool]:
        bp = self.bind_path(q, obj, c.field)
        fd = bp.fd
        if fd.type == "textarea" and fd.length > 255:
            raise self._err(q, c.field.pos, "INVALID_FIELD", f"field '{fd.name}' can not be filtered in a query call")
        get = self.getter(bp)
        op = c.op
        text = fd.type in _TEXT or fd.type == "multipicklist"
        if op in ("IN", "NOT IN") and isinstance(c.value, ast.SemiJoin):
            found = self._semi_join_values(q, fd, c.value)
            if op == "IN":
                return lambda r: get(r) in found
            return lambda r: get(r) not in found
        if op in ("IN", "NOT IN", "INCLUDES", "EXCLUDES"):
            assert isinstance(c.value, list)
            vals = [self._literal(q, fd, v, op) for v in c.value]
            if op in ("INCLUDES", "EXCLUDES"):
                if fd.type != "multipicklist":
                    raise self._err(
                        q,
                        c.pos,
                        "INVALID_FIELD",
                        f"{op.lower()} or excludes operator only valid on multipicklist field",
                    )
                sets = [frozenset(p.strip().lower() for p in (v or "").split(";") if p.strip()) for v in vals]

                def inc(r: Record) -> bool:
                    have = {p.lower() for p in (get(r) or "").split(";") if p}
                    return any(s <= have for s in sets if s)

                return inc if op == "INCLUDES" else (lambda r: not inc(r))
            ranges = [v[1] for v in vals if isinstance(v, tuple)]
            plain = {(v.lower() if text and isinstance(v, str) else v) for v in vals if not isinstance(v, tuple)}

            def member(r: Record) -> bool:
                v = get(r)
                if text and isinstance(v, str):
                    v = v.lower()
                if v in plain:
                    return True
                return v is not None and any(lo <= v < hi for lo, hi in ranges)

            return member if op == "IN" else (lambda r: not member(r))
        assert isinstance(c.value, ast.Literal)
        if op == "LIKE":
            if not text and fd.type not in ("id", "reference"):
                raise self._err(q, c.pos, "INVALID_FIELD", f"invalid operator on {fd.type} field: LIKE")
            if c.value.kind != "string":
                raise self._err(q, c.value.pos, "MALFORMED_QUERY", "LIKE requires a string value")
            rx = _like_regex(c.value.value)
            return lambda r: (v := get(r)) is not None and rx.match(str(v)) is not None
        lit = self._literal(q, fd, c.value, op)
        if lit is None:
            if op == "=":
                return lambda r: get(r) is None
            if op == "!=":
                return lambda r: get(r) is not None
            return lambda r: False
        if isinstance(lit, tuple):  # date literal range
            lo, hi = lit[1]
            tests: dict[str, Callable[[Any], bool]] = {
                "=": lambda v: lo <= v < hi,
                "!=": lambda v: not (lo <= v < hi),
                "<": lambda v: v < lo,
                "<=": lambda v: v < hi,
                ">": lambda v: v >= hi,
                ">=": lambda v: v >= lo,
            }
            test = tests[op]
            if op == "!=":
                return lambda r: (v := get(r)) is None or test(v)
            return lambda r: (v := get(r)) is not None and test(v)
        if text and isinstance(lit, str):
            lit = lit.lower()
            if fd.type == "multipicklist" and op in ("=", "!="):
                want = frozenset(p.strip() for p in lit.split(";") if p.strip())
                eq: Callable[[Record], bool] = lambda r: (  # noqa: E731
                    frozenset(p.lower() for p in (get(r) or "").split(";") if p) == want
                )
                return eq if op == "=" else (lambda r: not eq(r))
            getv: Callable[[Record], Any] = lambda r: v.lower() if isinstance(v := get(r), str) else v  # noqa: E731
        else:
            getv = get
        if op == "=":
            return lambda r: getv(r) == lit
        if op == "!=":
            return lambda r: getv(r) != lit
        cmp: dict[str, Callable[[Any], bool]] = {
            "<": lambda v: v < lit,
            "<=": lambda v: v <= lit,
            ">": lambda v: v > lit,
            ">=": lambda v: v >= lit,
        }
        test = cmp[op]
        return lambda r: (v := getv(r)) is not None and test(v)

    def _semi_join_values(self, q: ast.Query, fd: FieldDef, sj: ast.SemiJoin) -> frozenset[Any]:
        """Run the sub-select once; its one Id/reference column is the set to test against."""
        if fd.type not in ("id", "reference"):
            raise self._err(
                q, sj.pos, "MALFORMED_QUERY", "The left operand of a semi join must be an Id or a reference field"
            )
        sub = self.plan(sj.query)
        cols = sub.columns
        if (
            sub.aggregate
            or sub.count_only
            or len(cols) != 1
            or not isinstance(cols[0], BoundPath)
            or cols[0].fd.type not in ("id", "reference")
        ):
            raise self._err(
                q,
                sj.pos,
                "MALFORMED_QUERY",
                "The selected field in a semi join subquery must be an Id or reference field",
            )
        return frozenset(v for row in self.execute(sub).rows if (v := row[0]) is not None)

    # ---- execution --------------------------------------------------------------------------------
    def run(self, text: str, *, include_deleted: bool = False) -> QueryResult:
        q = parse(text)
        plan = self.plan(q)
        return self.execute(plan, include_deleted=include_deleted)

    def _select(self, plan: Plan, records: list[Record]) -> list[Record]:
        rows = [r for r in records if plan.predicate is None or plan.predicate(r)]
        return rows

    def _sort(self, rows: list[Any], order: list[tuple[Callable[[Any], Any], bool, bool, bool]]) -> list[Any]:
        for getter, desc, nulls_first, fold in reversed(order):
            null_rank = 0 if nulls_first != desc else 1

            def key(
                r: Any, getter: Callable[[Any], Any] = getter, null_rank: int = null_rank, fold: bool = fold
            ) -> tuple[Any, ...]:
                v = getter(r)
                if v is None:
                    return (null_rank,)
                return (1 - null_rank, v.lower() if fold and isinstance(v, str) else v)

            rows = sorted(rows, key=key, reverse=desc)
        return rows

    def execute(self, plan: Plan, *, include_deleted: bool = False, source: list[Record] | None = None) -> QueryResult:
        obj = plan.obj
        if source is not None:
            records = source
        else:
            hint = plan.predicate.index_hint if isinstance(plan.predicate, IndexedPredicate) else None
            table = self.store.tables[obj.name]
            if hint and (hint[0] == "Id" or not include_deleted):
                name, values = hint
                found: dict[str, None] = {}
                for v in values:
                    for rid in [v] if name == "Id" else self.store.find_by(obj.name, name, v):
                        found[rid] = None
                records = [
                    r
                    for rid in found
                    if (r := table.get(rid)) is not None and (include_deleted or not r.get("IsDeleted"))
                ]
            else:
                records = list(self.store.records(obj.name, include_deleted=include_deleted))
        rows = self._select(plan, records)
        if plan.count_only:
            n = len(rows[plan.offset :])
            if plan.limit is not None:
                n = min(n, plan.limit)
            return QueryResult(obj, n, [], [], [])
        if plan.aggregate:
            return self._aggregate(plan, rows)
        rows = self._sort(rows, plan.order) if plan.order else rows
        if plan.offset:
            rows = rows[plan.offset :]
        if plan.limit is not None:
            rows = rows[: plan.limit]
        children: dict[int, dict[str, list[Record]]] = {}
        for i, col in enumerate(plan.columns):
            if isinstance(col, BoundChild):
                groups: dict[str, list[Record]] = {}
                for c in self.store.records(col.child.name, include_deleted=include_deleted):
                    fk = c.get(col.fk)
                    if fk is not None:
                        groups.setdefault(fk, []).append(c)
                children[i] = groups
        out = [self.render(plan, r, children) for r in rows]
        columns = [c.key for c in plan.columns if isinstance(c, BoundPath)]
        getters = [self.getter(c) for c in plan.columns if isinstance(c, BoundPath)]
        flat = [[g(r) for g in getters] for r in rows]
        return QueryResult(obj, len(out), out, columns, flat)

    def render(self, plan: Plan, rec: Record, children: dict[int, dict[str, list[Record]]]) -> dict[str, Any]:
        obj = plan.obj
        out: dict[str, Any] = {
            "attributes": {"type": obj.name, "url": f"/services/data/v{self.version}/sobjects/{obj.name}/{rec['Id']}"}
        }
        for i, col in enumerate(plan.columns):
            if isinstance(col, BoundChild):
                kids = children[i].get(rec["Id"], [])
                res = self.execute(col.plan, source=kids)
                out[col.rel_name] = (
                    {"totalSize": res.total_size, "done": True, "records": res.records} if res.records else None
                )
                continue
            if not col.rels:
                out[col.name] = to_wire(rec.get(col.name))
                continue
            target: dict[str, Any] = out
            r: Record | None = rec
            for rel in col.rels:
                relname = rel.relationship_name or rel.name
                if relname in target and target[relname] is None:
                    r = None
                    break
                pid = r.get(rel.name) if r is not None else None
                found = self.store.get(pid) if pid else None
                if found is None:
                    target[relname] = None
                    r = None
                    break
                pobj, r = found
                if relname not in target:
                    target[relname] = {
                        "attributes": {
                            "type": pobj.name,
                            "url": f"/services/data/v{self.version}/sobjects/{pobj.name}/{r['Id']}",
                        }
                    }
                target = target[relname]
            else:
                target[col.name] = to_wire(r.get(col.name) if r is not None else None)
        return out

    def _aggregate(self, plan: Plan, rows: list[Record]) -> QueryResult:
        group_getters = [(g.name, self.getter(g)) for g in plan.group_by]
        groups: dict[tuple[Any, ...], list[Record]] = {}
        for r in rows:
            k = tuple((v.lower() if isinstance(v := g(r), str) else v) for _, g in group_getters)
            groups.setdefault(k, []).append(r)
        if not plan.group_by:
            groups = {(): rows}
        if plan.having is not None:
            having = plan.having
            groups = {k: members for k, members in groups.items() if having(members)}
        out_rows = []
        for members in groups.values():
            row: dict[str, Any] = {"attributes": {"type": "AggregateResult"}}
            for col in plan.columns:
                if isinstance(col, BoundPath):
                    row[col.name] = to_wire(self.getter(col)(members[0]) if members else None)
                elif isinstance(col, BoundAggregate):
                    assert col.path is not None
                    g = self.getter(col.path)
                    vals = [v for m in members if (v := g(m)) is not None]
                    row[col.key] = _agg(col.func, vals)
            out_rows.append(row)
        if plan.order:
            out_rows = self._sort(out_rows, plan.order)
        if plan.offset:
            out_rows = out_rows[plan.offset :]
        if plan.limit is not None:
            out_rows = out_rows[: plan.limit]
        cols = [c.name if isinstance(c, BoundPath) else c.key for c in plan.columns]
        flat = [[row.get(c) for c in cols] for row in out_rows]
        return QueryResult(plan.obj, len(out_rows), out_rows, cols, flat)


def _agg(func: str, vals: list[Any]) -> Any:
    if func == "COUNT":
        return len(vals)
    if func == "COUNT_DISTINCT":
        return len({v.lower() if isinstance(v, str) else v for v in vals})
    if not vals:
        return None
    if func == "MIN":
        return to_wire(min(vals))
    if func == "MAX":
        return to_wire(max(vals))
    if func == "SUM":
        return float(sum(vals))
    return float(sum(vals)) / len(vals)


def _compare(op: str, v: Any, lit: Any) -> bool:
    try:
        return bool(
            {
                "=": v == lit,
                "!=": v != lit,
                "<": v < lit,
                "<=": v <= lit,
                ">": v > lit,
                ">=": v >= lit,
            }[op]
        )
    except TypeError:
        return False


def _like_regex(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "%_":
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out) + r"\Z", re.IGNORECASE | re.DOTALL)


def plain_value(v: Any) -> Any:
    return v.isoformat() if isinstance(v, (date, datetime)) else v
