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
        self.users = 0
        #: (date, its closed_at marker, state frames) after the last date closed on it
        self.kept: tuple[date, object, dict[str, pl.DataFrame]] | None = None

    def connect(self) -> duckdb.DuckDBPyConnection:
        con = self.root.cursor()
        con.execute(f"USE {_CATALOG}")
        self.users += 1
        return con


_INSTANCES: dict[Path, _Instance] = {}

#: state tables rewritten incrementally, by their unique key (see ``replace_state``)
_STATE_KEYS = {"plan_state": "plan_id"}

#: what closing the next date reads of the books' state (kept in memory, see ``keep_state``)
_KEPT_TABLES = ("account_day", "dues", "plan_state")
_WRITES_KEPT = re.compile(
    r"\b(INSERT\s+INTO|UPDATE|DELETE\s+FROM|TRUNCATE|DROP\s+TABLE|ALTER\s+TABLE|"
    r"CREATE\s+(OR\s+REPLACE\s+)?TABLE)\s+(IF\s+(NOT\s+)?EXISTS\s+)?(main\.)?("
    + "|".join((*_KEPT_TABLES, "closed_dates")) + r")\b", re.IGNORECASE)


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
            with self.transaction():
                for sql in migration_sql(version, "duckdb"):
                    self._exec(sql)
                self._exec("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                                 [version, description, datetime.now(UTC)])

    def read(self, table: str, where: str | None = None,
             params: list[object] | None = None, *, few: bool = False) -> pl.DataFrame:
        cols = ", ".join(TABLES[table]) if table in TABLES else "*"
        sql = f"SELECT {cols} FROM {table}" + (f" WHERE {where}" if where else "")
        rel = self.con.sql(sql, params=params) if params else self.con.sql(sql)
        df = pl.from_arrow(rel.to_arrow_table()) if rel is not None else pl.DataFrame()
        assert isinstance(df, pl.DataFrame)
        if table in TABLES:
            df = df.select([pl.col(c).cast(t) for c, t in TABLES[table].items()])
        return df

    def scalar(self, sql: str, params: list[object] | None = None) -> object:
        if _WRITES_KEPT.search(sql):
            self._kept = None
        rows = self._exec(sql, params)
        return rows[0][0] if rows else None

    def query(self, sql: str, params: list[object] | None = None) -> pl.DataFrame:
        rel = self.con.sql(sql, params=params) if params else self.con.sql(sql)
        df = pl.from_arrow(rel.to_arrow_table())
        assert isinstance(df, pl.DataFrame)
        return df

    def execute(self, sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
        if _WRITES_KEPT.search(sql):
            self._kept = None
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
            self._transaction_ended(committed)

    def keep_state(self, d: date, frames: dict[str, pl.DataFrame]) -> None:
        """Remember the state after closing ``d`` (just committed) for closing the next date.

        Closing ``d + 1`` then reads it from memory instead of the file. It is used only
        while the date's ``closed_dates`` marker is unchanged and nothing was written to
        a state table through this store since (both checked in ``kept_state``); DuckDB
        lets no other process write the file while this one has it open.
        """
        marker = self._exec("SELECT closed_at FROM closed_dates WHERE business_date = ?", [d])
        self._kept = (d, marker, {t: frames[t] for t in _KEPT_TABLES}) if marker else None

    def kept_state(self, d: date) -> dict[str, pl.DataFrame] | None:
        """The state after closing ``d`` if this store still holds it, else None."""
        if self._kept is None or self._kept[0] != d:
            return None
        marker = self._exec("SELECT closed_at FROM closed_dates WHERE business_date = ?", [d])
        if marker != self._kept[1]:
            self._kept = None
            return None
        return self._kept[2]

    def append(self, table: str, df: pl.DataFrame) -> None:
        if table in _KEPT_TABLES or table == "closed_dates":
            self._kept = None
        if df.height == 0:
            return
        arrow = df.select(list(TABLES[table])).to_arrow()
        self.con.register("_incoming", arrow)
        try:
            self._exec(f"INSERT INTO {table} SELECT * FROM _incoming")
        finally:
            self.con.unregister("_incoming")

    def replace_state(self, table: str, df: pl.DataFrame) -> None:
        self._kept = None
        key = _STATE_KEYS.get(table)
        if key is None or df.height == 0 or df.get_column(key).n_unique() != df.height:
            self._exec(f"DELETE FROM {table}")
            self.append(table, df)
            return
        # Most plans do not change on a date but their business_date: keep the rows that
        # are otherwise identical, re-date them, delete the rest and insert what is new.
        # Same content as a full rewrite, far fewer rows rewritten at the checkpoint.
        same = " AND ".join(f"i.{c} IS NOT DISTINCT FROM t.{c}" for c in TABLES[table]
                            if c != "business_date")
        arrow = df.select(list(TABLES[table])).to_arrow()
        self.con.register("_incoming", arrow)
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
