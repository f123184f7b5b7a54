"""What the DuckDB store answers from memory during the end of day equals the file.

The store keeps ``accounts``, the state of the last closed date, the last written
``plan_state`` (written as a diff against it) and the last closed date; these tests change
the books under it in every way the store is told of (a load between two dates, SQL
writes, a rolled-back transaction, a second store on the same file) and check each answer
against the file.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from book_rows import ACCT, CUST, TXNS, text
from creditdesk.ledger.eod import run_eod
from creditdesk.ledger.ingest import load_frames
from creditdesk.products import default_catalogue
from creditdesk.store import open_store
from creditdesk.store.duckdb_store import DuckDBStore


@pytest.fixture
def store(tmp_path):
    s = open_store(f"duckdb:///{tmp_path}/books.duckdb")
    load_frames(s, default_catalogue(), customers=text(CUST), accounts=text(ACCT),
                transactions=text(TXNS))
    yield s
    s.close()


def file_state(store: DuckDBStore, d: date) -> dict[str, pl.DataFrame]:
    return {"accounts": store._read_file("accounts"),
            "account_day": store._read_file("account_day", "business_date = ?", [d]),
            "plan_state": store._read_file("plan_state"), "dues": store._read_file("dues")}


def assert_held_equals_file(store: DuckDBStore, d: date) -> None:
    """Every answer the store may give from memory is the file's, row order included."""
    on_file = file_state(store, d)
    assert store.read("accounts").equals(on_file["accounts"])
    for day in (date(2026, 1, 4), date(2026, 1, 10), d):
        assert store.read("accounts", "opened <= ?", [day]).equals(
            store._read_file("accounts", "opened <= ?", [day]))
    assert store.read("account_day", "business_date = ?", [d]).equals(on_file["account_day"])
    assert store.last_closed() == store.scalar("SELECT max(business_date) FROM closed_dates")
    kept = store.kept_state(d)
    if kept is not None:
        for t in ("account_day", "dues", "plan_state"):
            assert kept[t].sort(pl.all()).equals(on_file[t].sort(pl.all())), t
    held = store._instance.mirror.get("plan_state")
    if held is not None:
        assert held.sort(pl.all()).equals(on_file["plan_state"].sort(pl.all()))


NEW_CUST = [{"customer_id": "C3", "timezone": "Asia/Shanghai"}]
NEW_ACCT = [{"account_id": "R2", "customer_id": "C3", "product": "revolving",
             "credit_limit": 300_000, "opened": "2026-02-13"}]
NEW_TXNS = [{"external_id": "t9", "account_id": "R2", "business_date": "2026-02-13",
             "type": "purchase", "amount": 25_000}]


def test_accounts_loaded_between_two_dates_are_closed_on_the_next(store, params):
    run_eod(store, date(2026, 2, 12), params)
    assert "accounts" in store._instance.mirror  # the end of day read them once
    assert_held_equals_file(store, date(2026, 2, 12))
    load_frames(store, default_catalogue(), customers=text(NEW_CUST), accounts=text(NEW_ACCT),
                transactions=text(NEW_TXNS))
    assert "accounts" not in store._instance.mirror
    assert store.read("accounts").get_column("account_id").to_list() == ["R1", "L1", "R2"]
    run_eod(store, date(2026, 2, 13), params)
    day = store.read("account_day", "business_date = ?", [date(2026, 2, 13)])
    assert day.filter(pl.col("account_id") == "R2").get_column("principal").to_list() == [25_000]
    assert_held_equals_file(store, date(2026, 2, 13))


def test_a_book_closed_from_memory_equals_one_closed_from_the_file(store, params, tmp_path):
    """Dates closed by one store (state, accounts and plan_state in memory, a load in
    between) and by a fresh store per date (everything read from the file) give the
    same tables."""
    run_eod(store, date(2026, 2, 12), params)
    load_frames(store, default_catalogue(), customers=text(NEW_CUST), accounts=text(NEW_ACCT),
                transactions=text(NEW_TXNS))
    run_eod(store, date(2026, 3, 20), params)
    assert_held_equals_file(store, date(2026, 3, 20))
    path = tmp_path / "fresh.duckdb"
    fresh = open_store(f"duckdb:///{path}")
    load_frames(fresh, default_catalogue(), customers=text(CUST), accounts=text(ACCT),
                transactions=text(TXNS))
    fresh.close()
    d = date(2026, 1, 5)
    while d <= date(2026, 3, 20):
        s = open_store(f"duckdb:///{path}")
        if d == date(2026, 2, 13):
            load_frames(s, default_catalogue(), customers=text(NEW_CUST),
                        accounts=text(NEW_ACCT), transactions=text(NEW_TXNS))
        run_eod(s, d, params)
        s.close()
        d = date.fromordinal(d.toordinal() + 1)
    fresh = open_store(f"duckdb:///{path}")
    try:
        for t in ("account_day", "dues", "plan_state", "journal", "statements", "postings",
                  "accounts"):
            assert store.read(t).sort(pl.all()).equals(fresh.read(t).sort(pl.all())), t
    finally:
        fresh.close()


def test_sql_writes_drop_what_memory_holds(store, params):
    run_eod(store, date(2026, 2, 12), params)
    store.execute("UPDATE accounts SET credit_limit = credit_limit + 1 WHERE account_id = ?",
                  ["R1"])
    assert store.read("accounts").filter(pl.col("account_id") == "R1")[
        "credit_limit"].to_list() == [500_001]
    store.execute("UPDATE books.main.plan_state SET status = status")
    assert "plan_state" not in store._instance.mirror
    assert store.kept_state(date(2026, 2, 12)) is None
    run_eod(store, date(2026, 2, 20), params)  # plan_state compared row by row in SQL again
    assert "plan_state" in store._instance.mirror
    store.execute("DELETE FROM closed_dates WHERE business_date = ?", [date(2026, 2, 20)])
    assert store.last_closed() == date(2026, 2, 19)
    assert_held_equals_file(store, date(2026, 2, 19))


def test_a_rolled_back_transaction_leaves_nothing_in_memory(store, params):
    run_eod(store, date(2026, 2, 12), params)
    with pytest.raises(RuntimeError, match="crash"), store.transaction():
        load_frames(store, default_catalogue(), customers=text(NEW_CUST),
                    accounts=text(NEW_ACCT), transactions=text(NEW_TXNS))
        run_eod(store, date(2026, 2, 13), params)
        # inside the transaction memory answers as its connection sees the file
        assert store.last_closed() == date(2026, 2, 13)
        assert_held_equals_file(store, date(2026, 2, 13))
        raise RuntimeError("crash")
    assert store.last_closed() == date(2026, 2, 12)
    assert store.kept_state(date(2026, 2, 13)) is None
    assert "R2" not in store.read("accounts").get_column("account_id").to_list()
    assert_held_equals_file(store, date(2026, 2, 12))
    run_eod(store, date(2026, 2, 13), params)
    assert_held_equals_file(store, date(2026, 2, 13))


def test_a_second_store_on_the_file_turns_memory_off(store, params):
    run_eod(store, date(2026, 2, 12), params)
    other = open_store(f"duckdb:///{store.location}")
    try:
        assert store._held("accounts", None, None) is None
        with other.transaction():
            load_frames(other, default_catalogue(), customers=text(NEW_CUST),
                        accounts=text(NEW_ACCT), transactions=text(NEW_TXNS))
            # not committed: the first store's connection does not see it yet
            assert "R2" not in store.read("accounts").get_column("account_id").to_list()
        assert "R2" in store.read("accounts").get_column("account_id").to_list()
        run_eod(other, date(2026, 2, 13), params)
        assert store.last_closed() == date(2026, 2, 13)
    finally:
        other.close()
    run_eod(store, date(2026, 2, 14), params)
    assert_held_equals_file(store, date(2026, 2, 14))


def test_checkpoints_keep_appended_row_groups_as_written(store):
    """No vacuum: a checkpoint does not merge and rewrite the row groups dates appended."""
    assert store.scalar("SELECT current_setting('max_vacuum_tasks')") == 0
