"""Repayment allocation: the waterfall that settles what a customer owes.

DESIGN.md fixes the order (as Apache Fineract does): past-due items oldest
first, then items due, then future amounts; inside one item penalty -> fee ->
interest -> principal (configurable). Paying ``P1`` then ``P2`` into a fixed
waterfall settles exactly what paying ``P1 + P2`` at once settles, so a day's
credits are summed per account and allocated in one vectorised pass: each
component's cumulative position in the waterfall is compared with the money
available. The split of that allocation between the individual credits (for
the journal) is the overlap of two sets of intervals on the same money line.

Worked example: owed [penalty 5, interest 20, principal 100] on one item, and
two repayments 15 and 50 arrive. Waterfall positions: penalty [0, 5),
interest [5, 25), principal [25, 125). Money 65 covers [0, 65): penalty 5,
interest 20, principal 40. Repayment 1 covers [0, 15): penalty 5, interest
10; repayment 2 covers [15, 65): interest 10, principal 40.
"""

from __future__ import annotations

import polars as pl

from creditdesk.ledger.journal import KEY, RECEIVABLE
from creditdesk.ledger.schema import JOURNAL

__all__ = ["allocate"]

SOURCE_DEBIT = {"repayment": "cash", "refund": "merchant_settlement", "settlement": "cash",
                "credit": "customer_credit"}


def allocate(comps: pl.DataFrame, sources: pl.DataFrame, business_date: object
             ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Allocate the money in ``sources`` over the owed ``comps``.

    ``comps``: ``_k`` (the account's integer key), ``rank`` (int, waterfall
    order), ``target, due_id, component, amount`` — one row per owed component,
    ``amount > 0``. ``sources``: ``account_id, _k, seq, txn_id, kind
    (repayment|refund|settlement|credit), amount`` — ``credit`` is money already held (seq 0).

    Returns ``(allocated, leftover, journal)``: ``allocated`` is ``comps`` with
    an ``alloc`` column; ``leftover`` is ``_k, credit_left`` (what stays held
    as customer credit); ``journal`` the lines of every credit.
    """
    sources = sources.filter(pl.col("amount") > 0).sort([KEY, "seq"])
    avail = sources.group_by(KEY).agg(pl.col("amount").sum().alias("avail"))
    comps = (
        comps.filter(pl.col("amount") > 0)
        .join(avail, on=KEY, how="inner")
        .sort([KEY, "rank"])
        .with_columns(pl.col("amount").cum_sum().over(KEY).alias("_cum"))
        .with_columns(
            (pl.col("avail") - (pl.col("_cum") - pl.col("amount")))
            .clip(0, None).alias("_room"))
        .with_columns(pl.min_horizontal("_room", "amount").alias("alloc"))
        .with_columns(pl.col("alloc").cum_sum().over(KEY).alias("_a_end"))
        .with_columns((pl.col("_a_end") - pl.col("alloc")).alias("_a_start"))
    )
    used = comps.group_by(KEY).agg(pl.col("alloc").sum().alias("used"))
    leftover = (avail.join(used, on=KEY, how="left")
                .select(KEY, (pl.col("avail") - pl.col("used").fill_null(0))
                        .alias("credit_left")))

    src = sources.with_columns(pl.col("amount").cum_sum().over(KEY).alias("_s_end"))
    src = src.with_columns((pl.col("_s_end") - pl.col("amount")).alias("_s_start"))
    pieces = (
        comps.filter(pl.col("alloc") > 0)
        .select(KEY, "component", "_a_start", "_a_end")
        .join(src.select(KEY, "seq", "_s_start", "_s_end"), on=KEY)
        .with_columns((pl.min_horizontal("_a_end", "_s_end")
                       - pl.max_horizontal("_a_start", "_s_start")).alias("part"))
        .filter(pl.col("part") > 0)
        .group_by(KEY, "seq", "component")
        .agg(pl.col("part").sum())
    )
    journal = _journal(src, pieces, business_date)
    return comps.drop("_cum", "_room", "_a_end", "_a_start", "avail"), leftover, journal


def _journal(src: pl.DataFrame, pieces: pl.DataFrame, business_date: object) -> pl.DataFrame:
    if src.height == 0:
        return pl.DataFrame(schema=JOURNAL)  # an empty part: left out by concat_journal
    per_src = pieces.group_by(KEY, "seq").agg(pl.col("part").sum().alias("allocated"))
    src = (src.join(per_src, on=[KEY, "seq"], how="left")
           .with_columns(pl.col("allocated").fill_null(0)))
    # money held from before is only moved when it settles something
    src = src.with_columns(
        pl.when(pl.col("kind") == "credit").then(pl.col("allocated"))
        .otherwise(pl.col("amount")).alias("debit_amount"),
        pl.when(pl.col("kind") == "credit").then(0)
        .otherwise(pl.col("amount") - pl.col("allocated")).alias("excess"),
    ).filter(pl.col("debit_amount") > 0)
    event = pl.when(pl.col("kind") == "credit").then(pl.lit("apply_credit")).otherwise(
        pl.col("kind"))
    key = pl.when(pl.col("txn_id").is_null()).then(pl.lit("held")).otherwise(
        pl.col("txn_id").cast(pl.String))
    head = src.with_columns(
        pl.lit(business_date).cast(pl.Date).alias("business_date"),
        event.alias("event"),
    ).with_columns(
        pl.format("{}|{}|{}|{}", pl.col("business_date").dt.strftime("%Y%m%d"),
                  pl.col("account_id"), pl.col("event"), key).alias("entry_id"))
    common = ["business_date", "entry_id", "account_id", "txn_id", "event", KEY]
    debit_map = pl.col("kind").replace_strict(SOURCE_DEBIT, return_dtype=pl.String)
    debits = head.select(*common, debit_map.alias("ledger_account"),
                         pl.col("debit_amount").alias("debit"), pl.lit(0).alias("credit"))
    excess = head.filter(pl.col("excess") > 0).select(
        *common, pl.lit("customer_credit").alias("ledger_account"), pl.lit(0).alias("debit"),
        pl.col("excess").alias("credit"))
    credits = pieces.join(head.select(*common, "seq"), on=[KEY, "seq"]).select(
        *common, pl.col("component").replace_strict(RECEIVABLE, return_dtype=pl.String)
        .alias("ledger_account"), pl.lit(0).alias("debit"), pl.col("part").alias("credit"))
    cast = [*[pl.col(c).cast(t) for c, t in JOURNAL.items()], pl.col(KEY)]
    return pl.concat([debits.select(cast), excess.select(cast), credits.select(cast)])
