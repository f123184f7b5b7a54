"""Collection cases: opened, moved through buckets and queues, closed — a pure daily update.

A case is the unit collections works on: one account's spell of trouble. It opens
at the first missed due date (DPD 1), or earlier as a soft *pre-due* case from three
days before a due date (T-3 to T0) when the behaviour score flags the account, and
closes on cure (nothing overdue any more), settlement, charge-off or sale; a pre-due
case whose due date passes paid closes as ``paid``, one that is missed becomes a
delinquent case (same case, its stage changes). Each day the case records its
bucket (and a history row when it changes) and its assignment: the queue for its
bucket (``reminders`` before the due date, the voice ``robot`` in M1, ``agents`` in
M2-M3) or an external agency when the strategy's path places it (with the
commission), recalled after the placement's ``recall_after_days``.

:func:`update_cases` is a pure function of yesterday's open cases and today's account
snapshot (Polars in, Polars out); :mod:`creditdesk.collections.planning` reads and
writes the tables.

>>> from datetime import date
>>> snap = pl.DataFrame({"account_id": ["A", "B"], "customer_id": ["c1", "c2"],
...     "status": ["open", "open"], "dpd": [1, 0], "bucket": ["M1", "M0"],
...     "overdue_amount": [500, 0], "total_due": [500, 300], "days_to_due": [-1, 2],
...     "flagged": [False, True], "arm": ["champion", "champion"],
...     "placement_agency": [None, None], "placement_commission": [0.0, 0.0],
...     "placement_recall_days": [0, 0]})
>>> cases, events = update_cases(empty_cases(), snap, date(2026, 3, 11))
>>> cases.select("case_id", "stage", "queue").rows()
[('A-20260311', 'delinquent', 'robot'), ('B-20260311', 'pre_due', 'reminders')]
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

__all__ = ["CASES", "CASE_EVENTS", "PRE_DUE_DAYS", "empty_cases", "update_cases"]

#: a flagged account's soft stage starts this many days before its due date
PRE_DUE_DAYS = 3
CASES: dict[str, pl.DataType | type[pl.DataType]] = {
    "case_id": pl.String, "account_id": pl.String, "customer_id": pl.String,
    "opened_on": pl.Date, "stage": pl.String, "status": pl.String, "closed_on": pl.Date,
    "close_reason": pl.String, "bucket": pl.String, "max_bucket": pl.String, "dpd": pl.Int32,
    "overdue_amount": pl.Int64, "arm": pl.String, "queue": pl.String, "agency": pl.String,
    "commission": pl.Float64, "placed_on": pl.Date, "recalled_on": pl.Date,
    "updated_on": pl.Date,
}
CASE_EVENTS: dict[str, pl.DataType | type[pl.DataType]] = {
    "case_id": pl.String, "business_date": pl.Date, "event": pl.String, "detail": pl.String,
}
_ORDER = {"M0": 0, "M1": 1, "M2": 2, "M3": 3, "M4": 4, "M5": 5, "M6": 6, "CO": 7}


def empty_cases() -> pl.DataFrame:
    """An empty cases frame with the table's exact schema."""
    return pl.DataFrame(schema=CASES)


def _queue(bucket: pl.Expr, stage: pl.Expr) -> pl.Expr:
    return (pl.when(stage == "pre_due").then(pl.lit("reminders"))
            .when(bucket == "M1").then(pl.lit("robot"))
            .otherwise(pl.lit("agents")))


def _worse(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    ra = a.replace_strict(_ORDER, default=0)
    rb = b.replace_strict(_ORDER, default=0)
    return pl.when(rb > ra).then(b).otherwise(a)


def update_cases(open_cases: pl.DataFrame, snapshot: pl.DataFrame, d: date
                 ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Yesterday's open cases and the snapshot of date ``d`` -> (cases touched, events).

    ``snapshot``: one row per account with ``account_id, customer_id, status, dpd,
    bucket, overdue_amount, total_due, days_to_due, flagged, arm`` and the placement its
    strategy path gives (``placement_agency`` or null, ``placement_commission``,
    ``placement_recall_days``). Returns every case opened, changed or closed on ``d``
    (the full row, to upsert by ``case_id``) and the day's events (``opened``, ``stage``,
    ``bucket``, ``placed``, ``recalled``, ``closed``).
    """
    day = pl.lit(d)
    s = snapshot.with_columns(pl.col("dpd").cast(pl.Int32))
    cur = open_cases.filter(pl.col("status") == "open").join(
        s.select("account_id", pl.col("status").alias("acc_status"), pl.col("dpd").alias("n_dpd"),
                 pl.col("bucket").alias("n_bucket"), pl.col("overdue_amount").alias("n_overdue"),
                 "total_due", "days_to_due", "placement_agency", "placement_commission",
                 "placement_recall_days"),
        on="account_id", how="left")
    # closing
    reason = (pl.when(pl.col("acc_status").is_null() | (pl.col("acc_status") == "closed"))
              .then(pl.lit("closed"))
              .when(pl.col("acc_status") == "settled").then(pl.lit("settlement"))
              .when(pl.col("acc_status") == "sold").then(pl.lit("sale"))
              .when(pl.col("acc_status") == "charged_off").then(pl.lit("charge_off"))
              .when((pl.col("stage") == "delinquent") & (pl.col("n_dpd") == 0)
                    & (pl.col("n_overdue") <= 0)).then(pl.lit("cure"))
              .when((pl.col("stage") == "pre_due") & (pl.col("n_dpd") == 0)
                    & ((pl.col("days_to_due") < 0) | (pl.col("total_due") <= 0)))
              .then(pl.lit("paid")))
    cur = cur.with_columns(reason.alias("_reason"))
    became = (pl.col("stage") == "pre_due") & (pl.col("n_dpd") > 0)
    stage = pl.when(became).then(pl.lit("delinquent")).otherwise(pl.col("stage"))
    bucket = pl.coalesce(pl.col("n_bucket"), pl.col("bucket"))
    placed_now = (pl.col("agency").is_null() & pl.col("placement_agency").is_not_null()
                  & pl.col("_reason").is_null())
    recall = (pl.col("agency").is_not_null() & (
        pl.col("placement_agency").is_null()
        | ((day - pl.col("placed_on")).dt.total_days() >= pl.col("placement_recall_days"))))
    upd = cur.with_columns(
        stage.alias("stage"), bucket.alias("bucket"),
        _worse(pl.col("max_bucket"), bucket).alias("max_bucket"),
        pl.coalesce(pl.col("n_dpd"), pl.col("dpd")).alias("dpd"),
        pl.coalesce(pl.col("n_overdue"), pl.col("overdue_amount")).alias("overdue_amount"),
        pl.when(pl.col("_reason").is_not_null()).then(pl.lit("closed"))
        .otherwise(pl.lit("open")).alias("status"),
        pl.when(pl.col("_reason").is_not_null()).then(day).otherwise(None).alias("closed_on"),
        pl.col("_reason").alias("close_reason"),
        pl.when(placed_now).then(pl.col("placement_agency"))
        .when(recall).then(None).otherwise(pl.col("agency")).alias("agency"),
        pl.when(placed_now).then(pl.col("placement_commission"))
        .when(recall).then(None).otherwise(pl.col("commission")).alias("commission"),
        pl.when(placed_now).then(day).when(recall).then(None)
        .otherwise(pl.col("placed_on")).alias("placed_on"),
        pl.when(recall).then(day).otherwise(pl.col("recalled_on")).alias("recalled_on"),
        day.alias("updated_on"),
        placed_now.alias("_placed"), recall.alias("_recall"), became.alias("_became"),
        (bucket != pl.col("bucket")).alias("_moved"),
    )
    upd = upd.with_columns(
        pl.when(pl.col("agency").is_not_null()).then(pl.lit("agency"))
        .otherwise(_queue(pl.col("bucket"), pl.col("stage"))).alias("queue"))
    # opening: accounts with no open case
    fresh = s.join(open_cases.filter(pl.col("status") == "open").select("account_id"),
                   on="account_id", how="anti")
    late = fresh.filter((pl.col("status") == "open") & (pl.col("dpd") > 0))
    soft = fresh.filter((pl.col("status") == "open") & (pl.col("dpd") == 0) & pl.col("flagged")
                        & (pl.col("total_due") > 0)
                        & pl.col("days_to_due").is_between(0, PRE_DUE_DAYS))
    new = pl.concat([
        late.with_columns(pl.lit("delinquent").alias("stage"),
                          (day - pl.duration(days=pl.col("dpd") - 1)).alias("opened_on")),
        soft.with_columns(pl.lit("pre_due").alias("stage"), day.alias("opened_on")),
    ]).with_columns(
        pl.concat_str(pl.col("account_id"), pl.lit("-"),
                      pl.col("opened_on").dt.strftime("%Y%m%d")).alias("case_id"),
        pl.lit("open").alias("status"), pl.lit(None, pl.Date).alias("closed_on"),
        pl.lit(None, pl.String).alias("close_reason"), pl.col("bucket").alias("max_bucket"),
        pl.col("placement_agency").alias("agency"),
        pl.when(pl.col("placement_agency").is_not_null()).then(pl.col("placement_commission"))
        .otherwise(None).alias("commission"),
        pl.when(pl.col("placement_agency").is_not_null()).then(day).otherwise(None)
        .alias("placed_on"),
        pl.lit(None, pl.Date).alias("recalled_on"), day.alias("updated_on"),
    ).with_columns(
        pl.when(pl.col("agency").is_not_null()).then(pl.lit("agency"))
        .otherwise(_queue(pl.col("bucket"), pl.col("stage"))).alias("queue"))
    cases = pl.concat([upd.select(list(CASES)).cast(CASES),  # type: ignore[arg-type]
                       new.select(list(CASES)).cast(CASES)])  # type: ignore[arg-type]
    ev = []
    ev.append(new.select("case_id", pl.lit(d).alias("business_date"), pl.lit("opened").alias("event"),
                         pl.concat_str(pl.col("stage"), pl.lit(" "), pl.col("bucket")).alias("detail")))
    ev.append(new.filter(pl.col("agency").is_not_null()).select(
        "case_id", pl.lit(d).alias("business_date"), pl.lit("placed").alias("event"),
        pl.col("agency").alias("detail")))
    for flag, name, detail in (("_became", "stage", pl.lit("pre_due -> delinquent")),
                               ("_moved", "bucket", pl.col("bucket")),
                               ("_placed", "placed", pl.col("agency")),
                               ("_recall", "recalled", pl.lit("back in house"))):
        ev.append(upd.filter(pl.col(flag).fill_null(False)).select(
            "case_id", pl.lit(d).alias("business_date"), pl.lit(name).alias("event"),
            detail.cast(pl.String).alias("detail")))
    ev.append(upd.filter(pl.col("status") == "closed").select(
        "case_id", pl.lit(d).alias("business_date"), pl.lit("closed").alias("event"),
        pl.col("close_reason").alias("detail")))
    events = pl.concat([e.cast(CASE_EVENTS) for e in ev])  # type: ignore[arg-type]
    changed = cases.filter(
        pl.col("case_id").is_in(events.get_column("case_id").implode())
        | (pl.col("updated_on") == d))
    return changed, events.sort("case_id", "event")


def opened_before(d: date, dpd: int) -> date:
    """The date a spell that is ``dpd`` days past due on ``d`` reached DPD 1.

    >>> opened_before(date(2026, 3, 11), 5)
    datetime.date(2026, 3, 7)
    """
    return d - timedelta(days=dpd - 1)
