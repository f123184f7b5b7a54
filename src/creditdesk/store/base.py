"""The Store contract every engine implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from creditdesk.errors import StoreError

__all__ = ["ADDED_COLUMNS", "BOOK_KEYS", "MIGRATIONS", "Store", "migration_sql", "parse_url"]

#: versioned schema migrations: (version, description). Each store applies the
#: ones it has not recorded, in order, inside one transaction.
MIGRATIONS: list[tuple[int, str]] = [
    (1, "books: customers, accounts, transactions, plans, instalments, state and history"),
    (2, "repayment arrangements: plan_state.schedule_date, account_day.holiday_until and "
        "holiday_months"),
]
#: columns each migration adds to tables version 1 created (a new store has them already)
ADDED_COLUMNS: dict[int, list[tuple[str, str]]] = {
    2: [("plan_state", "schedule_date"), ("account_day", "holiday_until"),
        ("account_day", "holiday_months")],
}


#: primary keys of the books' tables (every SQL engine)
BOOK_KEYS = {"customers": "customer_id", "accounts": "account_id", "transactions": "txn_id",
             "plans": "plan_id"}


def migration_sql(version: int, dialect: str) -> list[str]:
    """The statements of one schema migration for a SQL engine ("duckdb" or "postgres").

    Version 1 creates the books' tables (with their keys and the unique external id);
    a later version adds the columns :data:`ADDED_COLUMNS` lists, appended last, where
    the schema module lists them. One list, so DuckDB and PostgreSQL cannot drift.
    """
    from creditdesk.ledger.schema import TABLES
    from creditdesk.store.sqltypes import create_table_sql, sql_type

    out = []
    if version == 1:
        for name, schema in TABLES.items():
            key = BOOK_KEYS.get(name)
            out.append(create_table_sql(name, schema, dialect, (key,) if key else None))
        out.append("CREATE UNIQUE INDEX IF NOT EXISTS transactions_external_id "
                   "ON transactions (external_id)")
    out += [f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {col} "
            f"{sql_type(TABLES[table][col], dialect)}"
            for table, col in ADDED_COLUMNS.get(version, [])]
    return out


def parse_url(url: str) -> tuple[str, str]:
    """Split a store URL into (scheme, location), refusing unknown schemes.

    A PostgreSQL URL's location is the whole URL (``postgres://`` spelled
    ``postgresql://``): the driver needs its user, host, port and options.

    >>> parse_url("duckdb:///tmp/x.duckdb")
    ('duckdb', '/tmp/x.duckdb')
    >>> parse_url("duckdb:///./creditdesk.duckdb")
    ('duckdb', './creditdesk.duckdb')
    >>> parse_url("postgres://ana@db:5432/books")
    ('postgresql', 'postgresql://ana@db:5432/books')
    """
    accepted = "duckdb:///path, postgresql://user:pw@host:port/db or spark:///path"
    if "://" not in url:
        raise StoreError(f"store URL must look like {accepted}; got {_shown(url)!r}")
    scheme, rest = url.split("://", 1)
    if scheme in ("postgresql", "postgres"):
        if not rest.strip("/"):
            raise StoreError(f"store URL must name a database, as in {accepted}; "
                             f"got {_shown(url)!r}")
        return "postgresql", "postgresql://" + rest
    if scheme not in ("duckdb", "spark"):
        raise StoreError(f"store URL scheme must be duckdb, postgresql (or postgres) or spark, "
                         f"as in {accepted}; got {scheme!r} in {_shown(url)!r}")
    location = rest[1:] if rest.startswith("/./") else rest
    if rest.startswith("/./"):
        location = "./" + rest[3:]
    if not location:
        raise StoreError(f"store URL must name a path; got {url!r}")
    return scheme, location


def _shown(url: str) -> str:
    """``url`` fit for an error message: a password after ``user:`` is dropped."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    userinfo, host = rest.split("@", 1) if "@" in rest.split("/", 1)[0] else ("", rest)
    if not userinfo:
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}@{host}"


class Store(ABC):
    """Reads frames, and writes them atomically per business date."""

    location: Path

    @abstractmethod
    def migrate(self) -> None: ...

    @abstractmethod
    def read(self, table: str, where: str | None = None,
             params: list[object] | None = None, *, few: bool = False) -> pl.DataFrame:
        """Rows of ``table`` matching a SQL ``where`` clause with ``?`` parameters.

        ``few``: the caller expects a handful of rows (a point lookup by account or
        customer), so a store may skip a bulk transfer path whose fixed cost only pays
        on many rows; the result is the same.
        """

    def held(self, table: str, where: str | None = None,
             params: list[object] | None = None) -> pl.DataFrame | None:
        """What ``read`` would return, if this store holds it in memory; else None.

        A caller that would read a few columns by SQL (to move less data) asks first:
        the rows held are cheaper than any query. Stores hold nothing by default.
        """
        return None

    @abstractmethod
    def transaction(self, kind: str = "load", business_date: date | None = None
                    ) -> AbstractContextManager[None]:
        """All writes inside are committed together or not at all."""

    def close_date(self, d: date, params: Any) -> None:
        """Close business date ``d`` (engines may run the kernel their own way)."""
        from creditdesk.ledger.eod import close_in_process

        close_in_process(self, d, params)

    def close_dates(self, start: date, end: date, params: Any,
                    on_date: Any = None) -> None:
        """Close ``start``..``end`` in order; by default one transaction per date."""
        from datetime import timedelta

        total = (end - start).days + 1
        for i in range(total):
            d = start + timedelta(days=i)
            self.close_date(d, params)
            if on_date:
                on_date(d, i + 1, total)

    @abstractmethod
    def append(self, table: str, df: pl.DataFrame) -> None: ...

    @abstractmethod
    def replace_state(self, table: str, df: pl.DataFrame) -> None:
        """Make ``df`` the whole current content of a state table."""

    @abstractmethod
    def scalar(self, sql: str, params: list[object] | None = None) -> object: ...

    #: the SQL dialect of ``query``/``execute``: "duckdb", "postgres" or "spark"
    dialect: str = ""

    def query(self, sql: str, params: list[object] | None = None) -> pl.DataFrame:
        """Rows of any ``SELECT`` with ``?`` parameters, as a frame (portable SQL only)."""
        raise StoreError(f"{type(self).__name__} does not answer ad-hoc queries; "
                         "use a duckdb:// or postgresql:// store")

    def execute(self, sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
        """Run one statement with ``?`` parameters; its rows, if any."""
        raise StoreError(f"{type(self).__name__} does not run ad-hoc statements; "
                         "use a duckdb:// or postgresql:// store")

    def insert(self, table: str, df: pl.DataFrame) -> None:
        """Append ``df``'s rows to any table, matching columns by name."""
        raise StoreError(f"{type(self).__name__} cannot insert into {table}; "
                         "use a duckdb:// or postgresql:// store")

    def own_tables_condition(self) -> str:
        """The ``information_schema.tables`` condition for this store's own tables."""
        return ("table_schema = current_schema()" if self.dialect == "postgres"
                else "table_catalog = current_database()")

    def has_table(self, name: str) -> bool:
        """Whether ``name`` exists in the store's own schema (DuckDB file / PostgreSQL schema)."""
        known: set[str] = self.__dict__.setdefault("_known_tables", set())
        pending: set[str] = self.__dict__.setdefault("_pending_tables", set())
        if name in known or name in pending:  # tables are never dropped: a yes is kept
            return True
        rows = self.execute("SELECT count(*) FROM information_schema.tables WHERE "
                            f"{self.own_tables_condition()} "
                            "AND table_name = ?", [name])
        if rows[0][0]:
            # inside a transaction the table may be one it created: kept only if it commits
            (pending if getattr(self, "_in_txn", False) else known).add(name)
        return bool(rows[0][0])

    def _transaction_ended(self, committed: bool) -> None:
        """Called by a store's :meth:`transaction` as it ends: the tables seen inside
        are remembered if it committed, forgotten if it rolled back."""
        pending: set[str] = self.__dict__.setdefault("_pending_tables", set())
        if committed:
            self.__dict__.setdefault("_known_tables", set()).update(pending)
        pending.clear()

    def ensure_tables(self, tables: dict[str, dict[str, Any]],
                      keys: dict[str, tuple[str, ...]] | None = None) -> None:
        """``CREATE TABLE IF NOT EXISTS`` each ``{name: {column: polars type}}``.

        ``keys`` gives a table's primary key. Types map to each engine's own
        (see :data:`creditdesk.store.sqltypes.SQL_TYPES`).
        """
        raise StoreError(f"{type(self).__name__} cannot create tables; "
                         "use a duckdb:// or postgresql:// store")

    def last_closed(self) -> date | None:
        value = self.scalar("SELECT max(business_date) FROM closed_dates")
        return value if isinstance(value, date) else None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the engine's resources."""

    def iter_tables(self) -> Iterator[str]:
        from creditdesk.ledger.schema import TABLES

        yield from TABLES
