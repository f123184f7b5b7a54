"""The vectorised schedules equal the scalar ones, integer for integer."""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditdesk.errors import BadInputError
from creditdesk.money import RATE_SCALE
from creditdesk.products import (
    METHODS,
    RevolvingProduct,
    cash_loan_schedule,
    conversion_frame,
    conversion_schedule,
    schedule_frame,
)
from creditdesk.products import schedules as sched_mod
from creditdesk.products.dates import add_months, add_months_array

COLUMNS = ["plan_id", "term", "due_date", "principal", "interest", "fee", "total"]


def _plans(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"plan_id": pl.Int64, "principal": pl.Int64,
                                      "terms": pl.Int32, "daily_rate_scaled": pl.Int64,
                                      "method": pl.String, "start": pl.Date})


def _scalar_rows(plans: pl.DataFrame, days_per_month: int = 30) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for p in plans.iter_rows(named=True):
        rate = Decimal(p["daily_rate_scaled"]) / RATE_SCALE
        for i in cash_loan_schedule(p["principal"], p["terms"], rate, p["method"], p["start"],
                                    days_per_month=days_per_month):
            out.append((p["plan_id"], i.term, i.due_date, i.principal, i.interest, i.fee,
                        i.total))
    return out


def test_worked_example_row_by_row() -> None:
    # the 1,000,000 fen, 12 x 1.2 % loan of test_products_schedules, one plan per method
    plans = _plans([{"plan_id": k, "principal": 1_000_000, "terms": 12,
                     "daily_rate_scaled": 400_000, "method": m, "start": date(2024, 1, 31)}
                    for k, m in enumerate(METHODS)])
    out = schedule_frame(plans)
    assert out.columns == COLUMNS
    assert out.schema["due_date"] == pl.Date and out.schema["principal"] == pl.Int64
    assert out.rows() == _scalar_rows(plans)
    first = out.filter(pl.col("plan_id") == 0).row(0)
    assert first == (0, 1, date(2024, 2, 29), 77_975, 12_000, 0, 89_975)


plan_rows = st.lists(st.fixed_dictionaries({
    "principal": st.integers(1, 10**11),
    "terms": st.integers(1, 36),
    "daily_rate_scaled": st.one_of(st.just(0), st.integers(1, 2_000_000)),
    "method": st.sampled_from(METHODS),
    "start": st.dates(date(2000, 1, 1), date(2040, 12, 31)),
}), min_size=1, max_size=25)


@settings(max_examples=150, deadline=None)
@given(rows=plan_rows, dpm=st.sampled_from([30, 31]))
def test_schedule_frame_equals_scalar(rows: list[dict[str, Any]], dpm: int) -> None:
    plans = _plans([{"plan_id": 1000 + k, **r} for k, r in enumerate(rows)])
    assert schedule_frame(plans, days_per_month=dpm).rows() == _scalar_rows(plans, dpm)


def test_near_half_annuity_goes_through_the_exact_path(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    # exact annuity 8,073,525.4999999961: float64 lands within 1e-8 of the half. Push the
    # float estimate to the wrong side, as a worse float error would: the row is flagged
    # as ambiguous and recomputed exactly, so the answer does not move.
    plans = _plans([{"plan_id": 1, "principal": 89_730_332, "terms": 12,
                     "daily_rate_scaled": 400_000, "method": "equal_instalment",
                     "start": date(2024, 1, 15)}])
    real = sched_mod._annuity_float

    def wrong_side(*args: Any) -> Any:
        return real(*args) + 1e-7

    monkeypatch.setattr(sched_mod, "_annuity_float", wrong_side)
    out = schedule_frame(plans)
    assert out["total"][0] == 8_073_525
    assert out.rows() == _scalar_rows(plans)


def test_float_annuity_error_is_far_inside_the_tolerance() -> None:
    # The fast path trusts float64 only when the value is more than _ANNUITY_RTOL
    # (relative) away from a half. Measure the real error on random loans: it must be
    # at least 100x smaller than that tolerance.
    rng = np.random.default_rng(7)
    n = 3_000
    principal = rng.integers(1, 10**11, n)
    terms = rng.integers(1, 61, n)
    monthly = rng.integers(1, 2_000_001, n) * rng.choice([28, 30, 31], n)
    est = sched_mod._annuity_float(principal, terms, monthly)
    worst = 0.0
    for p, t, m, e in zip(principal.tolist(), terms.tolist(), monthly.tolist(), est.tolist(),
                          strict=True):
        r = Fraction(m, RATE_SCALE)
        g = (1 + r) ** t
        exact = p * r * g / (g - 1)
        worst = max(worst, abs(float(Fraction(e) - exact)) / float(exact))
    assert worst < sched_mod._ANNUITY_RTOL / 100, worst


def test_zero_rate_and_mixed_terms_and_string_ids() -> None:
    plans = pl.DataFrame({
        "plan_id": ["a", "b", "c"], "principal": [1_000, 7, 500_000],
        "terms": [3, 12, 1], "daily_rate_scaled": [0, 0, 600_000],
        "method": ["equal_instalment", "equal_instalment", "interest_first"],
        "start": [date(2024, 1, 31)] * 3,
    })
    out = schedule_frame(plans)
    assert out.height == 16
    assert out.filter(pl.col("plan_id") == "a")["principal"].to_list() == [333, 333, 334]
    assert out.group_by("plan_id").agg(pl.col("principal").sum()).sort("plan_id").rows() == [
        ("a", 1_000), ("b", 7), ("c", 500_000)]


def test_empty_frame_gives_empty_schedule() -> None:
    out = schedule_frame(_plans([]))
    assert out.height == 0 and out.columns == COLUMNS


@pytest.mark.parametrize(("change", "message"), [
    ({"principal": 0}, "principal must be a positive integer number of minor units; got 0 "
                       "for plan_id 1"),
    ({"terms": 0}, "terms must be a positive integer; got 0 for plan_id 1"),
    ({"daily_rate_scaled": -1}, "daily_rate_scaled must be a non-negative integer"),
    ({"method": "balloon"}, "method must be one of equal_instalment, equal_principal, "
                            "interest_first; got 'balloon' for plan_id 1"),
    ({"principal": 10**15}, "principal must be small enough"),
])
def test_schedule_frame_refuses_bad_rows_naming_plan_and_value(change: dict[str, Any],
                                                               message: str) -> None:
    row = {"plan_id": 1, "principal": 100_000, "terms": 3, "daily_rate_scaled": 400_000,
           "method": "equal_instalment", "start": date(2024, 1, 1)}
    row.update(change)
    with pytest.raises(BadInputError) as err:
        schedule_frame(_plans([row]))
    assert message in str(err.value)


def test_schedule_frame_refuses_missing_columns_nulls_and_duplicate_ids() -> None:
    good = {"plan_id": 1, "principal": 100_000, "terms": 3, "daily_rate_scaled": 400_000,
            "method": "equal_instalment", "start": date(2024, 1, 1)}
    with pytest.raises(BadInputError, match="missing column"):
        schedule_frame(_plans([good]).drop("method"))
    with pytest.raises(BadInputError, match="plan_id must be unique; got 1"):
        schedule_frame(_plans([good, good]))
    with pytest.raises(BadInputError, match="start must not be null"):
        schedule_frame(_plans([{**good, "start": None}]))


def test_add_months_array_matches_scalar() -> None:
    rng = np.random.default_rng(3)
    days = np.datetime64("1999-12-01") + rng.integers(0, 20_000, 2_000).astype("timedelta64[D]")
    for n in (-13, -1, 0, 1, 2, 11, 12, 59):
        got = add_months_array(days, n)
        want = [add_months(d.item(), n) for d in days]
        assert [g.item() for g in got] == want


# --------------------------------------------------------------------------- conversions

@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.tuples(st.integers(1, 10**11), st.sampled_from([3, 6, 9, 12])),
                     min_size=1, max_size=20))
def test_conversion_frame_equals_scalar(rows: list[tuple[int, int]]) -> None:
    product = RevolvingProduct()
    plans = pl.DataFrame({"plan_id": list(range(len(rows))),
                          "principal": [p for p, _ in rows], "terms": [t for _, t in rows]})
    want = [(k, t.term, t.principal, t.fee, t.total)
            for k, (p, n) in enumerate(rows) for t in conversion_schedule(p, n, product)]
    assert conversion_frame(plans, product).rows() == want
    scaled = plans.with_columns(pl.col("terms").replace_strict(
        {t: int(r * RATE_SCALE) for t, r in product.instalment_fee_rates.items()},
        return_dtype=pl.Int64).alias("fee_rate_scaled"))
    assert conversion_frame(scaled).rows() == want


def test_conversion_frame_refuses_terms_outside_the_fee_table() -> None:
    plans = pl.DataFrame({"plan_id": [7], "principal": [100_000], "terms": [5]})
    with pytest.raises(BadInputError, match="terms must be one of 3, 6, 9, 12 for this "
                                            "product; got 5 for plan_id 7"):
        conversion_frame(plans, RevolvingProduct())
    with pytest.raises(BadInputError, match="fee_rate_scaled column or a product"):
        conversion_frame(plans)


# --------------------------------------------------------------------------- speed

@pytest.mark.slow
def test_half_a_million_plans_in_a_few_seconds() -> None:
    rng = np.random.default_rng(11)
    n = 500_000
    plans = pl.DataFrame({
        "plan_id": np.arange(n), "principal": rng.integers(10_000, 50_000_000, n),
        "terms": np.full(n, 12), "daily_rate_scaled": rng.integers(200_000, 600_001, n),
        "method": rng.choice(list(METHODS), n),
        "start": pl.Series(np.datetime64("2023-01-01")
                           + rng.integers(0, 700, n).astype("timedelta64[D]")).cast(pl.Date),
    })
    t0 = time.perf_counter()
    out = schedule_frame(plans)
    elapsed = time.perf_counter() - t0
    assert out.height == 6_000_000
    sums = out.group_by("plan_id").agg(pl.col("principal").sum()).sort("plan_id")
    assert (sums["principal"] == plans["principal"]).all()
    assert elapsed < 10, elapsed
    sample = plans.sample(200, seed=1).sort("plan_id")
    got = out.join(sample.select("plan_id"), on="plan_id").sort("plan_id", "term")
    assert got.rows() == _scalar_rows(sample)
