"""The end-of-day parity check shared by the local Spark and the Spark Connect tests.

A random 2,000-account book (revolving accounts, cash loans, instalment
conversions) is loaded into two stores and closed for ``DAYS`` days on each;
every table must come out identical, row for row after sorting.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from creditdesk.ledger.eod import run_eod
from creditdesk.ledger.ingest import as_text as _as_text
from creditdesk.ledger.ingest import load_frames
from creditdesk.ledger.params import ledger_params
from creditdesk.ledger.synthetic import synthetic_book
from creditdesk.products import default_catalogue
from creditdesk.store import open_store

START = date(2026, 1, 1)
DAYS = 60
ACCOUNTS = 2_000
COMPARED = ("account_day", "dues", "plan_state", "plans", "instalments", "statements",
            "journal", "postings", "closed_dates")


def build(url: str, days: int = DAYS) -> None:
    """Load the book into the store at ``url`` and close ``days`` days from ``START``."""
    store = open_store(url)
    cat = default_catalogue()
    book = synthetic_book(ACCOUNTS, START, days, seed=5)
    load_frames(store, cat, customers=_as_text(book["customers"]),
                accounts=_as_text(book["accounts"]), transactions=_as_text(book["transactions"]))
    run_eod(store, START + timedelta(days=days - 1), ledger_params(cat))


def table(url: str, name: str) -> pl.DataFrame:
    """``name`` as stored at ``url``, sorted (``closed_dates`` without its wall-clock time)."""
    df = open_store(url).read(name)
    if name == "closed_dates":
        df = df.select("business_date")
    return df.sort(pl.all())


def assert_same_books(duck: str, spark: str, days: int = DAYS) -> None:
    """Build the book on both stores and assert every table identical."""
    build(duck, days)
    build(spark, days)
    for name in COMPARED:
        a, b = table(duck, name), table(spark, name)
        assert a.height > 0 or name in ("dues",), name
        assert a.equals(b), f"{name}: {a.height} rows on DuckDB, {b.height} on Spark"
    account_days = table(duck, "account_day")
    assert account_days["business_date"].n_unique() == days
    assert account_days.filter(pl.col("dpd") > 0).height > 0  # delinquency happened
    assert table(duck, "statements").height > 0
