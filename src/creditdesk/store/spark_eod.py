"""End of day on Spark: pack the inputs, close a run of dates per partition, unpack.

The kernel needs, for each account, rows of six tables. They are packed into
one wide frame (``<table>__<column>`` plus a ``_t`` tag), repartitioned by
``account_id`` and handed to :func:`close_range_partition` under
``mapInArrow``, which rebuilds the tables, closes each date with
``close_day`` carrying its accounts' state in memory, and packs the output
the same way. Nothing depends on which accounts share a partition.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import pyarrow as pa

from creditdesk.ledger.kernel import OUTPUT_TABLES
from creditdesk.ledger.params import LedgerParams
from creditdesk.ledger.schema import TABLES

ACCOUNTS_PER_PARTITION = 50_000
"""Accounts a Spark partition closes at most (its worker holds their state for a run)."""

__all__ = ["ACCOUNTS_PER_PARTITION", "INPUTS", "close_date_on_spark", "close_range_on_spark",
           "close_range_partition"]

#: kernel input name -> table it has the schema of
INPUTS = {"accounts": "accounts", "prev": "account_day", "dues": "dues",
          "plan_state": "plan_state", "billing": "instalments", "txns": "transactions"}


def _packed_schema(names: dict[str, str]) -> pa.Schema:
    from creditdesk.store.spark_store import _arrow_type

    fields = [pa.field("_t", pa.string()), pa.field("_key", pa.string())]
    for name, table in names.items():
        fields += [pa.field(f"{name}__{c}", _arrow_type(t)) for c, t in TABLES[table].items()]
    return pa.schema(fields)


def _unpack(df: pl.DataFrame, names: dict[str, str]) -> dict[str, pl.DataFrame]:
    out = {}
    for name, table in names.items():
        part = df.filter(pl.col("_t") == name)
        out[name] = part.select([pl.col(f"{name}__{c}").cast(t).alias(c)
                                 for c, t in TABLES[table].items()])
    return out


def _pack(frames: dict[str, pl.DataFrame], names: dict[str, str], schema: pa.Schema
          ) -> pa.Table:
    parts = []
    for name, table in names.items():
        df = frames[name]
        if df.height == 0:
            continue
        parts.append(df.select(
            pl.lit(name).alias("_t"), pl.col("account_id").alias("_key"),
            *[pl.col(c).cast(t).alias(f"{name}__{c}") for c, t in TABLES[table].items()]))
    if not parts:
        return schema.empty_table()
    df = pl.concat(parts, how="diagonal")
    missing = [pl.lit(None, t).alias(f"{name}__{c}") for name, table in names.items()
               for c, t in TABLES[table].items() if f"{name}__{c}" not in df.columns]
    return df.with_columns(missing).to_arrow().select(schema.names).cast(schema)


def close_date_on_spark(store: Any, d: date, params: LedgerParams) -> None:
    """Close the single date ``d`` on Spark (a run of one date)."""
    close_range_on_spark(store, d, d, params)


def close_range_partition(batches: Iterator[pa.RecordBatch], start: date, end: date,
                          params: LedgerParams) -> Iterator[pa.RecordBatch]:
    """Close every date from ``start`` to ``end`` for the accounts of one partition.

    Accounts are independent, so a partition can carry its own accounts'
    state from one date to the next in memory: one Spark job closes a run of
    dates instead of one job per date. The per-date kernel is the same.
    """
    from creditdesk.ledger.book import InMemoryBook

    in_schema = _packed_schema(INPUTS)
    out_names = {t: t for t in OUTPUT_TABLES}
    out_schema = _packed_schema(out_names)
    tables = [pa.Table.from_batches([b]) for b in batches]
    if not tables:
        return
    df = pl.from_arrow(pa.concat_tables(tables).cast(in_schema))
    assert isinstance(df, pl.DataFrame)
    f = _unpack(df, INPUTS)
    book = InMemoryBook(params, accounts=f["accounts"], transactions=f["txns"],
                        last_closed=start - timedelta(days=1),
                        state={"account_day": f["prev"], "dues": f["dues"],
                               "plan_state": f["plan_state"]},
                        instalments=f["billing"])
    book.close_through(start, end)
    frames = {t: book.table(t) for t in OUTPUT_TABLES if t not in ("dues", "plan_state")}
    frames["dues"] = book.state["dues"]
    frames["plan_state"] = book.state["plan_state"]
    packed = _pack(frames, out_names, out_schema)
    yield from packed.to_batches(max_chunksize=65_536)


def close_range_on_spark(store: Any, start: date, end: date, params: LedgerParams) -> None:
    """Close ``start``..``end`` in one Spark job and commit them together."""
    from pyspark.sql.pandas.types import from_arrow_schema

    from creditdesk.store.spark_store import spark_functions

    F = spark_functions(store.spark)
    prev_d = start - timedelta(days=1)
    sources = {
        "accounts": store.frame("accounts").where(F.col("opened") <= F.lit(end)),
        "prev": store.frame("account_day").where(F.col("business_date") == F.lit(prev_d)),
        "dues": store.frame("dues"),
        "plan_state": store.frame("plan_state"),
        "billing": store.frame("instalments").where(F.col("bill_date") >= F.lit(start)),
        "txns": store.frame("transactions").where(
            (F.col("business_date") >= F.lit(start)) & (F.col("business_date") <= F.lit(end))),
    }
    in_schema = _packed_schema(INPUTS)
    packed = None
    for name, sdf in sources.items():
        cols = [F.lit(name).alias("_t"), F.col("account_id").alias("_key")]
        cols += [F.col(c).alias(f"{name}__{c}") for c in TABLES[INPUTS[name]]]
        part = sdf.select(*cols)
        packed = part if packed is None else packed.unionByName(part, allowMissingColumns=True)
    assert packed is not None
    packed = packed.select(*in_schema.names)
    # each partition's accounts are closed for the whole run of dates in one Python
    # worker, holding their state; at 500,000 accounts a partition a worker outgrew 11 GB,
    # so large books get more partitions than the session's default
    n = max(int(store.spark.conf.get("spark.sql.shuffle.partitions")),
            -(-store.frame("accounts").count() // ACCOUNTS_PER_PARTITION))
    out_schema = _packed_schema({t: t for t in OUTPUT_TABLES})
    result = packed.repartition(n, "_key").mapInArrow(
        lambda it: close_range_partition(it, start, end, params), from_arrow_schema(out_schema))
    staging = store.location / "_staging" / f"{start.isoformat()}-{uuid.uuid4().hex[:8]}"
    try:
        result.write.partitionBy("_t").parquet(f"file://{staging.resolve()}")
        with store.transaction(business_date=end):
            for t in OUTPUT_TABLES:
                store.adopt_packed(t, staging / f"_t={t}")
            days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
            now = datetime.now(UTC)
            store.append("closed_dates", pl.DataFrame({"business_date": days,
                                                       "closed_at": [now] * len(days)}))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
