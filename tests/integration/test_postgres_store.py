"""The PostgreSQL store on a real server: types, migrations, placeholders, transactions, and
the same books and the same contact plan as DuckDB.

The server is ``CREDITDESK_TEST_PG`` or a throwaway cluster (tests/pg_server.py); every
test has a database of its own. The parity tests take a book the twin built on DuckDB
(200 customers, 60 days: delinquency, repayments, contacts, promises, complaints), close
the same 60 dates on PostgreSQL from the same customers, accounts and transactions, and
plan the next day's collections on both.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from book_rows import ACCT, CUST, TXNS, text
from creditdesk.collections.case_view import case_detail
from creditdesk.collections.planning import plan_date, read_snapshot
from creditdesk.collections.promises import promise_status
from creditdesk.errors import ClosedDateError, NotFoundError, StoreError
from creditdesk.ledger.account import account_view
from creditdesk.ledger.eod import run_eod
from creditdesk.ledger.ingest import load_frames
from creditdesk.ledger.params import ledger_params
from creditdesk.ledger.schema import TABLES
from creditdesk.products import default_catalogue
from creditdesk.simulate.driver import run_twin
from creditdesk.simulate.params import load_params
from creditdesk.store import open_store
from creditdesk.store.base import ADDED_COLUMNS, MIGRATIONS, Store, parse_url
from creditdesk.store.copy import copy_store
from creditdesk.store.postgres_store import PostgresStore, to_psycopg

CLI = [str(Path(sys.executable).with_name("creditdesk"))]
START, DAYS = date(2026, 1, 1), 60
LAST = START + timedelta(days=DAYS - 1)
NEXT = LAST + timedelta(days=1)
ODD = "中文 a,b \"q\" 'x' ? % %s \\ \t tab\nnew line\r\n \\. \\N $1 t"


# --- placeholders -------------------------------------------------------------------

@pytest.mark.parametrize(("sql", "expected"), [
    ("SELECT ? , ?", "SELECT %s , %s"),
    ("SELECT '?' WHERE a = ?", "SELECT '?' WHERE a = %s"),
    ("SELECT 'it''s ?' || ?", "SELECT 'it''s ?' || %s"),
    ("SELECT E'\\'?' , ?", "SELECT E'\\'?' , %s"),
    ('SELECT "odd?col" FROM t WHERE x = ?', 'SELECT "odd?col" FROM t WHERE x = %s'),
    ("SELECT $$ ? $$, $tag$ '?' $tag$, ?", "SELECT $$ ? $$, $tag$ '?' $tag$, %s"),
    ("SELECT 1 -- why?\n, ?", "SELECT 1 -- why?\n, %s"),
    ("SELECT /* a /* nested ? */ ? */ ?", "SELECT /* a /* nested ? */ ? */ %s"),
    ("SELECT 5 % 3, 'a%' LIKE ?", "SELECT 5 %% 3, 'a%%' LIKE %s"),
    ("SELECT '%s', ?", "SELECT '%%s', %s"),
])
def test_question_marks_become_psycopg_placeholders_outside_quoted_text(sql: str,
                                                                        expected: str) -> None:
    assert to_psycopg(sql) == expected


def test_literal_question_marks_and_percents_reach_the_server_intact(pg_url: str) -> None:
    store = open_store(pg_url)
    got = store.query("SELECT '?' AS q, 'a%b' AS p, '%s' AS s, ? AS x, 7 % 4 AS m, "
                      "$$it's ?$$ AS d, ? AS y -- a comment? with %\n", [5, "?%"])
    assert got.row(0) == ("?", "a%b", "%s", 5, 3, "it's ?", "?%")
    store.execute("CREATE TABLE t (s TEXT)")
    store.insert("t", pl.DataFrame({"s": ["50%", "a?", "b"]}))
    assert store.execute("SELECT s FROM t WHERE s LIKE '%\\%' ESCAPE '\\' OR s = ? ORDER BY s",
                         ["a?"]) == [("50%",), ("a?",)]
    store.close()


# --- types --------------------------------------------------------------------------

def _extremes(table: str) -> pl.DataFrame:
    """Three rows of each column's extremes and NULLs (keys kept unique and not null)."""
    key = {"customers": "customer_id", "accounts": "account_id", "transactions": "txn_id",
           "plans": "plan_id"}.get(table)
    values = {
        pl.Int64: [-(2**63), 2**63 - 1, None], pl.Int32: [-(2**31), 2**31 - 1, None],
        pl.String: ["", ODD, None], pl.Date: [date(1, 1, 1), date(9999, 12, 31), None],
        pl.Boolean: [True, False, None],
    }
    cols = {}
    for c, t in TABLES[table].items():
        if isinstance(t, pl.Datetime):
            cols[c] = pl.Series(c, [datetime(2026, 3, 1, 12, 34, 56, 789012, tzinfo=UTC),
                                    datetime(1900, 1, 1, 0, 0, 0, 500000, tzinfo=UTC), None],
                                   dtype=t)
        elif c == key:
            cols[c] = pl.Series(c, [0, 2**63 - 1, -(2**63)] if t == pl.Int64
                                else ["", ODD, "k3"], dtype=t)
        else:
            cols[c] = pl.Series(c, values[t], dtype=t)
    return pl.DataFrame(cols)


def test_every_books_table_round_trips_its_exact_types(pg_url: str, tmp_path: Path) -> None:
    pg = open_store(pg_url)
    duck = open_store(f"duckdb:///{tmp_path}/books.duckdb")
    frames = {t: _extremes(t) for t in TABLES}
    for store in (pg, duck):
        with store.transaction():
            for t, df in frames.items():
                store.append(t, df)
    for t, df in frames.items():
        got = pg.read(t)
        assert got.schema == pl.Schema(TABLES[t]), t
        assert got.sort(pl.all()).equals(df.sort(pl.all())), t
        assert got.sort(pl.all()).equals(duck.read(t).sort(pl.all())), t
        # a point lookup's path (Python rows, not COPY) gives the same frame, types exact
        few = pg.read(t, few=True)
        assert few.schema == got.schema and few.sort(pl.all()).equals(got.sort(pl.all())), t
    # a filtered read with parameters, and the last closed date as a date
    assert pg.read("accounts", "account_id = ?", [ODD]).height == 1
    assert pg.read("accounts", "account_id = ?", [ODD], few=True).equals(
        pg.read("accounts", "account_id = ?", [ODD]))
    assert pg.read("accounts", "account_id = ?", ["nobody"], few=True).schema == \
        pl.Schema(TABLES["accounts"])
    assert pg.last_closed() == date(9999, 12, 31) == duck.last_closed()
    # state replaced whole, inside the caller's transaction
    with pg.transaction():
        pg.replace_state("dues", frames["dues"].head(1))
    assert pg.read("dues").equals(frames["dues"].head(1))
    pg.close()
    duck.close()


def test_other_tables_are_created_and_filled_by_column_name(pg_url: str) -> None:
    store = open_store(pg_url)
    schema = {"d": pl.Date, "ts": pl.Datetime("us", "UTC"), "s": pl.String, "b": pl.Boolean,
              "i8": pl.Int8, "i16": pl.Int16, "i32": pl.Int32, "i64": pl.Int64,
              "f": pl.Float64}
    store.ensure_tables({"extra": schema}, keys={"extra": ("s",)})
    store.ensure_tables({"extra": schema})  # idempotent
    df = pl.DataFrame({
        "f": [0.1, 1e-300, None], "s": [ODD, "", "x"], "b": [True, None, False],
        "i64": [2**63 - 1, None, 0], "i32": [1, 2, None], "i16": [-(2**15), None, 3],
        "i8": [-128, 127, None], "d": [date(2026, 1, 1), None, date(1999, 12, 31)],
        "ts": [datetime(2026, 1, 1, 23, 59, 59, 1, tzinfo=UTC), None,
               datetime(1970, 1, 1, tzinfo=UTC)]}, schema_overrides=schema)
    store.insert("extra", df)
    got = store.query("SELECT * FROM extra ORDER BY i32 NULLS LAST")
    assert got.columns == list(schema)
    assert got.schema["ts"] == pl.Datetime("us", "UTC") and got.schema["i64"] == pl.Int64
    assert got.cast(schema).equals(df.select(list(schema)).sort("i32", nulls_last=True))  # type: ignore[arg-type]
    assert store.execute("SELECT count(*), sum(i64), avg(i32) FROM extra") == [(3, 2**63 - 1, 1.5)]
    assert store.query("SELECT s FROM extra WHERE 1 = 0").schema == pl.Schema({"s": pl.String})
    with pytest.raises(StoreError, match="duplicate key"):
        store.insert("extra", df.head(1))
    store.close()


# --- migrations ---------------------------------------------------------------------

def _columns(store: Store, table: str) -> list[str]:
    return [r[0] for r in store.execute(  # type: ignore[misc]
        "SELECT column_name FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND table_name = ? ORDER BY ordinal_position", [table])]


def test_migrations_are_recorded_once_and_upgrade_a_version_1_database(pg_url: str) -> None:
    # workers opening the store together: one migrates, the others wait and find it done
    errors: list[BaseException] = []

    def open_close() -> None:
        try:
            open_store(pg_url).close()
        except BaseException as exc:
            errors.append(exc)
    threads = [threading.Thread(target=open_close) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store = open_store(pg_url)
    assert [r[0] for r in store.execute("SELECT version FROM schema_migrations ORDER BY 1")] \
        == [v for v, _ in MIGRATIONS]
    for table in TABLES:
        assert _columns(store, table) == list(TABLES[table]), table
    keys = dict(store.execute(
        "SELECT tc.table_name, string_agg(kcu.column_name, ',') FROM "
        "information_schema.table_constraints tc JOIN information_schema.key_column_usage kcu "
        "USING (constraint_schema, constraint_name) WHERE tc.constraint_type = 'PRIMARY KEY' "
        "AND tc.table_schema = current_schema() GROUP BY 1"))
    assert keys == {"customers": "customer_id", "accounts": "account_id",
                    "transactions": "txn_id", "plans": "plan_id",
                    "schema_migrations": "version"}
    assert store.scalar("SELECT indexdef FROM pg_indexes WHERE indexname = "
                        "'transactions_external_id'") == (
        "CREATE UNIQUE INDEX transactions_external_id ON public.transactions "
        "USING btree (external_id)")
    # as version 1 left it: the later columns absent, only migration 1 recorded
    for table, col in ADDED_COLUMNS[2]:
        store.execute(f"ALTER TABLE {table} DROP COLUMN {col}")
    store.execute("DELETE FROM schema_migrations WHERE version > 1")
    store.close()
    store = open_store(pg_url)
    for table in ("plan_state", "account_day"):
        assert _columns(store, table) == list(TABLES[table]), table
    assert store.scalar("SELECT count(*) FROM schema_migrations") == len(MIGRATIONS)
    store.close()


# --- transactions and errors --------------------------------------------------------

def test_a_failed_transaction_leaves_nothing_written(pg_url: str) -> None:
    store = open_store(pg_url)
    cust = _extremes("customers")
    with pytest.raises(ValueError, match="boom"), store.transaction():
        store.append("customers", cust)
        with store.transaction():  # nested: joins the outer one
            store.execute("INSERT INTO closed_dates VALUES (?, ?)", [START, datetime.now(UTC)])
        assert store.scalar("SELECT count(*) FROM customers") == 3  # seen inside
        raise ValueError("boom")
    with pytest.raises(StoreError, match="no_such_table"), store.transaction():
        store.append("customers", cust)
        store.execute("SELECT * FROM no_such_table")
    with pytest.raises(KeyboardInterrupt), store.transaction():
        store.append("customers", cust)
        raise KeyboardInterrupt
    assert store.scalar("SELECT count(*) FROM customers") == 0
    assert store.last_closed() is None
    # the store is usable afterwards, and a clean transaction commits
    with store.transaction():
        store.append("customers", cust)
    assert open_store(pg_url).scalar("SELECT count(*) FROM customers") == 3
    store.close()


def test_errors_name_the_url_but_never_its_password(pg_url: str) -> None:
    with pytest.raises(StoreError) as refused:
        open_store("postgresql://ana:s3cret@127.0.0.1:1/books")
    assert "postgresql://ana@127.0.0.1:1/books" in str(refused.value)
    assert "s3cret" not in str(refused.value)
    store = open_store(pg_url)
    assert isinstance(store, PostgresStore) and store.dialect == "postgres"
    with pytest.raises(StoreError, match=r"PostgreSQL store postgresql://.*nope.*\[42P01\]"):
        store.query("SELECT * FROM nope")
    store.close()
    with pytest.raises(StoreError, match="is closed"):
        store.query("SELECT 1")
    with pytest.raises(StoreError, match="duckdb:///path, postgresql://user:pw@host:port/db"):
        parse_url("mysql://ana:s3cret@h/db")
    with pytest.raises(StoreError) as bad:
        parse_url("mysql://ana:s3cret@h/db")
    assert "s3cret" not in str(bad.value)
    assert parse_url("postgres://ana:pw@h:5/db") == ("postgresql", "postgresql://ana:pw@h:5/db")


def test_the_loader_and_the_account_view_work_on_postgres(pg_url: str, tmp_path: Path) -> None:
    """The two-account book through ``load_frames`` on both engines: same books, loading
    twice posts once, a transaction on a closed date is refused, same account view."""
    cat = default_catalogue()
    stores = [open_store(pg_url), open_store(f"duckdb:///{tmp_path}/books.duckdb")]
    for store in stores:
        load_frames(store, cat, customers=text(CUST), accounts=text(ACCT),
                    transactions=text(TXNS))
        again = load_frames(store, cat, transactions=text(TXNS))
        assert (again.transactions, again.duplicates_skipped) == (0, 3)
        run_eod(store, date(2026, 1, 20), ledger_params(cat))
        with pytest.raises(ClosedDateError):
            load_frames(store, cat, transactions=text([dict(TXNS[0], external_id="late")]))
    pg, duck = stores
    for name in TABLES:
        assert _sorted(pg, name).equals(_sorted(duck, name)), name
    assert account_view(pg, "L1") == account_view(duck, "L1")
    for store in stores:
        store.close()


def test_collections_refuse_a_store_without_sql_clearly() -> None:
    """A Spark lake keeps the books only: collect plan names the stores it needs."""
    from creditdesk.collections.tables import sql_store

    class Lake(Store):  # the contract as the Spark store has it: no query/execute/insert
        dialect = "spark"
        migrate = read = transaction = append = replace_state = scalar = None  # type: ignore[assignment]

    with pytest.raises(StoreError, match=r"needs a duckdb:// or postgresql:// store; got Lake"):
        plan_date(Lake(), NEXT)
    with pytest.raises(StoreError, match="the digital twin needs"):
        sql_store(Lake(), "the digital twin")


# --- parity with DuckDB: end of day and collect plan ---------------------------------

@pytest.fixture(scope="module")
def twin_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB book the twin built and closed through LAST; tests copy it before use.

    Built once per test run: pytest-xdist workers share the run's temporary root, and
    the first to get the lock builds it while the others wait.
    """
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    path = root / "pg_parity_twin.duckdb"
    with (root / "pg_parity_twin.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            building = root / f"pg_parity_twin.{os.getpid()}.duckdb"
            store = open_store(f"duckdb:///{building}")
            run_twin(store, customers=200, days=DAYS, seed=5, params=load_params(),
                     start=START, behaviour_model=None)
            store.close()
            building.rename(path)
    return path


def _copy(twin_book: Path, tmp_path: Path) -> Store:
    """This test's own copy of the twin's book (a DuckDB file opens in one process only)."""
    path = tmp_path / "book.duckdb"
    shutil.copyfile(twin_book, path)
    return open_store(f"duckdb:///{path}")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=600)


def _sorted(store: Store, table: str) -> pl.DataFrame:
    df = store.read(table) if table in TABLES else store.query(f"SELECT * FROM {table}")
    if table == "closed_dates":
        df = df.select("business_date")
    return df.sort(pl.all())


@pytest.mark.slow
def test_end_of_day_on_postgres_gives_exactly_the_duckdb_books(twin_book: Path, pg_url: str,
                                                               tmp_path: Path) -> None:
    duck, pg = _copy(twin_book, tmp_path), open_store(pg_url)
    with pg.transaction():
        for t in ("customers", "accounts", "transactions"):
            pg.append(t, duck.read(t))
    # the twin's own start (its accounts opened before it), then the CLI closes the rest
    run_eod(pg, LAST - timedelta(days=3), ledger_params(default_catalogue()), first=START)
    res = _cli("eod", "--through", LAST.isoformat(), "--store", pg_url, "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["dates_closed"] == 3
    assert pg.last_closed() == LAST == duck.last_closed()
    for name in TABLES:
        a, b = _sorted(duck, name), _sorted(pg, name)
        assert a.height > 0, name
        assert a.equals(b), f"{name}: {a.height} rows on DuckDB, {b.height} on PostgreSQL"
    account_day = _sorted(pg, "account_day")
    assert account_day["business_date"].n_unique() == DAYS
    assert account_day.filter(pl.col("dpd") > 5).height > 0  # delinquency happened
    # closing a closed date again changes nothing
    assert run_eod(pg, LAST, ledger_params(default_catalogue())).dates_closed == 0
    assert pg.scalar("SELECT count(*) FROM closed_dates") == DAYS
    duck.close()
    pg.close()


@pytest.mark.slow
def test_collect_plan_on_postgres_gives_the_duckdb_plan_and_cases(
        twin_book: Path, pg_url: str, tmp_path: Path) -> None:
    # the whole book onto the server: the books (the test above shows PostgreSQL closes
    # them identically) and the twin's contacts, promises and complaints
    duck, pg = _copy(twin_book, tmp_path), open_store(pg_url)
    copy_store(duck, pg)
    # behaviour scores of two month ends (the latest up to the last date counts): a high
    # PD flags a current account for a pre-due reminder
    ids = duck.read("accounts").get_column("account_id").sort()
    scores = pl.concat([pl.DataFrame({
        "as_of": [when] * len(ids), "account_id": ids,
        "pd": [((i * 37 + k) % 100) / 400 for i in range(len(ids))],
        "score": [600] * len(ids), "band": ["B"] * len(ids)},
        schema={"as_of": pl.Date, "account_id": pl.String, "pd": pl.Float64,
                "score": pl.Int32, "band": pl.String})
        for k, when in enumerate((date(2026, 1, 31), LAST))])
    for store in (duck, pg):
        store.ensure_tables({"behaviour_scores": dict(scores.schema)},
                            keys={"behaviour_scores": ("as_of", "account_id")})
        store.insert("behaviour_scores", scores)
    assert promise_status(pg, LAST).sort(pl.all()).equals(
        promise_status(duck, LAST).sort(pl.all()))
    snap = read_snapshot(pg, LAST, NEXT)
    assert snap.equals(read_snapshot(duck, LAST, NEXT).cast(snap.schema))  # type: ignore[arg-type]
    latest = scores.filter(pl.col("as_of") == LAST).select("account_id", "pd")
    assert snap.select("account_id", "pd").join(latest, on="account_id").filter(
        pl.col("pd") == pl.col("pd_right")).height == snap.height  # the latest month's
    for strategy in ("bucket_rules", "optimized"):
        r_duck, r_pg = plan_date(duck, NEXT, strategy=strategy), plan_date(pg, NEXT,
                                                                            strategy=strategy)
        assert r_pg.planned > 0 and r_pg.open_cases > 0
        assert (r_pg.planned, r_pg.blocked, r_pg.by_channel, r_pg.open_cases) == \
            (r_duck.planned, r_duck.blocked, r_duck.by_channel, r_duck.open_cases), strategy
        for table in ("contact_plan", "cases", "case_events", "case_runs"):
            # (DuckDB names the UTC of its timestamps after the session's zone: Etc/UTC)
            a, b = _sorted(duck, table), _sorted(pg, table)
            assert a.equals(b.cast(a.schema)), f"{strategy}: {table}"  # type: ignore[arg-type]
    # the CLI on the server: plan again (replaces the date's plan), show a case
    res = _cli("collect", "plan", "--date", NEXT.isoformat(), "--store", pg_url, "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["planned"] == plan_date(duck, NEXT).planned
    a, b = _sorted(duck, "contact_plan"), _sorted(pg, "contact_plan")
    assert a.equals(b.cast(a.schema))  # type: ignore[arg-type]
    case_id = str(pg.scalar("SELECT min(case_id) FROM cases WHERE stage = 'delinquent'"))
    shown = _cli("collect", "case", case_id, "--store", pg_url, "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == json.loads(json.dumps(case_detail(duck, case_id)))
    promised = str(pg.scalar("SELECT min(c.case_id) FROM cases c JOIN promises p "
                             "USING (account_id) WHERE p.business_date >= c.opened_on"))
    assert case_detail(pg, promised)["promises"] == case_detail(duck, promised)["promises"] != []
    with pytest.raises(NotFoundError, match="NOPE-1"):
        case_detail(pg, "NOPE-1")
    duck.close()
    pg.close()


@pytest.mark.parametrize("engine", ["duckdb", "postgres"])
def test_a_table_created_in_a_rolled_back_transaction_is_not_remembered(
        engine: str, pg_url: str, tmp_path: Path) -> None:
    """has_table remembers a yes (tables are never dropped), but not one seen inside a
    transaction that then rolled back: that table no longer exists."""
    store = open_store(pg_url if engine == "postgres" else f"duckdb:///{tmp_path}/b.duckdb")
    name = f"scratch_{engine}_{os.getpid()}"

    class Boom(Exception):
        pass

    with pytest.raises(Boom), store.transaction():
        store.ensure_tables({name: {"x": pl.Int64}})
        assert store.has_table(name)
        raise Boom
    assert not store.has_table(name)
    with store.transaction():  # committed this time: remembered
        store.ensure_tables({name: {"x": pl.Int64}})
        assert store.has_table(name)
    assert store.has_table(name)
    assert name in store.__dict__["_known_tables"]
    store.close()
