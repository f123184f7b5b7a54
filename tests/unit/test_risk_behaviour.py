"""Behaviour score features and target on tiny hand-made books, values worked out by hand."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from creditdesk.ledger.schema import TABLES
from creditdesk.risk.behaviour import (
    FEATURES,
    behaviour_features,
    behaviour_target,
    behaviour_training_frame,
    performing,
)

AS_OF = date(2026, 6, 30)  # 90-day window: 2 Apr .. 30 Jun; 180-day window: 2 Jan .. 30 Jun


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def account(acct: str, product: str, limit: int, start: date, end: date,
            base_principal: int, **by_date: dict[date, int]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for d in days(start, end):
        row: dict[str, object] = {
            "business_date": d, "account_id": acct, "product": product, "status": "open",
            "credit_limit": limit, "principal": base_principal, "dpd": 0, "paid_today": 0,
            "purchases_today": 0, "drawdowns_today": 0}
        for col, values in by_date.items():
            if d in values:
                row[col] = values[d]
        rows.append(row)
    return rows


def frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    schema = {c: t for c, t in TABLES["account_day"].items() if c in rows[0]}
    return pl.DataFrame(rows, schema=schema)


D = date
A_ROWS = account(
    "A", "revolving", 10_000, D(2026, 1, 1), D(2026, 7, 10), 1_000,
    dpd={D(2026, 1, 1): 100,  # day 181 back: outside the 180-day window
         D(2026, 3, 1): 45,  # inside 180, outside 90
         D(2026, 4, 1): 30,  # exactly 90 days back: outside the 90-day window
         D(2026, 4, 2): 7, D(2026, 6, 1): 1, D(2026, 6, 2): 2, D(2026, 6, 3): 3,
         D(2026, 7, 5): 99},  # after as_of: ignored by features
    principal={D(2026, 4, 1): 2_000, AS_OF: 5_000, D(2026, 7, 1): 9_999},
    paid_today={D(2026, 4, 1): 50, D(2026, 4, 10): 300, D(2026, 5, 5): 100,
                D(2026, 6, 1): 70, D(2026, 6, 10): 250, D(2026, 6, 20): 30},
    purchases_today={D(2026, 4, 1): 1_000, D(2026, 4, 2): 400, AS_OF: 600},
)
B_ROWS = account("B", "cash_loan", 20_000, D(2026, 6, 15), D(2026, 7, 10), 8_000,
                 dpd={D(2026, 7, 1): 99}, principal={D(2026, 7, 1): 99_999},
                 drawdowns_today={D(2026, 6, 15): 8_000})
C_ROWS = account("C", "revolving", 5_000, D(2026, 7, 1), D(2026, 7, 10), 0)  # opens after

ACCOUNT_DAY = frame(A_ROWS + B_ROWS + C_ROWS)

STATEMENTS = pl.DataFrame({
    "account_id": ["A"] * 6,
    "bill_date": [D(2026, 2, 1), D(2026, 4, 1), D(2026, 5, 1), D(2026, 6, 1), D(2026, 6, 15),
                  D(2026, 6, 25)],
    "due_date": [D(2026, 2, 10), D(2026, 4, 10), D(2026, 5, 10), D(2026, 6, 10),
                 D(2026, 6, 25), D(2026, 7, 5)],
    "min_due": [1_000, 300, 200, 500, 0, 999],
})
PLANS = pl.DataFrame({
    "business_date": [D(2026, 3, 3), D(2026, 5, 5), D(2026, 7, 1), D(2026, 6, 15)],
    "account_id": ["A", "A", "A", "B"],
    "kind": ["bill_instalment", "purchase_instalment", "bill_instalment", "cash_loan"],
})


@pytest.fixture(scope="module")
def features() -> dict[str, dict[str, object]]:
    f = behaviour_features(ACCOUNT_DAY, STATEMENTS, PLANS, AS_OF)
    return {r["account_id"]: r for r in f.iter_rows(named=True)}


def test_one_row_per_account_on_book_with_every_feature(features):
    f = behaviour_features(ACCOUNT_DAY, STATEMENTS, PLANS, AS_OF)
    assert f.columns == ["as_of", "account_id", "status", *FEATURES]
    assert f["account_id"].to_list() == ["A", "B"]  # C opens after as_of
    assert f["as_of"].unique().to_list() == [AS_OF]


def test_revolving_account_by_hand(features):
    a = features["A"]
    assert a["product"] == "revolving"
    assert a["utilisation"] == pytest.approx(5_000 / 10_000)
    assert a["months_on_book"] == 5  # 1 Jan -> 30 Jun
    assert a["dpd_now"] == 0
    assert a["worst_dpd_90d"] == 7  # 30 on 1 Apr is 90 days back: outside
    assert a["worst_dpd_180d"] == 45  # 100 on 1 Jan is 180 days back: outside
    assert a["days_delinquent_90d"] == 4  # 2 Apr, 1-3 Jun
    # last 3 bills due by 30 Jun with min_due > 0: Apr (300), May (200), Jun (500);
    # paid after the bill date through the due date: 300 (10 Apr), 100 (5 May), 250 (10 Jun)
    assert a["payment_to_due_3"] == pytest.approx(650 / 1_000)
    # 2 Apr .. 30 Jun: 300 + 100 + 70 + 250 + 30 (50 on 1 Apr is outside)
    assert a["paid_90d_to_limit"] == pytest.approx(750 / 10_000)
    assert a["purchases_90d_to_limit"] == pytest.approx((400 + 600) / 10_000)
    assert (a["n_plans"], a["n_instalment_plans"]) == (2, 2)  # the 1 Jul plan is later
    # principal 5,000 now against 2,000 on 1 Apr (as_of - 90 days)
    assert a["utilisation_change_90d"] == pytest.approx(3_000 / 10_000)


def test_young_cash_loan_by_hand(features):
    b = features["B"]
    assert b["product"] == "cash_loan"
    assert b["utilisation"] == pytest.approx(0.4)
    assert b["months_on_book"] == 0
    assert (b["worst_dpd_90d"], b["worst_dpd_180d"], b["days_delinquent_90d"]) == (0, 0, 0)
    assert b["payment_to_due_3"] is None  # no bill
    assert b["purchases_90d_to_limit"] == pytest.approx(8_000 / 20_000)  # the drawdown
    assert (b["n_plans"], b["n_instalment_plans"]) == (1, 0)
    assert b["utilisation_change_90d"] == pytest.approx(0.4)  # not on book 90 days ago: from 0


def test_months_on_book_from_opened_counts_whole_months():
    opened = pl.DataFrame({"account_id": ["A", "B"], "opened": [D(2026, 3, 20), D(2026, 3, 31)]})
    f = behaviour_features(ACCOUNT_DAY, STATEMENTS, PLANS, AS_OF, opened=opened)
    assert f["months_on_book"].to_list() == [3, 2]  # 31 Mar -> 30 Jun is not yet 3 months


def test_zero_limit_gives_null_ratios_and_missing_tables_are_empty():
    rows = account("Z", "revolving", 0, D(2026, 6, 1), AS_OF, 100)
    f = behaviour_features(frame(rows), pl.DataFrame(), pl.DataFrame(), AS_OF)
    z = f.row(0, named=True)
    assert z["utilisation"] is None and z["paid_90d_to_limit"] is None
    assert (z["n_plans"], z["payment_to_due_3"]) == (0, None)


def test_missing_account_day_column_is_named():
    with pytest.raises(KeyError, match="dpd"):
        behaviour_features(ACCOUNT_DAY.drop("dpd"), STATEMENTS, PLANS, AS_OF)


# --- target -------------------------------------------------------------------------------

T0 = D(2026, 1, 31)


def target_book() -> pl.DataFrame:
    end = T0 + timedelta(days=15)
    rows = (account("X", "revolving", 1, T0, end, 0, dpd={D(2026, 2, 5): 59})
            + account("Y", "revolving", 1, T0, end, 0, dpd={D(2026, 2, 5): 60})
            + account("W", "revolving", 1, T0, end, 0, dpd={T0 + timedelta(days=10): 60})
            + account("Z", "revolving", 1, T0, end, 0, dpd={T0 + timedelta(days=11): 75})
            + account("V", "revolving", 1, T0, end, 0, dpd={T0: 80})
            + account("N", "revolving", 1, T0 + timedelta(days=1), end, 0,
                      dpd={D(2026, 2, 5): 60}))
    return frame(rows)


def test_target_at_the_dpd_and_horizon_boundaries():
    t = behaviour_target(target_book(), T0, horizon_days=10)
    got = dict(t.iter_rows())
    assert got == {"V": 0,  # 80 on as_of itself: the window starts the day after
                   "W": 1,  # 60 on as_of + 10: last day of the horizon
                   "X": 0,  # 59
                   "Y": 1,  # 60
                   "Z": 0}  # as_of + 11: after the horizon
    # N opened after as_of: not in the population
    assert t.schema["target"] == pl.Int8


def test_target_threshold_is_a_parameter():
    got = dict(behaviour_target(target_book(), T0, horizon_days=10, dpd=59).iter_rows())
    assert got["X"] == 1


def test_target_refuses_an_unfinished_horizon():
    book = target_book()
    with pytest.raises(ValueError, match="closed through 2026-02-20"):
        behaviour_target(book, T0, horizon_days=20)
    got = dict(behaviour_target(book, T0, horizon_days=20, require_complete=False).iter_rows())
    assert got["Z"] == 1
    with pytest.raises(ValueError, match="horizon_days"):
        behaviour_target(book, T0, horizon_days=0)


def test_training_frame_keeps_performing_accounts_with_their_target():
    book = target_book()
    tf = behaviour_training_frame(book, pl.DataFrame(), pl.DataFrame(), [T0], horizon_days=10)
    assert sorted(tf["account_id"]) == ["W", "X", "Y", "Z"]  # V is at DPD 80 on as_of
    assert dict(tf.select("account_id", "target").iter_rows()) == {
        "W": 1, "X": 0, "Y": 1, "Z": 0}
    f = behaviour_features(book, pl.DataFrame(), pl.DataFrame(), T0)
    assert f.filter(~performing())["account_id"].to_list() == ["V"]


# --- the same features in the store's engine (Ibis -> DuckDB) --------------------------------

def _full(name: str, df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with the table's every column (nulls where the hand-made book has none)."""
    schema = TABLES[name]
    return df.with_columns([pl.lit(None, t).alias(c) for c, t in schema.items()
                            if c not in df.columns]).select(
        [pl.col(c).cast(t) for c, t in schema.items()])


OPENED = pl.DataFrame({"account_id": ["A", "B"], "opened": [D(2026, 3, 20), D(2026, 3, 31)]})


@pytest.fixture(scope="module")
def hand_store(tmp_path_factory):
    from creditdesk.store import open_store

    s = open_store(f"duckdb:///{tmp_path_factory.mktemp('hand')}/books.duckdb")
    plans = PLANS.with_columns(pl.format("p{}", pl.int_range(pl.len())).alias("plan_id"))
    with s.transaction():
        s.append("account_day", _full("account_day", ACCOUNT_DAY))
        s.append("statements", _full("statements", STATEMENTS))
        s.append("plans", _full("plans", plans))
        s.append("accounts", _full("accounts", OPENED))
    yield s
    s.close()


def test_store_engine_gives_the_hand_worked_values(hand_store):
    from creditdesk.risk.features_sql import features_from_store

    got = features_from_store(hand_store, AS_OF, lookback_days=365)
    want = behaviour_features(ACCOUNT_DAY, STATEMENTS, PLANS, AS_OF, opened=OPENED)
    assert got.schema == want.schema
    assert got.equals(want)
    a = got.row(0, named=True)
    assert (a["worst_dpd_90d"], a["worst_dpd_180d"], a["days_delinquent_90d"]) == (7, 45, 4)
    assert a["payment_to_due_3"] == pytest.approx(650 / 1_000)
    assert got["months_on_book"].to_list() == [3, 2]


def test_store_engine_reads_only_the_lookback_window(hand_store):
    from creditdesk.risk.features_sql import features_from_store

    # a 120-day window starts 1 Mar + 1: DPD 45 on 1 Mar is not read, 30 on 1 Apr is
    got = features_from_store(hand_store, AS_OF, lookback_days=120)
    assert got.filter(pl.col("account_id") == "A")["worst_dpd_180d"].item() == 30


def test_store_engine_target_matches_the_reference(tmp_path):
    from creditdesk.risk.features_sql import target_from_store
    from creditdesk.store import open_store

    s = open_store(f"duckdb:///{tmp_path}/t.duckdb")
    book = target_book()
    with s.transaction():
        s.append("account_day", _full("account_day", book))
    for kw in ({"horizon_days": 10}, {"horizon_days": 10, "dpd": 59}):
        assert target_from_store(s, T0, **kw).equals(behaviour_target(book, T0, **kw))
    with pytest.raises(ValueError, match="closed through 2026-02-20"):
        target_from_store(s, T0, horizon_days=20)
    s.close()
