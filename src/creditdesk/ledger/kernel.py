"""The end-of-day kernel: the books after one business date, as a pure function.

``close_day(DayInput, LedgerParams) -> DayOutput`` takes the state after the
previous closed date (``account_day``, open ``dues``, ``plan_state``) plus the
day's transactions and returns the new state and the day's history rows. It
does no I/O and treats every account independently, so the same function runs
over a whole DuckDB book in-process and per partition under Spark's
``mapInArrow`` with identical results (DESIGN.md, Engines).

The steps of one date, in order (docs/ledger.md has the worked examples):

1. debits: purchases and cash-loan drawdowns (checked against the credit
   limit as it stood at the start of the day), instalment conversions;
   then arrangements: hardship plans and payment holidays
   (``arrangements.apply_arrangements``);
2. billing: loan instalments falling due today become due items;
3. payoff: a cash loan whose money today covers everything (interest for the
   actual days of the running period) is settled in full;
4. credits: repayments, refunds, settlements and money already held are
   allocated through the waterfall (``allocation.allocate``); the rest is held
   as credit; a settled account's remaining balance is written off
   (``arrangements.close_settlements``);
5. accruals: penalty on every past-due item, revolving interest while the
   interest-free period is lost; both rounded half-up per item per day;
6. due dates: a revolving bill not paid in full by its due date loses the
   interest-free period from the next day;
7. statements on the bill day: statement balance and minimum due;
8. delinquency: DPD from the oldest unpaid due date, bucket, charge-off
   past the product's limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import polars as pl

from creditdesk.ledger import arrangements, cycle, debits, steps
from creditdesk.ledger.journal import KEY, concat_journal
from creditdesk.ledger.params import LedgerParams
from creditdesk.ledger.schema import TABLES, conform, empty

__all__ = ["DayInput", "DayOutput", "close_day", "schedules_needed"]


@dataclass(frozen=True)
class DayInput:
    """What closing ``business_date`` reads. Frames follow ``ledger.schema``.

    ``accounts``: every account opened on or before the date;
    ``prev``: ``account_day`` of the previous closed date (empty at the start);
    ``dues`` / ``plan_state``: open items and plans after the previous date;
    ``billing``: instalment rows whose ``bill_date`` is this date;
    ``txns``: the date's transactions;
    ``schedules``: instalment rows (every version) with ``bill_date`` on or after
    the date of the plans of the accounts with a ``payment_holiday`` among
    ``txns`` (empty when there is none; see :func:`schedules_needed`).
    """

    business_date: date
    accounts: pl.DataFrame
    prev: pl.DataFrame
    dues: pl.DataFrame
    plan_state: pl.DataFrame
    billing: pl.DataFrame
    txns: pl.DataFrame
    schedules: pl.DataFrame = field(default_factory=lambda: empty("instalments"))


def schedules_needed(txns: pl.DataFrame) -> list[str]:
    """Accounts whose plans' remaining schedules the date needs (its payment holidays)."""
    if txns.height == 0:
        return []
    hol = txns.filter(pl.col("type") == "payment_holiday").get_column("account_id")
    return sorted(set(hol.drop_nulls().to_list()))


@dataclass(frozen=True)
class DayOutput:
    """The date's results, each conforming to its table in ``ledger.schema``."""

    account_day: pl.DataFrame
    dues: pl.DataFrame
    plan_state: pl.DataFrame
    plans: pl.DataFrame
    instalments: pl.DataFrame
    statements: pl.DataFrame
    journal: pl.DataFrame
    postings: pl.DataFrame

    def tables(self) -> dict[str, pl.DataFrame]:
        return {name: getattr(self, name) for name in OUTPUT_TABLES}


OUTPUT_TABLES = ("account_day", "dues", "plan_state", "plans", "instalments", "statements",
                 "journal", "postings")


def close_day(inp: DayInput, params: LedgerParams) -> DayOutput:
    """Close one business date. Pure: same input, same output, on any engine.

    >>> from creditdesk.ledger.sample import tiny_day_input
    >>> from creditdesk.ledger.params import ledger_params
    >>> from creditdesk.products import default_catalogue
    >>> out = close_day(tiny_day_input(), ledger_params(default_catalogue()))
    >>> out.account_day.select("account_id", "unbilled_principal").row(0)
    ('A1', 100000)
    """
    d = inp.business_date
    day = steps.Day(d, params)
    st = steps.start_state(inp, params)  # accounts in account_id order, keyed _k
    dues = steps.keyed(inp.dues, st).with_columns(pl.lit(d).alias("business_date"))
    plans = steps.keyed(inp.plan_state, st).with_columns(pl.lit(d).alias("business_date"))
    txns = steps.keyed(inp.txns.sort("txn_id"), st)
    billing = steps.keyed(inp.billing, st)

    st, txns, new_plans, new_inst, plans = debits.post_debits(day, st, txns, plans, dues)
    st, txns, dues, plans, arr_plans, arr_inst = arrangements.apply_arrangements(
        day, st, txns, dues, plans, inp.schedules)
    if arr_plans.height:
        new_plans = pl.concat([conform(new_plans, "plans"), conform(arr_plans, "plans")])
    if arr_inst.height:
        new_inst = pl.concat([conform(new_inst, "instalments"),
                              conform(arr_inst, "instalments")])
    st, dues, plans = steps.bill_loan_instalments(day, st, billing, dues, plans)
    st, dues, plans = steps.settle_payoffs(day, st, txns, dues, plans)
    st, dues = steps.apply_credits(day, st, txns, dues)
    st, dues, plans = arrangements.close_settlements(day, st, txns, dues, plans)
    st, dues = cycle.accrue(day, st, dues)
    st = cycle.check_due_dates(day, st, dues)
    st, dues, plans, statements = cycle.issue_statements(day, st, dues, plans, billing)
    st, dues, plans = cycle.delinquency(day, st, dues, plans)
    account_day = cycle.account_day(day, st, dues, plans)

    dues = dues.filter(pl.sum_horizontal("principal", "interest", "fee", "penalty") > 0)
    plans = plans.filter(pl.col("status").is_in(["active", "billed_out"]))
    # rows in account_id order: st is in that order already, the rest sort on the key _k
    return DayOutput(
        account_day=conform(account_day, "account_day"),
        dues=conform(dues.sort(KEY, "due_date", "due_id"), "dues"),
        plan_state=conform(plans.sort(KEY, "plan_id"), "plan_state"),
        plans=conform(new_plans, "plans").sort("plan_id") if new_plans.height
        else empty("plans"),
        instalments=conform(new_inst, "instalments").sort("plan_id", "term", "bill_date")
        if new_inst.height
        else empty("instalments"),
        statements=conform(statements.sort(KEY), "statements")
        if statements.height else empty("statements"),
        journal=concat_journal(day.journal),
        postings=conform(txns.select(
            pl.lit(d).alias("business_date"), "txn_id", "account_id", "status",
            pl.col("reason")), "postings").sort("txn_id"),
    )


def empty_input(business_date: date, accounts: pl.DataFrame | None = None) -> DayInput:
    """A first day: no previous state."""
    return DayInput(
        business_date=business_date,
        accounts=accounts if accounts is not None else empty("accounts"),
        prev=empty("account_day"), dues=empty("dues"), plan_state=empty("plan_state"),
        billing=empty("instalments"), txns=empty("transactions"),
    )


assert set(OUTPUT_TABLES) <= set(TABLES)
