"""``creditdesk demo`` until the digital twin lands: a synthetic book closed day by day.

Builds a sample book (``ledger.synthetic``), loads it through the same
validation as ``creditdesk load``, closes every date with the end-of-day
batch on the embedded DuckDB store, and reports the figures a risk team looks
at first: balances, the bucket mix, roll rates between buckets, delinquency.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from creditdesk.ledger.eod import run_eod
from creditdesk.ledger.ingest import load_frames
from creditdesk.ledger.params import ledger_params
from creditdesk.ledger.synthetic import synthetic_book
from creditdesk.products import default_catalogue
from creditdesk.store import open_store

__all__ = ["portfolio_kpis", "run_demo"]


def _as_text(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_columns([pl.col(c).cast(pl.String) for c in df.columns])


def run_demo(out: Path, *, accounts: int = 2000, days: int = 62, seed: int = 7,
             start: date = date(2026, 1, 1),
             on_date: Callable[[date, int, int], None] | None = None) -> dict[str, Any]:
    """Build, close and summarise a sample book in ``out``; returns the KPIs."""
    out.mkdir(parents=True, exist_ok=True)
    db = (out / "creditdesk.duckdb").resolve()
    for p in (db, db.with_suffix(".duckdb.wal")):
        p.unlink(missing_ok=True)
    store = open_store(f"duckdb:///{db}")
    cat = default_catalogue()
    book = synthetic_book(accounts, start, days, seed=seed)
    load_frames(store, cat, customers=_as_text(book["customers"]),
                accounts=_as_text(book["accounts"]), transactions=_as_text(book["transactions"]),
                load_id="demo")
    through = start + timedelta(days=days - 1)
    report = run_eod(store, through, ledger_params(cat), on_date=on_date)
    kpis = portfolio_kpis(store.read("account_day"), store.read("postings"))
    kpis |= {"store": f"duckdb:///{db}", "seconds": round(report.seconds, 2),
             "days": report.dates_closed, "seed": seed}
    (out / "kpis.json").write_text(json.dumps(kpis, indent=2, default=str))
    store.close()
    return kpis


def portfolio_kpis(account_day: pl.DataFrame, postings: pl.DataFrame) -> dict[str, Any]:
    """Balances, bucket mix, month-end roll rates and rejected postings of a book."""
    last = account_day["business_date"].max()
    assert isinstance(last, date)
    end = account_day.filter(pl.col("business_date") == last)
    owed = pl.col("principal") + pl.col("interest") + pl.col("fee") + pl.col("penalty")
    mix = (end.group_by("bucket").agg(pl.len().alias("accounts"), owed.sum().alias("balance"))
           .sort("bucket"))
    prev_day = account_day.filter(pl.col("business_date") == last - timedelta(days=30))
    roll = (prev_day.select("account_id", pl.col("bucket").alias("from"))
            .join(end.select("account_id", pl.col("bucket").alias("to")), on="account_id")
            .group_by("from", "to").len().sort("from", "to"))
    delinquent = end.filter(pl.col("dpd") > 0)
    return {
        "as_of": last,
        "accounts": end.height,
        "balances": {c: int(end[c].sum()) for c in ("principal", "interest", "fee", "penalty")},
        "receivable_total": int(end.select(owed.sum()).item()),
        "delinquent_accounts": delinquent.height,
        "delinquency_rate": round(delinquent.height / max(end.height, 1), 4),
        "bucket_mix": mix.to_dicts(),
        "roll_30d": roll.to_dicts(),
        "interest_posted": int(account_day["interest_today"].sum()),
        "penalty_posted": int(account_day["penalty_today"].sum()),
        "charged_off": int(end.filter(pl.col("status") == "charged_off").height),
        "postings": postings.group_by("status").len().sort("status").to_dicts(),
    }
