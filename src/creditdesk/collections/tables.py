"""The collections engine's own tables, beside the books in the same store.

``cases`` (one row per case, upserted), ``case_events`` (what happened to a case and
when: opened, stage, bucket, placed, recalled, closed), ``contact_plan`` (every
contact planned for a date, and every one the checker blocked, with the rule: both
answers are kept for audit) and ``case_runs`` (the closed date the cases were last
brought up to, so running again changes nothing). The twin's ``contacts``,
``promises`` and ``complaints`` are described in :mod:`creditdesk.simulate.tables`.

They live on any store that answers SQL (DuckDB and PostgreSQL): created and written
through the store's portable methods (``ensure_tables``, ``insert``, ``query``,
``execute``), so ``collect plan`` and ``collect case`` run unchanged on a
``postgresql://`` store; a Spark lake has no place for them (a clear ``StoreError``).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from creditdesk.collections.cases import CASE_EVENTS, CASES
from creditdesk.errors import StoreError
from creditdesk.store.base import Store

__all__ = ["CONTACT_PLAN", "append_rows", "create_collections_tables", "create_tables",
           "sql_store", "table_exists"]

_TS = pl.Datetime("us", "UTC")
CONTACT_PLAN: dict[str, Any] = {
    "business_date": pl.Date, "plan_id": pl.String, "case_id": pl.String,
    "account_id": pl.String, "customer_id": pl.String, "channel": pl.String,
    "party": pl.String, "planned_at": _TS, "local_time": pl.String, "purpose": pl.String,
    "template": pl.String, "message": pl.String, "conditional": pl.Boolean, "strategy": pl.String,
    "strategy_version": pl.Int32, "arm": pl.String, "value": pl.Float64,
    "status": pl.String, "rule": pl.String,
}
_TABLES: dict[str, dict[str, Any]] = {"cases": CASES, "case_events": CASE_EVENTS,
                                      "contact_plan": CONTACT_PLAN,
                                      "case_runs": {"as_of": pl.Date, "strategy": pl.String}}


def sql_store(store: Any, who: str = "collections planning") -> Store:
    """``store`` itself if it answers SQL (DuckDB, PostgreSQL); else a clear error.

    The collections tables are read and written through the store's portable methods
    (``query``, ``execute``, ``insert``, ``ensure_tables``), which a Spark lake lacks.
    """
    if not isinstance(store, Store) or store.dialect not in ("duckdb", "postgres"):
        raise StoreError(f"{who} needs a duckdb:// or postgresql:// store; "
                         f"got {type(store).__name__}")
    return store


def create_tables(store: Any, tables: dict[str, dict[str, Any]],
                  who: str = "collections planning") -> None:
    """``CREATE TABLE IF NOT EXISTS`` for each ``{name: {column: polars type}}``.

    Each engine maps the Polars types to its own (:mod:`creditdesk.store.sqltypes`).
    """
    sql_store(store, who).ensure_tables(tables)


def append_rows(store: Any, table: str, df: pl.DataFrame, schema: dict[str, Any] | None = None,
                who: str = "collections planning") -> None:
    """Insert ``df`` into ``table`` (cast to ``schema``'s columns and types when given).

    Columns are matched by name; on DuckDB the frame goes in as one Arrow scan, on
    PostgreSQL as one ``COPY``.
    """
    if df.height == 0:
        return
    if schema is not None:
        df = df.select([pl.col(c).cast(t) for c, t in schema.items()])
    sql_store(store, who).insert(table, df)


def create_collections_tables(store: Any) -> None:
    """Create the tables if missing (idempotent)."""
    create_tables(store, _TABLES)


def table_exists(store: Any, name: str) -> bool:
    """Whether ``name`` is a table of the store's own schema (its file, its PostgreSQL schema)."""
    return sql_store(store).has_table(name)
