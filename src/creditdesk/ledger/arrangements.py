"""Repayment arrangements in the books: hardship plans, payment holidays, settlements.

Three transaction types change an account's books at the end of their business
date, like any other transaction (docs/ledger.md, "Repayment arrangements").
Whether a lender offers one is the collections policy's decision
(``creditdesk.collections.arrangements``); the ledger only checks that the
arrangement fits the books and posts it. At most one arrangement per account
per date; a later one that date is rejected.

``hardship_plan`` (``amount``, ``terms`` 3..12): everything past due on the
account at the start of the date (every due item with ``due_date`` before the
date: principal, interest, fee and penalty) leaves the due items and becomes a
new plan of kind ``hardship`` (``plan_id`` ``H<txn_id>``), re-amortised into
``terms`` equal monthly instalments, the first due one month after the date,
the last absorbing the rounding. ``amount`` must equal that past-due total
(the collections side computes it from the books); a different amount, or an
account with nothing past due, is rejected. The moved interest, fee and
penalty are capitalised (journal ``hardship_capitalise``: debit
``receivable_principal``, credit ``receivable_interest`` / ``_fee`` /
``_penalty``); the plan bears no interest, fee or penalty (no ``daily_rate``).
Nothing is past due any more, so DPD is 0 from that date (re-ageing); a
hardship instalment not paid by its due date is past due from the next day
(DPD 1), like a loan instalment.

``payment_holiday`` (``terms`` = months, 1..3; ``amount`` empty or 0): every due
item not yet past due (``due_date`` on or after the date) and every instalment
not yet billed of the account's plans (cash loans, hardship plans, instalment
conversions) falls due that many months later; a revolving bill whose due date
falls before the holiday's end is due that many months later too. Nothing past
due moves. The holiday defers when money is owed, not what the credit costs:
a cash loan's first moved instalment carries the interest of the extra months
on the principal not yet billed (contract rate x days per month x months,
rounded half-up); a revolving bill's interest-free period still ends on its own
due date. A plan's remaining schedule is appended to ``instalments`` as a new
version (``business_date`` = the holiday's date) and the plan's
``schedule_date`` points at it; billing reads only the version in force.

``settlement`` (``amount`` = the agreed lump sum): the money goes through the
waterfall like a repayment (with the date's other credits); money then held is
applied to the plans' principal not yet billed (``settlement_credit``); what
is still owed is written off to ``settlement_discount`` (an expense; one entry
per component). The account's status becomes ``settled``: no accruals, bills
or delinquency any more (DPD 0, bucket M0), debits and arrangements refused,
money paid in later held as customer credit. A lump sum above the balance
writes nothing off: the excess stays held as customer credit (owed back). On a
charged-off account the lump sum is a recovery and the account becomes
``settled``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from creditdesk.ledger.journal import KEY, RECEIVABLE, pair_lines
from creditdesk.ledger.schema import empty
from creditdesk.ledger.steps import COMPONENTS, in_force, rhu, rows_of, with_aligned

if TYPE_CHECKING:
    from creditdesk.ledger.steps import Day

__all__ = ["ARRANGEMENT_TYPES", "HARDSHIP_TERMS", "HOLIDAY_MONTHS", "apply_arrangements",
           "close_settlements"]

ARRANGEMENT_TYPES = ("hardship_plan", "payment_holiday", "settlement")
#: instalments of a hardship plan, inclusive
HARDSHIP_TERMS = (3, 12)
#: months of a payment holiday, inclusive
HOLIDAY_MONTHS = (1, 3)
#: plans whose instalments a payment holiday moves
SCHEDULED_KINDS = ("cash_loan", "hardship", "purchase_instalment", "bill_instalment")
LIVE = ("active", "billed_out")


def _months(expr: pl.Expr, n: pl.Expr) -> pl.Expr:
    """``expr`` moved ``n`` months later (the same day, clipped to the month's end)."""
    return expr.dt.offset_by(pl.format("{}mo", n))


def apply_arrangements(day: Day, st: pl.DataFrame, txns: pl.DataFrame, dues: pl.DataFrame,
                       plans: pl.DataFrame, schedules: pl.DataFrame
                       ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame,
                                  pl.DataFrame, pl.DataFrame]:
    """Check the date's hardship plans and payment holidays and post them.

    Runs after the debits (``txns`` carry ``status``/``reason``) and before
    anything touches the due items, so "past due" is the state the previous
    date left. ``schedules``: instalment rows (every version) of the plans of
    the accounts with a payment holiday today. Settlements are checked here
    (one arrangement per account) and closed by :func:`close_settlements`.

    Returns ``(st, txns, dues, plans, new plans, new instalments)``.
    """
    none = empty("plans"), empty("instalments")
    arr = txns.filter(pl.col("type").is_in(ARRANGEMENT_TYPES) & (pl.col("status") == "posted"))
    if arr.height == 0:
        return st, txns, dues, plans, *none
    d = day.d
    arr = arr.sort("txn_id").with_columns(pl.col("txn_id").first().over(KEY).alias("_first"))
    is_hs = pl.col("type") == "hardship_plan"
    is_hol = pl.col("type") == "payment_holiday"
    past = (dues.join(arr.filter(is_hs).select(KEY).unique(), on=KEY, how="semi")
            .filter(pl.col("due_date") < d)
            .group_by(KEY).agg([pl.col(c).sum().alias(f"_past_{c}") for c in COMPONENTS]))
    arr = (arr.join(past, on=KEY, how="left", maintain_order="left")
           .with_columns([pl.col(f"_past_{c}").fill_null(0) for c in COMPONENTS])
           .with_columns(pl.sum_horizontal(*[f"_past_{c}" for c in COMPONENTS]).alias("_past")))
    lo, hi = HARDSHIP_TERMS
    hlo, hhi = HOLIDAY_MONTHS
    reason = (
        pl.when(pl.col("txn_id") != pl.col("_first")).then(pl.format(
            "only one arrangement per account per date; txn {} came first", "_first"))
        .when(is_hs & ~pl.col("terms").is_between(lo, hi).fill_null(False)).then(pl.format(
            f"terms must be {lo} to {hi} for hardship_plan; got {{}}", "terms"))
        .when(is_hs & pl.col("daily_rate").is_not_null()).then(pl.format(
            "daily_rate must be empty for hardship_plan (a hardship plan bears no interest); "
            "got {}", "daily_rate"))
        .when(is_hs & (pl.col("_past") == 0)).then(pl.lit(
            f"amount: nothing is past due on {d}; a hardship_plan re-amortises the past-due "
            f"amount"))
        .when(is_hs & (pl.col("amount") != pl.col("_past"))).then(pl.format(
            f"amount must equal the past-due total {{}} on {d}; got {{}}", "_past", "amount"))
        .when(is_hol & ~pl.col("terms").is_between(hlo, hhi).fill_null(False)).then(pl.format(
            f"terms must be {hlo} to {hhi} months for payment_holiday; got {{}}", "terms"))
        .otherwise(None))
    arr = arr.with_columns(reason.alias("_why"))
    rej = arr.filter(pl.col("_why").is_not_null()).select("txn_id", "_why")
    if rej.height:
        txns = (txns.join(rej, on="txn_id", how="left", maintain_order="left")
                .with_columns(
                    pl.when(pl.col("_why").is_not_null()).then(pl.lit("rejected"))
                    .otherwise(pl.col("status")).alias("status"),
                    pl.coalesce("_why", "reason").alias("reason"))
                .drop("_why"))
    ok = arr.filter(pl.col("_why").is_null()).with_columns(day.lit_date.alias("business_date"))
    new_plans, new_inst = [], []
    hs = ok.filter(is_hs)
    if hs.height:
        dues, plans, p, i = _hardship(day, hs, dues, plans)
        new_plans.append(p)
        new_inst.append(i)
    hol = ok.filter(is_hol)
    if hol.height:
        st, dues, plans, i = _holiday(day, st, hol, dues, plans, schedules)
        new_inst.append(i)
    out_plans = pl.concat(new_plans) if new_plans else none[0]
    out_inst = pl.concat(new_inst) if new_inst else none[1]
    return st, txns, dues, plans, out_plans, out_inst


def _hardship(day: Day, hs: pl.DataFrame, dues: pl.DataFrame, plans: pl.DataFrame
              ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Move the past-due items of ``hs``'s accounts into new hardship plans."""
    d = day.lit_date
    keys = hs.get_column(KEY).implode()
    dues = dues.filter(~(pl.col(KEY).is_in(keys) & (pl.col("due_date") < day.d)))
    hs = hs.with_columns(pl.format("H{}", "txn_id").alias("plan_id"))
    # interest, fee and penalty capitalised into the plan's principal
    cap = (hs.select("business_date", "account_id", KEY, "txn_id",
                     *[pl.col(f"_past_{c}").alias(c) for c in COMPONENTS if c != "principal"])
           .unpivot(index=["business_date", "account_id", KEY, "txn_id"],
                    on=[c for c in COMPONENTS if c != "principal"], variable_name="component",
                    value_name="amount"))
    day.journal.append(pair_lines(
        cap, event="hardship_capitalise", debit="receivable_principal",
        credit=pl.col("component").replace_strict(RECEIVABLE, return_dtype=pl.String),
        entry_key=pl.format("{}:{}", "txn_id", "component"), txn_id="txn_id"))
    new_plans = hs.select(
        "business_date", "plan_id", "account_id", pl.lit("hardship").alias("kind"),
        pl.col("amount").alias("principal"), "terms", pl.lit("0").alias("daily_rate"),
        pl.lit("even").alias("method"), d.alias("start"), pl.lit(0, pl.Int64).alias("fee_total"),
        "txn_id")
    inst = (hs.select("plan_id", "account_id", "amount", "terms")
            .with_columns(pl.int_ranges(1, pl.col("terms") + 1).alias("term"))
            .explode("term")
            .with_columns((pl.col("amount") // pl.col("terms")).alias("_base"),
                          _months(d, pl.col("term")).alias("due_date"))
            .with_columns(pl.when(pl.col("term") == pl.col("terms"))
                          .then(pl.col("amount") - pl.col("_base") * (pl.col("terms") - 1))
                          .otherwise(pl.col("_base")).alias("principal"))
            .select(d.alias("business_date"), "plan_id", pl.col("term").cast(pl.Int32),
                    "account_id", pl.col("due_date").alias("bill_date"), "due_date", "principal",
                    pl.lit(0, pl.Int64).alias("interest"), pl.lit(0, pl.Int64).alias("fee"),
                    pl.col("principal").alias("total")))
    state = hs.select(
        d.alias("business_date"), "plan_id", "account_id", pl.lit("hardship").alias("kind"),
        pl.lit("active").alias("status"), pl.col("amount").alias("remaining_principal"),
        pl.lit(1, pl.Int32).alias("next_term"), pl.col("terms").cast(pl.Int32),
        d.alias("period_start"), pl.lit(0, pl.Int64).alias("rate_scaled"),
        pl.lit(0, pl.Int64).alias("penalty_rate_scaled"), d.alias("schedule_date"), KEY)
    plans = pl.concat([plans, state.select(plans.columns)], how="vertical_relaxed")
    return dues, plans, new_plans, inst


def _holiday(day: Day, st: pl.DataFrame, hol: pl.DataFrame, dues: pl.DataFrame,
             plans: pl.DataFrame, schedules: pl.DataFrame
             ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Move what is not yet past due on ``hol``'s accounts ``terms`` months later."""
    d = day.d
    n_of = hol.select(KEY, pl.col("terms").cast(pl.Int32).alias("_n"))
    dues = (dues.join(n_of, on=KEY, how="left", maintain_order="left")
            .with_columns(pl.when(pl.col("_n").is_not_null() & (pl.col("due_date") >= d))
                          .then(_months(pl.col("due_date"), pl.col("_n")))
                          .otherwise(pl.col("due_date")).alias("due_date"))
            .drop("_n"))
    # plans opened today keep the schedule they were given today
    live = (plans.join(n_of, on=KEY, how="inner")
            .filter((pl.col("status") == "active") & pl.col("kind").is_in(SCHEDULED_KINDS)
                    & (pl.col("schedule_date").is_null() | (pl.col("schedule_date") < d))))
    rows = schedules.join(
        live.select("plan_id", "kind", "next_term", "schedule_date", "remaining_principal",
                    "rate_scaled", KEY, "_n"), on="plan_id", how="inner")
    rows = rows.filter(in_force(rows) & (pl.col("term") >= pl.col("next_term")))
    lost = live.join(rows.select("plan_id").unique(), on="plan_id", how="anti")
    if lost.height:
        raise ValueError(f"the day's schedules lack the remaining instalments of plan(s) "
                         f"{sorted(lost.get_column('plan_id').to_list())[:5]}")
    dpm = rows_of(st, rows.get_column(KEY), "days_per_month").get_column("days_per_month")
    extra = (pl.when((pl.col("kind") == "cash_loan") & (pl.col("term") == pl.col("next_term")))
             .then(rhu(pl.col("remaining_principal"),
                       pl.col("rate_scaled") * pl.col("_dpm").cast(pl.Int64) * pl.col("_n")))
             .otherwise(0))
    moved = (rows.with_columns(dpm.alias("_dpm"))
             .with_columns(extra.alias("_extra"))
             .select(day.lit_date.alias("business_date"), "plan_id", "term", "account_id",
                     _months(pl.col("bill_date"), pl.col("_n")).alias("bill_date"),
                     _months(pl.col("due_date"), pl.col("_n")).alias("due_date"), "principal",
                     (pl.col("interest") + pl.col("_extra")).alias("interest"), "fee",
                     (pl.col("total") + pl.col("_extra")).alias("total")))
    ids = live.get_column("plan_id").implode()
    plans = plans.with_columns(pl.when(pl.col("plan_id").is_in(ids)).then(day.lit_date)
                               .otherwise(pl.col("schedule_date")).alias("schedule_date"))
    until = hol.select(KEY, _months(day.lit_date, pl.col("terms")).alias("_until"),
                       pl.col("terms").cast(pl.Int32).alias("_months"))
    st = (with_aligned(st, until)
          .with_columns(pl.coalesce("_until", "holiday_until").alias("holiday_until"),
                        pl.coalesce("_months", "holiday_months").alias("holiday_months"))
          .drop("_until", "_months"))
    return st, dues, plans, moved


def close_settlements(day: Day, st: pl.DataFrame, txns: pl.DataFrame, dues: pl.DataFrame,
                      plans: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Write off what a settled account still owes and close it (after the waterfall)."""
    sett = txns.filter((pl.col("type") == "settlement") & (pl.col("status") == "posted"))
    if sett.height == 0:
        return st, dues, plans
    sett = sett.with_columns(
        st.get_column("status").gather(sett.get_column(KEY)).alias("_account_status"))
    live = sett.filter(pl.col("_account_status") == "open").select(KEY, "txn_id")
    if live.height:
        keys = live.select(KEY)
        owed = (dues.join(keys, on=KEY, how="semi").group_by(KEY)
                .agg([pl.col(c).sum().alias(f"_d_{c}") for c in COMPONENTS]))
        in_plans = (plans.join(keys, on=KEY, how="semi").filter(pl.col("status").is_in(LIVE))
                    .group_by(KEY).agg(pl.col("remaining_principal").sum().alias("_plan")))
        w = (pl.concat([live, rows_of(st, live.get_column(KEY), "account_id",
                                      "unbilled_principal", "billed_principal",
                                      "accrued_interest", "credit_balance")],
                       how="horizontal")
             .join(owed, on=KEY, how="left", maintain_order="left")
             .join(in_plans, on=KEY, how="left", maintain_order="left")
             .fill_null(0)
             .with_columns(pl.min_horizontal("credit_balance", "_plan").alias("_applied"),
                           day.lit_date.alias("business_date"))
             .with_columns(
                 (pl.col("_d_principal") + pl.col("unbilled_principal")
                  + pl.col("billed_principal") + pl.col("_plan") - pl.col("_applied"))
                 .alias("principal"),
                 (pl.col("_d_interest") + pl.col("accrued_interest")).alias("interest"),
                 pl.col("_d_fee").alias("fee"), pl.col("_d_penalty").alias("penalty")))
        day.journal.append(pair_lines(
            w, event="settlement_credit", debit="customer_credit",
            credit="receivable_principal", amount="_applied",
            entry_key=pl.col("txn_id").cast(pl.String), txn_id="txn_id"))
        lines = (w.select("business_date", "account_id", KEY, "txn_id", *COMPONENTS)
                 .unpivot(index=["business_date", "account_id", KEY, "txn_id"],
                          on=list(COMPONENTS), variable_name="component", value_name="amount"))
        day.journal.append(pair_lines(
            lines, event="settlement_discount", debit="settlement_discount",
            credit=pl.col("component").replace_strict(RECEIVABLE, return_dtype=pl.String),
            entry_key=pl.col("component"), txn_id="txn_id"))
        st = (with_aligned(st, w.select(KEY, "_applied"))
              .with_columns(
                  pl.when(pl.col("_applied").is_not_null())
                  .then(pl.col("credit_balance") - pl.col("_applied"))
                  .otherwise(pl.col("credit_balance")).alias("credit_balance"),
                  *[pl.when(pl.col("_applied").is_not_null()).then(0).otherwise(pl.col(c))
                    .alias(c) for c in ("unbilled_principal", "billed_principal",
                                        "accrued_interest")],
                  pl.when(pl.col("_applied").is_not_null()).then(None)
                  .otherwise(pl.col("statement_due_date")).alias("statement_due_date"),
                  pl.when(pl.col("_applied").is_not_null()).then(False)
                  .otherwise(pl.col("interest_on")).alias("interest_on"))
              .drop("_applied"))
        dues = dues.join(keys, on=KEY, how="anti", maintain_order="left")
        plans = plans.with_columns(
            pl.when(pl.col(KEY).is_in(keys.get_column(KEY).implode())
                    & pl.col("status").is_in(LIVE))
            .then(pl.lit("settled")).otherwise(pl.col("status")).alias("status"))
    closing = sett.filter(pl.col("_account_status").is_in(["open", "charged_off"]))
    ids = closing.get_column(KEY).implode()
    closed = pl.col(KEY).is_in(ids)
    st = st.with_columns(pl.when(closed).then(pl.lit("settled")).otherwise(pl.col("status"))
                         .alias("status"),
                         pl.when(closed).then(None).otherwise(pl.col("oldest_due_date"))
                         .alias("oldest_due_date"))
    return st, dues, plans
