"""Revolving credit: statement, minimum due, interest-free period, daily interest and penalty."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditdesk.errors import BadInputError
from creditdesk.products import (
    RevolvingProduct,
    Statement,
    due_date_for,
    interest_free,
    next_bill_date,
    revolving_interest_for_day,
    revolving_penalty_for_day,
    revolving_statement,
)

DEFAULT = RevolvingProduct()
ZERO = {"new_principal": 0, "revolving_principal": 0, "instalment_principal": 0,
        "instalment_fee": 0, "interest": 0, "penalty": 0, "past_due": 0}


def test_statement_worked_example() -> None:
    # purchases 1,000.00, revolved 500.00, an instalment of 400.00 + 10.00 fee, 7.50 interest.
    # min_principal = 10 % x 1,500.00 = 150.00
    # min_due = 150.00 + 400.00 + 10.00 + 7.50 = 567.50
    # balance = 1,000 + 500 + 400 + 10 + 7.50 = 1,917.50
    s = revolving_statement(new_principal=100_000, revolving_principal=50_000,
                            instalment_principal=40_000, instalment_fee=1_000, interest=750,
                            penalty=0, past_due=0, product=DEFAULT)
    assert s == Statement(statement_balance=191_750, min_due=56_750, min_principal=15_000)


def test_past_due_and_penalty_are_due_in_full() -> None:
    # 200.00 new; 50.00 past due; 1.20 penalty: min = 50.00 + 20.00 + 1.20 = 71.20
    # balance = 200.00 + 50.00 + 1.20 = 251.20
    s = revolving_statement(**{**ZERO, "new_principal": 20_000, "past_due": 5_000,
                               "penalty": 120}, product=DEFAULT)
    assert s == Statement(25_120, 7_120, 2_000)


def test_min_principal_rounds_half_up() -> None:
    # 123.45 x 10 % = 12.345 yuan = 1,234.5 fen -> 1,235
    s = revolving_statement(**{**ZERO, "new_principal": 12_345}, product=DEFAULT)
    assert s.min_principal == 1_235 and s.min_due == 1_235


def test_min_payment_rate_comes_from_the_product() -> None:
    s = revolving_statement(**{**ZERO, "new_principal": 100_000},
                            product=RevolvingProduct(min_payment_rate=Decimal("0.05")))
    assert s.min_principal == 5_000


@pytest.mark.parametrize("name", list(ZERO))
def test_negative_or_float_amounts_are_refused_naming_the_field(name: str) -> None:
    with pytest.raises(BadInputError, match=f"{name} must be a non-negative integer"):
        revolving_statement(**{**ZERO, name: -1}, product=DEFAULT)
    with pytest.raises(BadInputError, match=f"{name} must be a non-negative integer"):
        revolving_statement(**{**ZERO, name: 1.5}, product=DEFAULT)  # type: ignore[arg-type]


@given(parts=st.fixed_dictionaries({k: st.integers(0, 10**10) for k in ZERO}))
def test_min_due_never_exceeds_the_balance(parts: dict[str, int]) -> None:
    s = revolving_statement(**parts, product=DEFAULT)
    assert s.statement_balance == sum(parts.values())
    assert 0 <= s.min_principal <= parts["new_principal"] + parts["revolving_principal"]
    assert s.min_due <= s.statement_balance


def test_interest_free_only_when_paid_in_full() -> None:
    assert interest_free(191_750, 191_750)
    assert interest_free(191_750, 200_000)
    assert not interest_free(191_750, 191_749)
    assert interest_free(0, 0)
    with pytest.raises(BadInputError, match="paid_by_due_date must be a non-negative"):
        interest_free(100, -1)


def test_daily_interest_and_penalty_round_half_up() -> None:
    # 1,350.00 x 0.05 % = 67.5 fen -> 68; 567.50 x 0.05 % = 28.375 -> 28
    assert revolving_interest_for_day(135_000, DEFAULT) == 68
    assert revolving_penalty_for_day(56_750, DEFAULT) == 28
    assert revolving_interest_for_day(0, DEFAULT) == 0
    with pytest.raises(BadInputError, match="unpaid_principal"):
        revolving_interest_for_day(-5, DEFAULT)


@pytest.mark.parametrize(("bill", "due_day", "due"), [
    (date(2024, 3, 1), 10, date(2024, 3, 10)),    # default: same month
    (date(2024, 3, 25), 5, date(2024, 4, 5)),     # due day before bill day: next month
    (date(2024, 12, 25), 5, date(2025, 1, 5)),    # across the year
    (date(2024, 1, 28), 27, date(2024, 2, 27)),
])
def test_due_date_is_the_first_due_day_after_the_bill(bill: date, due_day: int,
                                                      due: date) -> None:
    assert due_date_for(bill, due_day) == due


def test_next_bill_date() -> None:
    assert next_bill_date(date(2024, 3, 1), 1) == date(2024, 4, 1)
    assert next_bill_date(date(2024, 2, 29), 1) == date(2024, 3, 1)
    assert next_bill_date(date(2024, 3, 20), 25) == date(2024, 3, 25)
    assert next_bill_date(date(2024, 12, 31), 28) == date(2025, 1, 28)
    with pytest.raises(ValueError, match="bill_day must be between 1 and 28; got 31"):
        next_bill_date(date(2024, 1, 1), 31)
