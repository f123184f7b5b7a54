"""Column contracts of the books' tables, as Polars schemas.

One place names every column and its type, so that the kernel, the stores
(DuckDB and the Spark lake) and the tests agree. Amounts are Int64 minor
units; dates are Date; ids are strings.

State tables (``account_day``, ``dues``, ``plan_state``) carry the
``business_date`` they describe: the state after closing that date. History
tables (``journal``, ``statements``, ``postings``) are appended per date.
"""

from __future__ import annotations

from typing import Any

import polars as pl

__all__ = ["PER_DATE_TABLES", "REFERENCE_TABLES", "STATE_TABLES", "TABLES", "empty"]

I64 = pl.Int64
I32 = pl.Int32
S = pl.String
D = pl.Date
B = pl.Boolean

CUSTOMERS = {
    "customer_id": S, "timezone": S, "region": S, "city_tier": I32, "birth_year": I32,
    "income_band": S, "language": S, "consent_voice": B, "consent_sms": B, "consent_push": B,
    "consent_email": B,
}

ACCOUNTS = {
    "account_id": S, "customer_id": S, "product": S, "credit_limit": I64, "opened": D,
    "bill_day": I32, "due_day": I32, "daily_rate": S,
}

TRANSACTIONS = {
    "txn_id": I64, "external_id": S, "account_id": S, "business_date": D, "type": S,
    "amount": I64, "terms": I32, "method": S, "daily_rate": S, "source_row": I64, "load_id": S,
}

PLANS = {
    "business_date": D, "plan_id": S, "account_id": S, "kind": S, "principal": I64, "terms": I32,
    "daily_rate": S, "method": S, "start": D, "fee_total": I64, "txn_id": I64,
}

INSTALMENTS = {
    "business_date": D, "plan_id": S, "term": I32, "account_id": S, "bill_date": D, "due_date": D,
    "principal": I64, "interest": I64, "fee": I64, "total": I64,
}

PLAN_STATE = {
    "business_date": D, "plan_id": S, "account_id": S, "kind": S, "status": S,
    "remaining_principal": I64, "next_term": I32, "terms": I32, "period_start": D,
    "rate_scaled": I64, "penalty_rate_scaled": I64, "schedule_date": D,
}

DUES = {
    "business_date": D, "due_id": S, "account_id": S, "source": S, "plan_id": S, "term": I32,
    "due_date": D, "principal": I64, "interest": I64, "fee": I64, "penalty": I64,
    "original_total": I64, "penalty_rate_scaled": I64, "penalty_on": S,
}

ACCOUNT_DAY = {
    "business_date": D, "account_id": S, "product": S, "status": S, "credit_limit": I64,
    "unbilled_principal": I64, "billed_principal": I64, "plan_principal": I64,
    "due_principal": I64, "due_interest": I64, "due_fee": I64, "due_penalty": I64,
    "accrued_interest": I64,
    "principal": I64, "interest": I64, "fee": I64, "penalty": I64, "credit_balance": I64,
    "total_due": I64, "overdue_amount": I64, "oldest_due_date": D, "dpd": I32, "bucket": S,
    "interest_on": B, "statement_due_date": D,
    "purchases_today": I64, "drawdowns_today": I64, "paid_today": I64,
    "interest_today": I64, "penalty_today": I64, "fee_today": I64,
    "chargeoff_date": D, "chargeoff_amount": I64, "recovered_today": I64, "recovered_total": I64,
    "holiday_until": D, "holiday_months": I32,
}

STATEMENTS = {
    "business_date": D, "account_id": S, "cycle": I32, "bill_date": D, "due_date": D,
    "new_principal": I64, "revolving_principal": I64, "instalment_principal": I64,
    "instalment_fee": I64, "interest": I64, "past_due": I64, "statement_balance": I64,
    "min_due": I64,
}

JOURNAL = {
    "business_date": D, "entry_id": S, "account_id": S, "txn_id": I64, "event": S,
    "ledger_account": S, "debit": I64, "credit": I64,
}

POSTINGS = {
    "business_date": D, "txn_id": I64, "account_id": S, "status": S, "reason": S,
}

CLOSED_DATES = {"business_date": D, "closed_at": pl.Datetime("us", "UTC")}

TABLES: dict[str, dict[str, Any]] = {
    "customers": CUSTOMERS,
    "accounts": ACCOUNTS,
    "transactions": TRANSACTIONS,
    "plans": PLANS,
    "instalments": INSTALMENTS,
    "plan_state": PLAN_STATE,
    "dues": DUES,
    "account_day": ACCOUNT_DAY,
    "statements": STATEMENTS,
    "journal": JOURNAL,
    "postings": POSTINGS,
    "closed_dates": CLOSED_DATES,
}

#: rewritten whole for each closed date; only the latest version is kept
STATE_TABLES = ("plan_state", "dues")
#: appended once per closed date, keyed by business_date
PER_DATE_TABLES = ("account_day", "statements", "journal", "postings", "plans", "instalments")
#: loaded by `creditdesk load`
REFERENCE_TABLES = ("customers", "accounts", "transactions")


def empty(table: str) -> pl.DataFrame:
    """An empty frame with the table's exact schema."""
    return pl.DataFrame(schema=TABLES[table])


def conform(df: pl.DataFrame, table: str) -> pl.DataFrame:
    """Select and cast the table's columns in contract order (missing ones refused)."""
    schema = TABLES[table]
    missing = [c for c in schema if c not in df.columns]
    if missing:
        raise KeyError(f"{table} frame lacks columns {missing}")
    return df.select([pl.col(c).cast(t) for c, t in schema.items()])
