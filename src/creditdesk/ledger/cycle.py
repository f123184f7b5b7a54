"""Accruals, due dates, statements and delinquency: the second half of a day.

Rules (DESIGN.md, product defaults; docs/ledger.md has worked examples):

* Penalty accrues on every due item from the day after its due date, on the
  item's overdue base (loans: overdue principal at the contract rate x 1.5;
  revolving: the unpaid minimum due excluding penalty, at 0.05 %/day),
  rounded half-up per item per day.
* Revolving interest: a bill paid in full by its due date costs nothing. If
  billed principal is still owed at the end of the due date, the account
  loses its interest-free period: from the next day every day's interest on
  all billed principal still owed (0.05 %/day) is posted, until the billed
  principal is paid off. Unbilled purchases never bear interest.
* Statement on the bill day: statement balance = new purchases + revolving
  principal + instalment terms billed (principal and fee) + interest posted
  since the last bill + everything past due; minimum due = past due +
  10 % of (new + revolving principal), rounded half-up + instalment terms +
  interest.
* DPD = days since the due date of the oldest unpaid due item; 0 when none.
  Charge-off the day DPD passes the product's limit: every receivable is
  written off to ``chargeoff_expense``; later money is recovery income.
"""

from __future__ import annotations

import polars as pl

from creditdesk.ledger.journal import KEY, RECEIVABLE, pair_lines
from creditdesk.ledger.steps import (
    COMPONENTS,
    Day,
    _add_flows,
    dense_min_date,
    dense_sums,
    in_force,
    outstanding,
    rhu,
    with_aligned,
)

__all__ = [
    "account_day",
    "accrue",
    "bucket_expr",
    "check_due_dates",
    "delinquency",
    "issue_statements",
]


def _billed_principal_owed(st: pl.DataFrame, dues: pl.DataFrame) -> pl.DataFrame:
    in_bills = dense_sums(st, dues.filter(pl.col("source") == "statement"),
                          {"_in_bills": pl.col("principal")})
    return (st.with_columns(in_bills)
            .with_columns((pl.col("billed_principal") + pl.col("_in_bills"))
                          .alias("_billed_owed")).drop("_in_bills"))


def accrue(day: Day, st: pl.DataFrame, dues: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Post the day's penalty on past-due items and revolving interest."""
    is_open = (st.get_column("status") == "open").gather(dues.get_column(KEY))
    base = (pl.when(pl.col("penalty_on") == "principal").then(pl.col("principal"))
            .otherwise(pl.col("principal") + pl.col("interest") + pl.col("fee")))
    # the day's penalty of every item, computed in place (no join of all items on due_id)
    due_pen = rhu(base, pl.col("penalty_rate_scaled"))
    dues = dues.with_columns(
        pl.when(pl.lit(is_open) & (pl.col("due_date") < day.d)
                & (due_pen > 0)).then(due_pen).otherwise(0).alias("_pen"))
    pen = dues.filter(pl.col("_pen") > 0).select("due_id", KEY, "_pen")
    if pen.height:
        dues = dues.with_columns((pl.col("penalty") + pl.col("_pen")).alias("penalty"))
    dues = dues.drop("_pen")
    if pen.height:
        per_acct = pen.group_by(KEY).agg(pl.col("_pen").sum())
        per_acct = per_acct.with_columns(
            st.get_column("account_id").gather(per_acct.get_column(KEY)))
        day.journal.append(pair_lines(
            per_acct.with_columns(day.lit_date.alias("business_date")), event="penalty",
            debit="receivable_penalty", credit="penalty_income", amount="_pen"))
        st = _add_flows(st, per_acct, {"_pen": "penalty_today"})

    st = _billed_principal_owed(st, dues)
    st = st.with_columns((pl.col("interest_on") & (pl.col("_billed_owed") > 0)
                          & (pl.col("status") == "open")).alias("interest_on"))
    st = st.with_columns(pl.when(pl.col("interest_on"))
                         .then(rhu(pl.col("_billed_owed"), pl.col("interest_rate_s")))
                         .otherwise(0).alias("_int"))
    accr = st.filter(pl.col("_int") > 0).select("account_id", KEY, "_int")
    if accr.height:
        day.journal.append(pair_lines(
            accr.with_columns(day.lit_date.alias("business_date")), event="interest",
            debit="receivable_interest", credit="interest_income", amount="_int"))
    st = st.with_columns((pl.col("accrued_interest") + pl.col("_int")).alias("accrued_interest"),
                         (pl.col("interest_today") + pl.col("_int")).alias("interest_today"))
    return st.drop("_int", "_billed_owed"), dues


def check_due_dates(day: Day, st: pl.DataFrame, dues: pl.DataFrame) -> pl.DataFrame:
    """A revolving bill not paid in full by the end of its due date loses the interest-free period."""
    due_today = ((pl.col("kind") == "revolving") & (pl.col("status") == "open")
                 & (pl.col("statement_due_date") == day.d))
    if not st.select(due_today.any()).item():
        return st  # no bill falls due today: nothing changes (most dates)
    st = _billed_principal_owed(st, dues)
    lose = due_today & (pl.col("_billed_owed") > 0)
    return st.with_columns((pl.col("interest_on") | lose.fill_null(False)).alias("interest_on")
                           ).drop("_billed_owed")


def issue_statements(day: Day, st: pl.DataFrame, dues: pl.DataFrame, plans: pl.DataFrame,
                     billing: pl.DataFrame
                     ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Bills of revolving accounts whose bill day is today."""
    from creditdesk.ledger.schema import empty

    d = day.d
    billing_today = ((pl.col("kind") == "revolving") & (pl.col("status") == "open")
                     & (pl.col("bill_day") == d.day) & (pl.col("opened") < d))
    cyc = st.filter(billing_today)
    if cyc.height == 0:
        return st, dues, plans, empty("statements")
    live = plans.filter(pl.col("kind").is_in(["purchase_instalment", "bill_instalment"])
                        & (pl.col("status") == "active"))
    terms = billing.join(live.select("plan_id", pl.col("terms").alias("_n"), "schedule_date"),
                         on="plan_id")
    terms = terms.filter(in_force(terms)).drop("schedule_date")
    inst = terms.group_by(KEY).agg(pl.col("principal").sum().alias("_ip"),
                                   pl.col("fee").sum().alias("_if"))
    # everything owed is in the statement balance; an item moved past today by a payment
    # holiday is not in this bill's past due nor its minimum
    past = dues.group_by(KEY).agg(outstanding().sum().alias("_open"),
                                  outstanding().filter(pl.col("due_date") <= d).sum()
                                  .alias("_past"))
    cyc = (cyc.join(inst, on=KEY, how="left", maintain_order="left")
           .join(past, on=KEY, how="left", maintain_order="left")
           .with_columns(pl.col("_ip").fill_null(0), pl.col("_if").fill_null(0),
                         pl.col("_past").fill_null(0), pl.col("_open").fill_null(0))
           .with_columns(rhu(pl.col("unbilled_principal") + pl.col("billed_principal"),
                             pl.col("min_rate_s")).alias("_minp"))
           .with_columns(
               (pl.col("unbilled_principal") + pl.col("billed_principal") + pl.col("_ip")
                + pl.col("_if") + pl.col("accrued_interest") + pl.col("_open"))
               .alias("statement_balance"),
               _due_for(d).alias("_due"))
           .filter(pl.col("statement_balance") > 0))
    # a bill whose due date falls inside a payment holiday is due that many months later;
    # the interest-free period still ends on the bill's own due date (``_due``)
    cyc = cyc.with_columns(
        pl.when(pl.col("holiday_until").is_not_null() & (pl.col("_due") < pl.col("holiday_until")))
        .then(pl.col("_due").dt.offset_by(pl.format("{}mo", pl.col("holiday_months"))))
        .otherwise(pl.col("_due")).alias("_pay_by"))
    if cyc.height == 0:
        return st, dues, plans, empty("statements")
    cyc = cyc.with_columns(
        (pl.col("_past") + pl.col("_minp") + pl.col("_ip") + pl.col("_if")
         + pl.col("accrued_interest")).alias("min_due"))
    statements = cyc.select(
        KEY, pl.lit(d).alias("business_date"), "account_id",
        pl.lit(d.year * 100 + d.month, pl.Int32).alias("cycle"), pl.lit(d).alias("bill_date"),
        pl.col("_pay_by").alias("due_date"), pl.col("unbilled_principal").alias("new_principal"),
        pl.col("billed_principal").alias("revolving_principal"),
        pl.col("_ip").alias("instalment_principal"), pl.col("_if").alias("instalment_fee"),
        pl.col("accrued_interest").alias("interest"), pl.col("_past").alias("past_due"),
        "statement_balance", "min_due")
    item = cyc.select(
        pl.lit(d).alias("business_date"),
        pl.format("{}:S{}", "account_id", pl.lit(d.strftime("%Y%m%d"))).alias("due_id"),
        "account_id", pl.lit("statement").alias("source"), pl.lit(None, pl.String).alias("plan_id"),
        pl.lit(None, pl.Int32).alias("term"), pl.col("_pay_by").alias("due_date"),
        (pl.col("_minp") + pl.col("_ip")).alias("principal"),
        pl.col("accrued_interest").alias("interest"), pl.col("_if").alias("fee"),
        pl.lit(0, pl.Int64).alias("penalty"),
        (pl.col("_minp") + pl.col("_ip") + pl.col("accrued_interest") + pl.col("_if"))
        .alias("original_total"),
        pl.col("penalty_rate_s").alias("penalty_rate_scaled"), pl.lit("amount").alias("penalty_on"),
        KEY,
    ).filter(pl.col("original_total") > 0)
    dues = pl.concat([dues, item.select(dues.columns)], how="vertical_relaxed")
    fees = cyc.filter(pl.col("_if") > 0).select("account_id", KEY, "_if",
                                                pl.lit(d).alias("business_date"))
    day.journal.append(pair_lines(fees, event="bill_fee", debit="receivable_fee",
                                  credit="fee_income", amount="_if"))
    upd = terms.group_by("plan_id").agg(pl.col("principal").sum().alias("_b"),
                                        pl.col("term").max().alias("_t"), pl.col("_n").first())
    plans = (plans.join(upd, on="plan_id", how="left").with_columns(
        (pl.col("remaining_principal") - pl.col("_b").fill_null(0)).alias("remaining_principal"),
        pl.when(pl.col("_t").is_not_null()).then(pl.col("_t") + 1).otherwise(pl.col("next_term"))
        .cast(pl.Int32).alias("next_term"),
        pl.when(pl.col("_t") >= pl.col("_n")).then(pl.lit("billed_out"))
        .otherwise(pl.col("status")).alias("status")).drop("_b", "_t", "_n"))
    upd_st = cyc.select(KEY, "_minp", "_if", pl.col("_due").alias("_new_due"))
    st = (with_aligned(st, upd_st).with_columns(
        pl.when(pl.col("_minp").is_not_null()).then(
            pl.col("unbilled_principal") + pl.col("billed_principal") - pl.col("_minp"))
        .otherwise(pl.col("billed_principal")).alias("billed_principal"),
        pl.when(pl.col("_minp").is_not_null()).then(0).otherwise(pl.col("unbilled_principal"))
        .alias("unbilled_principal"),
        pl.when(pl.col("_minp").is_not_null()).then(0).otherwise(pl.col("accrued_interest"))
        .alias("accrued_interest"),
        pl.coalesce("_new_due", "statement_due_date").alias("statement_due_date"),
        (pl.col("fee_today") + pl.col("_if").fill_null(0)).alias("fee_today"))
        .drop("_minp", "_if", "_new_due"))
    return st, dues, plans, statements


def _due_for(d: object) -> pl.Expr:
    from datetime import date

    assert isinstance(d, date)
    same = pl.date(pl.lit(d.year), pl.lit(d.month), pl.col("due_day"))
    return pl.when(pl.col("due_day") > d.day).then(same).otherwise(same.dt.offset_by("1mo"))


def bucket_expr(dpd: pl.Expr, status: pl.Expr) -> pl.Expr:
    """DESIGN.md buckets: M0 current, M1 1-30 ... M6 151-180, CO once charged off."""
    # a lookup of the six month labels, not a string format of every row
    month = pl.min_horizontal((dpd - 1) // 30 + 1, pl.lit(6)).replace_strict(
        _MONTHS, default=None, return_dtype=pl.String)
    return (pl.when(status == "charged_off").then(pl.lit("CO"))
            .when(dpd <= 0).then(pl.lit("M0"))
            .otherwise(month))


_MONTHS = {k: f"M{k}" for k in range(1, 7)}


def delinquency(day: Day, st: pl.DataFrame, dues: pl.DataFrame, plans: pl.DataFrame
                ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """DPD, overdue and total due, and charge-off past the product's limit.

    Also sets the account's due items by component (``due_principal`` ...), from
    the same single pass over the due items (zero once charged off).
    """
    d = day.d
    owed = pl.col("_o") > 0
    past = owed & (pl.col("due_date") < d)
    due = dues.with_columns(outstanding().alias("_o"))
    st = (st.with_columns(
        *dense_sums(st, due, {
            "total_due": pl.when(owed).then(pl.col("_o")).otherwise(0),
            "overdue_amount": pl.when(past).then(pl.col("_o")).otherwise(0),
            **{f"due_{c}": pl.col(c) for c in COMPONENTS}}),
        dense_min_date(st, due, "_oldest", pl.when(past).then(pl.col("due_date"))))
        .with_columns(
        pl.when(pl.col("status") == "open").then(pl.col("_oldest"))
        .otherwise(pl.col("oldest_due_date")).alias("oldest_due_date")).drop("_oldest"))
    st = st.with_columns(
        pl.when(pl.col("oldest_due_date").is_null()).then(0)
        .otherwise((pl.lit(d) - pl.col("oldest_due_date")).dt.total_days())
        .cast(pl.Int32).alias("dpd"))
    co = st.filter((pl.col("status") == "open") & (pl.col("dpd") > pl.col("charge_off_dpd")))
    if co.height:
        ids = co.select(KEY)
        p_agg = plans.join(ids, on=KEY, how="semi").group_by(KEY).agg(
            pl.col("remaining_principal").sum().alias("_plan"))
        w = (co.select("account_id", KEY, "unbilled_principal", "billed_principal",
                       "accrued_interest",
                       *[pl.col(f"due_{c}").alias(f"_d_{c}") for c in COMPONENTS])
             .join(p_agg, on=KEY, how="left", maintain_order="left")
             .fill_null(0)
             .select("account_id", KEY,
                     (pl.col("_d_principal") + pl.col("unbilled_principal")
                      + pl.col("billed_principal") + pl.col("_plan")).alias("principal"),
                     (pl.col("_d_interest") + pl.col("accrued_interest")).alias("interest"),
                     pl.col("_d_fee").alias("fee"), pl.col("_d_penalty").alias("penalty")))
        lines = (w.unpivot(index=["account_id", KEY], on=list(COMPONENTS),
                           variable_name="component", value_name="amount")
                 .with_columns(pl.lit(d).alias("business_date"),
                               pl.col("component").replace_strict(RECEIVABLE).alias("_cr")))
        day.journal.append(pair_lines(lines, event="chargeoff", debit="chargeoff_expense",
                                      credit=pl.col("_cr"), entry_key=pl.col("component")))
        total = w.select(KEY, pl.sum_horizontal(*COMPONENTS).alias("_co"))
        st = (with_aligned(st, total).with_columns(
            pl.when(pl.col("_co").is_not_null()).then(pl.lit("charged_off"))
            .otherwise(pl.col("status")).alias("status"),
            pl.when(pl.col("_co").is_not_null()).then(pl.lit(d)).otherwise(pl.col("chargeoff_date"))
            .alias("chargeoff_date"),
            (pl.col("chargeoff_amount") + pl.col("_co").fill_null(0)).alias("chargeoff_amount"),
            *[pl.when(pl.col("_co").is_not_null()).then(0).otherwise(pl.col(c)).alias(c)
              for c in ("unbilled_principal", "billed_principal", "accrued_interest",
                        "total_due", "overdue_amount", *(f"due_{c}" for c in COMPONENTS))],
            pl.when(pl.col("_co").is_not_null()).then(False).otherwise(pl.col("interest_on"))
            .alias("interest_on")).drop("_co"))
        dues = dues.join(ids, on=KEY, how="anti", maintain_order="left")
        plans = plans.with_columns(
            pl.when(pl.col(KEY).is_in(ids.get_column(KEY).implode()))
            .then(pl.lit("charged_off")).otherwise(pl.col("status")).alias("status"))
    st = st.with_columns(bucket_expr(pl.col("dpd"), pl.col("status")).alias("bucket"))
    return st, dues, plans


def account_day(day: Day, st: pl.DataFrame, dues: pl.DataFrame, plans: pl.DataFrame
                ) -> pl.DataFrame:
    """The account_day rows: balances by component, delinquency and the day's flows.

    The due items by component are on ``st`` already (``delinquency``).
    """
    live = plans.filter(pl.col("status").is_in(["active", "billed_out"]))
    out = st.with_columns(dense_sums(st, live, {"plan_principal": pl.col("remaining_principal")}))
    return out.with_columns(
        pl.lit(day.d).alias("business_date"),
        (pl.col("unbilled_principal") + pl.col("billed_principal") + pl.col("plan_principal")
         + pl.col("due_principal")).alias("principal"),
        (pl.col("due_interest") + pl.col("accrued_interest")).alias("interest"),
        pl.col("due_fee").alias("fee"), pl.col("due_penalty").alias("penalty"))
