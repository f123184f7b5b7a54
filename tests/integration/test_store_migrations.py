"""A DuckDB file written before a migration opens, migrates once, and takes the new columns."""

from __future__ import annotations

from pathlib import Path

import duckdb

from creditdesk.ledger.schema import TABLES
from creditdesk.store import open_store
from creditdesk.store.base import ADDED_COLUMNS, MIGRATIONS


def test_a_version_1_file_gets_the_arrangement_columns(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    open_store(f"duckdb:///{db}").close()
    # make it look as version 1 left it: the later columns absent, only migration 1 recorded
    con = duckdb.connect(str(db))
    for table, col in ADDED_COLUMNS[2]:
        con.execute(f"ALTER TABLE {table} DROP COLUMN {col}")
    con.execute("DELETE FROM schema_migrations WHERE version > 1")
    con.close()
    store = open_store(f"duckdb:///{db}")
    store.close()
    con = duckdb.connect(str(db), read_only=True)
    for table in ("plan_state", "account_day"):
        cols = [r[0] for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index",
            [table]).fetchall()]
        assert cols == list(TABLES[table]), table     # same order as the schema module
    versions = [r[0] for r in con.execute("SELECT version FROM schema_migrations ORDER BY 1")
                .fetchall()]
    assert versions == [v for v, _ in MIGRATIONS]
    con.close()
    # opening again applies nothing twice
    open_store(f"duckdb:///{db}").close()
