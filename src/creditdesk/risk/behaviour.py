"""Behaviour score features and target, built from the books (``account_day`` history).

Pure Polars functions of frames with the ledger's column contracts
(``creditdesk.ledger.schema``); no store, no Python loop per account. The
runner that reads the store and writes scores is ``creditdesk.risk.refresh``.

Windows are counted in business dates ending **at** ``as_of`` inclusive: "the
last 90 days" are the dates ``as_of - 89 .. as_of`` (``business_date >
as_of - 90 days``). Every feature uses only rows dated on or before
``as_of``; the target uses only rows after it.

Features (one row per account with an ``account_day`` row on or before ``as_of``):

=========================  ===============================================================
``product``                the account's product at ``as_of`` (categorical)
``utilisation``            principal / credit_limit at ``as_of`` (null when the limit is 0)
``months_on_book``         whole calendar months from opening (``opened`` when given, else
                           the account's first ``account_day`` date) to ``as_of``
``dpd_now``                DPD at ``as_of``
``worst_dpd_90d``          the highest DPD over the last 90 days
``worst_dpd_180d``         the highest DPD over the last 180 days
``days_delinquent_90d``    dates in the last 90 days with DPD > 0
``payment_to_due_3``       over the last 3 bills of the last 180 days that are due on or
                           before ``as_of`` with a minimum due > 0: money paid from the day
                           after the bill date through the due date, divided by the sum of
                           their minimum dues (null when there is no such bill, e.g. cash
                           loans)
``paid_90d_to_limit``      money paid in the last 90 days / credit_limit
``purchases_90d_to_limit`` purchases and drawdowns in the last 90 days / credit_limit
``n_plans``                plans (cash loans and instalment conversions) created by ``as_of``
``n_instalment_plans``     of which instalment conversions (kind other than ``cash_loan``)
``utilisation_change_90d`` balance trend: (principal at ``as_of`` − principal at the last
                           date on or before ``as_of − 90 days``, 0 if not yet on book) /
                           credit_limit at ``as_of``
=========================  ===============================================================

Plus ``as_of``, ``account_id`` and ``status`` (not model inputs). Payments
to a bill are read as the difference of a running total of ``paid_today``
at the due date and at the bill date, so ``account_day`` must reach back to
the oldest of those bill dates (``refresh`` reads 181 days).

Target: ``behaviour_target`` is 1 when the account reaches DPD >= ``dpd``
on any date in ``(as_of, as_of + horizon_days]``, else 0. Accounts already
at that DPD or charged off at ``as_of`` are not part of a behaviour model's
population: ``performing`` selects the others.

>>> from datetime import date
>>> ad = pl.DataFrame({"business_date": [date(2026, 1, 1), date(2026, 1, 2)],
...     "account_id": ["A", "A"], "product": ["revolving"] * 2, "status": ["open"] * 2,
...     "credit_limit": [1000, 1000], "principal": [100, 300], "dpd": [0, 2],
...     "paid_today": [0, 0], "purchases_today": [100, 200], "drawdowns_today": [0, 0]})
>>> f = behaviour_features(ad, pl.DataFrame(), pl.DataFrame(), date(2026, 1, 2))
>>> f.select("utilisation", "worst_dpd_90d", "utilisation_change_90d").row(0)
(0.3, 2, 0.3)
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

__all__ = [
    "CATEGORICAL",
    "FEATURES",
    "behaviour_features",
    "behaviour_target",
    "behaviour_training_frame",
    "performing",
]

#: the model's input columns, in order
FEATURES = [
    "product", "utilisation", "months_on_book", "dpd_now", "worst_dpd_90d", "worst_dpd_180d",
    "days_delinquent_90d", "payment_to_due_3", "paid_90d_to_limit", "purchases_90d_to_limit",
    "n_plans", "n_instalment_plans", "utilisation_change_90d",
]
CATEGORICAL = ["product"]

_AD_COLUMNS = ("business_date", "account_id", "product", "status", "credit_limit", "principal",
               "dpd", "paid_today", "purchases_today", "drawdowns_today")


def _per_limit(num: pl.Expr) -> pl.Expr:
    return pl.when(pl.col("credit_limit") > 0).then(num / pl.col("credit_limit")).otherwise(None)


def _months_between(start: pl.Expr, as_of: date) -> pl.Expr:
    months = (as_of.year * 12 + as_of.month) - (start.dt.year().cast(pl.Int32) * 12
                                                + start.dt.month().cast(pl.Int32))
    return months - (start.dt.day().cast(pl.Int32) > as_of.day).cast(pl.Int32)


def _payment_to_due(ad: pl.DataFrame, statements: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """``payment_to_due_3`` per account that has a bill due by ``as_of``."""
    schema = {"account_id": pl.String, "payment_to_due_3": pl.Float64}
    need = {"account_id", "bill_date", "due_date", "min_due"}
    if statements.height == 0 or not need <= set(statements.columns):
        return pl.DataFrame(schema=schema)
    bills = (statements.lazy()
             .filter((pl.col("bill_date") > as_of - timedelta(days=180))
                     & (pl.col("due_date") <= as_of) & (pl.col("min_due") > 0))
             .select("account_id", "bill_date", "due_date", "min_due")
             .sort("account_id", "bill_date", descending=[False, True])
             .group_by("account_id", maintain_order=True).head(3))
    # running total of money paid per account; paid in (bill, due] = cum(due) - cum(bill)
    cum = (ad.lazy().select("account_id", "business_date", "paid_today")
           .sort("account_id", "business_date")
           .with_columns(pl.col("paid_today").cum_sum().over("account_id").alias("_cum")))
    at_bill = cum.select("account_id", pl.col("business_date").alias("bill_date"),
                         pl.col("_cum").alias("_cum_bill"))
    at_due = cum.select("account_id", pl.col("business_date").alias("due_date"),
                        pl.col("_cum").alias("_cum_due"))
    return (bills
            .join(at_bill, on=["account_id", "bill_date"], how="left")
            .join(at_due, on=["account_id", "due_date"], how="left")
            .with_columns((pl.col("_cum_due").fill_null(0) - pl.col("_cum_bill").fill_null(0))
                          .alias("_paid"))
            .group_by("account_id")
            .agg((pl.col("_paid").sum() / pl.col("min_due").sum()).alias("payment_to_due_3"))
            .collect().cast(schema))  # type: ignore[arg-type]


def _plan_counts(plans: pl.DataFrame, as_of: date) -> pl.DataFrame:
    schema = {"account_id": pl.String, "n_plans": pl.UInt32, "n_instalment_plans": pl.UInt32}
    if plans.height == 0 or not {"account_id", "business_date", "kind"} <= set(plans.columns):
        return pl.DataFrame(schema=schema)
    return (plans.filter(pl.col("business_date") <= as_of)
            .group_by("account_id")
            .agg(pl.len().alias("n_plans"),
                 (pl.col("kind") != "cash_loan").sum().alias("n_instalment_plans"))
            .cast(schema))  # type: ignore[arg-type]


def behaviour_features(account_day: pl.DataFrame, statements: pl.DataFrame, plans: pl.DataFrame,
                       as_of: date, *, opened: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per account on book at ``as_of``: the columns of ``FEATURES`` (module docstring).

    ``opened`` (``account_id``, ``opened``), e.g. the ``accounts`` table, gives
    months on book when ``account_day`` does not reach back to the opening.
    """
    missing = [c for c in _AD_COLUMNS if c not in account_day.columns]
    if missing:
        raise KeyError(f"account_day lacks columns {missing}")
    ad = account_day.select(_AD_COLUMNS).filter(pl.col("business_date") <= as_of)
    d90, d180 = as_of - timedelta(days=90), as_of - timedelta(days=180)
    in90 = pl.col("business_date") > d90
    in180 = pl.col("business_date") > d180
    dated = ad.sort("account_id", "business_date")
    now = dated.group_by("account_id", maintain_order=True).agg(
        pl.col("product", "status", "credit_limit", "principal", "dpd").last(),
        pl.col("business_date").first().alias("_first"),
        pl.col("dpd").filter(in90).max().alias("worst_dpd_90d"),
        pl.col("dpd").filter(in180).max().alias("worst_dpd_180d"),
        (in90 & (pl.col("dpd") > 0)).sum().alias("days_delinquent_90d"),
        pl.col("paid_today").filter(in90).sum().alias("_paid90"),
        (pl.col("purchases_today") + pl.col("drawdowns_today")).filter(in90).sum()
        .alias("_bought90"),
        pl.col("principal").filter(pl.col("business_date") <= d90).last().alias("_principal_then"),
    )
    if opened is not None:
        now = now.join(opened.select("account_id", pl.col("opened").cast(pl.Date)),
                       on="account_id", how="left")
        start = pl.coalesce("opened", "_first")
    else:
        start = pl.col("_first")
    out = (now
           .join(_payment_to_due(ad, statements, as_of), on="account_id", how="left")
           .join(_plan_counts(plans, as_of), on="account_id", how="left")
           .with_columns(
               pl.lit(as_of).alias("as_of"),
               _per_limit(pl.col("principal")).alias("utilisation"),
               _months_between(start, as_of).alias("months_on_book"),
               pl.col("dpd").alias("dpd_now"),
               _per_limit(pl.col("_paid90").cast(pl.Float64)).alias("paid_90d_to_limit"),
               _per_limit(pl.col("_bought90").cast(pl.Float64)).alias("purchases_90d_to_limit"),
               pl.col("n_plans", "n_instalment_plans").fill_null(0),
               _per_limit(pl.col("principal") - pl.col("_principal_then").fill_null(0))
               .alias("utilisation_change_90d"),
           ))
    return out.select("as_of", "account_id", "status", *FEATURES).sort("account_id")


def behaviour_target(account_day: pl.DataFrame, as_of: date, horizon_days: int = 180,
                     dpd: int = 60, *, require_complete: bool = True) -> pl.DataFrame:
    """``account_id, target``: 1 when DPD >= ``dpd`` on a date in ``(as_of, as_of + horizon]``.

    Every account with a row on or before ``as_of`` gets a target. With
    ``require_complete`` (the default) the books must reach ``as_of +
    horizon_days``, else a ValueError: an unfinished window would read as 0.
    """
    if horizon_days < 1:
        raise ValueError(f"horizon_days must be at least 1; got {horizon_days}")
    end = as_of + timedelta(days=horizon_days)
    top = account_day.get_column("business_date").max()
    last = top if isinstance(top, date) else None
    if require_complete and (last is None or last < end):
        raise ValueError(f"the books must be closed through {end} for a {horizon_days}-day "
                         f"target from {as_of}; they end {last}")
    base = (account_day.filter(pl.col("business_date") <= as_of)
            .select("account_id").unique())
    after = (account_day
             .filter((pl.col("business_date") > as_of) & (pl.col("business_date") <= end))
             .group_by("account_id").agg((pl.col("dpd").max() >= dpd).alias("_hit")))
    return (base.join(after, on="account_id", how="left")
            .select("account_id", pl.col("_hit").fill_null(False).cast(pl.Int8).alias("target"))
            .sort("account_id"))


def performing(dpd: int = 60) -> pl.Expr:
    """Filter for the rows a behaviour model scores: not charged off, DPD below ``dpd``."""
    return (pl.col("status") != "charged_off") & (pl.col("dpd_now") < dpd)


def behaviour_training_frame(account_day: pl.DataFrame, statements: pl.DataFrame,
                             plans: pl.DataFrame, as_of_dates: list[date], *,
                             horizon_days: int = 180, dpd: int = 60,
                             opened: pl.DataFrame | None = None) -> pl.DataFrame:
    """Features and target of performing accounts, stacked over several snapshot dates."""
    parts = []
    for as_of in as_of_dates:  # one pass per snapshot date, not per account
        f = behaviour_features(account_day, statements, plans, as_of, opened=opened)
        f = f.filter(performing(dpd))
        t = behaviour_target(account_day, as_of, horizon_days, dpd)
        parts.append(f.join(t, on="account_id", how="left"))
    return pl.concat(parts)
