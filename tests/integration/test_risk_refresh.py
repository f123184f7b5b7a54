"""Behaviour score end to end: train on a synthetic book's history, refresh on a DuckDB store."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from creditdesk.errors import BadInputError
from creditdesk.ledger.book import InMemoryBook
from creditdesk.ledger.params import ledger_params
from creditdesk.ledger.synthetic import synthetic_book
from creditdesk.products import default_catalogue
from creditdesk.risk.artifact import load_model
from creditdesk.risk.behaviour import (
    FEATURES,
    behaviour_features,
    behaviour_target,
    behaviour_training_frame,
)
from creditdesk.risk.features_sql import (
    features_from_store,
    target_from_store,
    training_frame_from_store,
)
from creditdesk.risk.refresh import (
    SCORES_TABLE,
    read_books,
    read_scores,
    refresh_after_close,
    refresh_scores,
    score_accounts,
)
from creditdesk.risk.train import TrainOptions, train
from creditdesk.store import open_store

START, END = date(2026, 1, 1), date(2026, 8, 28)  # 240 dates


@pytest.fixture(scope="module")
def book() -> InMemoryBook:
    b = synthetic_book(300, START, (END - START).days + 1, seed=3)
    books = InMemoryBook(ledger_params(default_catalogue()))
    books.add_accounts(b["accounts"])
    books.add_transactions(b["transactions"])
    books.close_through(START, END)
    return books


@pytest.fixture(scope="module")
def model_dir(book, tmp_path_factory):
    frame = behaviour_training_frame(
        book.table("account_day"), book.table("statements"), book.table("plans"),
        [date(2026, 1, 31), date(2026, 2, 28)], horizon_days=180,
        opened=book.accounts.select("account_id", "opened"))
    assert 0.05 < frame["target"].mean() < 0.5  # type: ignore[operator]
    out = tmp_path_factory.mktemp("behaviour-model")
    result = train(frame.select(*FEATURES, "target").to_pandas(), "target", out,
                   TrainOptions(model="gbm", cv_folds=0))
    assert result.metrics["holdout"]["auc"] > 0.7
    return out


def write_books(s, book: InMemoryBook) -> None:
    """The book's accounts, history and closed dates, in one transaction of store ``s``."""
    dates = pl.Series(pl.date_range(START, END, eager=True))
    with s.transaction():
        s.append("accounts", book.accounts)
        for t in ("account_day", "statements", "plans"):
            s.append(t, book.table(t))
        s.append("closed_dates", pl.DataFrame({"business_date": dates,
                                               "closed_at": [datetime.now(UTC)] * len(dates)}))


@pytest.fixture
def store(book, tmp_path):
    s = open_store(f"duckdb:///{tmp_path}/books.duckdb")
    write_books(s, book)
    yield s
    s.close()


def test_refresh_writes_one_score_per_performing_account_per_month(book, model_dir, store):
    july = refresh_scores(store, model_dir, date(2026, 7, 31))
    august = refresh_scores(store, model_dir, END)
    stored = store.read(SCORES_TABLE)
    assert stored.height == july.height + august.height
    assert stored.group_by("as_of", "account_id").len()["len"].max() == 1
    # every account on book is scored unless charged off or at 60+ DPD on as_of
    last = book.table("account_day").filter(pl.col("business_date") == END)
    expected = last.filter((pl.col("status") != "charged_off") & (pl.col("dpd") < 60))
    assert sorted(august["account_id"]) == sorted(expected["account_id"])
    assert august["pd"].is_between(0, 1).all()
    assert set(august["band"]) <= {"A", "B", "C", "D", "E"}
    # a higher PD is a lower score
    ranked = august.sort("pd")
    assert ranked["score"].is_sorted(descending=True)
    # accounts delinquent in the last 90 days look riskier than those never late
    f = behaviour_features(book.table("account_day"), book.table("statements"),
                           book.table("plans"), END)
    joined = august.join(f.select("account_id", "worst_dpd_90d"), on="account_id")
    late = joined.filter(pl.col("worst_dpd_90d") > 0)["pd"].mean()
    clean = joined.filter(pl.col("worst_dpd_90d") == 0)["pd"].mean()
    assert late > clean  # type: ignore[operator]


def test_store_window_gives_the_same_scores_as_the_full_history(book, model_dir, store):
    got = refresh_scores(store, model_dir, END, write=False)
    full = behaviour_features(book.table("account_day"), book.table("statements"),
                              book.table("plans"), END,
                              opened=book.accounts.select("account_id", "opened"))
    want = score_accounts(load_model(model_dir), full)
    assert got.sort("account_id").equals(want.sort("account_id"))
    assert not _has_table(store)  # write=False writes nothing


def _has_table(store) -> bool:
    return bool(store.scalar("SELECT count(*) FROM information_schema.tables "
                             f"WHERE table_name = '{SCORES_TABLE}'"))


def test_refresh_again_replaces_the_month_and_refuses_an_open_date(model_dir, store):
    first = refresh_scores(store, model_dir, END)
    again = refresh_scores(store, model_dir, END)
    assert first.equals(again)
    assert store.read(SCORES_TABLE, "as_of = ?", [END]).height == first.height
    with pytest.raises(BadInputError, match="closed business date"):
        refresh_scores(store, model_dir, END + timedelta(days=1))


# --- the store's engine (Ibis -> DuckDB) against the Polars reference ---------------------

def _assert_same(got: pl.DataFrame, want: pl.DataFrame) -> None:
    """Same rows and columns; integers and strings equal, floats within 1e-9."""
    assert got.columns == want.columns and got.schema == want.schema
    assert got["account_id"].to_list() == want["account_id"].to_list()
    for c in want.columns:
        a, b = got[c], want[c]
        assert a.is_null().to_list() == b.is_null().to_list(), c
        if b.dtype == pl.Float64:
            diff = (a - b).abs().max()
            assert diff is None or diff <= 1e-9, (c, diff)  # type: ignore[operator]
        else:
            assert a.equals(b), c


@pytest.mark.parametrize("as_of", [date(2026, 1, 20), date(2026, 3, 31), date(2026, 6, 30),
                                   date(2026, 7, 14), END])
def test_engine_features_equal_the_polars_reference(store, as_of):
    books = read_books(store, as_of)
    want = behaviour_features(books["account_day"], books["statements"], books["plans"],
                              as_of, opened=books["accounts"].select("account_id", "opened"))
    got = features_from_store(store, as_of)
    assert got.height == want.height > 250
    assert got["payment_to_due_3"].is_not_null().sum() > 0 or as_of < date(2026, 2, 15)
    _assert_same(got, want)


def test_engine_training_frame_equals_the_reference(book, store):
    dates = [date(2026, 1, 31), date(2026, 2, 28)]
    ad = book.table("account_day")
    for as_of in dates:
        assert target_from_store(store, as_of).equals(behaviour_target(ad, as_of))
    got = training_frame_from_store(store, dates)
    want = behaviour_training_frame(ad, book.table("statements"), book.table("plans"), dates,
                                    opened=book.accounts.select("account_id", "opened"))
    assert got.height > 500
    _assert_same(got.sort("as_of", "account_id"), want.sort("as_of", "account_id"))


def test_features_do_not_pull_the_account_day_history_into_python(store, monkeypatch):
    """The refresh reads no account_day rows through the store: only one row per account."""
    def refuse(table, *a, **k):
        raise AssertionError(f"{table} read into Python")

    monkeypatch.setattr(store, "read", refuse)
    got = features_from_store(store, END)
    n_accounts = store.scalar("SELECT count(DISTINCT account_id) FROM account_day "
                              "WHERE business_date <= ?", [END])
    n_rows = store.scalar("SELECT count(*) FROM account_day")
    assert got.height == n_accounts and n_rows > 200 * got.height  # type: ignore[operator]


def test_bulk_write_is_idempotent_per_month(model_dir, store):
    july, august = date(2026, 7, 31), END
    first = refresh_scores(store, model_dir, july)
    refresh_scores(store, model_dir, august)
    again = refresh_scores(store, model_dir, july)
    stored = read_scores(store)
    assert stored.height == first.height + read_scores(store, august).height
    assert stored.group_by("as_of", "account_id").len()["len"].max() == 1
    assert read_scores(store, july).sort("account_id").equals(again.sort("account_id"))
    assert first.equals(again)


def test_refresh_after_close_scores_month_ends_only(model_dir, store):
    assert refresh_after_close(store, model_dir, date(2026, 7, 30)) is None
    assert read_scores(store).height == 0  # nothing read, nothing written
    scores = refresh_after_close(store, model_dir, date(2026, 7, 31))
    assert scores is not None and scores.height > 150
    assert {"account_id", "pd", "score", "band"} <= set(scores.columns)
    assert read_scores(store, date(2026, 7, 31)).height == scores.height
    # inside the caller's open transaction (the twin closes and scores in one) it nests
    with store.transaction():
        inner = refresh_after_close(store, model_dir, date(2026, 6, 30))
    assert inner is not None and read_scores(store, date(2026, 6, 30)).height == inner.height


# --- the model shipped in the package ----------------------------------------------------

def test_shipped_model_is_a_small_verified_artifact_that_scores_a_twin(tmp_path):
    from creditdesk.risk.artifact import FORMAT, FORMAT_VERSION, read_manifest
    from creditdesk.risk.refresh import BEHAVIOUR_MODEL
    from creditdesk.simulate.driver import run_twin
    from creditdesk.simulate.params import load_params

    manifest = read_manifest(BEHAVIOUR_MODEL)
    assert (manifest["format"], manifest["format_version"]) == (FORMAT, FORMAT_VERSION)
    bundle = load_model(BEHAVIOUR_MODEL)  # digests checked
    assert bundle.model_type == "gbm"
    # every behaviour feature but n_instalment_plans (always 0 in the twin: dropped as constant)
    assert set(bundle.schema.features) == set(FEATURES) - {"n_instalment_plans"}
    size = sum(p.stat().st_size for p in BEHAVIOUR_MODEL.iterdir())
    assert size < 5_000_000

    store = open_store(f"duckdb:///{tmp_path}/twin.duckdb")
    run_twin(store, customers=300, days=62, seed=8, params=load_params())
    jan, feb = date(2026, 1, 31), date(2026, 2, 28)
    feb_scores = refresh_after_close(store, BEHAVIOUR_MODEL, feb)
    assert refresh_after_close(store, BEHAVIOUR_MODEL, feb + timedelta(days=1)) is None
    assert feb_scores is not None
    f = features_from_store(store, feb)
    assert feb_scores["account_id"].to_list() == f.filter(
        (pl.col("status") != "charged_off") & (pl.col("dpd_now") < 60))["account_id"].to_list()
    assert feb_scores["pd"].is_between(0, 1).all()
    refresh_after_close(store, BEHAVIOUR_MODEL, jan)
    assert set(read_scores(store)["as_of"]) == {jan, feb}
    # accounts late in the last 90 days score riskier than the ones never late
    j = feb_scores.join(f.select("account_id", "worst_dpd_90d"), on="account_id")
    late = j.filter(pl.col("worst_dpd_90d") > 0)["pd"].mean()
    clean = j.filter(pl.col("worst_dpd_90d") == 0)["pd"].mean()
    assert late > clean  # type: ignore[operator]
    store.close()


@pytest.mark.spark
def test_spark_lake_gives_the_duckdb_features_and_writes_its_scores(book, store, tmp_path):
    """The same Ibis expressions compiled to Spark SQL over the lake; the month written twice."""
    from creditdesk.risk.refresh import BEHAVIOUR_MODEL

    lake = open_store(f"spark:///{tmp_path}/lake")
    write_books(lake, book)
    as_of = date(2026, 6, 30)
    assert features_from_store(lake, as_of).equals(features_from_store(store, as_of))
    assert target_from_store(lake, date(2026, 1, 31)).equals(
        target_from_store(store, date(2026, 1, 31)))
    first = refresh_scores(lake, BEHAVIOUR_MODEL, as_of)
    refresh_scores(lake, BEHAVIOUR_MODEL, as_of)
    assert read_scores(lake).sort("account_id").equals(first.sort("account_id"))
    assert first.equals(refresh_scores(store, BEHAVIOUR_MODEL, as_of))
