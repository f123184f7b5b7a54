"""The collections engine's own tables, beside the books in the same store.

``cases`` (one row per case, upserted), ``case_events`` (what happened to a case and
when: opened, stage, bucket, placed, recalled, closed), ``contact_plan`` (every
contact planned for a date, and every one the checker blocked, with the rule: both
answers are kept for audit) and ``case_runs`` (the closed date the cases were last
brought up to, so running again changes nothing). DuckDB; the twin's ``contacts``,
``promises`` and ``complaints`` are described in :mod:`creditdesk.simulate.tables`.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from creditdesk.collections.cases import CASE_EVENTS, CASES
from creditdesk.errors import StoreError

__all__ = ["CONTACT_PLAN", "append_rows", "create_collections_tables", "create_tables", "duck",
           "table_exists"]

_TS = pl.Datetime("us", "UTC")
CONTACT_PLAN: dict[str, Any] = {
    "business_date": pl.Date, "plan_id": pl.String, "case_id": pl.String,
    "account_id": pl.String, "customer_id": pl.String, "channel": pl.String,
    "party": pl.String, "planned_at": _TS, "local_time": pl.String, "purpose": pl.String,
    "template": pl.String, "message": pl.String, "conditional": pl.Boolean, "strategy": pl.String,
    "strategy_version": pl.Int32, "arm": pl.String, "value": pl.Float64,
    "status": pl.String, "rule": pl.String,
}
_SQL = {pl.Date: "DATE", _TS: "TIMESTAMPTZ", pl.String: "VARCHAR", pl.Boolean: "BOOLEAN",
        pl.Int8: "TINYINT", pl.Int32: "INTEGER", pl.Int64: "BIGINT", pl.Float64: "DOUBLE"}
_TABLES: dict[str, dict[str, Any]] = {"cases": CASES, "case_events": CASE_EVENTS,
                                      "contact_plan": CONTACT_PLAN,
                                      "case_runs": {"as_of": pl.Date, "strategy": pl.String}}


def duck(store: Any, who: str = "collections planning") -> Any:
    """The store's DuckDB connection (these tables live on DuckDB)."""
    con = getattr(store, "con", None)
    if con is None:
        raise StoreError(f"{who} needs a DuckDB store; got {type(store).__name__}")
    return con


def create_tables(con: Any, tables: dict[str, dict[str, Any]]) -> None:
    """``CREATE TABLE IF NOT EXISTS`` for each ``{name: {column: polars type}}``."""
    for name, schema in tables.items():
        cols = ", ".join(f"{c} {_SQL[t]}" for c, t in schema.items())
        con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({cols})").fetchall()


def append_rows(con: Any, table: str, df: pl.DataFrame, schema: dict[str, Any] | None = None
                ) -> None:
    """Insert ``df`` into ``table`` (cast to ``schema``'s columns and types when given)."""
    if df.height == 0:
        return
    if schema is not None:
        df = df.select([pl.col(c).cast(t) for c, t in schema.items()])
    name = f"_incoming_{table}"
    con.register(name, df.to_arrow())
    try:
        con.execute(f"INSERT INTO {table} SELECT * FROM {name}").fetchall()
    finally:
        con.unregister(name)


def create_collections_tables(store: Any) -> None:
    """Create the tables if missing (idempotent)."""
    create_tables(duck(store), _TABLES)


def table_exists(con: Any, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                            [name]).fetchall()[0][0])
