"""The twin's own tables: contacts made (or blocked), promises, complaints, monthly statuses.

These are what the collection strategy (through :mod:`creditdesk.collections.gate`) and
the simulated borrowers produce; ``collect plan`` reads ``contacts``, ``promises`` and
``complaints`` as the collections engine's history. They sit beside the books in the
same store so the console and the reports read one store. They are created and written
through the store's portable methods, so a live PostgreSQL book can hold the same
tables (the console records contacts and promises there); the twin itself runs on DuckDB.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from creditdesk.collections.features import FEATURES
from creditdesk.collections.tables import append_rows, create_tables
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
    # repayment arrangements a strategy offered (simulate/offers.py), one row per offer
    # and date: outcome refused (by the arrangements policy: policy_rule), blocked (the
    # checker blocked its contact), not_reached, declined, accepted (external_id of the
    # arrangement loaded through collections.arrangements.offer) or rejected (the policy
    # refused it when posted)
    "offers": {
        "business_date": pl.Date, "account_id": pl.String, "customer_id": pl.String,
        "strategy": pl.String, "strategy_version": pl.Int32, "arm": pl.String,
        "rule": pl.String, "kind": pl.String, "terms": pl.Int32, "amount": pl.Int64,
        "channel": pl.String, "dpd": pl.Int32, "bucket": pl.String, "outcome": pl.String,
        "policy_rule": pl.String, "reason": pl.String, "external_id": pl.String,
    },
}

def create_sim_tables(store: Store) -> None:
    """Create the twin's tables (empty) if they are missing."""
    create_tables(store, SIM_TABLES, who="the digital twin")


def append_sim(store: Store, table: str, df: pl.DataFrame) -> None:
    """Append rows with the table's exact columns and types."""
    append_rows(store, table, df, SIM_TABLES[table], who="the digital twin")
