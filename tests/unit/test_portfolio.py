"""Portfolio analytics: the pure parts on hand-computed examples, then the SQL on a tiny book.

The tiny book (three accounts, three month ends) is written row by row so every
expected number below can be checked by hand:

    date    A (revolving, opened 5 Jan)   B (cash loan, 20 Jan)        C (revolving, 10 Feb)
    31 Jan  M0, 1000                      M1 dpd 10, 5000+20+0+3
    28 Feb  M1 dpd 20, 1000+15+5          M2 dpd 38, 5000+40+0+10     M0, 300
    31 Mar  M0, 800                       M3 dpd 69, 5000+60+0+20     CO dpd 181, charged off
                                                                       300, recovered 50
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from creditdesk.reports.portfolio import (
    balances_over_time,
    bucket_mix,
    month_ends,
    months_on_book,
    portfolio,
    roll_matrix,
    roll_pairs,
    sample_dates,
    vintage_curves,
)
from creditdesk.store import open_store

J31, F28, M31 = date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)


# --------------------------------------------------------------------------- pure parts

def test_month_ends_and_pairs_skip_gaps() -> None:
    ds = [date(2026, 1, 30), J31, F28, date(2026, 4, 30), date(2026, 5, 31)]
    assert month_ends(ds) == [J31, F28, date(2026, 4, 30), date(2026, 5, 31)]
    # March is missing: Feb -> Apr is not a month-over-month roll
    assert roll_pairs(ds) == [(J31, F28), (date(2026, 4, 30), date(2026, 5, 31))]


def test_sample_dates_first_month_ends_last() -> None:
    ds = [date(2026, 1, 15) + timedelta(days=i) for i in range(80)]  # 15 Jan .. 4 Apr
    assert sample_dates(ds, min_points=1) == [date(2026, 1, 15), J31, F28, M31,
                                              date(2026, 4, 4)]
    short = sample_dates(ds[:10], min_points=4)
    assert short[0] == ds[0] and short[-1] == ds[9] and len(short) == 4
    assert sample_dates([], min_points=3) == []
    with pytest.raises(ValueError, match="min_points"):
        sample_dates(ds, min_points=0)


@pytest.mark.parametrize(("opened", "at", "mob"), [
    (date(2026, 1, 1), date(2026, 1, 31), 1),
    (date(2026, 1, 31), date(2026, 2, 1), 2),
    (date(2025, 11, 15), date(2026, 2, 28), 4),
])
def test_months_on_book(opened: date, at: date, mob: int) -> None:
    assert months_on_book(opened, at) == mob


def test_balances_totals_are_exact_integers() -> None:
    rows = pl.DataFrame({"business_date": [J31, J31], "product": ["revolving", "cash_loan"],
                         "accounts": [2, 1], "principal": [10**15, 7], "interest": [1, 0],
                         "fee": [0, 0], "penalty": [3, None]})
    got = balances_over_time(rows)
    assert [r["product"] for r in got] == ["cash_loan", "revolving"]
    assert got[1]["total"] == 10**15 + 4 and isinstance(got[1]["total"], int)
    assert got[0]["penalty"] == 0


def test_bucket_mix_shares_sum_to_one() -> None:
    rows = pl.DataFrame({"business_date": [M31] * 3, "bucket": ["M0", "M3", "CO"],
                         "accounts": [1, 1, 1], "balance": [800, 5080, 250]})
    (mix,) = bucket_mix(rows)
    assert mix["balance"] == 6130 and mix["accounts"] == 3
    assert list(mix["by_bucket"]) == ["M0", "M1", "M2", "M3", "M4", "M5", "M6", "CO"]
    assert mix["by_bucket"]["M3"]["balance_share"] == pytest.approx(5080 / 6130)
    assert mix["by_bucket"]["CO"]["account_share"] == pytest.approx(1 / 3)
    assert sum(b["balance_share"] for b in mix["by_bucket"].values()) == pytest.approx(1.0)
    assert bucket_mix(rows.clear()) == []


def test_roll_matrix_rows_normalised_and_empty_rows_unknown() -> None:
    rows = pl.DataFrame({"from_bucket": ["M0", "M1", "M1", "M0", "M2"],
                         "to_bucket": ["M1", "M2", "M0", "CO", "M3"],
                         "accounts": [1, 1, 1, 1, 1]})
    m = roll_matrix(rows)
    assert m["buckets"] == ["M0", "M1", "M2", "M3", "CO"]
    assert m["counts"][0] == [0, 1, 0, 0, 1]
    assert m["shares"][0] == [0.0, 0.5, 0.0, 0.0, 0.5]
    assert m["shares"][3] == [None] * 5  # nobody started in M3
    assert m["roll_forward"]["M1->M2"] == 0.5 and m["roll_forward"]["M2->M3"] == 1.0
    assert m["roll_forward"]["M3->M4"] is None
    assert roll_matrix(rows.clear())["buckets"] == []


def test_vintage_curves_never_fall_and_skip_old_vintages() -> None:
    rows = pl.DataFrame({
        "opened": [date(2025, 12, 20), date(2026, 1, 5), date(2026, 1, 20), date(2026, 2, 10)],
        "first_30": [J31, None, F28, M31], "first_60": [J31, None, M31, M31],
        "accounts": [5, 1, 1, 1]})
    got = vintage_curves(rows, [J31, F28, M31], first_date=date(2026, 1, 1))
    assert [(r["vintage"], r["months_on_book"], r["share30"], r["share60"]) for r in got] == [
        ("2026-01", 1, 0.0, 0.0), ("2026-01", 2, 0.5, 0.0), ("2026-01", 3, 0.5, 0.5),
        ("2026-02", 1, 0.0, 0.0), ("2026-02", 2, 1.0, 1.0)]
    assert all(r["accounts"] == (2 if r["vintage"] == "2026-01" else 1) for r in got)
    # a vintage is drawn only from the end of its opening month
    assert vintage_curves(rows, [date(2026, 2, 15)], first_date=date(2026, 2, 1)) == []


# --------------------------------------------------------------------------- on a tiny book

_DAY_COLS = ("business_date, account_id, product, status, principal, interest, fee, penalty, "
             "dpd, bucket, chargeoff_amount, recovered_total")
_ROWS = [
    (J31, "A", "revolving", "open", 1000, 0, 0, 0, 0, "M0", 0, 0),
    (J31, "B", "cash_loan", "open", 5000, 20, 0, 3, 10, "M1", 0, 0),
    (F28, "A", "revolving", "open", 1000, 15, 5, 0, 20, "M1", 0, 0),
    (F28, "B", "cash_loan", "open", 5000, 40, 0, 10, 38, "M2", 0, 0),
    (F28, "C", "revolving", "open", 300, 0, 0, 0, 0, "M0", 0, 0),
    (M31, "A", "revolving", "open", 800, 0, 0, 0, 0, "M0", 0, 0),
    (M31, "B", "cash_loan", "open", 5000, 60, 0, 20, 69, "M3", 0, 0),
    (M31, "C", "revolving", "charged_off", 0, 0, 0, 0, 181, "CO", 300, 50),
]


@pytest.fixture
def tiny_store(tmp_path: Path):  # type: ignore[no-untyped-def]
    store = open_store(f"duckdb:///{tmp_path}/tiny.duckdb")
    for acc, cust, product, opened in (("A", "c1", "revolving", date(2026, 1, 5)),
                                       ("B", "c2", "cash_loan", date(2026, 1, 20)),
                                       ("C", "c3", "revolving", date(2026, 2, 10))):
        store.execute("INSERT INTO accounts (account_id, customer_id, product, credit_limit, "
                      "opened, bill_day, due_day) VALUES (?, ?, ?, 10000, ?, 1, 10)",
                      [acc, cust, product, opened])
    marks = ", ".join("?" for _ in _DAY_COLS.split(", "))
    for row in _ROWS:
        store.execute(f"INSERT INTO account_day ({_DAY_COLS}) VALUES ({marks})", list(row))
    for d in (date(2026, 1, 1), J31, F28, M31):
        store.execute("INSERT INTO closed_dates (business_date) VALUES (?)", [d])
    yield store
    store.close()


def test_portfolio_on_a_tiny_book(tiny_store) -> None:  # type: ignore[no-untyped-def]
    p = portfolio(tiny_store, min_points=1)
    assert p.as_of == M31 and p.dates == [date(2026, 1, 1), J31, F28, M31]
    jan = {r["product"]: r for r in p.balances if r["business_date"] == J31}
    assert jan["cash_loan"]["total"] == 5023 and jan["revolving"]["total"] == 1000
    assert p.latest_balances() == {"accounts": 3, "principal": 5800, "interest": 60, "fee": 0,
                                   "penalty": 20, "total": 5880}
    mar = next(m for m in p.buckets if m["business_date"] == M31)
    assert mar["balance"] == 800 + 5080 + 250  # CO at charged off less recovered
    assert mar["by_bucket"]["CO"]["balance"] == 250
    assert p.roll_pairs == [(J31, F28), (F28, M31)]
    r = p.rolls
    assert r["buckets"] == ["M0", "M1", "M2", "M3", "CO"]
    assert r["counts"] == [[0, 1, 0, 0, 1], [1, 0, 1, 0, 0], [0, 0, 0, 1, 0],
                           [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]
    assert r["roll_forward"]["M0->M1"] == 0.5 and r["roll_forward"]["M2->M3"] == 1.0
    assert [(v["vintage"], v["months_on_book"], v["dpd30"], v["dpd60"]) for v in p.vintages] == [
        ("2026-01", 1, 0, 0), ("2026-01", 2, 1, 0), ("2026-01", 3, 1, 1),
        ("2026-02", 1, 0, 0), ("2026-02", 2, 1, 1)]


def test_portfolio_of_an_empty_book(tmp_path: Path) -> None:
    store = open_store(f"duckdb:///{tmp_path}/empty.duckdb")
    try:
        p = portfolio(store)
        assert p.empty and p.balances == [] and p.latest_balances()["total"] == 0
    finally:
        store.close()
