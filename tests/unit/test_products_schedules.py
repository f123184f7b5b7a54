"""Cash-loan and instalment-conversion schedules (scalar functions), with hand-worked examples."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

import numpy_financial as npf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditdesk.errors import BadInputError
from creditdesk.products import (
    METHODS,
    Instalment,
    RevolvingProduct,
    add_months,
    annuity_payment,
    cash_loan_schedule,
    conversion_schedule,
)

START = date(2024, 1, 31)


# --------------------------------------------------------------------------- add_months

@pytest.mark.parametrize(("d", "n", "expected"), [
    (date(2024, 1, 31), 1, date(2024, 2, 29)),   # leap February
    (date(2023, 1, 31), 1, date(2023, 2, 28)),
    (date(2024, 1, 31), 2, date(2024, 3, 31)),   # counted from the start, no drift
    (date(2024, 1, 31), 3, date(2024, 4, 30)),
    (date(2024, 11, 15), 2, date(2025, 1, 15)),  # across the year end
    (date(2024, 3, 15), -3, date(2023, 12, 15)),
    (date(2024, 5, 10), 0, date(2024, 5, 10)),
])
def test_add_months_keeps_the_day_clipped_to_month_end(d: date, n: int, expected: date) -> None:
    assert add_months(d, n) == expected


# --------------------------------------------------------------------------- equal_instalment

def test_equal_instalment_worked_example() -> None:
    # 10,000.00 yuan = 1,000,000 fen over 12 months at 0.04 %/day.
    # r = 0.0004 x 30 = 0.012 a month; (1.012)^12 = 1.15389462...
    # payment = 1,000,000 x 0.012 x 1.153895 / 0.153895 = 89,975.433 -> 89,975 fen (899.75)
    # term 1: interest = 1,000,000 x 0.012 = 12,000; principal = 89,975 - 12,000 = 77,975
    # term 2: remaining 922,025; interest = 11,064.3 -> 11,064; principal = 78,911
    # term 12: remaining 88,913 (all of it); interest = 1,066.956 -> 1,067; total 89,980
    s = cash_loan_schedule(1_000_000, 12, "0.0004", "equal_instalment", START)
    assert s[0] == Instalment(1, date(2024, 2, 29), 77_975, 12_000, 0, 89_975)
    assert s[1] == Instalment(2, date(2024, 3, 31), 78_911, 11_064, 0, 89_975)
    assert s[-1] == Instalment(12, date(2025, 1, 31), 88_913, 1_067, 0, 89_980)
    assert all(i.total == 89_975 for i in s[:-1])
    assert sum(i.principal for i in s) == 1_000_000
    assert sum(i.interest for i in s) == 79_705
    # cross-check with numpy_financial (floats, so within rounding)
    assert annuity_payment(1_000_000, 12, Decimal("0.012")) == round(-npf.pmt(0.012, 12, 1e6))
    for i in s:
        expected_interest = -npf.ipmt(0.012, i.term, 12, 1e6)
        assert abs(i.interest - expected_interest) <= 1.0


def test_equal_instalment_with_zero_rate_has_no_interest_and_no_division_by_zero() -> None:
    # 1,000 fen over 3 terms at 0: payment = 333.33 -> 333; last term gets 334
    s = cash_loan_schedule(1_000, 3, "0", "equal_instalment", START)
    assert [(i.principal, i.interest) for i in s] == [(333, 0), (333, 0), (334, 0)]


def test_tiny_equal_instalment_loan_never_pays_more_principal_than_is_left() -> None:
    # 6 fen over 12 terms at 0: payment = 0.5 -> 1 fen; after 6 terms nothing is left
    s = cash_loan_schedule(6, 12, "0", "equal_instalment", START)
    assert [i.principal for i in s] == [1] * 6 + [0] * 6
    assert all(i.principal >= 0 for i in s)


# --------------------------------------------------------------------------- equal_principal

def test_equal_principal_worked_example() -> None:
    # 1,000,000 fen / 12 = 83,333.33: eleven parts of 83,333, the last 83,337
    # interest k = round_half_up((1,000,000 - 83,333 (k-1)) x 0.012):
    # term 1: 12,000; term 2: 916,667 x 0.012 = 11,000.004 -> 11,000; term 12: 83,337 x
    # 0.012 = 1,000.044 -> 1,000. Interest falls by 1,000 a term: total 78,000.
    s = cash_loan_schedule(1_000_000, 12, "0.0004", "equal_principal", START)
    assert [i.principal for i in s] == [83_333] * 11 + [83_337]
    assert [i.interest for i in s] == [12_000 - 1_000 * k for k in range(12)]
    assert s[0].total == 95_333 and s[-1].total == 84_337


# --------------------------------------------------------------------------- interest_first

def test_interest_first_worked_example() -> None:
    # 1,000,000 x 0.012 = 12,000 interest every term; all principal in term 12
    s = cash_loan_schedule(1_000_000, 12, "0.0004", "interest_first", START)
    assert [i.interest for i in s] == [12_000] * 12
    assert [i.principal for i in s] == [0] * 11 + [1_000_000]
    assert s[-1].total == 1_012_000


def test_interest_rounds_half_up_not_to_even() -> None:
    # 1,375 x 0.012 = 16.5 fen exactly: half-up gives 17 (banker's rounding would give 16)
    s = cash_loan_schedule(1_375, 3, "0.0004", "interest_first", START)
    assert [i.interest for i in s] == [17, 17, 17]


def test_days_per_month_sets_the_monthly_rate() -> None:
    # 0.0004 x 31 = 0.0124: 1,000,000 x 0.0124 = 12,400
    s = cash_loan_schedule(1_000_000, 3, "0.0004", "interest_first", START, days_per_month=31)
    assert s[0].interest == 12_400


def test_annuity_near_a_half_is_rounded_exactly() -> None:
    # 89,730,332 fen over 12 terms at 1.2 %/month: the exact annuity is
    # 8,073,525.4999999961..., a hair under the half: half-up gives 8,073,525.
    assert annuity_payment(89_730_332, 12, Decimal("0.012")) == 8_073_525


# --------------------------------------------------------------------------- validation

@pytest.mark.parametrize(("kwargs", "message"), [
    ({"principal": 0}, "principal must be a positive integer number of minor units; got 0"),
    ({"principal": 100.5}, "principal must be a positive integer number of minor units; "
                           "got 100.5"),
    ({"principal": True}, "principal must be a positive integer"),
    ({"terms": 0}, "terms must be a positive integer; got 0"),
    ({"terms": -3}, "terms must be a positive integer; got -3"),
    ({"method": "x"}, "method must be one of equal_instalment, equal_principal, "
                      "interest_first; got 'x'"),
    ({"daily_rate": 0.0004}, "daily_rate must be a decimal string"),
    ({"daily_rate": "-0.1"}, "daily_rate must be a non-negative decimal; got '-0.1'"),
    ({"daily_rate": "abc"}, "daily_rate must be a decimal number; got 'abc'"),
    ({"start": "2024-01-01"}, "start must be a date; got '2024-01-01'"),
])
def test_bad_arguments_are_refused_naming_argument_and_value(kwargs: dict[str, object],
                                                             message: str) -> None:
    args: dict[str, object] = {"principal": 100_000, "terms": 3, "daily_rate": "0.0004",
                               "method": "equal_instalment", "start": START}
    args.update(kwargs)
    with pytest.raises(BadInputError) as err:
        cash_loan_schedule(**args)  # type: ignore[arg-type]
    assert message in str(err.value)


# --------------------------------------------------------------------------- properties

rates = st.integers(0, 2_000_000).map(lambda s: Decimal(s) / 10**9)
starts = st.dates(date(2000, 1, 1), date(2040, 12, 31))


@settings(max_examples=300, deadline=None)
@given(principal=st.integers(1, 10**11), terms=st.integers(1, 60), rate=rates,
       method=st.sampled_from(METHODS), start=starts, dpm=st.sampled_from([30, 31, 28]))
def test_schedule_invariants(principal: int, terms: int, rate: Decimal, method: str,
                             start: date, dpm: int) -> None:
    s = cash_loan_schedule(principal, terms, rate, method, start, days_per_month=dpm)
    assert [i.term for i in s] == list(range(1, terms + 1))
    assert sum(i.principal for i in s) == principal  # exactly, whatever the rounding
    assert all(i.principal >= 0 and i.interest >= 0 and i.fee == 0 for i in s)
    assert all(i.total == i.principal + i.interest for i in s)
    assert [i.due_date for i in s] == [add_months(start, k) for k in range(1, terms + 1)]
    assert all(a.due_date < b.due_date for a, b in itertools.pairwise(s))
    r = rate * dpm
    remaining = principal
    for i in s:  # interest is always half-up of the remaining principal x r
        exact = remaining * r
        assert i.interest - Decimal("0.5") <= exact < i.interest + Decimal("0.5")
        remaining -= i.principal


# numpy_financial computes (1+r)^n - 1 in floats, which cancels badly at tiny rates
# (at r = 3e-8 it is off by 0.02 fen on a 168,486.42 loan), so the cross-check uses
# realistic rates from 0.01 %/day up; below that only the exact rational is trusted.
@settings(max_examples=300, deadline=None)
@given(principal=st.integers(10_000, 10**11), terms=st.integers(1, 60),
       scaled=st.integers(100_000, 2_000_000))
def test_annuity_matches_numpy_financial(principal: int, terms: int, scaled: int) -> None:
    r = Decimal(scaled) / 10**9 * 30
    expected = float(-npf.pmt(float(r), terms, principal))
    noise = 1e-9 * expected + 1e-6
    got = annuity_payment(principal, terms, r)
    assert abs(got - expected) <= 0.5 + noise
    if abs(expected - int(expected) - 0.5) > noise:  # clear of the float noise at a half
        assert got == round(expected)


def test_annuity_at_a_tiny_rate_is_exact_where_numpy_financial_is_not() -> None:
    # 16,848,642 fen for one month at 3e-8: exactly 16,848,642 x 1.00000003
    # = 16,848,642.50545926 -> 16,848,643 (numpy_financial says ...642.483)
    assert annuity_payment(16_848_642, 1, Decimal("0.00000003")) == 16_848_643


@settings(max_examples=200, deadline=None)
@given(principal=st.integers(10_000, 10**10), terms=st.integers(2, 36), rate=rates,
       start=starts)
def test_equal_instalment_level_payment_except_the_last(principal: int, terms: int,
                                                        rate: Decimal, start: date) -> None:
    s = cash_loan_schedule(principal, terms, rate, "equal_instalment", start)
    payment = annuity_payment(principal, terms, rate * 30)
    assert all(i.total == payment for i in s[:-1])
    # The last term absorbs the rounding drift: each term's interest and the payment
    # are each off by at most half a fen, i.e. at most 1 fen a term, compounding at r,
    # so the drift is at most ((1+r)^n - 1) / r fen (n fen when r = 0).
    r = rate * 30
    bound = terms if r == 0 else ((1 + r) ** terms - 1) / r
    assert abs(s[-1].total - payment) <= bound + 1


# --------------------------------------------------------------------------- conversion

def test_conversion_worked_example_three_terms() -> None:
    # 1,200.00 over 3 terms, fee 2.5 % = 30.00 = 3,000 fen -> 1,000 / 1,000 / 1,000;
    # principal 400.00 a term.
    s = conversion_schedule(120_000, 3, RevolvingProduct())
    assert [(t.term, t.principal, t.fee, t.total) for t in s] == [
        (1, 40_000, 1_000, 41_000), (2, 40_000, 1_000, 41_000), (3, 40_000, 1_000, 41_000)]


def test_conversion_rounds_the_fee_half_up_and_the_last_term_absorbs() -> None:
    # 123.45 over 6 terms at 4.5 %: fee = 555.525 fen -> 556; 556 / 6 = 92 r 4 -> last 96
    # principal 12,345 / 6 = 2,057 r 3 -> last 2,060
    s = conversion_schedule(12_345, 6, RevolvingProduct())
    assert [t.fee for t in s] == [92] * 5 + [96]
    assert [t.principal for t in s] == [2_057] * 5 + [2_060]
    # 1,000.00 over 12 terms at 8.8 %: fee 8,800 -> 733 x 11 + 737
    s12 = conversion_schedule(100_000, 12, RevolvingProduct())
    assert sum(t.fee for t in s12) == 8_800 and s12[-1].fee == 737


def test_conversion_refuses_terms_outside_the_fee_table() -> None:
    with pytest.raises(BadInputError, match="terms must be one of 3, 6, 9, 12 for this "
                                            "product; got 5"):
        conversion_schedule(100_000, 5, RevolvingProduct())
    with pytest.raises(BadInputError, match="principal must be a positive integer"):
        conversion_schedule(-1, 3, RevolvingProduct())


@settings(max_examples=200, deadline=None)
@given(principal=st.integers(1, 10**11), terms=st.sampled_from([3, 6, 9, 12]))
def test_conversion_parts_sum_exactly(principal: int, terms: int) -> None:
    product = RevolvingProduct()
    s = conversion_schedule(principal, terms, product)
    assert sum(t.principal for t in s) == principal
    fee = sum(t.fee for t in s)
    exact = principal * product.instalment_fee_rates[terms]
    assert fee - Decimal("0.5") <= exact < fee + Decimal("0.5")
    assert max(t.principal for t in s) - min(t.principal for t in s) < terms


def test_long_schedules_are_fine() -> None:
    s = cash_loan_schedule(50_000_000, 360, "0.0001", "equal_instalment", date(2024, 2, 29))
    assert sum(i.principal for i in s) == 50_000_000
    assert s[-1].due_date == date(2054, 2, 28)
    assert s[0].due_date - date(2024, 2, 29) == timedelta(days=29)
