"""LightGBM estimator: contract, monotone constraints, SHAP contributions, state."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from creditdesk.errors import BadInputError
from creditdesk.risk.gbm import GBMModel


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(3)
    n = 2000
    dpd = rng.integers(0, 5, n).astype(float)
    income = rng.lognormal(8, 0.5, n)
    income[rng.random(n) < 0.05] = np.nan
    seg = rng.choice(["a", "b", "c"], n)
    logit = -2 + 0.7 * dpd - 0.3 * np.log(np.nan_to_num(income, nan=3000) / 3000) + (seg == "c")
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"dpd": dpd, "income": income, "seg": seg}), y


@pytest.fixture(scope="module")
def fitted(data: tuple[pd.DataFrame, np.ndarray]) -> GBMModel:
    return GBMModel(n_estimators=300, early_stopping_rounds=30, learning_rate=0.05,
                    monotone_constraints={"dpd": 1}, num_threads=1).fit(*data)


def test_unfitted(data: tuple[pd.DataFrame, np.ndarray]) -> None:
    with pytest.raises(NotFittedError):
        GBMModel().predict_proba(data[0])


@pytest.mark.parametrize(("params", "message"), [
    ({"learning_rate": 0}, "learning_rate must be in \\(0, 1\\]; got 0"),
    ({"monotone_constraints": {"nope": 1}}, "monotone_constraints must name model features"),
    ({"monotone_constraints": {"dpd": 2}}, "must be -1, 0 or 1; got 2"),
])
def test_bad_params(data: tuple[pd.DataFrame, np.ndarray], params: dict, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        GBMModel(**params).fit(*data)


def test_monotone_constraint_holds(fitted: GBMModel, data: tuple[pd.DataFrame, np.ndarray]) -> None:
    X = data[0].iloc[:50]
    pds = [fitted.predict_proba(X.assign(dpd=float(v)))[:, 1] for v in range(5)]
    assert (np.diff(np.vstack(pds), axis=0) >= -1e-12).all()


def test_contributions_add_up_to_log_odds(fitted: GBMModel,
                                          data: tuple[pd.DataFrame, np.ndarray]) -> None:
    X = data[0].iloc[:100]
    contrib = fitted.contributions(X)
    assert contrib.shape == (100, 3)
    full = fitted.booster_.predict(fitted._encode(X), num_iteration=fitted.n_trees_,
                                   pred_contrib=True)
    np.testing.assert_allclose(full.sum(axis=1), fitted.booster_.predict(
        fitted._encode(X), num_iteration=fitted.n_trees_, raw_score=True), atol=1e-9)


def test_unseen_category_and_missing(fitted: GBMModel) -> None:
    new = pd.DataFrame({"dpd": [0.0, np.nan], "income": [np.nan, 2000.0], "seg": ["zzz", None]})
    assert np.isfinite(fitted.predict_proba(new)).all()


def test_state_round_trip(fitted: GBMModel, data: tuple[pd.DataFrame, np.ndarray]) -> None:
    meta, text = fitted.to_state()
    clone_ = GBMModel.from_state(meta, text)
    np.testing.assert_allclose(clone_.predict_proba(data[0]), fitted.predict_proba(data[0]))


def test_deterministic(data: tuple[pd.DataFrame, np.ndarray]) -> None:
    a = GBMModel(n_estimators=50, early_stopping_rounds=10, num_threads=1).fit(*data)
    b = GBMModel(n_estimators=50, early_stopping_rounds=10, num_threads=1).fit(*data)
    np.testing.assert_array_equal(a.predict_proba(data[0]), b.predict_proba(data[0]))


@pytest.mark.parametrize("method", ["shap", "saabas"])
def test_threads_and_chunks_do_not_change_the_reasons(fitted: GBMModel,
                                                      data: tuple[pd.DataFrame, np.ndarray],
                                                      method: str) -> None:
    X = data[0]  # 2,000 rows: several chunks on 2 threads
    pd1, c1 = fitted.explain(X, method, num_threads=1)
    pd2, c2 = fitted.explain(X, method, num_threads=2)
    np.testing.assert_array_equal(c1, c2)
    np.testing.assert_array_equal(pd1, pd2)
    np.testing.assert_allclose(pd1, fitted.predict_proba(X)[:, 1], atol=1e-12)


def test_run_in_chunks_covers_every_row_once() -> None:
    from creditdesk.risk.gbm import run_in_chunks

    seen = np.zeros(5000, dtype=int)

    def work(lo: int, hi: int) -> None:
        seen[lo:hi] += 1

    run_in_chunks(5000, work, threads=2, chunk=700)
    run_in_chunks(5000, work, threads=1, chunk=700)
    run_in_chunks(0, work, threads=2)
    assert (seen == 2).all()


def test_large_table_settings(data: tuple[pd.DataFrame, np.ndarray]) -> None:
    X, y = data  # 2,000 rows: 1,600 to boost on, above large_rows=1000
    large = GBMModel(n_estimators=400, early_stopping_rounds=50, large_rows=1000,
                     large_learning_rate=0.2).fit(X, y)
    assert large.large_
    params = large._params(1600)
    assert params["learning_rate"] == 0.2
    assert params["bagging_fraction"] == pytest.approx(1000 / 1600)
    assert large.n_trees_ == large.best_iteration_  # no refit on a large table
    assert large.booster_.current_iteration() <= large.best_iteration_ + max(10, round(50 * 0.02 / 0.2))
    small = GBMModel(n_estimators=400, early_stopping_rounds=50, large_rows=None).fit(X, y)
    assert not small.large_
    assert small._params(1600)["learning_rate"] == 0.02
    assert small.n_trees_ == round(small.best_iteration_ / 0.8)  # refit on every row
    with pytest.raises(BadInputError, match="large_rows must be None or an integer >= 1000"):
        GBMModel(large_rows=10).fit(X, y)


def test_predict_proba_is_the_same_on_any_thread_count(fitted: GBMModel,
                                                       data: tuple[pd.DataFrame, np.ndarray]
                                                       ) -> None:
    X = data[0]
    one = fitted.predict_proba(X, num_threads=1)
    np.testing.assert_array_equal(one, fitted.predict_proba(X, num_threads=2))
    raw = fitted.booster_.predict(fitted._matrix(X), num_iteration=fitted.n_trees_)
    np.testing.assert_array_equal(one[:, 1], raw)
