"""Tiny hand-made inputs for doctests and examples."""

from __future__ import annotations

from datetime import date

import polars as pl

from creditdesk.ledger.kernel import DayInput
from creditdesk.ledger.schema import TABLES, conform, empty

__all__ = ["tiny_day_input"]


def _frame(table: str, rows: list[dict[str, object]]) -> pl.DataFrame:
    df = pl.DataFrame(rows)
    for col, dtype in TABLES[table].items():
        if col not in df.columns:
            df = df.with_columns(pl.lit(None, dtype).alias(col))
    return conform(df, table)


def tiny_day_input() -> DayInput:
    """One revolving account opened 2026-01-05 that buys 1,000.00 that day."""
    d = date(2026, 1, 5)
    accounts = _frame("accounts", [{"account_id": "A1", "customer_id": "C1",
                                    "product": "revolving", "credit_limit": 500_000,
                                    "opened": d}])
    txns = _frame("transactions", [{"txn_id": 1, "external_id": "e1", "account_id": "A1",
                                    "business_date": d, "type": "purchase",
                                    "amount": 100_000}])
    return DayInput(business_date=d, accounts=accounts, prev=empty("account_day"),
                    dues=empty("dues"), plan_state=empty("plan_state"),
                    billing=empty("instalments"), txns=txns)
