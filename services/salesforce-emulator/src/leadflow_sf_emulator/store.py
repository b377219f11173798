"""Records in memory, written through to SQLite (file or :memory:) one transaction per request.

Every write goes through a `Txn` that keeps an undo log, so allOrNone requests roll back
in memory and never reach SQLite; a commit writes the changed rows with one `executemany`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

from leadflow_sf_emulator.ids import mint
from leadflow_sf_emulator.schema import ObjectDef, Schema
from leadflow_sf_emulator.values import parse_date, parse_datetime

Record = dict[str, Any]


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return "\x00dt" + value.isoformat()
    if isinstance(value, date):
        return "\x00d" + value.isoformat()
    raise TypeError(type(value).__name__)


_ENCODER = json.JSONEncoder(default=_json_default, separators=(",", ":"), ensure_ascii=False)


def _encode(rec: Record) -> str:
    return _ENCODER.encode({k: v for k, v in rec.items() if v is not None})


def _decode(obj: ObjectDef, text: str) -> Record:
    rec: Record = json.loads(text)
    for name, value in rec.items():
        if isinstance(value, str) and value.startswith("\x00"):
            if value.startswith("\x00dt"):
                rec[name] = datetime.fromisoformat(value[3:])
            elif value.startswith("\x00d"):
                rec[name] = date.fromisoformat(value[2:])
        elif value is not None and name in obj.fields:
            t = obj.fields[name].type
            if t == "datetime" and isinstance(value, str):
                rec[name] = parse_datetime(value)
            elif t == "date" and isinstance(value, str):
                rec[name] = parse_date(value)
    return rec


def index_key(value: Any) -> str:
    return str(value).lower()


class Store:
    def __init__(self, schema: Schema, path: str = ":memory:") -> None:
        self.schema = schema
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        if path != ":memory:":
            self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS records (id TEXT PRIMARY KEY, sobject TEXT NOT NULL, data TEXT NOT NULL)"
        )
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self.tables: dict[str, dict[str, Record]] = {}
        self.indexes: dict[tuple[str, str], dict[str, set[str]]] = {}
        self.meta: dict[str, str] = {}
        self._load()

    # ---- loading and indexes -------------------------------------------------------------------
    def _empty(self) -> None:
        self.tables = {name: {} for name in self.schema.objects}
        self.indexes = {
            (o.name, f.name): {}
            for o in self.schema.objects.values()
            for f in o.fields.values()
            if f.unique or f.external_id
        }
        self.indexes[("Lead", "Email")] = {}  # the duplicate rule matches on it
        self.indexes_by_object: dict[str, list[tuple[str, dict[str, set[str]]]]] = {}
        for (o, fname), idx in self.indexes.items():
            self.indexes_by_object.setdefault(o, []).append((fname, idx))

    def _load(self) -> None:
        self._empty()
        self.meta = dict(self.db.execute("SELECT key, value FROM meta").fetchall())
        for rid, sobject, data in self.db.execute("SELECT id, sobject, data FROM records"):
            obj = self.schema.objects.get(sobject)
            if obj is None:
                continue
            rec = _decode(obj, data)
            self.tables[sobject][rid] = rec
            self._index_add(sobject, rec)

    def _index_add(self, sobject: str, rec: Record) -> None:
        if rec.get("IsDeleted"):
            return
        for fname, idx in self.indexes_by_object.get(sobject, ()):
            v = rec.get(fname)
            if v is not None and v != "":
                idx.setdefault(index_key(v), set()).add(rec["Id"])

    def _index_remove(self, sobject: str, rec: Record) -> None:
        for fname, idx in self.indexes_by_object.get(sobject, ()):
            v = rec.get(fname)
            if v is not None and v != "":
                ids = idx.get(index_key(v))
                if ids:
                    ids.discard(rec["Id"])
                    if not ids:
                        del idx[index_key(v)]

    # ---- reads ----------------------------------------------------------------------------------
    def get(self, record_id: str) -> tuple[ObjectDef, Record] | None:
        obj = self.schema.object_for_id(record_id)
        if obj is None:
            return None
        rec = self.tables[obj.name].get(record_id)
        return (obj, rec) if rec is not None else None

    def find_by(self, sobject: str, field_name: str, value: Any) -> list[str]:
        idx = self.indexes.get((sobject, field_name))
        if idx is not None:
            return sorted(idx.get(index_key(value), ()))
        key = index_key(value)
        return sorted(
            rid
            for rid, r in self.tables[sobject].items()
            if not r.get("IsDeleted") and r.get(field_name) is not None and index_key(r[field_name]) == key
        )

    def records(self, sobject: str, *, include_deleted: bool = False) -> Iterator[Record]:
        for rec in self.tables[sobject].values():
            if include_deleted or not rec.get("IsDeleted"):
                yield rec

    def next_id(self, prefix: str) -> str:
        n = int(self.meta.get("id_counter", "0")) + 1
        self.meta["id_counter"] = str(n)
        return mint(prefix, n)

    def stamp(self, now: datetime) -> datetime:
        """A transaction timestamp: never earlier than, and always after, the previous one."""
        last = self.meta.get("last_stamp")
        if last:
            prev = datetime.fromisoformat(last)
            if now <= prev:
                now = prev + timedelta(milliseconds=1)
        self.meta["last_stamp"] = now.isoformat()
        return now

    def begin(self) -> Txn:
        return Txn(self)

    def wipe(self) -> None:
        self.db.execute("BEGIN")
        self.db.execute("DELETE FROM records")
        self.db.execute("DELETE FROM meta")
        self.db.execute("COMMIT")
        self.meta = {}
        self._empty()

    def save_meta(self, keys: list[str] | None = None) -> None:
        items = [(k, v) for k, v in self.meta.items() if keys is None or k in keys]
        self.db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", items)

    def close(self) -> None:
        self.db.close()


class Txn:
    """A unit of work: writes apply to memory at once, with an undo log; `commit` persists them."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._undo: list[tuple[str, str, Record | None]] = []
        self._touched: dict[str, str] = {}  # id -> sobject
        self._meta_before = dict(store.meta)
        self.done = False

    def put(self, sobject: str, rec: Record) -> None:
        table = self.store.tables[sobject]
        prev = table.get(rec["Id"])
        self._undo.append((sobject, rec["Id"], prev))
        if prev is not None:
            self.store._index_remove(sobject, prev)
        table[rec["Id"]] = rec
        self.store._index_add(sobject, rec)
        self._touched[rec["Id"]] = sobject

    def savepoint(self) -> int:
        return len(self._undo)

    def rollback_to(self, mark: int) -> None:
        while len(self._undo) > mark:
            sobject, rid, prev = self._undo.pop()
            table = self.store.tables[sobject]
            cur = table.get(rid)
            if cur is not None:
                self.store._index_remove(sobject, cur)
            if prev is None:
                table.pop(rid, None)
            else:
                table[rid] = prev
                self.store._index_add(sobject, prev)

    def rollback(self) -> None:
        self.rollback_to(0)
        self.store.meta.update({k: v for k, v in self._meta_before.items() if k != "id_counter"})
        self.done = True

    def commit(self) -> None:
        if self.done:
            return
        self.done = True
        st = self.store
        rows = []
        deletes = []
        for rid, sobject in self._touched.items():
            rec = st.tables[sobject].get(rid)
            if rec is None:
                deletes.append((rid,))
            else:
                rows.append((rid, sobject, _encode(rec)))
        db = st.db
        db.execute("BEGIN")
        try:
            if rows:
                db.executemany("INSERT OR REPLACE INTO records (id, sobject, data) VALUES (?, ?, ?)", rows)
            if deletes:
                db.executemany("DELETE FROM records WHERE id = ?", deletes)
            st.save_meta(["id_counter", "last_stamp"])
            db.execute("COMMIT")
        except Exception:
            db.execute("ROLLBACK")
            raise
