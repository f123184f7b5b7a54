"""Revolving credit (Huabei-like) rules: the monthly statement, the interest-free period,
daily interest and penalty.

These are the product's arithmetic only; the ledger decides *when* to apply
them (bill date, due date, each day after) and posts the results.

The cycle, with the shipped defaults (bill day 1, due day 10):

1. On the bill date the statement sums what the customer owes: new purchases,
   principal revolved from earlier bills, the instalments of converted plans
   falling in this bill, interest, penalty and any amount already past due.
2. Paid in full by the due date: no interest at all (the interest-free period).
3. Otherwise the minimum due (10 % of the bill's principal plus everything that
   is not principal) keeps the account current; principal left unpaid after the
   due date accrues 0.05 % a day, and an unpaid minimum carries a 0.05 %/day
   penalty on the overdue amount.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from creditdesk.errors import BadInputError
from creditdesk.money import round_half_up
from creditdesk.products.catalogue import RevolvingProduct

__all__ = [
    "Statement",
    "interest_free",
    "revolving_interest_for_day",
    "revolving_penalty_for_day",
    "revolving_statement",
]


@dataclass(frozen=True, slots=True)
class Statement:
    """A bill: what is owed in full, the minimum that keeps the account current,
    and the principal part of that minimum."""

    statement_balance: int
    min_due: int
    min_principal: int


def _amount(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadInputError(f"{name} must be a non-negative integer number of minor units; "
                            f"got {value!r}", field=name, value=value)
    return value


def revolving_statement(*, new_principal: int, revolving_principal: int,
                        instalment_principal: int, instalment_fee: int, interest: int,
                        penalty: int, past_due: int,
                        product: RevolvingProduct) -> Statement:
    """The statement of one cycle.

    * ``statement_balance`` = the sum of all seven parts;
    * ``min_principal`` = round_half_up(min_payment_rate x (new + revolving principal)) —
      only the principal that may revolve is discounted; instalment parts are
      already a fraction of their plan;
    * ``min_due`` = past_due + min_principal + instalment principal and fee +
      interest + penalty: everything that is not revolvable principal is due in full.

    Worked example (default 10 %): 1,000.00 of purchases, 500.00 revolved, a
    400.00 + 10.00 instalment, 7.50 interest, nothing overdue:
    min_principal = 10 % of 1,500.00 = 150.00;
    min_due = 150.00 + 400.00 + 10.00 + 7.50 = 567.50;
    balance = 1,000 + 500 + 400 + 10 + 7.50 = 1,917.50.

    >>> revolving_statement(new_principal=100_000, revolving_principal=50_000,
    ...     instalment_principal=40_000, instalment_fee=1_000, interest=750, penalty=0,
    ...     past_due=0, product=RevolvingProduct())
    Statement(statement_balance=191750, min_due=56750, min_principal=15000)
    """
    parts = {
        "new_principal": new_principal, "revolving_principal": revolving_principal,
        "instalment_principal": instalment_principal, "instalment_fee": instalment_fee,
        "interest": interest, "penalty": penalty, "past_due": past_due,
    }
    for name, value in parts.items():
        _amount(value, name)
    balance = sum(parts.values())
    min_principal = round_half_up(product.min_payment_rate
                                  * Decimal(new_principal + revolving_principal))
    min_due = (past_due + min_principal + instalment_principal + instalment_fee
               + interest + penalty)
    return Statement(balance, min_due, min_principal)


def interest_free(statement_balance: int, paid_by_due_date: int) -> bool:
    """Whether the bill earns no interest: it was paid in full by the due date.

    Paying the minimum (or anything short of the full balance) keeps the account
    current but ends the interest-free period for the unpaid principal.

    >>> interest_free(191750, 191750), interest_free(191750, 191749)
    (True, False)
    """
    _amount(statement_balance, "statement_balance")
    _amount(paid_by_due_date, "paid_by_due_date")
    return paid_by_due_date >= statement_balance


def revolving_interest_for_day(unpaid_principal: int, product: RevolvingProduct) -> int:
    """One day's interest on principal left unpaid after the due date, rounded half-up.

    Accrued and posted daily, so each day rounds on its own.
    1,350.00 unpaid at 0.05 %/day: 135000 x 0.0005 = 67.5 fen -> 68 fen.

    >>> revolving_interest_for_day(135_000, RevolvingProduct())
    68
    """
    _amount(unpaid_principal, "unpaid_principal")
    return round_half_up(Decimal(unpaid_principal) * product.interest_daily_rate)


def revolving_penalty_for_day(overdue_amount: int, product: RevolvingProduct) -> int:
    """One day's penalty on the overdue amount (an unpaid minimum due), rounded half-up.

    >>> revolving_penalty_for_day(56_750, RevolvingProduct())  # 28.375 fen
    28
    """
    _amount(overdue_amount, "overdue_amount")
    return round_half_up(Decimal(overdue_amount) * product.penalty_daily_rate)
