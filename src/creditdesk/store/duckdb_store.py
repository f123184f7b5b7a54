"""The embedded DuckDB store: one file, real transactions.

Every closed business date is written in a single transaction, so a crash
(even ``kill -9``) leaves the books exactly as of the previous date: DuckDB
replays only committed work from its write-ahead log.

The file is attached with row groups of ``ROW_GROUP_SIZE`` rows (DuckDB's default
is 122,880). A date appends about one ``account_day`` row and one or two journal
lines per account; with row groups smaller than that, DuckDB writes the appended
rows compressed straight into the file during the ``INSERT`` (its optimistic
write) instead of holding them in memory and compressing them in the commit's
checkpoint: at 100,000 accounts a date's write costs about a third less CPU, at a
million accounts the bill date's write about 60 % less (BENCHMARKS.md), for ~3 %
more blocks. Stores opened on the same file in one process share one DuckDB
instance (a file can be attached only once per process).

Checkpoints do not vacuum (``max_vacuum_tasks = 0``). A date appends ~130,000
``account_day`` rows as two full row groups and a short tail; the vacuum merged each tail
with the next date's groups, and every merge shifted the next tail, so a checkpoint
rewrote the table from the first tail on (9 s at the twin's close after 180 dates at
100,000 customers, and the file grew by the blocks it left behind). Row groups whose rows
are all deleted (a state table's old content) are still dropped; rows deleted here and
there stay marked deleted in their group.

What this process holds in memory instead of reading back (only while one store uses the
instance; any write to a table through a store drops its copy, a rolled-back transaction
drops them all):

* the state after the last date closed here (``keep_state``): ``account_day`` of that
  date, ``dues``, ``plan_state``;
* ``accounts``, read whole once and filtered in memory (the end of day and the loader
  read it on every date);
* ``plan_state`` as last written, so that ``replace_state`` writes only the plans that
  changed (most change only their date);
* the last closed date.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from creditdesk.errors import StoreError
from creditdesk.ledger.schema import TABLES
from creditdesk.store.base import MIGRATIONS, Store, migration_sql
from creditdesk.store.sqltypes import create_table_sql

__all__ = ["ROW_GROUP_SIZE", "DuckDBStore"]

#: rows per row group of every table in the file (see the module docstring)
ROW_GROUP_SIZE = 61_440
#: the catalog name of the books' file inside the store's DuckDB instance
_CATALOG = "books"


class _Instance:
    """One DuckDB instance with the books' file attached, shared by the stores on it."""

    def __init__(self, path: Path) -> None:
        self.root = duckdb.connect()
        quoted = str(path).replace("'", "''")
        self.root.execute(f"ATTACH '{quoted}' AS {_CATALOG} (ROW_GROUP_SIZE {ROW_GROUP_SIZE})")
        self.root.execute("SET max_vacuum_tasks = 0").fetchall()  # see the module docstring
        # what DuckDB spills past its memory limit goes beside the books, not into the
        # current folder (an in-memory instance's default, ".tmp")
        spill = str(path.resolve()) + ".tmp"
        self.root.execute(f"SET temp_directory = '{spill.replace(chr(39), chr(39) * 2)}'"
                          ).fetchall()
        self.users = 0
        #: (date, its closed_at marker, state frames) after the last date closed on it
        self.kept: tuple[date, object, dict[str, pl.DataFrame]] | None = None
        #: tables' content as this process last read or wrote it (see the module docstring)
        self.mirror: dict[str, pl.DataFrame] = {}
        #: small facts about the books, dropped with the mirror: "last_closed"
        self.known: dict[str, object] = {}

    def connect(self, *, user: bool = True) -> duckdb.DuckDBPyConnection:
        con = self.root.cursor()
        con.execute(f"USE {_CATALOG}")
        self.users += user
        return con


_INSTANCES: dict[Path, _Instance] = {}

#: state tables rewritten incrementally, by their unique key (see ``replace_state``).
#: Not ``dues``: the day's penalty changes every overdue item, about half the rows in the
#: twin and ~88 % in the benchmark's book, so it is replaced whole.
_STATE_KEYS = {"plan_state": "plan_id"}
#: more rows than this share of the new content changed: the database compares them all
_REWRITE_SHARE = 0.5

#: what closing the next date reads of the books' state (kept in memory, see ``keep_state``)
_KEPT_TABLES = ("account_day", "dues", "plan_state")
#: tables whose writes drop what this process holds in memory of them
_WATCHED = (*_KEPT_TABLES, "closed_dates", "accounts")
_WRITES_WATCHED = re.compile(
    r"\b(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?|"
    r"DROP\s+TABLE|ALTER\s+TABLE|COPY|CREATE\s+(?:OR\s+REPLACE\s+)?TABLE)\s+"
    r"(?:IF\s+(?:NOT\s+)?EXISTS\s+)?(?:(?:books|main)\.)*(" + "|".join(_WATCHED) + r")\b",
    re.IGNORECASE)


class DuckDBStore(Store):
    """Books in one DuckDB file."""

    dialect = "duckdb"

    def __init__(self, path: str) -> None:
        self.location = Path(path)
        try:
            self.location.parent.mkdir(parents=True, exist_ok=True)
            key = self.location.resolve()
            if key not in _INSTANCES:
                _INSTANCES[key] = _Instance(self.location)
            self._instance: _Instance | None = _INSTANCES[key]
            self._key = key
            self.con = self._instance.connect()
        except (duckdb.Error, OSError) as exc:
            raise StoreError(f"cannot open DuckDB store at {path!r}: {exc}") from exc
        self._in_txn = False

    def reader(self) -> duckdb.DuckDBPyConnection:
        """A second connection to the file for reads from another thread (it sees what
        is committed). Not counted as a store on the file: what this store holds in
        memory stays in use; the caller closes it before the store."""
        if self._instance is None:
            raise StoreError(f"the DuckDB store at {str(self.location)!r} is closed")
        return self._instance.connect(user=False)

    @property
    def _kept(self) -> tuple[date, object, dict[str, pl.DataFrame]] | None:
        return self._instance.kept if self._instance else None

    @_kept.setter
    def _kept(self, value: tuple[date, object, dict[str, pl.DataFrame]] | None) -> None:
        if self._instance:
            self._instance.kept = value

    def migrate(self) -> None:
        self._exec("CREATE TABLE IF NOT EXISTS schema_migrations "
                   "(version INTEGER PRIMARY KEY, description VARCHAR, applied_at TIMESTAMPTZ)")
        done = {r[0] for r in self._exec("SELECT version FROM schema_migrations")}
        for version, description in MIGRATIONS:
            if version in done:
                continue
            self._forget()  # a migration changes tables under what memory holds
            with self.transaction():
                for sql in migration_sql(version, "duckdb"):
                    self._exec(sql)
                self._exec("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                                 [version, description, datetime.now(UTC)])

    def read(self, table: str, where: str | None = None,
             params: list[object] | None = None, *, few: bool = False) -> pl.DataFrame:
        held = self._held(table, where, params)
        if held is not None:
            return held
        return self._read_file(table, where, params)

    def _read_file(self, table: str, where: str | None = None,
                   params: list[object] | None = None) -> pl.DataFrame:
        cols = ", ".join(TABLES[table]) if table in TABLES else "*"
        sql = f"SELECT {cols} FROM {table}" + (f" WHERE {where}" if where else "")
        rel = self.con.sql(sql, params=params) if params else self.con.sql(sql)
        df = pl.from_arrow(rel.to_arrow_table()) if rel is not None else pl.DataFrame()
        assert isinstance(df, pl.DataFrame)
        if table in TABLES:
            df = df.select([pl.col(c).cast(t) for c, t in TABLES[table].items()])
        return df

    def held(self, table: str, where: str | None = None,
             params: list[object] | None = None) -> pl.DataFrame | None:
        return self._held(table, where, params)

    def _alone(self) -> bool:
        """Whether this store is the only one on its DuckDB instance (then what the
        instance holds in memory is what this store's connection sees in the file)."""
        return self._instance is not None and self._instance.users == 1

    def _held(self, table: str, where: str | None,
              params: list[object] | None) -> pl.DataFrame | None:
        """A read answered from memory, the same rows in the same order as the file's,
        or None: ``accounts`` whole or opened by a date, and ``account_day`` of the
        date whose state is kept."""
        if not self._alone() or self._instance is None:
            return None
        day = params[0] if params and len(params) == 1 else None
        if where is not None and (not isinstance(day, date) or isinstance(day, datetime)):
            return None
        assert day is None or isinstance(day, date)
        if table == "accounts" and where in (None, "opened <= ?"):
            mirror = self._instance.mirror
            if "accounts" not in mirror:
                mirror["accounts"] = self._read_file("accounts")
            acc = mirror["accounts"]
            return acc.clone() if where is None else acc.filter(pl.col("opened") <= day)
        if table == "account_day" and where == "business_date = ?" and day is not None:
            state = self.kept_state(day)
            if state is not None and state["account_day"].schema == pl.Schema(TABLES[table]):
                return state["account_day"].clone()
        return None

    def _wrote(self, *tables: str) -> None:
        """A write to ``tables`` (about to run): what memory holds of them is dropped."""
        if not tables or self._instance is None:
            return
        for t in tables:
            t = t.lower()
            self._instance.mirror.pop(t, None)
            if t in _KEPT_TABLES or t == "closed_dates":
                self._instance.kept = None
            if t == "closed_dates":
                self._instance.known.clear()

    def _forget(self) -> None:
        """A transaction did not commit: nothing held in memory is trusted any more."""
        if self._instance is not None:
            self._instance.kept = None
            self._instance.mirror.clear()
            self._instance.known.clear()

    def scalar(self, sql: str, params: list[object] | None = None) -> object:
        self._wrote(*_WRITES_WATCHED.findall(sql))
        rows = self._exec(sql, params)
        return rows[0][0] if rows else None

    def query(self, sql: str, params: list[object] | None = None) -> pl.DataFrame:
        rel = self.con.sql(sql, params=params) if params else self.con.sql(sql)
        df = pl.from_arrow(rel.to_arrow_table())
        assert isinstance(df, pl.DataFrame)
        return df

    def execute(self, sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
        self._wrote(*_WRITES_WATCHED.findall(sql))
        return self._exec(sql, params)

    def insert(self, table: str, df: pl.DataFrame) -> None:
        if table in TABLES:
            self.append(table, df)
            return
        if df.height == 0:
            return
        name = f"_incoming_{table}"
        self.con.register(name, df.to_arrow())
        try:
            cols = ", ".join(df.columns)
            self._exec(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {name}")
        finally:
            self.con.unregister(name)

    def ensure_tables(self, tables: dict[str, dict[str, Any]],
                      keys: dict[str, tuple[str, ...]] | None = None) -> None:
        for name, schema in tables.items():
            self._exec(create_table_sql(name, schema, "duckdb", (keys or {}).get(name)))

    def _exec(self, sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
        """Run a statement to completion (DuckDB 2 wants every result consumed)."""
        return self.con.execute(sql, params or []).fetchall()

    @contextmanager
    def transaction(self, kind: str = "load", business_date: date | None = None
                    ) -> Iterator[None]:
        if self._in_txn:
            yield
            return
        self._exec("BEGIN TRANSACTION")
        self._in_txn = True
        committed = False
        try:
            yield
        except BaseException:
            self._exec("ROLLBACK")
            raise
        else:
            self._exec("COMMIT")
            committed = True
        finally:
            self._in_txn = False
            if not committed:
                self._forget()
            self._transaction_ended(committed)

    def keep_state(self, d: date, frames: dict[str, pl.DataFrame]) -> None:
        """Remember the state after closing ``d`` (just written) for closing the next date.

        Closing ``d + 1`` then reads it from memory instead of the file. It is dropped
        when anything is written to a state table or to ``closed_dates`` through a store
        on this file, and when a transaction does not commit (the one closing ``d``
        included, when ``d`` was closed inside a caller's transaction); DuckDB lets no
        other process write the file while this one has it open. While other stores
        share the instance (their connections see other transactions), it is also
        checked against the date's ``closed_dates`` marker before each use.
        """
        if self._alone():
            self._kept = (d, None, {t: frames[t] for t in _KEPT_TABLES})
            return
        marker = self._exec("SELECT closed_at FROM closed_dates WHERE business_date = ?", [d])
        self._kept = (d, marker, {t: frames[t] for t in _KEPT_TABLES}) if marker else None

    def kept_state(self, d: date) -> dict[str, pl.DataFrame] | None:
        """The state after closing ``d`` if this store still holds it, else None."""
        if self._kept is None or self._kept[0] != d:
            return None
        if self._alone() and self._kept[1] is None:
            return self._kept[2]
        marker = self._exec("SELECT closed_at FROM closed_dates WHERE business_date = ?", [d])
        if self._kept[1] is None or marker != self._kept[1]:
            self._kept = None
            return None
        return self._kept[2]

    def last_closed(self) -> date | None:
        inst = self._instance
        if inst is not None and self._alone() and "last_closed" in inst.known:
            value = inst.known["last_closed"]
            return value if isinstance(value, date) else None
        value = super().last_closed()
        if inst is not None and self._alone():
            inst.known["last_closed"] = value
        return value

    def append(self, table: str, df: pl.DataFrame) -> None:
        known = dict(self._instance.known) if self._instance is not None else {}
        self._wrote(table)
        if df.height == 0:
            return
        self._insert_frame(table, df)
        if table == "closed_dates" and "last_closed" in known and self._alone():
            # the last closed date moves with the dates appended (kept, not read back)
            days = [x for x in (known["last_closed"], df.get_column("business_date").max())
                    if isinstance(x, date)]
            assert self._instance is not None
            self._instance.known["last_closed"] = max(days) if days else None

    def _insert_frame(self, table: str, df: pl.DataFrame) -> None:
        arrow = df.select(list(TABLES[table])).to_arrow()
        self.con.register("_incoming", arrow)
        try:
            self._exec(f"INSERT INTO {table} SELECT * FROM _incoming")
        finally:
            self.con.unregister("_incoming")

    def replace_state(self, table: str, df: pl.DataFrame) -> None:
        inst = self._instance
        prev = inst.mirror.get(table) if inst is not None and self._alone() else None
        self._wrote(table)
        key = _STATE_KEYS.get(table)
        new = df.select(list(TABLES[table]))
        if key is None or new.height == 0 or new.get_column(key).n_unique() != new.height:
            self._exec(f"DELETE FROM {table}")
            if new.height:
                self._insert_frame(table, new)
        elif prev is None or not self._write_changes(table, key, prev, new):
            self._write_unknown_changes(table, key, new)
        if key is not None and inst is not None and self._alone():
            inst.mirror[table] = new

    def _write_changes(self, table: str, key: str, prev: pl.DataFrame,
                       new: pl.DataFrame) -> bool:
        """Rewrite ``table`` from ``prev`` (its content) to ``new``, touching only the rows
        that changed; False (nothing written) when that is not worth it.

        A row whose columns other than ``business_date`` are unchanged is kept and
        re-dated; the others are deleted by key and the new ones inserted. Same content
        as a full rewrite; most plans and open items do not change on a date.
        """
        day = new.get_column("business_date")
        if (day.null_count() or day.n_unique() != 1 or prev.height == 0
                or prev.get_column(key).n_unique() != prev.height):
            return False
        rest = [c for c in new.columns if c not in ("business_date", key)]
        both = prev.join(new, on=key, how="inner", suffix="_new")
        same = both.filter(pl.all_horizontal(
            [pl.col(c).eq_missing(pl.col(f"{c}_new")) for c in rest])).get_column(key)
        gone = prev.select(key).filter(~pl.col(key).is_in(same.implode()))
        fresh = new.filter(~pl.col(key).is_in(same.implode()))
        if gone.height + fresh.height > _REWRITE_SHARE * new.height:
            return False
        if gone.height:
            self.con.register("_gone", gone.to_arrow())
            try:
                self._exec(f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM _gone)")
            finally:
                self.con.unregister("_gone")
        d = day[0]
        self._exec(f"UPDATE {table} SET business_date = ? "
                   f"WHERE business_date IS DISTINCT FROM ?", [d, d])
        if fresh.height:
            self._insert_frame(table, fresh)
        return True

    def _write_unknown_changes(self, table: str, key: str, new: pl.DataFrame) -> None:
        """As ``_write_changes`` without knowing the table's content: the database
        compares every row with the incoming ones."""
        same = " AND ".join(f"i.{c} IS NOT DISTINCT FROM t.{c}" for c in TABLES[table]
                            if c != "business_date")
        self.con.register("_incoming", new.to_arrow())
        try:
            self._exec(f"DELETE FROM {table} t WHERE NOT EXISTS "
                       f"(SELECT 1 FROM _incoming i WHERE {same})")
            self._exec(f"UPDATE {table} t SET business_date = i.business_date FROM _incoming i "
                       f"WHERE i.{key} = t.{key} "
                       f"AND t.business_date IS DISTINCT FROM i.business_date")
            self._exec(f"INSERT INTO {table} SELECT * FROM _incoming i WHERE NOT EXISTS "
                       f"(SELECT 1 FROM {table} t WHERE t.{key} = i.{key})")
        finally:
            self.con.unregister("_incoming")

    def close(self) -> None:
        inst, self._instance = self._instance, None
        if inst is None:
            return
        self.con.close()
        inst.users -= 1
        if inst.users == 0:  # the last store on the file: detach it (DuckDB checkpoints)
            _INSTANCES.pop(self._key, None)
            inst.root.close()
