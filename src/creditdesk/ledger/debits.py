"""Posting the day's debits: purchases, cash-loan drawdowns, instalment conversions.

Each transaction leaves with a status: ``posted``, or ``rejected`` with the
reason. ``creditdesk load`` refuses bad files outright; a rejection here is
what could not be known at load time (the account was charged off since, the
limit was used up by earlier purchases of the day). Intraday order: debits in
``txn_id`` order against the credit limit as it stood at the start of the day
(the day's repayments free the limit from the next day, as a batch
open-to-buy does), then billing, then credits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from creditdesk.ledger.journal import KEY, pair_lines
from creditdesk.products.schedules import conversion_frame, schedule_frame

if TYPE_CHECKING:
    from creditdesk.ledger.steps import Day

__all__ = ["post_debits"]

DEBIT_TYPES = ("purchase", "cash_loan", "instalment_conversion")
#: repayment arrangements (``ledger.arrangements``): any product
ARRANGEMENT_TYPES = ("hardship_plan", "payment_holiday", "settlement")
KIND_OF_TYPE = {"purchase": "revolving", "refund": "revolving",
                "instalment_conversion": "revolving", "cash_loan": "cash_loan",
                "repayment": None, **dict.fromkeys(ARRANGEMENT_TYPES)}


def post_debits(day: Day, st: pl.DataFrame, txns: pl.DataFrame, plans: pl.DataFrame,
                dues: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame,
                                            pl.DataFrame, pl.DataFrame]:
    """Returns ``(st, txns with status/reason, new plans, new instalments, plan_state)``."""
    from creditdesk.ledger.steps import principal_by_account, rhu, rows_of, scaled_rate, with_aligned

    p = day.params
    if txns.height == 0:
        from creditdesk.ledger.schema import empty

        none = txns.with_columns(pl.lit(None, pl.String).alias("status"),
                                 pl.lit(None, pl.String).alias("reason"))
        return st, none, empty("plans"), empty("instalments"), plans
    # only the accounts with transactions today are looked at
    movers = txns.select(KEY).drop_nulls().unique()
    in_items = principal_by_account(dues.join(movers, on=KEY, how="semi"),
                                    plans.join(movers, on=KEY, how="semi"))
    acct = (rows_of(st, movers.get_column(KEY), KEY, "product", "kind", "status",
                    "credit_limit", "daily_rate", "unbilled_principal", "billed_principal",
                    "max_loan_rate_s", "min_loan_rate_s", "overdue_mult_s", "bill_day",
                    "due_day", "days_per_month")
            .join(in_items, on=KEY, how="left")
            .with_columns((pl.col("unbilled_principal") + pl.col("billed_principal")
                           + pl.col("in_items").fill_null(0)).alias("start_principal")))
    rates = {r: scaled_rate(r) for r in
             set(txns.get_column("daily_rate").drop_nulls().to_list())
             | set(acct.get_column("daily_rate").drop_nulls().unique().to_list())}
    t = (txns.join(acct.rename({"daily_rate": "account_rate"}), on=KEY, how="left",
                   maintain_order="left")
         .join(p.fee_rates, on=["product", "terms"], how="left", maintain_order="left")
         .join(p.loan_terms.with_columns(pl.lit(True).alias("_term_ok")),
               on=["product", "terms"], how="left", maintain_order="left")
         .join(p.loan_methods.with_columns(pl.lit(True).alias("_method_ok")),
               on=["product", "method"], how="left", maintain_order="left")
         .with_columns(
             pl.coalesce(pl.col("daily_rate").replace_strict(rates, default=None,
                                                             return_dtype=pl.Int64),
                         pl.col("account_rate").replace_strict(rates, default=None,
                                                               return_dtype=pl.Int64),
                         pl.col("max_loan_rate_s")).alias("rate_s"))
         .with_columns(pl.col("type").replace_strict(KIND_OF_TYPE, default=None,
                                                     return_dtype=pl.String).alias("_kind")))
    bad_rate_text = pl.col("daily_rate").is_not_null() & pl.col("daily_rate").replace_strict(
        rates, default=None, return_dtype=pl.Int64).is_null()
    reason = (
        pl.when(pl.col("kind").is_null()).then(pl.lit("unknown account, or not open on this date"))
        .when(~pl.col("type").is_in(list(KIND_OF_TYPE))).then(
            pl.format("type must be one of {}; got {}", pl.lit(", ".join(KIND_OF_TYPE)),
                      pl.col("type")))
        .when((pl.col("type") != "payment_holiday") & (pl.col("amount").fill_null(0) <= 0))
        .then(pl.lit("amount must be a positive integer of minor units"))
        .when(pl.col("_kind").is_not_null() & (pl.col("_kind") != pl.col("kind"))).then(
            pl.format("{} needs a {} account; product {} is {}", "type", "_kind", "product",
                      "kind"))
        .when((pl.col("status") == "charged_off") & pl.col("type").is_in(
            [*DEBIT_TYPES, "hardship_plan", "payment_holiday"]))
        .then(pl.lit("account is charged off"))
        .when((pl.col("status") == "settled") & pl.col("type").is_in(
            [*DEBIT_TYPES, *ARRANGEMENT_TYPES]))
        .then(pl.lit("account is settled"))
        .when((pl.col("type") == "cash_loan") & pl.col("_term_ok").is_null()).then(
            pl.format("terms must be allowed by product {}; got {}", "product", "terms"))
        .when((pl.col("type") == "cash_loan") & pl.col("_method_ok").is_null()).then(
            pl.format("method must be allowed by product {}; got {}", "product", "method"))
        .when((pl.col("type") == "cash_loan") & bad_rate_text).then(
            pl.format("daily_rate must be a decimal string; got {}", "daily_rate"))
        .when((pl.col("type") == "cash_loan") & ((pl.col("rate_s") < pl.col("min_loan_rate_s"))
                                                | (pl.col("rate_s") > pl.col("max_loan_rate_s"))))
        .then(pl.lit("daily_rate is outside the product's range"))
        .when((pl.col("type") == "instalment_conversion") & pl.col("fee_rate_s").is_null()).then(
            pl.format("terms must be in product {}'s fee table; got {}", "product", "terms"))
        .otherwise(None)
    )
    t = t.with_columns(reason.alias("reason"))
    t = _check_amounts(t, "limit", ["purchase", "cash_loan"],
                       room=pl.col("credit_limit") - pl.col("start_principal"),
                       message="amount exceeds the available credit limit")
    # conversions draw on revolving principal not already in a bill's minimum due
    bought = (t.filter((pl.col("type") == "purchase") & pl.col("reason").is_null())
              .group_by(KEY).agg(pl.col("amount").sum().alias("_bought")))
    t = t.join(bought, on=KEY, how="left", maintain_order="left")
    t = _check_amounts(t, "convertible", ["instalment_conversion"],
                       room=pl.col("billed_principal") + pl.col("unbilled_principal")
                       + pl.col("_bought").fill_null(0),
                       message="amount exceeds the revolving principal that can be converted")
    t = t.with_columns(pl.when(pl.col("reason").is_null()).then(pl.lit("posted"))
                       .otherwise(pl.lit("rejected")).alias("status"))
    ok = t.filter(pl.col("status") == "posted").with_columns(day.lit_date.alias("business_date"))

    # purchases
    buys = ok.filter(pl.col("type") == "purchase")
    day.journal.append(pair_lines(buys, event="purchase", debit="receivable_principal",
                                  credit="merchant_settlement",
                                  entry_key=pl.col("txn_id").cast(pl.String), txn_id="txn_id"))
    # drawdowns
    loans = ok.filter(pl.col("type") == "cash_loan").with_columns(
        pl.format("L{}", "txn_id").alias("plan_id"))
    day.journal.append(pair_lines(loans, event="drawdown", debit="receivable_principal",
                                  credit="loan_disbursement",
                                  entry_key=pl.col("txn_id").cast(pl.String), txn_id="txn_id"))
    # conversions
    conv = ok.filter(pl.col("type") == "instalment_conversion").sort("txn_id").with_columns(
        pl.format("C{}", "txn_id").alias("plan_id"),
        pl.col("amount").cum_sum().over(KEY).alias("_cum"))
    conv = conv.with_columns(
        (pl.min_horizontal("billed_principal", "_cum") - (pl.col("_cum") - pl.col("amount")))
        .clip(0, None).alias("_from_billed"))
    conv = conv.with_columns((pl.col("amount") - pl.col("_from_billed")).alias("_from_unbilled"))

    flows = pl.concat([
        buys.select(KEY, pl.col("amount").alias("_buy"), pl.lit(0, pl.Int64).alias("_dd"),
                    pl.lit(0, pl.Int64).alias("_cb"), pl.lit(0, pl.Int64).alias("_cu")),
        loans.select(KEY, pl.lit(0, pl.Int64).alias("_buy"), pl.col("amount").alias("_dd"),
                     pl.lit(0, pl.Int64).alias("_cb"), pl.lit(0, pl.Int64).alias("_cu")),
        conv.select(KEY, pl.lit(0, pl.Int64).alias("_buy"), pl.lit(0, pl.Int64).alias("_dd"),
                    pl.col("_from_billed").alias("_cb"), pl.col("_from_unbilled").alias("_cu")),
    ]).group_by(KEY).agg(pl.all().sum())
    st = (with_aligned(st, flows).with_columns(
        pl.col("_buy").fill_null(0), pl.col("_dd").fill_null(0), pl.col("_cb").fill_null(0),
        pl.col("_cu").fill_null(0))
        .with_columns(
            (pl.col("unbilled_principal") + pl.col("_buy") - pl.col("_cu"))
            .alias("unbilled_principal"),
            (pl.col("billed_principal") - pl.col("_cb")).alias("billed_principal"),
            (pl.col("purchases_today") + pl.col("_buy")).alias("purchases_today"),
            (pl.col("drawdowns_today") + pl.col("_dd")).alias("drawdowns_today"))
        .drop("_buy", "_dd", "_cb", "_cu"))

    new_plans, new_inst, new_state = _new_plans(day, loans, conv, rhu)
    plans = pl.concat([plans, new_state.select(plans.columns)], how="vertical_relaxed")
    txns_out = t.select(*txns.columns, "status", "reason")
    return st, txns_out, new_plans, new_inst, plans


def _check_amounts(t: pl.DataFrame, name: str, types: list[str], room: pl.Expr,
                   message: str) -> pl.DataFrame:
    """Reject debits that do not fit in ``room``, in txn order, one account at a time.

    The running total of accepted debits decides; a rejected debit does not
    use room, so a later smaller one may still fit. Accounts where nothing is
    rejected (nearly all) never leave the vectorised path.
    """
    cand = pl.col("type").is_in(types) & pl.col("reason").is_null()
    t = t.with_columns(room.alias("_room"),
                       pl.when(cand).then(pl.col("amount")).otherwise(0).alias("_amt"))
    if not t.get_column("txn_id").is_sorted():  # the day's txns come in txn_id order
        t = t.sort("txn_id")
    t = t.with_columns(pl.col("_amt").cum_sum().over(KEY).alias("_cum"))
    over = t.filter(cand & (pl.col("_cum") > pl.col("_room")))
    if over.height == 0:
        return t.drop("_room", "_amt", "_cum")
    hit = set(over.get_column("account_id").to_list())
    rejected: set[int] = set()
    sub = t.filter(pl.col("account_id").is_in(list(hit)) & cand)
    for acct in sub.partition_by("account_id", maintain_order=True):
        used = 0
        for txn_id, amount, room_left in acct.select("txn_id", "amount", "_room").iter_rows():
            if used + amount > room_left:
                rejected.add(txn_id)
            else:
                used += amount
    t = t.with_columns(pl.when(pl.col("txn_id").is_in(list(rejected)))
                       .then(pl.lit(message)).otherwise(pl.col("reason")).alias("reason"))
    return t.drop("_room", "_amt", "_cum")


def _new_plans(day: Day, loans: pl.DataFrame, conv: pl.DataFrame, rhu: object
               ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Plans, their instalment schedules and their opening state."""
    d = day.lit_date
    plans_rows, inst_rows, state_rows = [], [], []
    if loans.height:
        sched = pl.concat([schedule_frame(group.select(
            "plan_id", pl.col("amount").alias("principal"), "terms",
            pl.col("rate_s").alias("daily_rate_scaled"), "method", d.alias("start")),
            days_per_month=int(dpm)) for (dpm,), group in
            loans.partition_by("days_per_month", as_dict=True).items()])
        sched = sched.join(loans.select("plan_id", "account_id"), on="plan_id")
        inst_rows.append(sched.with_columns(d.alias("business_date"),
                                            pl.col("due_date").alias("bill_date")))
        plans_rows.append(loans.select(
            d.alias("business_date"), "plan_id", "account_id", pl.lit("cash_loan").alias("kind"),
            pl.col("amount").alias("principal"), "terms",
            pl.col("rate_s").map_elements(_rate_text, return_dtype=pl.String).alias("daily_rate"),
            "method", d.alias("start"), pl.lit(0, pl.Int64).alias("fee_total"), "txn_id"))
        state_rows.append(loans.select(
            d.alias("business_date"), "plan_id", "account_id", KEY, pl.lit("cash_loan").alias("kind"),
            pl.lit("active").alias("status"), pl.col("amount").alias("remaining_principal"),
            pl.lit(1, pl.Int32).alias("next_term"), "terms", d.alias("period_start"),
            pl.col("rate_s").alias("rate_scaled"),
            ((pl.col("rate_s").cast(pl.Int128) * pl.col("overdue_mult_s") + 500_000_000)
             // 1_000_000_000).cast(pl.Int64).alias("penalty_rate_scaled"),
            d.alias("schedule_date")))
    if conv.height:
        sched = conversion_frame(conv.select(
            "plan_id", pl.col("amount").alias("principal"), "terms",
            pl.col("fee_rate_s").alias("fee_rate_scaled")))
        sched = (sched.join(conv.select("plan_id", "account_id", "bill_day", "due_day"),
                            on="plan_id")
                 .with_columns(_first_bill_after(day.d).alias("_b0"))
                 .with_columns(pl.col("_b0").dt.offset_by(
                     pl.format("{}mo", pl.col("term") - 1)).alias("bill_date"))
                 .with_columns(_due_for_bill(pl.col("bill_date")).alias("due_date"))
                 .with_columns(pl.lit(0, pl.Int64).alias("interest"), d.alias("business_date")))
        inst_rows.append(sched)
        fees = sched.group_by("plan_id").agg(pl.col("fee").sum().alias("fee_total"))
        plans_rows.append(conv.join(fees, on="plan_id").select(
            d.alias("business_date"), "plan_id", "account_id",
            pl.when(pl.col("_from_billed") > 0).then(pl.lit("bill_instalment"))
            .otherwise(pl.lit("purchase_instalment")).alias("kind"),
            pl.col("amount").alias("principal"), "terms", pl.lit(None, pl.String).alias("daily_rate"),
            pl.lit("even").alias("method"), d.alias("start"), "fee_total", "txn_id"))
        state_rows.append(conv.select(
            d.alias("business_date"), "plan_id", "account_id", KEY,
            pl.when(pl.col("_from_billed") > 0).then(pl.lit("bill_instalment"))
            .otherwise(pl.lit("purchase_instalment")).alias("kind"),
            pl.lit("active").alias("status"), pl.col("amount").alias("remaining_principal"),
            pl.lit(1, pl.Int32).alias("next_term"), "terms", d.alias("period_start"),
            pl.lit(0, pl.Int64).alias("rate_scaled"), pl.lit(0, pl.Int64).alias("penalty_rate_scaled"),
            d.alias("schedule_date")))
    from creditdesk.ledger.schema import conform, empty

    def cat(rows: list[pl.DataFrame], table: str) -> pl.DataFrame:
        return (pl.concat([conform(r, table) for r in rows]) if rows else empty(table))

    # the opening state keeps the account key: it joins the day's working plans
    state = (pl.concat([conform(r, "plan_state").with_columns(r.get_column(KEY))
                        for r in state_rows]) if state_rows
             else empty("plan_state").with_columns(pl.lit(None, pl.UInt32).alias(KEY)))
    return cat(plans_rows, "plans"), cat(inst_rows, "instalments"), state


def _rate_text(scaled: int) -> str:
    """An exact decimal string of a rate held as a count of 1e-9."""
    from decimal import Decimal

    return format((Decimal(scaled) / 10**9).normalize(), "f")


def _first_bill_after(d: object) -> pl.Expr:
    """The first bill date strictly after ``d`` for each row's ``bill_day``."""
    from datetime import date as _date

    assert isinstance(d, _date)
    this_month = pl.date(pl.lit(d.year), pl.lit(d.month), pl.col("bill_day"))
    return pl.when(pl.col("bill_day") > d.day).then(this_month).otherwise(
        this_month.dt.offset_by("1mo"))


def _due_for_bill(bill: pl.Expr) -> pl.Expr:
    """The due date of a bill: the first date after it whose day is ``due_day``."""
    same = pl.date(bill.dt.year(), bill.dt.month(), pl.col("due_day"))
    return pl.when(pl.col("due_day") > bill.dt.day()).then(same).otherwise(
        same.dt.offset_by("1mo"))
