"""A hand-written tokenizer and recursive-descent parser for the SOQL subset a lead system uses.

Errors are worded as Salesforce words them: the query row echoed, a caret under the offending
column, `ERROR at Row:r:Column:c`, then the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from leadflow_sf_emulator.errors import SalesforceError
from leadflow_sf_emulator.soql.ast import (
    AggComparison,
    Aggregate,
    BoolOp,
    Comparison,
    FieldRef,
    FieldsFn,
    Literal,
    Not,
    OrderKey,
    Pos,
    Query,
    SemiJoin,
    SubQuery,
)
from leadflow_sf_emulator.values import parse_date, parse_datetime

KEYWORDS = {
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "IN",
    "LIKE",
    "ORDER",
    "BY",
    "LIMIT",
    "OFFSET",
    "NULL",
    "TRUE",
    "FALSE",
    "ASC",
    "DESC",
    "NULLS",
    "FIRST",
    "LAST",
    "GROUP",
    "HAVING",
    "INCLUDES",
    "EXCLUDES",
    "WITH",
    "FOR",
    "USING",
    "TYPEOF",
    "ROLLUP",
    "CUBE",
}
AGGREGATES = {"COUNT", "COUNT_DISTINCT", "MIN", "MAX", "SUM", "AVG"}
DATE_LITERALS = {
    "YESTERDAY",
    "TODAY",
    "TOMORROW",
    "LAST_WEEK",
    "THIS_WEEK",
    "NEXT_WEEK",
    "LAST_MONTH",
    "THIS_MONTH",
    "NEXT_MONTH",
    "LAST_90_DAYS",
    "NEXT_90_DAYS",
    "THIS_QUARTER",
    "LAST_QUARTER",
    "NEXT_QUARTER",
    "THIS_YEAR",
    "LAST_YEAR",
    "NEXT_YEAR",
}
DATE_N_LITERALS = {
    "LAST_N_DAYS",
    "NEXT_N_DAYS",
    "N_DAYS_AGO",
    "LAST_N_WEEKS",
    "NEXT_N_WEEKS",
    "N_WEEKS_AGO",
    "LAST_N_MONTHS",
    "NEXT_N_MONTHS",
    "N_MONTHS_AGO",
    "LAST_N_QUARTERS",
    "NEXT_N_QUARTERS",
    "LAST_N_YEARS",
    "NEXT_N_YEARS",
    "N_YEARS_AGO",
}
_STRING_ESCAPES = {
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "b": "\b",
    "f": "\f",
    '"': '"',
    "'": "'",
    "\\": "\\",
    "_": "\\_",
    "%": "\\%",
}

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2}(?![\dT]))
  | (?P<number>[+-]?(?:\d+\.\d*|\.\d+|\d+)(?![A-Za-z_]))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<string>')
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),:])
    """,
    re.VERBOSE,
)


@dataclass
class Token:
    kind: str  # ident, keyword, string, number, date, datetime, op, punct, eof
    text: str
    value: object
    pos: Pos


def soql_error(code: str, text: str, pos: Pos | None, message: str) -> SalesforceError:
    if pos is None:
        return SalesforceError(code, message)
    lines = text.split("\n")
    line = lines[pos.row - 1] if 0 < pos.row <= len(lines) else ""
    caret = " " * (pos.col - 1) + "^"
    return SalesforceError(code, f"\n{line}\n{caret}\nERROR at Row:{pos.row}:Column:{pos.col}\n{message}")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, row, line_start = 0, 1, 0
    n = len(text)
    while i < n:
        m = _TOKEN_RE.match(text, i)
        pos = Pos(row, i - line_start + 1)
        if not m:
            raise soql_error("MALFORMED_QUERY", text, pos, f"unexpected token: '{text[i]}'")
        kind = m.lastgroup or ""
        if kind == "ws":
            chunk = m.group(0)
            for j, ch in enumerate(chunk):
                if ch == "\n":
                    row += 1
                    line_start = i + j + 1
            i = m.end()
            continue
        if kind == "string":
            j = i + 1
            buf = []
            while True:
                if j >= n:
                    raise soql_error("MALFORMED_QUERY", text, pos, "unexpected token: <EOF>")
                ch = text[j]
                if ch == "\\":
                    if j + 1 >= n:
                        raise soql_error("MALFORMED_QUERY", text, pos, "unexpected token: <EOF>")
                    esc = text[j + 1]
                    if esc not in _STRING_ESCAPES:
                        raise soql_error(
                            "MALFORMED_QUERY",
                            text,
                            Pos(row, j - line_start + 1),
                            "Invalid string literal '"
                            + text[i : j + 2]
                            + "'. Illegal character sequence '\\"
                            + esc
                            + "' in string literal.",
                        )
                    buf.append(_STRING_ESCAPES[esc])
                    j += 2
                    continue
                if ch == "'":
                    break
                if ch == "\n":
                    row += 1
                    line_start = j + 1
                buf.append(ch)
                j += 1
            tokens.append(Token("string", text[i : j + 1], "".join(buf), pos))
            i = j + 1
            continue
        tok_text = m.group(0)
        if kind == "ident" and "." not in tok_text and tok_text.upper() in KEYWORDS:
            tokens.append(Token("keyword", tok_text, tok_text.upper(), pos))
        elif kind == "datetime":
            dt = parse_datetime(tok_text)
            if dt is None:
                raise soql_error(
                    "MALFORMED_QUERY",
                    text,
                    pos,
                    f"line {pos.row}:{pos.col - 1} no viable alternative at character '{tok_text}'",
                )
            tokens.append(Token("datetime", tok_text, dt, pos))
        elif kind == "date":
            d = parse_date(tok_text)
            if d is None:
                raise soql_error("MALFORMED_QUERY", text, pos, f"unexpected token: {tok_text}")
            tokens.append(Token("date", tok_text, d, pos))
        elif kind == "number":
            tokens.append(
                Token("number", tok_text, float(tok_text) if any(c in tok_text for c in ".") else int(tok_text), pos)
            )
        else:
            tokens.append(Token(kind, tok_text, tok_text, pos))
        i = m.end()
    tokens.append(Token("eof", "<EOF>", None, Pos(row, n - line_start + 1)))
    return tokens


class Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.in_having = False
        self.in_semi_join = False

    # ---- token helpers ----------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def advance(self) -> Token:
        t = self.tokens[self.i]
        if t.kind != "eof":
            self.i += 1
        return t

    def is_kw(self, *words: str) -> bool:
        return self.tok.kind == "keyword" and self.tok.value in words

    def error(self, tok: Token | None = None, message: str | None = None) -> SalesforceError:
        t = tok or self.tok
        shown = "'<EOF>'" if t.kind == "eof" else t.text
        return soql_error("MALFORMED_QUERY", self.text, t.pos, message or f"unexpected token: {shown}")

    def expect_kw(self, word: str) -> Token:
        if not self.is_kw(word):
            raise self.error()
        return self.advance()

    def expect_punct(self, ch: str) -> Token:
        if not (self.tok.kind == "punct" and self.tok.text == ch):
            raise self.error()
        return self.advance()

    def at_punct(self, ch: str) -> bool:
        return self.tok.kind == "punct" and self.tok.text == ch

    # ---- grammar ----------------------------------------------------------------------------------
    def parse(self) -> Query:
        q = self.query()
        if self.tok.kind != "eof":
            raise self.error()
        return q

    def query(self) -> Query:
        self.expect_kw("SELECT")
        select = self.select_list()
        self.expect_kw("FROM")
        if self.is_kw("GROUP") and not (self.peek().kind == "keyword" and self.peek().value == "BY"):
            self.tok.kind = "ident"  # `FROM Group`: the object is named like the keyword
        if self.tok.kind != "ident" or "." in self.tok.text:
            raise self.error()
        obj_tok = self.advance()
        q = Query(select=select, sobject=obj_tok.text, sobject_pos=obj_tok.pos, text=self.text)
        if self.tok.kind == "ident" and not self.at_clause_start():  # object alias is not supported
            raise self.error()
        if self.is_kw("USING"):
            raise self.error()
        if self.is_kw("WHERE"):
            self.advance()
            q.where = self.condition()
        if self.is_kw("WITH"):
            raise self.error()
        if self.is_kw("GROUP"):
            self.advance()
            self.expect_kw("BY")
            q.group_by.append(self.field_ref())
            while self.at_punct(","):
                self.advance()
                q.group_by.append(self.field_ref())
            if self.is_kw("HAVING"):
                self.advance()
                self.in_having = True
                try:
                    q.having = self.condition()
                finally:
                    self.in_having = False
        if self.is_kw("ORDER"):
            self.advance()
            self.expect_kw("BY")
            q.order_by.append(self.order_key())
            while self.at_punct(","):
                self.advance()
                q.order_by.append(self.order_key())
        if self.is_kw("LIMIT"):
            self.advance()
            q.limit = self.non_negative_int()
        if self.is_kw("OFFSET"):
            self.advance()
            q.offset = self.non_negative_int()
        if self.is_kw("FOR"):
            self.advance()
            if not (self.tok.kind in ("ident", "keyword") and self.tok.text.upper() in ("VIEW", "REFERENCE", "UPDATE")):
                raise self.error()
            self.advance()
        return q

    def at_clause_start(self) -> bool:
        return self.tok.kind == "keyword"

    def non_negative_int(self) -> int:
        t = self.tok
        if t.kind != "number" or not isinstance(t.value, int) or t.value < 0 or t.text.startswith("+"):
            raise self.error()
        self.advance()
        return int(t.value)

    def select_list(self) -> list[object]:
        items = [self.select_item()]
        while self.at_punct(","):
            self.advance()
            items.append(self.select_item())
        return items

    def select_item(self) -> object:
        t = self.tok
        if self.at_punct("("):
            self.advance()
            sub = self.query()
            self.expect_punct(")")
            return SubQuery(sub, t.pos)
        if t.kind == "ident" and "." not in t.text and self.peek().kind == "punct" and self.peek().text == "(":
            name = t.text.upper()
            if name == "FIELDS":
                self.advance()
                self.advance()
                kind_tok = self.tok
                if kind_tok.kind != "ident" or kind_tok.text.upper() not in ("ALL", "STANDARD", "CUSTOM"):
                    raise self.error()
                self.advance()
                self.expect_punct(")")
                return FieldsFn(kind_tok.text.upper(), t.pos)
            if name in AGGREGATES:
                return self.aggregate()
            raise self.error(message=f"Unknown function {t.text}")
        if t.kind != "ident":
            raise self.error()
        ref = self.field_ref()
        if self.tok.kind == "ident" and not self.at_clause_start():
            raise self.error()
        return ref

    def aggregate(self) -> Aggregate:
        t = self.advance()
        self.expect_punct("(")
        fref = None
        if not self.at_punct(")"):
            fref = self.field_ref()
        elif t.text.upper() != "COUNT":
            raise self.error()
        self.expect_punct(")")
        alias = None
        if self.tok.kind == "ident" and "." not in self.tok.text:
            alias = self.advance().text
        return Aggregate(t.text.upper(), fref, alias, t.pos)

    def field_ref(self) -> FieldRef:
        t = self.tok
        if t.kind != "ident":
            raise self.error()
        self.advance()
        return FieldRef(t.text.split("."), t.pos)

    def order_key(self) -> OrderKey:
        if self.tok.kind == "ident" and self.tok.text.upper() in AGGREGATES and self.peek().text == "(":
            key = OrderKey(self.aggregate())
        else:
            key = OrderKey(self.field_ref())
        if self.is_kw("ASC", "DESC"):
            key.desc = self.advance().value == "DESC"
        if self.is_kw("NULLS"):
            self.advance()
            if not self.is_kw("FIRST", "LAST"):
                raise self.error()
            key.nulls_first = self.advance().value == "FIRST"
        return key

    # Conditions: AND and OR cannot be mixed at one level without parentheses (Salesforce refuses it).
    def condition(self) -> object:
        first = self.unary()
        if not self.is_kw("AND", "OR"):
            return first
        op = self.tok.value
        items = [first]
        while self.is_kw("AND", "OR"):
            if self.tok.value != op:
                raise self.error()
            self.advance()
            items.append(self.unary())
        return BoolOp(str(op), items)

    def unary(self) -> object:
        if self.is_kw("NOT"):
            self.advance()
            return Not(self.unary())
        if self.at_punct("("):
            self.advance()
            inner = self.condition()
            self.expect_punct(")")
            return inner
        return self.comparison()

    def comparison(self) -> Comparison | AggComparison:
        t0 = self.tok
        if (
            self.in_having
            and t0.kind == "ident"
            and t0.text.upper() in AGGREGATES
            and self.peek().kind == "punct"
            and self.peek().text == "("
        ):
            agg = self.aggregate()
            op_tok = self.tok
            if op_tok.kind != "op":
                raise self.error()
            self.advance()
            return AggComparison(agg, "!=" if op_tok.text == "<>" else op_tok.text, self.literal(), op_tok.pos)
        fref = self.field_ref()
        t = self.tok
        if t.kind == "op":
            self.advance()
            op = "!=" if t.text == "<>" else t.text
            return Comparison(fref, op, self.literal(), t.pos)
        if self.is_kw("LIKE"):
            self.advance()
            return Comparison(fref, "LIKE", self.literal(), t.pos)
        if self.is_kw("NOT"):
            self.advance()
            self.expect_kw("IN")
            return Comparison(fref, "NOT IN", self.literal_list(), t.pos)
        if self.is_kw("IN"):
            self.advance()
            return Comparison(fref, "IN", self.literal_list(), t.pos)
        if self.is_kw("INCLUDES", "EXCLUDES"):
            self.advance()
            return Comparison(fref, str(t.value), self.literal_list(), t.pos)
        raise self.error()

    def literal_list(self) -> list[Literal] | SemiJoin:
        if self.at_punct("(") and self.peek().kind == "keyword" and self.peek().value == "SELECT":
            start = self.advance()
            if self.in_semi_join:
                raise self.error(self.tok, "Nesting of semi join sub-selects is not supported")
            self.in_semi_join = True
            try:
                sub = self.query()
            finally:
                self.in_semi_join = False
            self.expect_punct(")")
            return SemiJoin(sub, start.pos)
        self.expect_punct("(")
        items = [self.literal()]
        while self.at_punct(","):
            self.advance()
            items.append(self.literal())
        self.expect_punct(")")
        return items

    def literal(self) -> Literal:
        t = self.tok
        if t.kind == "string":
            self.advance()
            return Literal("string", t.value, t.pos, t.text)
        if t.kind == "number":
            self.advance()
            return Literal("number", t.value, t.pos, t.text)
        if t.kind in ("date", "datetime"):
            self.advance()
            return Literal(t.kind, t.value, t.pos, t.text)
        if t.kind == "keyword" and t.value in ("NULL", "TRUE", "FALSE"):
            self.advance()
            if t.value == "NULL":
                return Literal("null", None, t.pos, t.text)
            return Literal("boolean", t.value == "TRUE", t.pos, t.text)
        if t.kind == "ident" and "." not in t.text:
            name = t.text.upper()
            if name in DATE_LITERALS:
                self.advance()
                return Literal("dateliteral", name, t.pos, t.text)
            if name in DATE_N_LITERALS:
                self.advance()
                self.expect_punct(":")
                n_tok = self.tok
                if n_tok.kind != "number" or not isinstance(n_tok.value, int) or n_tok.value < 0:
                    raise self.error()
                self.advance()
                return Literal("dateliteral", name, t.pos, f"{t.text}:{n_tok.text}", n=int(n_tok.value))
            if self.peek().kind == "punct" and self.peek().text == ":":
                raise self.error(message=f"Invalid date literal: {t.text}")
        raise self.error()


def parse(text: str) -> Query:
    if not isinstance(text, str) or not text.strip():
        raise SalesforceError("MALFORMED_QUERY", "A query string has to be specified")
    if len(text) > 100_000:
        raise SalesforceError("MALFORMED_QUERY", "Query too long: the SOQL statement exceeds 100,000 characters")
    return Parser(text).parse()
