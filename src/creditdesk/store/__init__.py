"""Stores: where the books live. ``open_store(url)`` picks the engine from the URL.

* ``duckdb:///path/creditdesk.duckdb`` (default ``./creditdesk.duckdb``):
  embedded, transactional; every closed date is one transaction.
* ``postgresql://user:pw@host:5432/db`` (or ``postgres://``): the books on a
  PostgreSQL server, shared by many users (the web console); same tables, same
  end of day (:mod:`creditdesk.store.postgres_store`).
* ``spark:///path/to/lake``: Parquet folders, end of day on Spark
  (:mod:`creditdesk.store.spark_store`).

>>> import tempfile, os
>>> with tempfile.TemporaryDirectory() as d:
...     store = open_store(f"duckdb:///{d}/books.duckdb")
...     store.last_closed() is None
True
"""

from __future__ import annotations

from creditdesk.store.base import Store, parse_url
from creditdesk.store.duckdb_store import DuckDBStore

__all__ = ["DEFAULT_URL", "Store", "open_store", "parse_url"]

DEFAULT_URL = "duckdb:///./creditdesk.duckdb"


def open_store(url: str | None = None) -> Store:
    """Open (and migrate) the store at ``url``."""
    scheme, location = parse_url(url or DEFAULT_URL)
    if scheme == "duckdb":
        store: Store = DuckDBStore(location)
    elif scheme == "postgresql":
        from creditdesk.store.postgres_store import PostgresStore

        store = PostgresStore(location)
    elif scheme == "spark":
        from creditdesk.store.spark_store import SparkStore

        store = SparkStore(location)
    else:  # parse_url refuses anything else
        raise AssertionError(scheme)
    try:
        store.migrate()
    except BaseException:
        store.close()  # a server connection must not outlive a store nobody holds
        raise
    return store
