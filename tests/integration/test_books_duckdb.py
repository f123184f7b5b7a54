"""The books on a real DuckDB file: loading, idempotency, refusals, end of day, account view."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from book_rows import ACCT, CUST, TXNS, text
from creditdesk.errors import BadInputError, ClosedDateError, NotFoundError
from creditdesk.ledger.account import account_view
from creditdesk.ledger.eod import run_eod
from creditdesk.ledger.ingest import load_frames
from creditdesk.products import default_catalogue
from creditdesk.store import open_store


@pytest.fixture
def store(tmp_path):
    s = open_store(f"duckdb:///{tmp_path}/books.duckdb")
    load_frames(s, default_catalogue(), customers=text(CUST), accounts=text(ACCT),
                transactions=text(TXNS))
    yield s
    s.close()


def snapshot(store) -> dict[str, pl.DataFrame]:
    return {t: store.read(t) for t in ("transactions", "account_day", "journal", "dues",
                                       "closed_dates", "customers", "accounts")}


def same(a: dict[str, pl.DataFrame], b: dict[str, pl.DataFrame]) -> bool:
    return all(a[k].equals(b[k]) for k in a)


def test_loading_twice_posts_once(store):
    report = load_frames(store, default_catalogue(), transactions=text(TXNS))
    assert (report.transactions, report.duplicates_skipped) == (0, 3)
    assert store.read("transactions").height == 3


def test_same_external_id_with_other_content_is_refused(store):
    changed = [dict(TXNS[0], amount=100_001)]
    before = snapshot(store)
    with pytest.raises(BadInputError, match="external_id 't1'"):
        load_frames(store, default_catalogue(), transactions=text(changed))
    assert same(before, snapshot(store))


@pytest.mark.parametrize("row, field, words", [
    ({"account_id": "NOPE"}, "account_id", "an account in the books"),
    ({"amount": -5}, "amount", "positive integer"),
    ({"amount": 0}, "amount", "positive integer"),
    ({"amount": 12.5}, "amount", "positive integer"),
    ({"amount": 600_000}, "amount", "available credit limit"),
    ({"business_date": "2026-02-30"}, "business_date", "YYYY-MM-DD"),
    ({"type": "gift"}, "type", "one of"),
    ({"account_id": "L1", "type": "cash_loan", "business_date": "2026-02-01",
      "method": "equal_instalment"}, "terms", "positive integer"),
    ({"account_id": "L1", "type": "cash_loan", "business_date": "2026-02-01", "terms": 5,
      "method": "equal_instalment"}, "terms", "one of [3, 6, 9, 12] for product cash_loan"),
    ({"account_id": "L1", "type": "cash_loan", "business_date": "2026-02-01", "terms": 12,
      "method": "balloon"}, "method", "for product cash_loan"),
    ({"type": "instalment_conversion", "terms": 5}, "terms", "for product revolving"),
])
def test_bad_transactions_are_refused_naming_row_and_field(store, row, field, words):
    good = {"external_id": "n1", "account_id": "R1", "business_date": "2026-02-01",
            "type": "purchase", "amount": 1_000}
    bad = dict(good, external_id="n2") | row
    before = snapshot(store)
    with pytest.raises(BadInputError) as err:
        load_frames(store, default_catalogue(), transactions=text([good, bad]))
    assert err.value.field == field and err.value.row == 2
    assert "row 2" in str(err.value) and field in str(err.value) and words in str(err.value)
    assert same(before, snapshot(store))  # nothing written, not even the good row


def test_unknown_product_is_refused(store):
    with pytest.raises(BadInputError, match="product"):
        load_frames(store, default_catalogue(), accounts=text([
            {"account_id": "X9", "customer_id": "C1", "product": "platinum",
             "credit_limit": 1000, "opened": "2026-01-01"}]))


def test_eod_closes_in_order_and_again_is_a_no_op(store):
    params = __import__("creditdesk.ledger.params", fromlist=["ledger_params"]).ledger_params(
        default_catalogue())
    report = run_eod(store, date(2026, 2, 12), params)
    assert report.first == date(2026, 1, 5) and report.dates_closed == 39
    before = snapshot(store)
    again = run_eod(store, date(2026, 2, 12), params)
    earlier = run_eod(store, date(2026, 1, 20), params)
    assert again.dates_closed == 0 and earlier.dates_closed == 0
    assert same(before, snapshot(store))
    # a transaction dated on a closed date is refused
    with pytest.raises(ClosedDateError, match="after the last closed date 2026-02-12"):
        load_frames(store, default_catalogue(), transactions=text([
            {"external_id": "late", "account_id": "R1", "business_date": "2026-02-12",
             "type": "repayment", "amount": 100}]))
    view = account_view(store, "R1")
    assert view["as_of"] == date(2026, 2, 12)
    assert view["balances"] == {"principal": 100_000 - 10_000, "interest": 2 * 45, "fee": 0,
                                "penalty": 0}
    assert view["dpd"] == 0 and view["statements"][0]["min_due"] == 10_000
    loan = account_view(store, "L1")
    assert loan["balances"]["principal"] == 1_000_000
    assert loan["dpd"] == 0 and loan["bucket"] == "M0"  # first instalment due 15 Feb
    assert [t["state"] for t in loan["plans"][0]["schedule"]] == ["scheduled"] * 12


def test_unknown_account_view(store):
    with pytest.raises(NotFoundError):
        account_view(store, "ZZZ")


def test_state_kept_in_memory_closes_as_the_state_read_back(store, tmp_path):
    """One store object closing many dates starts each from the state it kept in memory;
    the same dates closed by a fresh store object each (state read from the file) and
    the same book closed by the in-memory book give the same tables."""
    from creditdesk.ledger.params import ledger_params

    params = ledger_params(default_catalogue())
    run_eod(store, date(2026, 3, 20), params)
    assert store.kept_state(date(2026, 3, 20)) is not None
    fresh_path = tmp_path / "fresh.duckdb"
    fresh = open_store(f"duckdb:///{fresh_path}")
    load_frames(fresh, default_catalogue(), customers=text(CUST), accounts=text(ACCT),
                transactions=text(TXNS))
    fresh.close()
    d = date(2026, 1, 5)
    while d <= date(2026, 3, 20):
        s = open_store(f"duckdb:///{fresh_path}")
        run_eod(s, d, params)
        s.close()
        d = date.fromordinal(d.toordinal() + 1)
    # the state tables, written incrementally, hold exactly the kernel's last output
    kept = store.kept_state(date(2026, 3, 20))
    for t in ("dues", "plan_state"):
        assert kept[t].height > 0
        assert store.read(t).sort(pl.all()).equals(kept[t].sort(pl.all())), t
    fresh = open_store(f"duckdb:///{fresh_path}")
    for t in ("account_day", "dues", "plan_state", "journal", "statements", "postings"):
        kept, read_back = store.read(t), fresh.read(t)
        assert kept.sort(pl.all()).equals(read_back.sort(pl.all())), t
    fresh.close()


def test_kept_state_is_dropped_when_the_books_change_under_it(store):
    from creditdesk.ledger.params import ledger_params

    params = ledger_params(default_catalogue())
    run_eod(store, date(2026, 2, 12), params)
    assert store.kept_state(date(2026, 2, 12)) is not None
    assert store.kept_state(date(2026, 2, 11)) is None  # only the last closed date is kept
    store.scalar("UPDATE dues SET penalty = penalty")
    assert store.kept_state(date(2026, 2, 12)) is None
    run_eod(store, date(2026, 2, 13), params)
    assert store.kept_state(date(2026, 2, 13)) is not None
    # a failed date keeps nothing: the next date reads the state back from the file
    with pytest.raises(RuntimeError), store.transaction():
        store.append("dues", store.read("dues").head(0))
        raise RuntimeError("crash")
    assert store.kept_state(date(2026, 2, 13)) is None


def test_duckdb_spills_beside_the_books_not_into_the_current_folder(tmp_path, monkeypatch):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    books = tmp_path / "it's books" / "b.duckdb"
    s = open_store(f"duckdb:///{books}")
    try:
        setting = s.query("SELECT current_setting('temp_directory') AS d").item()
        # a sort past a small memory limit spills
        s.execute("SET memory_limit = '64MB'")
        s.execute("SET preserve_insertion_order = false")
        n = s.query("SELECT count(*) AS n FROM (SELECT i, md5(i::VARCHAR) AS h "
                    "FROM range(3000000) t(i) ORDER BY h)").item()
    finally:
        s.close()
    assert setting == str(books.resolve()) + ".tmp"
    assert n == 3_000_000
    assert not (work / ".tmp").exists()
