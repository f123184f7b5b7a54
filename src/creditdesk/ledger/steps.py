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

import polars as pl

from creditdesk.ledger.allocation import allocate
from creditdesk.ledger.journal import pair_lines
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


# --------------------------------------------------------------------------- start
def start_state(inp: DayInput, params: LedgerParams) -> pl.DataFrame:
    """One row per account opened by the date: yesterday's state, or a fresh one."""
    prev_cols = [c for c in CARRIED if c in inp.prev.columns]
    prev = inp.prev.select("account_id", *prev_cols)
    prod = params.products
    st = (
        inp.accounts.filter(pl.col("opened") <= inp.business_date)
        .join(prod, on="product", how="left", suffix="_product")
        .with_columns(
            pl.coalesce(pl.col("bill_day"), pl.col("bill_day_product")).alias("bill_day"),
            pl.coalesce(pl.col("due_day"), pl.col("due_day_product")).alias("due_day"),
        )
        .drop("bill_day_product", "due_day_product")
        .join(prev, on="account_id", how="left")
        .with_columns([pl.col(c).fill_null(v) if c in prev_cols else v.alias(c)
                       for c, v in CARRIED.items()])
        .with_columns([pl.lit(0, pl.Int64).alias(c) for c in FLOWS])
    )
    return st


def principal_by_account(dues: pl.DataFrame, plans: pl.DataFrame) -> pl.DataFrame:
    """Principal owed in due items and in plans not yet billed, per account."""
    a = dues.group_by("account_id").agg(pl.col("principal").sum().alias("_p"))
    b = plans.group_by("account_id").agg(pl.col("remaining_principal").sum().alias("_p"))
    return pl.concat([a, b]).group_by("account_id").agg(pl.col("_p").sum().alias("in_items"))


# --------------------------------------------------------------------------- billing
def bill_loan_instalments(day: Day, st: pl.DataFrame, billing: pl.DataFrame,
                          dues: pl.DataFrame, plans: pl.DataFrame
                          ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Loan instalments falling due today become due items (interest and fee posted)."""
    live = plans.filter((pl.col("kind") == "cash_loan") & (pl.col("status") == "active"))
    rows = billing.join(live.select("plan_id", "penalty_rate_scaled", "terms"),
                        on="plan_id", how="inner")
    if rows.height == 0:
        return st, dues, plans
    new = rows.select(
        day.lit_date.alias("business_date"),
        pl.format("{}:{}", "plan_id", "term").alias("due_id"), "account_id",
        pl.lit("instalment").alias("source"), "plan_id", "term", "due_date",
        "principal", "interest", "fee", pl.lit(0, pl.Int64).alias("penalty"),
        (pl.col("principal") + pl.col("interest") + pl.col("fee")).alias("original_total"),
        "penalty_rate_scaled", pl.lit("principal").alias("penalty_on"))
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
    flows = new.group_by("account_id").agg(pl.col("interest").sum().alias("_i"),
                                           pl.col("fee").sum().alias("_f"))
    st = _add_flows(st, flows, {"_i": "interest_today", "_f": "fee_today"})
    return st, dues, plans


def _add_flows(st: pl.DataFrame, flows: pl.DataFrame, mapping: dict[str, str]) -> pl.DataFrame:
    st = st.join(flows, on="account_id", how="left")
    return st.with_columns([(pl.col(dst) + pl.col(src).fill_null(0)).alias(dst)
                            for src, dst in mapping.items()]).drop(list(mapping))


# --------------------------------------------------------------------------- payoff
def credits_today(txns: pl.DataFrame) -> pl.DataFrame:
    return txns.filter(pl.col("type").is_in(["repayment", "refund"])
                       & (pl.col("status") == "posted"))


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
    money = (credits_today(txns).group_by("account_id").agg(pl.col("amount").sum().alias("_m"))
             .join(st.filter(pl.col("status") == "open")
                   .select("account_id", "credit_balance"), on="account_id")
             .select("account_id", (pl.col("_m") + pl.col("credit_balance")).alias("money")))
    if money.height == 0:
        return st, dues, plans
    owed_dues = dues.group_by("account_id").agg(outstanding().sum().alias("_d"))
    owed_plans = live.group_by("account_id").agg(
        (pl.col("remaining_principal") + pl.col("_days_interest")).sum().alias("_p"))
    payers = (money.join(owed_plans, on="account_id")
              .join(owed_dues, on="account_id", how="left")
              .filter(pl.col("money") >= pl.col("_p") + pl.col("_d").fill_null(0))
              .select("account_id"))
    if payers.height == 0:
        return st, dues, plans
    closing = live.join(payers, on="account_id")
    new = closing.select(
        day.lit_date.alias("business_date"), pl.format("{}:payoff", "plan_id").alias("due_id"),
        "account_id", pl.lit("payoff").alias("source"), "plan_id",
        pl.col("next_term").alias("term"), day.lit_date.alias("due_date"),
        pl.col("remaining_principal").alias("principal"),
        pl.col("_days_interest").alias("interest"), pl.lit(0, pl.Int64).alias("fee"),
        pl.lit(0, pl.Int64).alias("penalty"),
        (pl.col("remaining_principal") + pl.col("_days_interest")).alias("original_total"),
        "penalty_rate_scaled", pl.lit("principal").alias("penalty_on"))
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
    flows = new.group_by("account_id").agg(pl.col("interest").sum().alias("_i"))
    st = _add_flows(st, flows, {"_i": "interest_today"})
    return st, dues, plans


# --------------------------------------------------------------------------- credits
POOLS = (("accrued_interest", "interest"), ("billed_principal", "principal"),
         ("unbilled_principal", "principal"))


def apply_credits(day: Day, st: pl.DataFrame, txns: pl.DataFrame, dues: pl.DataFrame
                  ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Allocate repayments, refunds and held credit; recoveries on charged-off accounts."""
    cred = credits_today(txns).join(
        st.select("account_id", pl.col("status").alias("_account_status")), on="account_id")
    recov = cred.filter(pl.col("_account_status") == "charged_off")
    if recov.height:
        day.journal.append(pair_lines(
            recov.with_columns(day.lit_date.alias("business_date")), event="recovery",
            debit="cash", credit="recovery_income", entry_key=pl.col("txn_id").cast(pl.String),
            txn_id="txn_id"))
        st = _add_flows(st, recov.group_by("account_id").agg(pl.col("amount").sum().alias("_r")),
                        {"_r": "recovered_today"})
        st = st.with_columns((pl.col("recovered_total") + pl.col("recovered_today"))
                             .alias("recovered_total"))
    live = cred.filter(pl.col("_account_status") == "open")
    held = st.filter((pl.col("credit_balance") > 0) & (pl.col("status") == "open")).select(
        "account_id", pl.lit(0, pl.Int64).alias("seq"), pl.lit(None, pl.Int64).alias("txn_id"),
        pl.lit("credit").alias("kind"), pl.col("credit_balance").alias("amount"))
    sources = pl.concat([held, live.select(
        "account_id", pl.col("txn_id").alias("seq"), "txn_id", pl.col("type").alias("kind"),
        "amount")], how="vertical_relaxed")
    if sources.height == 0:
        return st, dues
    order = day.params.component_order
    # only accounts with money today take part in the waterfall
    payers = sources.select("account_id").unique()
    due_comps = (dues.join(payers, on="account_id", how="semi")
                 .select("account_id", "due_id", "due_date", *COMPONENTS)
                 .unpivot(index=["account_id", "due_id", "due_date"], on=list(COMPONENTS),
                          variable_name="component", value_name="amount")
                 .with_columns(pl.col("component").replace_strict(
                     {c: i for i, c in enumerate(order)}, return_dtype=pl.Int32).alias("_c"),
                     pl.lit(0).alias("_g"), pl.lit("due").alias("target")))
    revolving = st.filter(pl.col("kind") == "revolving").join(payers, on="account_id",
                                                               how="semi")
    pool_comps = pl.concat([
        revolving.select(
            "account_id", pl.lit(None, pl.String).alias("due_id"),
            pl.lit(None, pl.Date).alias("due_date"), pl.lit(comp).alias("component"),
            pl.col(pool).alias("amount"), pl.lit(i, pl.Int32).alias("_c"),
            pl.lit(1).alias("_g"), pl.lit(pool).alias("target"))
        for i, (pool, comp) in enumerate(POOLS)])
    comps = (pl.concat([due_comps, pool_comps], how="vertical_relaxed")
             .filter(pl.col("amount") > 0)
             .sort("account_id", "_g", "due_date", "due_id", "_c", nulls_last=True)
             .with_columns(pl.int_range(pl.len()).alias("rank")))
    allocated, leftover, journal = allocate(comps, sources, day.d)
    day.journal.append(journal)
    paid_due = (allocated.filter(pl.col("target") == "due")
                .pivot(on="component", index="due_id", values="alloc", aggregate_function="sum"))
    for c in COMPONENTS:
        if c not in paid_due.columns:
            paid_due = paid_due.with_columns(pl.lit(0, pl.Int64).alias(c))
    paid_due = paid_due.select("due_id", *[pl.col(c).fill_null(0).alias(f"_paid_{c}")
                                           for c in COMPONENTS])
    dues = (dues.join(paid_due, on="due_id", how="left")
            .with_columns([(pl.col(c) - pl.col(f"_paid_{c}").fill_null(0)).alias(c)
                           for c in COMPONENTS])
            .drop([f"_paid_{c}" for c in COMPONENTS]))
    paid_pool = (allocated.filter(pl.col("target") != "due")
                 .pivot(on="target", index="account_id", values="alloc",
                        aggregate_function="sum"))
    for pool, _ in POOLS:
        if pool not in paid_pool.columns:
            paid_pool = paid_pool.with_columns(pl.lit(0, pl.Int64).alias(pool))
    paid_pool = paid_pool.select("account_id", *[pl.col(p).fill_null(0).alias(f"_paid_{p}")
                                                 for p, _ in POOLS])
    paid_today = live.group_by("account_id").agg(pl.col("amount").sum().alias("_paid"))
    st = (st.join(paid_pool, on="account_id", how="left")
          .join(leftover, on="account_id", how="left")
          .with_columns([(pl.col(p) - pl.col(f"_paid_{p}").fill_null(0)).alias(p)
                         for p, _ in POOLS])
          .with_columns(pl.coalesce("credit_left", "credit_balance").alias("credit_balance"))
          .drop([f"_paid_{p}" for p, _ in POOLS] + ["credit_left"]))
    st = _add_flows(st, paid_today, {"_paid": "paid_today"})
    return st, dues
