"""SOQL syntax tree."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Pos:
    row: int
    col: int


@dataclass
class FieldRef:
    path: list[str]
    pos: Pos

    @property
    def text(self) -> str:
        return ".".join(self.path)


@dataclass
class Aggregate:
    func: str  # COUNT, COUNT_DISTINCT, MIN, MAX, SUM, AVG
    field: FieldRef | None
    alias: str | None
    pos: Pos


@dataclass
class FieldsFn:
    kind: str  # ALL, STANDARD, CUSTOM
    pos: Pos


@dataclass
class SubQuery:
    query: Query
    pos: Pos


@dataclass
class Literal:
    kind: str  # string, number, date, datetime, null, boolean, dateliteral
    value: Any
    pos: Pos
    text: str = ""
    n: int | None = None  # LAST_N_DAYS:n


@dataclass
class Comparison:
    field: FieldRef
    op: str  # = != < <= > >= LIKE IN NOT IN INCLUDES EXCLUDES
    value: Literal | list[Literal] | SemiJoin
    pos: Pos


@dataclass
class SemiJoin:
    """`Id IN (SELECT WhoId FROM Task …)`: the values of the sub-select's one field."""

    query: Query
    pos: Pos


@dataclass
class AggComparison:
    """A HAVING condition on an aggregate: `COUNT(Id) > 1`."""

    agg: Aggregate
    op: str
    value: Literal
    pos: Pos


@dataclass
class BoolOp:
    op: str  # AND / OR
    items: list[Any]


@dataclass
class Not:
    item: Any


@dataclass
class OrderKey:
    field: FieldRef | Aggregate
    desc: bool = False
    nulls_first: bool | None = None


@dataclass
class Query:
    select: list[Any]
    sobject: str
    sobject_pos: Pos
    where: Any = None
    group_by: list[FieldRef] = field(default_factory=list)
    having: Any = None
    order_by: list[OrderKey] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None
    text: str = ""
