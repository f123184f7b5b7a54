"""The twin's own tables: contacts made (or blocked), promises, complaints, monthly statuses.

These are what the built-in reminder-and-call policy and the simulated borrowers
produce; the collections engine will own ``contacts``/``promises``/``complaints`` once
it exists (DESIGN.md lists them as collections' tables). They sit beside the books in
the same embedded DuckDB file so the console and the reports read one store.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from creditdesk.collections.features import FEATURES
from creditdesk.errors import StoreError
from creditdesk.store.base import Store

__all__ = ["SIM_TABLES", "append_sim", "create_sim_tables"]

_TS = pl.Datetime("us", "UTC")
SIM_TABLES: dict[str, dict[str, Any]] = {
    "contacts": {
        "business_date": pl.Date, "contact_ts": _TS, "customer_id": pl.String,
        "account_id": pl.String, "purpose": pl.String, "channel": pl.String,
        "allowed": pl.Boolean, "rule": pl.String, "outcome": pl.String, "promise": pl.Boolean,
        "dpd": pl.Int32, "bucket": pl.String, "strategy": pl.String, "arm": pl.String,
        "cost": pl.Int64, "assignee": pl.String,
    },
    "promises": {
        "business_date": pl.Date, "account_id": pl.String, "channel": pl.String,
        "promise_date": pl.Date, "amount": pl.Int64,
    },
    "complaints": {
        "business_date": pl.Date, "customer_id": pl.String, "account_id": pl.String,
        "dpd": pl.Int32, "annoyance": pl.Float64,
    },
    # the optimized strategy's decisions, one row per account offered a menu: the
    # treatment (a contact label or "none"), the known propensity in explore arms
    # (NULL when planned), the planner's value and the features the decision saw
    "treatments": {
        "business_date": pl.Date, "account_id": pl.String, "customer_id": pl.String,
        "strategy": pl.String, "arm": pl.String, "treatment": pl.String,
        "propensity": pl.Float64, "value": pl.Float64, "total_due": pl.Int64,
        "overdue": pl.Int64, **{k: pl.Float64 for k in FEATURES},
    },
    "sim_status": {
        "business_date": pl.Date, "account_id": pl.String, "product": pl.String,
        "status": pl.Int8, "target": pl.Int8,
    },
}

_SQL = {pl.Date: "DATE", _TS: "TIMESTAMPTZ", pl.String: "VARCHAR", pl.Boolean: "BOOLEAN",
        pl.Int32: "INTEGER", pl.Int64: "BIGINT", pl.Int8: "TINYINT", pl.Float64: "DOUBLE"}


def _con(store: Store) -> Any:
    con = getattr(store, "con", None)
    if con is None:
        raise StoreError("the digital twin writes its tables to a DuckDB store; got "
                         f"{type(store).__name__}")
    return con


def create_sim_tables(store: Store) -> None:
    """Create the twin's tables (empty) if they are missing."""
    con = _con(store)
    for name, schema in SIM_TABLES.items():
        cols = ", ".join(f"{c} {_SQL[t]}" for c, t in schema.items())
        con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({cols})").fetchall()


def append_sim(store: Store, table: str, df: pl.DataFrame) -> None:
    """Append rows with the table's exact columns and types."""
    if df.height == 0:
        return
    schema = SIM_TABLES[table]
    arrow = df.select([pl.col(c).cast(t) for c, t in schema.items()]).to_arrow()
    con = _con(store)
    con.register("_sim_incoming", arrow)
    try:
        con.execute(f"INSERT INTO {table} SELECT * FROM _sim_incoming").fetchall()
    finally:
        con.unregister("_sim_incoming")
