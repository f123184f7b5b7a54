"""The console's PostgreSQL indexes: created once, even by workers starting together."""

from __future__ import annotations

import threading

from creditdesk.store import open_store
from creditdesk.web.indexes import DUCKDB_INDEXES, ensure_console_indexes


def test_workers_starting_together_create_the_indexes_once(pg_url: str) -> None:
    stores = [open_store(pg_url) for _ in range(4)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(stores))

    def run(store: object) -> None:
        start.wait()
        try:
            ensure_console_indexes(store)  # type: ignore[arg-type]
        except BaseException as exc:  # collected: the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    got = {r[0] for r in stores[0].execute(
        "SELECT indexname FROM pg_indexes WHERE indexname LIKE 'cd_%'")}
    assert {"cd_accounts_customer_id", "cd_transactions_account_id",
            "cd_account_day_account_id_business_date"} <= got
    plan = " ".join(r[0] for r in stores[0].execute(
        "EXPLAIN SELECT * FROM accounts WHERE customer_id = 'C1'"))
    assert "cd_accounts_customer_id" in plan
    for s in stores:
        s.close()


def test_duckdb_gets_its_few_on_the_tables_that_exist(tmp_path: object) -> None:
    store = open_store(f"duckdb:///{tmp_path}/b.duckdb")
    store.migrate()
    got = ensure_console_indexes(store)
    present = {t for t in DUCKDB_INDEXES if store.has_table(t)}
    assert present >= {"transactions", "postings", "statements", "accounts"}  # migrated
    assert got == [f"cd_{t}_{'_'.join(c)}" for t, cols in DUCKDB_INDEXES.items()
                   if t in present for c in cols]
    assert ensure_console_indexes(store) == got  # again: nothing new, no error
    names = {r[0] for r in store.execute("SELECT index_name FROM duckdb_indexes()")}
    assert set(got) <= names
    store.close()
