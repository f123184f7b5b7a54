"""The steps of one end-of-day, each a pure function of frames (see kernel.py).

Every step takes the working account state ``st`` (one row per account) and
the frames it changes, and returns them changed; journal lines are collected
on the :class:`Day`. Nothing here reads or writes a store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from creditdesk.ledger.allocation import allocate
from creditdesk.ledger.journal import KEY, pair_lines
from creditdesk.ledger.params import LedgerParams
from creditdesk.money import RATE_SCALE

if TYPE_CHECKING:
    from creditdesk.ledger.kernel import DayInput

COMPONENTS = ("principal", "interest", "fee", "penalty")
CARRIED = {
    "status": pl.lit("open"), "unbilled_principal": pl.lit(0, pl.Int64),
    "billed_principal": pl.lit(0, pl.Int64), "accrued_interest": pl.lit(0, pl.Int64),
    "credit_balance": pl.lit(0, pl.Int64), "interest_on": pl.lit(False),
    "statement_due_date": pl.lit(None, pl.Date), "oldest_due_date": pl.lit(None, pl.Date),
    "chargeoff_date": pl.lit(None, pl.Date), "chargeoff_amount": pl.lit(0, pl.Int64),
    "recovered_total": pl.lit(0, pl.Int64),
    "holiday_until": pl.lit(None, pl.Date), "holiday_months": pl.lit(0, pl.Int32),
}
FLOWS = ("purchases_today", "drawdowns_today", "paid_today", "interest_today",
         "penalty_today", "fee_today", "recovered_today")


@dataclass
class Day:
    """The date being closed, its parameters and the journal lines written so far."""

    d: date
    params: LedgerParams
    journal: list[pl.DataFrame] = field(default_factory=list)

    @property
    def lit_date(self) -> pl.Expr:
        return pl.lit(self.d, pl.Date)


def rhu(amount: pl.Expr, scaled_rate: pl.Expr | int) -> pl.Expr:
    """round_half_up(amount x rate) in exact integer arithmetic (rate scaled by 1e9)."""
    rate = scaled_rate if isinstance(scaled_rate, pl.Expr) else pl.lit(scaled_rate, pl.Int64)
    prod = amount.cast(pl.Int128) * rate.cast(pl.Int128)
    return ((prod + RATE_SCALE // 2) // RATE_SCALE).cast(pl.Int64)


def outstanding() -> pl.Expr:
    """What is still owed on a due item: the sum of its four components."""
    return pl.sum_horizontal(*COMPONENTS)


def scaled_rate(text: str | None) -> int | None:
    """A rate string as an int count of 1e-9, or None when it is not a valid rate."""
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    scaled = value * RATE_SCALE
    if not value.is_finite() or value < 0 or scaled != scaled.to_integral_value():
        return None
    return int(scaled)


# --------------------------------------------------------------------------- keys
# The working state ``st`` holds one row per account, in ``account_id`` order, and
# its rows never move during a date: row ``i`` is the account with key ``_k = i``.
# Every frame about accounts carries ``_k`` beside ``account_id``; per-account
# results are grouped on the integer key and laid back onto ``st`` by position
# (``with_aligned``), not by joining a million strings. The key is the kernel's
# own: it is dropped from every output (``schema.conform``).


def keyed(df: pl.DataFrame, st: pl.DataFrame) -> pl.DataFrame:
    """``df`` with its account's key ``_k`` (null for an account not in ``st``), order kept.

    A binary search in ``st``'s sorted ``account_id`` (frames about accounts come
    nearly in that order, so it stays in cache), checked for an exact match.
    """
    ids = st.get_column("account_id")
    want = df.get_column("account_id")
    if ids.len() == 0 or want.len() == 0:
        return df.with_columns(pl.lit(None, pl.UInt32).alias(KEY))
    pos = ids.search_sorted(want, side="left").clip(0, ids.len() - 1).cast(pl.UInt32)
    found = (ids.gather(pos) == want).fill_null(False)
    return df.with_columns(pl.when(found).then(pos).otherwise(None).alias(KEY))


def rows_of(st: pl.DataFrame, keys: pl.Series, *cols: str) -> pl.DataFrame:
    """Columns ``cols`` of the accounts with these keys (one row per key, in their order)."""
    return st.select(pl.col(*cols).gather(keys))


def with_aligned(st: pl.DataFrame, frame: pl.DataFrame) -> pl.DataFrame:
    """``st`` with the columns of ``frame`` (at most one row per ``_k``) added on its rows.

    The same as a left join of ``st`` with ``frame`` on the account: an account
    absent from ``frame`` gets nulls; ``st``'s rows stay where they are.
    """
    idx = frame.get_column(KEY)
    cols = [c for c in frame.columns if c not in (KEY, "account_id")]
    return st.with_columns([
        pl.repeat(None, st.height, dtype=frame.schema[c], eager=True)
        .scatter(idx, frame.get_column(c)).alias(c) for c in cols])


def dense_sums(st: pl.DataFrame, frame: pl.DataFrame, sums: dict[str, pl.Expr]
               ) -> list[pl.Series]:
    """Per-account sums over ``frame``'s rows, one value per row of ``st`` (0 where none).

    The key is dense (``0..n-1``), so a sum is one pass of ``numpy.add.at`` in
    exact int64 arithmetic: no hashing, unlike a group-by then a join.
    """
    keys = frame.get_column(KEY).to_numpy()
    out = []
    for name, expr in sums.items():
        values = frame.select(expr.fill_null(0).cast(pl.Int64)).to_series().to_numpy()
        acc = np.zeros(st.height, np.int64)
        np.add.at(acc, keys, values)
        out.append(pl.Series(name, acc))
    return out


def dense_min_date(st: pl.DataFrame, frame: pl.DataFrame, name: str, expr: pl.Expr
                   ) -> pl.Series:
    """Per-account earliest date of ``expr`` over ``frame``'s rows (null where none)."""
    none = np.iinfo(np.int32).max
    keys = frame.get_column(KEY).to_numpy()
    values = frame.select(expr.cast(pl.Int32).fill_null(none)).to_series().to_numpy()
    acc = np.full(st.height, none, np.int32)
    np.minimum.at(acc, keys, values)
    days = pl.Series(name, acc)
    return days.set(days == none, None).cast(pl.Date)


# --------------------------------------------------------------------------- start
def start_state(inp: DayInput, params: LedgerParams) -> pl.DataFrame:
    """One row per account opened by the date, in ``account_id`` order, keyed ``_k``:
    yesterday's state, or a fresh one."""
    prev_cols = [c for c in CARRIED if c in inp.prev.columns]
    prev = inp.prev.select("account_id", *prev_cols)
    prod = params.products
    acc = inp.accounts.filter(pl.col("opened") <= inp.business_date)
    if not acc.get_column("account_id").is_sorted():
        acc = acc.sort("account_id")
    st = (
        acc.with_row_index(KEY)
        .join(prod, on="product", how="left", suffix="_product", maintain_order="left")
        .with_columns(
            pl.coalesce(pl.col("bill_day"), pl.col("bill_day_product")).alias("bill_day"),
            pl.coalesce(pl.col("due_day"), pl.col("due_day_product")).alias("due_day"),
        )
        .drop("bill_day_product", "due_day_product")
    )
    if prev.height == st.height and prev.get_column("account_id").equals(
            st.get_column("account_id")):
        # the same accounts as yesterday, in the same order (most dates): no join
        st = st.with_columns(prev.drop("account_id").get_columns())
    else:
        st = st.join(prev, on="account_id", how="left", maintain_order="left")
    return (st.with_columns([pl.col(c).fill_null(v) if c in prev_cols else v.alias(c)
                             for c, v in CARRIED.items()])
            .with_columns([pl.lit(0, pl.Int64).alias(c) for c in FLOWS]))


def principal_by_account(dues: pl.DataFrame, plans: pl.DataFrame) -> pl.DataFrame:
    """Principal owed in due items and in plans not yet billed, per account key."""
    a = dues.group_by(KEY).agg(pl.col("principal").sum().alias("_p"))
    b = plans.group_by(KEY).agg(pl.col("remaining_principal").sum().alias("_p"))
    return pl.concat([a, b]).group_by(KEY).agg(pl.col("_p").sum().alias("in_items"))


# --------------------------------------------------------------------------- billing
#: plans whose instalments fall due on their own dates (not through a revolving bill),
#: and the ``source`` of the due item each one's instalment becomes
STANDALONE_SOURCE = {"cash_loan": "instalment", "hardship": "hardship"}


def in_force(rows: pl.DataFrame) -> pl.Expr:
    """Instalment rows of the schedule version in force: a payment holiday appends a new
    version of a plan's remaining terms (``business_date`` = the holiday's date) and
    points the plan's ``schedule_date`` at it (``ledger.arrangements``)."""
    return (pl.col("schedule_date").is_null()
            | (pl.col("business_date") == pl.col("schedule_date")))


def bill_loan_instalments(day: Day, st: pl.DataFrame, billing: pl.DataFrame,
                          dues: pl.DataFrame, plans: pl.DataFrame
                          ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Loan and hardship instalments falling due today become due items (interest and
    fee posted)."""
    live = plans.filter(pl.col("kind").is_in(list(STANDALONE_SOURCE))
                        & (pl.col("status") == "active"))
    rows = billing.join(live.select("plan_id", "kind", "penalty_rate_scaled", "terms",
                                    "schedule_date"),
                        on="plan_id", how="inner")
    rows = rows.filter(in_force(rows))
    if rows.height == 0:
        return st, dues, plans
    new = rows.select(
        day.lit_date.alias("business_date"),
        pl.format("{}:{}", "plan_id", "term").alias("due_id"), "account_id",
        pl.col("kind").replace_strict(STANDALONE_SOURCE, return_dtype=pl.String).alias("source"),
        "plan_id", "term", "due_date",
        "principal", "interest", "fee", pl.lit(0, pl.Int64).alias("penalty"),
        (pl.col("principal") + pl.col("interest") + pl.col("fee")).alias("original_total"),
        "penalty_rate_scaled", pl.lit("principal").alias("penalty_on"), KEY)
    dues = pl.concat([dues, new.select(dues.columns)], how="vertical_relaxed")
    upd = rows.group_by("plan_id").agg(pl.col("principal").sum().alias("_billed"),
                                       pl.col("term").max().alias("_term"))
    plans = (plans.join(upd, on="plan_id", how="left")
             .with_columns(
                 (pl.col("remaining_principal") - pl.col("_billed").fill_null(0))
                 .alias("remaining_principal"),
                 pl.when(pl.col("_term").is_not_null()).then(pl.col("_term") + 1)
                 .otherwise(pl.col("next_term")).cast(pl.Int32).alias("next_term"),
                 pl.when(pl.col("_term").is_not_null()).then(day.lit_date)
                 .otherwise(pl.col("period_start")).alias("period_start"),
                 pl.when(pl.col("_term") >= pl.col("terms")).then(pl.lit("billed_out"))
                 .otherwise(pl.col("status")).alias("status"))
             .drop("_billed", "_term"))
    day.journal.append(pair_lines(new, event="bill_interest", debit="receivable_interest",
                                  credit="interest_income", amount="interest",
                                  entry_key=pl.col("due_id")))
    day.journal.append(pair_lines(new, event="bill_fee", debit="receivable_fee",
                                  credit="fee_income", amount="fee", entry_key=pl.col("due_id")))
    flows = new.group_by(KEY).agg(pl.col("interest").sum().alias("_i"),
                                  pl.col("fee").sum().alias("_f"))
    st = _add_flows(st, flows, {"_i": "interest_today", "_f": "fee_today"})
    return st, dues, plans


def _add_flows(st: pl.DataFrame, flows: pl.DataFrame, mapping: dict[str, str]) -> pl.DataFrame:
    """Add per-account amounts (``flows``: one row per ``_k``) to ``st``'s columns."""
    st = with_aligned(st, flows.select(KEY, *mapping))
    return st.with_columns([(pl.col(dst) + pl.col(src).fill_null(0)).alias(dst)
                            for src, dst in mapping.items()]).drop(list(mapping))


# --------------------------------------------------------------------------- payoff
def credits_today(txns: pl.DataFrame, types: tuple[str, ...] = ("repayment", "refund")
                  ) -> pl.DataFrame:
    return txns.filter(pl.col("type").is_in(list(types)) & (pl.col("status") == "posted"))


#: money that goes through the waterfall: a settlement's lump sum is allocated like a
#: repayment (``ledger.arrangements.close_settlements`` then closes the account)
WATERFALL_CREDITS = ("repayment", "refund", "settlement")


def settle_payoffs(day: Day, st: pl.DataFrame, txns: pl.DataFrame, dues: pl.DataFrame,
                   plans: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Settle cash loans in full when today's money covers the payoff amount.

    Payoff = every due item still owed + the principal not yet billed + interest
    on that principal for the actual days since the period began (free
    prepayment, DESIGN.md). Less than that is held as credit and applied as
    instalments fall due.
    """
    live = plans.filter((pl.col("kind") == "cash_loan") & (pl.col("status") == "active")
                        & (pl.col("remaining_principal") > 0))
    if live.height == 0:
        return st, dues, plans
    live = live.with_columns(
        rhu(pl.col("remaining_principal") * (day.lit_date - pl.col("period_start")).dt.total_days(),
            pl.col("rate_scaled")).alias("_days_interest"))
    money = credits_today(txns).group_by(KEY).agg(pl.col("amount").sum().alias("_m"))
    money = (pl.concat([money, rows_of(st, money.get_column(KEY), "status", "credit_balance")],
                       how="horizontal")
             .filter(pl.col("status") == "open")
             .select(KEY, (pl.col("_m") + pl.col("credit_balance")).alias("money")))
    if money.height == 0:
        return st, dues, plans
    owed_plans = live.group_by(KEY).agg(
        (pl.col("remaining_principal") + pl.col("_days_interest")).sum().alias("_p"))
    money = money.join(owed_plans, on=KEY)
    owed_dues = (dues.join(money.select(KEY), on=KEY, how="semi")
                 .group_by(KEY).agg(outstanding().sum().alias("_d")))
    payers = (money.join(owed_dues, on=KEY, how="left")
              .filter(pl.col("money") >= pl.col("_p") + pl.col("_d").fill_null(0))
              .select(KEY))
    if payers.height == 0:
        return st, dues, plans
    closing = live.join(payers, on=KEY)
    new = closing.select(
        day.lit_date.alias("business_date"), pl.format("{}:payoff", "plan_id").alias("due_id"),
        "account_id", pl.lit("payoff").alias("source"), "plan_id",
        pl.col("next_term").alias("term"), day.lit_date.alias("due_date"),
        pl.col("remaining_principal").alias("principal"),
        pl.col("_days_interest").alias("interest"), pl.lit(0, pl.Int64).alias("fee"),
        pl.lit(0, pl.Int64).alias("penalty"),
        (pl.col("remaining_principal") + pl.col("_days_interest")).alias("original_total"),
        "penalty_rate_scaled", pl.lit("principal").alias("penalty_on"), KEY)
    dues = pl.concat([dues, new.select(dues.columns)], how="vertical_relaxed")
    day.journal.append(pair_lines(new, event="payoff_interest", debit="receivable_interest",
                                  credit="interest_income", amount="interest",
                                  entry_key=pl.col("plan_id")))
    ids = closing.get_column("plan_id")
    plans = plans.with_columns(
        pl.when(pl.col("plan_id").is_in(ids.implode())).then(pl.lit("paid_off"))
        .otherwise(pl.col("status")).alias("status"),
        pl.when(pl.col("plan_id").is_in(ids.implode())).then(0)
        .otherwise(pl.col("remaining_principal")).alias("remaining_principal"))
    flows = new.group_by(KEY).agg(pl.col("interest").sum().alias("_i"))
    st = _add_flows(st, flows, {"_i": "interest_today"})
    return st, dues, plans


# --------------------------------------------------------------------------- credits
POOLS = (("accrued_interest", "interest"), ("billed_principal", "principal"),
         ("unbilled_principal", "principal"))


def apply_credits(day: Day, st: pl.DataFrame, txns: pl.DataFrame, dues: pl.DataFrame
                  ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Allocate repayments, refunds, settlements and held credit; recoveries on charged-off
    accounts. Money paid into a settled account is held as customer credit (nothing is
    owed there any more)."""
    cred = credits_today(txns, WATERFALL_CREDITS)
    cred = cred.with_columns(
        st.get_column("status").gather(cred.get_column(KEY)).alias("_account_status"))
    recov = cred.filter(pl.col("_account_status") == "charged_off")
    if recov.height:
        day.journal.append(pair_lines(
            recov.with_columns(day.lit_date.alias("business_date")), event="recovery",
            debit="cash", credit="recovery_income", entry_key=pl.col("txn_id").cast(pl.String),
            txn_id="txn_id"))
        st = _add_flows(st, recov.group_by(KEY).agg(pl.col("amount").sum().alias("_r")),
                        {"_r": "recovered_today"})
        st = st.with_columns((pl.col("recovered_total") + pl.col("recovered_today"))
                             .alias("recovered_total"))
    live = cred.filter(pl.col("_account_status").is_in(["open", "settled"]))
    # credit held on a settled account settles nothing; it joins the sources only when money
    # comes in (what is left after the waterfall replaces the account's credit balance)
    settled_payers = pl.col(KEY).is_in(
        live.filter(pl.col("_account_status") == "settled").get_column(KEY).implode())
    held = st.filter((pl.col("credit_balance") > 0) & (
        (pl.col("status") == "open") | ((pl.col("status") == "settled") & settled_payers))).select(
        "account_id", KEY, pl.lit(0, pl.Int64).alias("seq"),
        pl.lit(None, pl.Int64).alias("txn_id"),
        pl.lit("credit").alias("kind"), pl.col("credit_balance").alias("amount"))
    sources = pl.concat([held, live.select(
        "account_id", KEY, pl.col("txn_id").alias("seq"), "txn_id", pl.col("type").alias("kind"),
        "amount")], how="vertical_relaxed")
    if sources.height == 0:
        return st, dues
    order = day.params.component_order
    # only accounts with money today take part in the waterfall; due items are
    # numbered (``_row``) so that what is paid is laid back on them by position
    payers = sources.select(KEY).unique()
    dues = dues.with_row_index("_row")
    due_comps = (dues.join(payers, on=KEY, how="semi")
                 .select(KEY, "_row", "due_id", "due_date", *COMPONENTS)
                 .unpivot(index=[KEY, "_row", "due_id", "due_date"], on=list(COMPONENTS),
                          variable_name="component", value_name="amount")
                 .with_columns(pl.col("component").replace_strict(
                     {c: i for i, c in enumerate(order)}, return_dtype=pl.Int32).alias("_c"),
                     pl.lit(0).alias("_g"), pl.lit("due").alias("target")))
    revolving = rows_of(st, payers.get_column(KEY), KEY, "kind", *(p for p, _ in POOLS)).filter(
        pl.col("kind") == "revolving")
    pool_comps = pl.concat([
        revolving.select(
            KEY, pl.lit(None, pl.UInt32).alias("_row"), pl.lit(None, pl.String).alias("due_id"),
            pl.lit(None, pl.Date).alias("due_date"), pl.lit(comp).alias("component"),
            pl.col(pool).alias("amount"), pl.lit(i, pl.Int32).alias("_c"),
            pl.lit(1).alias("_g"), pl.lit(pool).alias("target"))
        for i, (pool, comp) in enumerate(POOLS)])
    comps = (pl.concat([due_comps, pool_comps], how="vertical_relaxed")
             .filter(pl.col("amount") > 0)
             .sort(KEY, "_g", "due_date", "due_id", "_c", nulls_last=True)
             .with_columns(pl.int_range(pl.len()).alias("rank")))
    allocated, leftover, journal = allocate(comps, sources, day.d)
    day.journal.append(journal)
    paid_due = (allocated.filter(pl.col("target") == "due")
                .pivot(on="component", index="_row", values="alloc", aggregate_function="sum"))
    for c in COMPONENTS:
        if c not in paid_due.columns:
            paid_due = paid_due.with_columns(pl.lit(0, pl.Int64).alias(c))
    idx = paid_due.get_column("_row")
    dues = dues.with_columns([
        dues.get_column(c).clone().scatter(idx, dues.get_column(c).gather(idx)
                                   - paid_due.get_column(c).fill_null(0)) for c in COMPONENTS]
    ).drop("_row")
    paid_pool = (allocated.filter(pl.col("target") != "due")
                 .pivot(on="target", index=KEY, values="alloc",
                        aggregate_function="sum"))
    for pool, _ in POOLS:
        if pool not in paid_pool.columns:
            paid_pool = paid_pool.with_columns(pl.lit(0, pl.Int64).alias(pool))
    paid_pool = paid_pool.select(KEY, *[pl.col(p).fill_null(0).alias(f"_paid_{p}")
                                        for p, _ in POOLS])
    paid_today = live.group_by(KEY).agg(pl.col("amount").sum().alias("_paid"))
    st = (with_aligned(with_aligned(st, paid_pool), leftover)
          .with_columns([(pl.col(p) - pl.col(f"_paid_{p}").fill_null(0)).alias(p)
                         for p, _ in POOLS])
          .with_columns(pl.coalesce("credit_left", "credit_balance").alias("credit_balance"))
          .drop([f"_paid_{p}" for p, _ in POOLS] + ["credit_left"]))
    st = _add_flows(st, paid_today, {"_paid": "paid_today"})
    return st, dues
