"""A two-account book (a revolving account and a 12-term cash loan) as loader rows, shared
by the DuckDB books tests and the arrangement tests; and rows-to-text as a CSV gives them."""

from __future__ import annotations

import polars as pl

CUST = [{"customer_id": "C1", "timezone": "Asia/Shanghai"},
        {"customer_id": "C2", "timezone": "Asia/Shanghai"}]
ACCT = [{"account_id": "R1", "customer_id": "C1", "product": "revolving",
         "credit_limit": 500_000, "opened": "2026-01-05"},
        {"account_id": "L1", "customer_id": "C2", "product": "cash_loan",
         "credit_limit": 2_000_000, "opened": "2026-01-15"}]
TXNS = [{"external_id": "t1", "account_id": "R1", "business_date": "2026-01-05",
         "type": "purchase", "amount": 100_000},
        {"external_id": "t2", "account_id": "L1", "business_date": "2026-01-15",
         "type": "cash_loan", "amount": 1_000_000, "terms": 12, "method": "equal_instalment",
         "daily_rate": "0.0004"},
        {"external_id": "t3", "account_id": "R1", "business_date": "2026-02-10",
         "type": "repayment", "amount": 10_000}]

#: a three-account book (R1 and R2 revolving, L1 a 12-term cash loan) and its first
#: transactions, for the typed-posting and arrangement tests (each adds its repayments)
THREE_CUST = [{"customer_id": f"C{i}", "timezone": "Asia/Shanghai"} for i in range(3)]
THREE_ACCT = [{"account_id": "R1", "customer_id": "C0", "product": "revolving",
               "credit_limit": 500_000, "opened": "2026-01-05"},
              {"account_id": "R2", "customer_id": "C1", "product": "revolving",
               "credit_limit": 500_000, "opened": "2026-01-05"},
              {"account_id": "L1", "customer_id": "C2", "product": "cash_loan",
               "credit_limit": 2_000_000, "opened": "2026-01-15"}]
THREE_TXNS = [{"external_id": "p1", "account_id": "R1", "business_date": "2026-01-05",
               "type": "purchase", "amount": 100_000},
              {"external_id": "p2", "account_id": "R2", "business_date": "2026-01-05",
               "type": "purchase", "amount": 100_000},
              {"external_id": "d1", "account_id": "L1", "business_date": "2026-01-15",
               "type": "cash_loan", "amount": 1_000_000, "terms": 12,
               "method": "equal_instalment", "daily_rate": "0.0004"}]


def text(rows: list[dict]) -> pl.DataFrame:
    """Rows as a CSV file would give them: each value as its own text (so a column mixing
    1000 and 12.5 keeps "1000", which a typed frame would turn into "1000.0"); a missing
    key is empty."""
    cols = sorted({k for r in rows for k in r})
    return pl.DataFrame({c: [None if r.get(c) is None else str(r[c]) for r in rows]
                         for c in cols}, schema=dict.fromkeys(cols, pl.String))
