"""Polars column types to SQL types, per engine, for the tables outside the books' contract.

One mapping so the collections engine, the twin and the console create the same tables on
DuckDB and PostgreSQL. Money is BIGINT minor units on both; timestamps are UTC.

>>> sql_type(pl.Int64, "postgres"), sql_type(pl.Float64, "duckdb")
('BIGINT', 'DOUBLE')
"""

from __future__ import annotations

from typing import Any

import polars as pl

__all__ = ["SQL_TYPES", "create_table_sql", "sql_type"]

_TS = pl.Datetime("us", "UTC")
SQL_TYPES: dict[str, dict[Any, str]] = {
    "duckdb": {pl.Date: "DATE", _TS: "TIMESTAMPTZ", pl.String: "VARCHAR", pl.Boolean: "BOOLEAN",
               pl.Int8: "TINYINT", pl.Int16: "SMALLINT", pl.Int32: "INTEGER", pl.Int64: "BIGINT",
               pl.Float64: "DOUBLE"},
    "postgres": {pl.Date: "DATE", _TS: "TIMESTAMPTZ", pl.String: "TEXT", pl.Boolean: "BOOLEAN",
                 pl.Int8: "SMALLINT", pl.Int16: "SMALLINT", pl.Int32: "INTEGER",
                 pl.Int64: "BIGINT", pl.Float64: "DOUBLE PRECISION"},
}


def sql_type(dtype: Any, dialect: str) -> str:
    """The engine's SQL type for a Polars type (any time zone-aware datetime is TIMESTAMPTZ)."""
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMPTZ"
    for k, v in SQL_TYPES[dialect].items():
        if dtype == k:
            return v
    raise AssertionError(f"no SQL type for {dtype} on {dialect}")


def create_table_sql(name: str, schema: dict[str, Any], dialect: str,
                     key: tuple[str, ...] | None = None) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for one table."""
    cols = ", ".join(f"{c} {sql_type(t, dialect)}" for c, t in schema.items())
    pk = f", PRIMARY KEY ({', '.join(key)})" if key else ""
    return f"CREATE TABLE IF NOT EXISTS {name} ({cols}{pk})"
