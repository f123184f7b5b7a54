"""Behaviour features and target as Ibis expressions, run inside the store's engine.

The same values as the Polars reference (``creditdesk.risk.behaviour``) — the
parity test checks them column by column — but the work over ``account_day``
(one row per account per date) happens where the books are: DuckDB for the
embedded store, Spark SQL for the lake. Python receives one row per account,
so the memory this side is bounded by the number of accounts, not accounts ×
dates.

The expressions are built on *unbound* Ibis tables named after the books'
tables (``book_tables``) and compiled to the engine's SQL (``ibis.to_sql``),
which is then run on the store's own connection: on DuckDB that is the
connection the daily cycle writes with, so a refresh inside the date's
transaction sees the date it has just closed, and no connection setting is
changed behind the store's back. On Spark the tables are the lake's committed
content (``SparkStore.frame``) registered as temporary views.

Plan of the feature query (``behaviour_features_expr``); ``W`` is the window of
``LOOKBACK_DAYS + 1`` dates ending at ``as_of``, the rows ``read_books`` reads:

1. bills: the last 3 statements per account with ``bill_date > as_of - 180``,
   ``due_date <= as_of`` and ``min_due > 0`` (a window over ``statements``,
   a few rows per account), pivoted to one row per account (``b0 d0 m0 .. b2
   d2 m2``);
2. one grouped aggregation over ``W`` with plain aggregates only: first and
   last date, the date on or before ``as_of - 90``, worst DPD over 90 / 180
   days, delinquent days, money paid and spent over 90 days;
3. what was paid between each bill date and its due date (``_bills_paid``):
   the bills' dates in long form (at most 6 an account), looked up in ``W``
   by one equi-join (the book has a row on that date), and the running total
   of ``paid_today`` at each date summed over the days with a payment only (a
   non-equi join on few rows). Carrying these as conditional sums through the
   aggregation of step 2, joined to every row of ``W``, took twice as long;
4. the values at the last date and the principal at ``as_of - 90``: equi-joins
   of ``W`` on ``(account_id, business_date)`` (one build row per account);
5. plans counted per account, ``accounts.opened``; the ratios.

Grouped aggregations with ``FILTER`` clauses, equi-joins and a window over the
few bills are all the Ibis PySpark backend needs; no ordered aggregate (Ibis
compiles ``argmax`` to ``first(x ORDER BY d DESC)`` on DuckDB, which buffers
every row of a group) and no window over ``account_day``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir
import polars as pl

from creditdesk.ledger.schema import TABLES
from creditdesk.store.base import Store

__all__ = [
    "LOOKBACK_DAYS",
    "behaviour_features_expr",
    "behaviour_target_expr",
    "book_tables",
    "features_from_store",
    "run_expr",
    "target_from_store",
    "training_frame_from_store",
]

#: account_day dates read before as_of: the 180-day window plus the day before it
LOOKBACK_DAYS = 181
#: bills per account in ``payment_to_due_3``
N_BILLS = 3
#: the tables the features read
FEATURE_TABLES = ("account_day", "statements", "plans", "accounts")


def _ibis_type(dtype: Any) -> dt.DataType:
    if dtype == pl.Int64:
        return dt.int64
    if dtype == pl.Int32:
        return dt.int32
    if dtype == pl.String:
        return dt.string
    if dtype == pl.Date:
        return dt.date
    if dtype == pl.Boolean:
        return dt.boolean
    if isinstance(dtype, pl.Datetime):
        return dt.Timestamp(timezone="UTC")
    raise AssertionError(dtype)


def book_tables(names: tuple[str, ...] = FEATURE_TABLES) -> dict[str, ir.Table]:
    """Unbound Ibis tables with the books' column contracts (``ledger.schema``)."""
    return {n: ibis.table({c: _ibis_type(t) for c, t in TABLES[n].items()}, name=n)
            for n in names}


def _per_limit(num: ir.NumericValue, limit: ir.IntegerValue) -> ir.FloatingValue:
    return ibis.ifelse(limit > 0, num.cast("float64") / limit, ibis.null("float64"))


def _bills_wide(statements: ir.Table, as_of: date) -> ir.Table:
    """The last ``N_BILLS`` bills due by ``as_of``, one row per account (``b0 d0 m0 ..``)."""
    s = statements
    recent = s.filter(s.bill_date > as_of - timedelta(days=180), s.due_date <= as_of,
                      s.min_due > 0)
    ranked = recent.mutate(_rn=ibis.row_number().over(group_by=recent.account_id,
                                                      order_by=ibis.desc(recent.bill_date)))
    top = ranked.filter(ranked._rn < N_BILLS)
    aggs: dict[str, Any] = {}
    for k in range(N_BILLS):
        here = top._rn == k
        aggs[f"b{k}"] = top.bill_date.max(where=here)
        aggs[f"d{k}"] = top.due_date.max(where=here)
        aggs[f"m{k}"] = top.min_due.max(where=here)
    return top.group_by(top.account_id.name("bill_account")).agg(**aggs)


def _bills_paid(ad: ir.Table, bills: ir.Table) -> ir.Table:
    """Per account with bills: what was paid between each bill date and its due date, and
    the minimum dues (``_ba, _paid_sum, _due_sum``).

    The running total of ``paid_today`` is taken at a bill's date and at its due date, each
    only when the book has a row on that date (as the Polars reference's join on the
    date), and the paid amount is their difference. The dates (at most ``2 * N_BILLS`` an
    account) are looked up in ``account_day`` by one equi-join, and the running totals are
    summed over the days with a payment only (a non-equi join on a few rows): the grouped
    aggregation over every account-day row then carries only the plain aggregates.
    """
    ends = [bills.select(_la=bills.bill_account, _k=ibis.literal(2 * k + e),
                         _at=bills[f"{'d' if e else 'b'}{k}"], _sign=ibis.literal(1 if e else -1))
            for k in range(N_BILLS) for e in (0, 1)]
    long = ibis.union(*ends)
    long = long.filter(long._at.notnull())
    days = ad.select(_da=ad.account_id, _dd=ad.business_date)
    seen = long.left_join(days, (long._la == days._da) & (long._at == days._dd))
    seen = seen.select(_la=seen._la, _k=seen._k, _at=seen._at, _sign=seen._sign,
                       _on=seen._dd.notnull())
    pays = ad.filter(ad.paid_today != 0).select(_pa=ad.account_id, _pd=ad.business_date,
                                                 _paid=ad.paid_today)
    run = seen.left_join(pays, (seen._la == pays._pa) & (pays._pd <= seen._at))
    per_end = run.group_by([run._la, run._k]).agg(
        _v=ibis.ifelse(run._on.any(), run._paid.sum().fill_null(0), 0) * run._sign.max())
    paid = per_end.group_by(per_end._la.name("_pla")).agg(_paid_sum=per_end._v.sum())
    due = bills.select(_ba=bills.bill_account, _due_sum=sum(
        (bills[f"m{k}"].fill_null(0) for k in range(N_BILLS)), ibis.literal(0)))
    both = due.left_join(paid, due._ba == paid._pla)
    return both.select(_ba=both._ba, _due_sum=both._due_sum,
                       _paid_sum=both._paid_sum.fill_null(0))


def behaviour_features_expr(tables: Mapping[str, ir.Table], as_of: date, *,
                            lookback_days: int = LOOKBACK_DAYS) -> ir.Table:
    """The feature table of ``as_of``: ``as_of, account_id, status`` and ``FEATURES``.

    ``tables`` maps ``account_day``, ``statements``, ``plans`` and ``accounts``
    to Ibis tables (``book_tables()`` for the store's own). Rows of
    ``account_day`` older than ``as_of - lookback_days`` are not read, exactly
    as ``refresh.read_books``; the result is sorted by ``account_id``.
    """
    ad0 = tables["account_day"]
    ad = ad0.filter(ad0.business_date >= as_of - timedelta(days=lookback_days),
                    ad0.business_date <= as_of)
    d90, d180 = as_of - timedelta(days=90), as_of - timedelta(days=180)
    bd = ad.business_date
    in90 = bd > d90
    agg = ad.group_by(ad.account_id).agg(
        _first=bd.min(),
        _last=bd.max(),
        _then=bd.max(where=bd <= d90),
        worst_dpd_90d=ad.dpd.max(where=in90),
        worst_dpd_180d=ad.dpd.max(where=bd > d180),
        days_delinquent_90d=ad.dpd.count(where=in90 & (ad.dpd > 0)),
        _paid90=ad.paid_today.sum(where=in90).fill_null(0),
        _bought90=(ad.purchases_today + ad.drawdowns_today).sum(where=in90).fill_null(0),
    )
    bills = _bills_paid(ad, _bills_wide(tables["statements"], as_of))
    last = ad.select(_la=ad.account_id, _ld=ad.business_date, product=ad.product,
                     status=ad.status, credit_limit=ad.credit_limit, principal=ad.principal,
                     dpd_now=ad.dpd)
    then = ad.select(_ta=ad.account_id, _td=ad.business_date, _principal_then=ad.principal)
    acc = tables["accounts"]
    opened = acc.filter(acc.opened <= as_of).select(_oa=acc.account_id, _opened=acc.opened)
    pl_ = tables["plans"]
    mine = pl_.filter(pl_.business_date <= as_of)
    plans = mine.group_by(mine.account_id.name("_pa")).agg(
        n_plans=mine.count(),
        n_instalment_plans=(mine.kind != "cash_loan").ifelse(1, 0).sum())

    x = (agg
         .inner_join(last, (agg.account_id == last._la) & (agg._last == last._ld))
         .left_join(then, (agg.account_id == then._ta) & (agg._then == then._td))
         .left_join(opened, agg.account_id == opened._oa)
         .left_join(plans, agg.account_id == plans._pa)
         .left_join(bills, agg.account_id == bills._ba))
    start = ibis.coalesce(x._opened, x._first)
    months = ((as_of.year * 12 + as_of.month) - (start.year() * 12 + start.month())
              - (start.day() > as_of.day).ifelse(1, 0))
    limit = x.credit_limit
    return x.select(
        as_of=ibis.literal(as_of, type="date"),
        account_id=x.account_id,
        status=x.status,
        product=x.product,
        utilisation=_per_limit(x.principal, limit),
        months_on_book=months.cast("int32"),
        dpd_now=x.dpd_now,
        worst_dpd_90d=x.worst_dpd_90d,
        worst_dpd_180d=x.worst_dpd_180d,
        days_delinquent_90d=x.days_delinquent_90d,
        payment_to_due_3=ibis.ifelse(x._ba.notnull(), x._paid_sum.cast("float64") / x._due_sum,
                                     ibis.null("float64")),
        paid_90d_to_limit=_per_limit(x._paid90, limit),
        purchases_90d_to_limit=_per_limit(x._bought90, limit),
        n_plans=x.n_plans.fill_null(0),
        n_instalment_plans=x.n_instalment_plans.fill_null(0),
        utilisation_change_90d=_per_limit(x.principal - x._principal_then.fill_null(0), limit),
    ).order_by("account_id")


def behaviour_target_expr(tables: Mapping[str, ir.Table], as_of: date,
                          horizon_days: int = 180, dpd: int = 60) -> ir.Table:
    """``account_id, target`` as ``behaviour.behaviour_target`` (completeness not checked)."""
    ad = tables["account_day"]
    end = as_of + timedelta(days=horizon_days)
    base = ad.filter(ad.business_date <= as_of).select("account_id").distinct()
    after = ad.filter(ad.business_date > as_of, ad.business_date <= end)
    hit = after.group_by(after.account_id.name("_ha")).agg(_max=after.dpd.max())
    j = base.left_join(hit, base.account_id == hit._ha)
    return j.select(account_id=j.account_id,
                    target=(j._max >= dpd).fill_null(False).ifelse(1, 0).cast("int8")
                    ).order_by("account_id")


# --- running on a store ---------------------------------------------------------------------

_FEATURE_SCHEMA: dict[str, Any] = {
    "as_of": pl.Date, "account_id": pl.String, "status": pl.String, "product": pl.String,
    "utilisation": pl.Float64, "months_on_book": pl.Int32, "dpd_now": pl.Int32,
    "worst_dpd_90d": pl.Int32, "worst_dpd_180d": pl.Int32, "days_delinquent_90d": pl.UInt32,
    "payment_to_due_3": pl.Float64, "paid_90d_to_limit": pl.Float64,
    "purchases_90d_to_limit": pl.Float64, "n_plans": pl.UInt32, "n_instalment_plans": pl.UInt32,
    "utilisation_change_90d": pl.Float64,
}


def run_expr(store: Store, expr: ir.Table) -> pl.DataFrame:
    """Compile ``expr`` (over ``book_tables``) to the store's SQL, run it there, return it.

    DuckDB: on the store's connection (sees its open transaction). Spark: over
    temporary views of the lake's committed tables.
    """
    from creditdesk.store.duckdb_store import DuckDBStore

    if isinstance(store, DuckDBStore):
        sql = ibis.to_sql(expr, dialect="duckdb")
        arrow = store.con.sql(str(sql)).to_arrow_table()
    else:
        from creditdesk.store.spark_store import SparkStore

        if not isinstance(store, SparkStore):
            raise TypeError(f"no SQL engine for {type(store).__name__}")
        names = {op.name for op in expr.op().find(ops.UnboundTable)}
        for name in sorted(names):
            store.frame(name).createOrReplaceTempView(name)
        if getattr(ibis.options, "pyspark", None) is None:  # the compiler reads its options
            from ibis.backends.pyspark import Backend as PySparkBackend

            PySparkBackend.register_options()
        sql = ibis.to_sql(expr, dialect="pyspark")
        arrow = store.spark.sql(str(sql)).toArrow()
    out = pl.from_arrow(arrow)
    assert isinstance(out, pl.DataFrame)
    return out


def features_from_store(store: Store, as_of: date, *,
                        lookback_days: int = LOOKBACK_DAYS) -> pl.DataFrame:
    """The behaviour features of ``as_of``, computed in the store's engine (one row per account)."""
    expr = behaviour_features_expr(book_tables(), as_of, lookback_days=lookback_days)
    out = run_expr(store, expr)
    if out.height == 0:
        return pl.DataFrame(schema=_FEATURE_SCHEMA)
    return out.select([pl.col(c).cast(t) for c, t in _FEATURE_SCHEMA.items()])


def target_from_store(store: Store, as_of: date, horizon_days: int = 180, dpd: int = 60, *,
                      require_complete: bool = True) -> pl.DataFrame:
    """``behaviour.behaviour_target`` computed in the store's engine."""
    if horizon_days < 1:
        raise ValueError(f"horizon_days must be at least 1; got {horizon_days}")
    end = as_of + timedelta(days=horizon_days)
    top = store.scalar("SELECT max(business_date) FROM account_day")
    last = top if isinstance(top, date) else None
    if require_complete and (last is None or last < end):
        raise ValueError(f"the books must be closed through {end} for a {horizon_days}-day "
                         f"target from {as_of}; they end {last}")
    out = run_expr(store, behaviour_target_expr(book_tables(("account_day",)), as_of,
                                                horizon_days, dpd))
    return out.select(pl.col("account_id").cast(pl.String), pl.col("target").cast(pl.Int8))


def training_frame_from_store(store: Store, as_of_dates: list[date], *, horizon_days: int = 180,
                              dpd: int = 60) -> pl.DataFrame:
    """``behaviour.behaviour_training_frame`` over the store's books, built in its engine.

    Features use the ``LOOKBACK_DAYS`` window of ``refresh`` (the account's
    opening date from ``accounts``), so a model is trained on exactly what it
    will be scored on.
    """
    from creditdesk.risk.behaviour import performing

    parts = []
    for as_of in as_of_dates:
        f = features_from_store(store, as_of).filter(performing(dpd))
        t = target_from_store(store, as_of, horizon_days, dpd)
        parts.append(f.join(t, on="account_id", how="left"))
    return pl.concat(parts)
