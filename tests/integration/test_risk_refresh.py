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
from creditdesk.risk.behaviour import FEATURES, behaviour_features, behaviour_training_frame
from creditdesk.risk.refresh import SCORES_TABLE, refresh_scores, score_accounts
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


@pytest.fixture
def store(book, tmp_path):
    s = open_store(f"duckdb:///{tmp_path}/books.duckdb")
    dates = pl.Series(pl.date_range(START, END, eager=True))
    with s.transaction():
        s.append("accounts", book.accounts)
        for t in ("account_day", "statements", "plans"):
            s.append(t, book.table(t))
        s.append("closed_dates", pl.DataFrame({"business_date": dates,
                                               "closed_at": [datetime.now(UTC)] * len(dates)}))
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
