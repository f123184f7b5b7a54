"""The Spark store: a lake of Parquet folders, end of day under ``mapInArrow``.

``spark:///path/to/lake`` starts a local Spark session (``local[2]``);
``SPARK_REMOTE`` set (``sc://host:port``) means a Spark Connect server instead,
which must see the lake at the same path (this process writes loads and
commit markers itself) and whose Python workers must import ``creditdesk``
(docs/ledger.md). Every write goes
to a folder named after its transaction (``<table>/txn=<id>/``) and becomes
visible only when the commit marker ``_commits/<id>`` is written, last. On
open, folders of transactions without a marker (a crash mid-write) are
removed, so the lake is always as of the last committed date.

End of day runs the same pure kernel as DuckDB (``ledger.kernel.close_day``)
on every partition of the book, keyed by account: the day's inputs are packed
into one frame, repartitioned by ``account_id``, closed per partition, and the
packed output is unpacked into the tables. Accounts are independent, so the
result equals the in-process run row for row (the parity test checks it).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from creditdesk.errors import StoreError
from creditdesk.ledger.schema import STATE_TABLES, TABLES
from creditdesk.store.base import Store

__all__ = ["SparkStore", "spark_functions", "spark_session", "stop_spark_session"]

_SESSIONS: dict[str, Any] = {}
"""This process's Spark sessions by ``SPARK_REMOTE`` (``""``: the local session)."""


def spark_session() -> Any:
    """The process's Spark session for the current ``SPARK_REMOTE`` (starting one takes seconds).

    Unset: a local session (``local[2]``, or ``CREDITDESK_SPARK_MASTER``). Set
    (``sc://host:port``): a Spark Connect session to that server. Both kinds
    can live in one process; each is created once and kept.
    """
    remote = os.environ.get("SPARK_REMOTE", "")
    session = _SESSIONS.get(remote)
    if session is None:
        session = _connect_session(remote) if remote else _local_session()
        _SESSIONS[remote] = session
    return session


def stop_spark_session(remote: str) -> None:
    """Release this process's Connect session to ``remote`` (nothing if there is none)."""
    session = _SESSIONS.pop(remote, None)
    if session is not None:
        session.stop()


def _local_session() -> Any:
    from pyspark.sql import SparkSession

    # workers must run this interpreter, the one creditdesk is installed in
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    session = (SparkSession.builder.appName("creditdesk")
               .master(os.environ.get("CREDITDESK_SPARK_MASTER", "local[2]"))
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.default.parallelism", "2")
               .config("spark.sql.adaptive.enabled", "false")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.driver.memory", "2g")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    return session


def _connect_session(remote: str) -> Any:
    """A new Spark Connect session to ``remote``.

    Built with the Connect builder itself, not ``SparkSession.builder.remote``:
    that one refuses when the process already has a local session, returns any
    existing Connect session whatever its URL, and sets
    ``SPARK_CONNECT_MODE_ENABLED`` for the whole process (from then on
    ``pyspark.sql.functions`` builds Connect columns, breaking a local
    session). Only runtime SQL settings can be made from here; the server's
    own settings (executors, partitions, its Python) are the cluster's.
    """
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    session = ConnectSession.builder.remote(remote).create()
    session.conf.set("spark.sql.session.timeZone", "UTC")
    return session


def spark_functions(spark: Any) -> Any:
    """``pyspark.sql.functions`` for a local session, its Connect twin for a Connect one.

    The plain module decides between the two by an environment variable of the
    whole process, which this store leaves alone (see :func:`_connect_session`).
    """
    if type(spark).__module__.startswith("pyspark.sql.connect."):
        from pyspark.sql.connect import functions as connect_functions

        return connect_functions
    from pyspark.sql import functions

    return functions


def _spark_type(dtype: Any) -> Any:
    from pyspark.sql import types as T

    if dtype == pl.Int64:
        return T.LongType()
    if dtype == pl.Int32:
        return T.IntegerType()
    if dtype == pl.String:
        return T.StringType()
    if dtype == pl.Date:
        return T.DateType()
    if dtype == pl.Boolean:
        return T.BooleanType()
    if isinstance(dtype, pl.Datetime):
        return T.TimestampType()
    raise AssertionError(dtype)


def _arrow_type(dtype: Any) -> pa.DataType:
    if dtype == pl.Int64:
        return pa.int64()
    if dtype == pl.Int32:
        return pa.int32()
    if dtype == pl.String:
        return pa.string()
    if dtype == pl.Date:
        return pa.date32()
    if dtype == pl.Boolean:
        return pa.bool_()
    if isinstance(dtype, pl.Datetime):
        return pa.timestamp("us", tz="UTC")
    raise AssertionError(dtype)


def spark_schema(table: str) -> Any:
    from pyspark.sql import types as T

    return T.StructType([T.StructField(c, _spark_type(t), True) for c, t in TABLES[table].items()])


class SparkStore(Store):
    """Books as Parquet folders, written per transaction and committed by a marker."""

    def __init__(self, path: str) -> None:
        self.location = Path(path)
        try:
            (self.location / "_commits").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the lake at {path!r}: {exc}") from exc
        self.spark = spark_session()
        self._txn: str | None = None
        self._written: list[Path] = []
        self._recover()

    # ------------------------------------------------------------------ layout
    def _committed(self) -> dict[str, dict[str, Any]]:
        out = {}
        for p in (self.location / "_commits").iterdir():
            if not p.name.startswith("."):
                out[p.name] = json.loads(p.read_text())
        return out

    def _recover(self) -> None:
        done = self._committed()
        for table in TABLES:
            tdir = self.location / table
            if not tdir.exists():
                continue
            for sub in tdir.iterdir():
                if sub.name.startswith("txn=") and sub.name[4:] not in done:
                    shutil.rmtree(sub, ignore_errors=True)

    def _paths(self, table: str) -> list[str]:
        tdir = self.location / table
        if not tdir.exists():
            return []
        done = self._committed()
        subs = [s for s in sorted(tdir.iterdir()) if s.name.startswith("txn=")
                and s.name[4:] in done]
        if table in STATE_TABLES:
            # only the latest end-of-day version is the state
            eods = [s for s in subs if done[s.name[4:]].get("kind") == "eod"]
            subs = eods[-1:]
        return [f"file://{s.resolve()}" for s in subs]

    def frame(self, table: str) -> Any:
        """The committed content of ``table`` as a Spark DataFrame.

        A folder written by end of day holds the kernel's packed output
        (columns ``<table>__<column>``, marked by a ``_packed`` file); others
        hold plain columns. Parquet reads only the columns asked for.
        """
        from pyspark.sql import types as T

        F = spark_functions(self.spark)
        plain: list[str] = []
        packed: list[str] = []
        for uri in self._paths(table):
            folder = Path(uri.removeprefix("file://"))
            if not any(folder.glob("*.parquet")):
                continue
            (packed if (folder / "_packed").exists() else plain).append(uri)
        parts = []
        if plain:
            parts.append(self.spark.read.schema(spark_schema(table)).parquet(*plain))
        if packed:
            schema = T.StructType([T.StructField(f"{table}__{f.name}", f.dataType, True)
                                   for f in spark_schema(table).fields])
            df = self.spark.read.schema(schema).parquet(*packed)
            parts.append(df.select(*[F.col(f"{table}__{c}").alias(c) for c in TABLES[table]]))
        if not parts:
            return self.spark.createDataFrame([], spark_schema(table))
        out = parts[0]
        for p in parts[1:]:
            out = out.unionByName(p)
        return out

    # ------------------------------------------------------------------ Store
    def migrate(self) -> None:
        (self.location / "_meta.json").write_text(json.dumps({"schema_version": 1}))

    def _views(self) -> None:
        for t in TABLES:
            self.frame(t).createOrReplaceTempView(t)

    def read(self, table: str, where: str | None = None,
             params: list[object] | None = None, *, few: bool = False) -> pl.DataFrame:
        df = self.frame(table)
        if where:
            df.createOrReplaceTempView("_r")
            df = self.spark.sql(f"SELECT * FROM _r WHERE {where}", args=list(params or []))
        out = pl.from_arrow(df.toArrow())
        assert isinstance(out, pl.DataFrame)
        return out.select([pl.col(c).cast(t) for c, t in TABLES[table].items()])

    def scalar(self, sql: str, params: list[object] | None = None) -> object:
        self._views()
        rows = self.spark.sql(sql, args=list(params or [])).collect()
        return rows[0][0] if rows else None

    @contextmanager
    def transaction(self, kind: str = "load", business_date: date | None = None
                    ) -> Iterator[None]:
        if self._txn is not None:
            yield
            return
        self._txn = (f"eod-{business_date.isoformat()}-{uuid.uuid4().hex[:8]}"
                     if business_date else f"{kind}-{uuid.uuid4().hex}")
        self._written = []
        try:
            yield
        except BaseException:
            for p in self._written:
                shutil.rmtree(p, ignore_errors=True)
            raise
        else:
            marker = self.location / "_commits" / self._txn
            tmp = marker.with_name("." + marker.name)
            tmp.write_text(json.dumps({"kind": "eod" if business_date else kind,
                                       "business_date": str(business_date or "")}))
            tmp.rename(marker)  # the commit point
            if business_date:
                self._drop_old_state()
        finally:
            self._txn = None

    def _drop_old_state(self) -> None:
        done = self._committed()
        for t in STATE_TABLES:
            keep = set(self._paths(t))
            tdir = self.location / t
            for sub in tdir.iterdir() if tdir.exists() else []:
                if f"file://{sub.resolve()}" not in keep and sub.name[4:] in done:
                    shutil.rmtree(sub, ignore_errors=True)

    def _target(self, table: str) -> Path:
        if self._txn is None:
            raise StoreError("writes to the Spark store must happen inside a transaction")
        p = self.location / table / f"txn={self._txn}"
        self._written.append(p)
        return p

    def append(self, table: str, df: pl.DataFrame) -> None:
        if df.height == 0:
            return
        target = self._target(table)
        target.mkdir(parents=True, exist_ok=True)
        cols = TABLES[table]
        arrow = df.select(list(cols)).to_arrow().cast(
            pa.schema([pa.field(c, _arrow_type(t)) for c, t in cols.items()]))
        import pyarrow.parquet as pq

        pq.write_table(arrow, target / f"part-{uuid.uuid4().hex[:8]}.parquet")

    def replace_state(self, table: str, df: pl.DataFrame) -> None:
        target = self._target(table)
        target.mkdir(parents=True, exist_ok=True)
        self.append(table, df) if df.height else None

    def adopt_packed(self, table: str, folder: Path | None) -> None:
        """Move a folder of packed end-of-day output into ``table`` (current transaction)."""
        target = self._target(table)
        target.parent.mkdir(parents=True, exist_ok=True)
        if folder is not None and folder.exists():
            folder.rename(target)
        else:
            target.mkdir()
        (target / "_packed").touch()

    # ------------------------------------------------------------------ end of day
    def close_date(self, d: date, params: Any) -> None:
        """Close ``d`` on Spark: the kernel per partition, keyed by account."""
        from creditdesk.store.spark_eod import close_date_on_spark

        close_date_on_spark(self, d, params)

    #: dates closed by one Spark job; each partition carries its accounts' state
    #: from date to date in memory, so a run of dates costs one job, not one each
    dates_per_job = 31

    def close_dates(self, start: date, end: date, params: Any,
                    on_date: Any = None) -> None:
        """Close ``start``..``end`` in runs of up to ``dates_per_job`` dates, each atomic."""
        from creditdesk.store.spark_eod import close_range_on_spark

        total = (end - start).days + 1
        done = 0
        d = start
        while d <= end:
            last = min(end, d + timedelta(days=self.dates_per_job - 1))
            close_range_on_spark(self, d, last, params)
            done += (last - d).days + 1
            if on_date:
                on_date(last, done, total)
            d = last + timedelta(days=1)

    def close(self) -> None:
        """The session is shared by the process; nothing to release per store."""
