"""Exact TreeSHAP from per-tree cell tables equals LightGBM's own ``pred_contrib``.

Every value class LightGBM treats specially is fed in: missing values under each missing
type, values LightGBM's predictor reads as zero (|x| <= 1e-35), values exactly on a
threshold, infinities, categorical codes that are listed, unlisted, negative, fractional
or beyond every list.
"""

from __future__ import annotations

import threading

import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditdesk.risk import treeshap
from creditdesk.risk.treeshap import K_ZERO, shap_tables

PARAMS = {"objective": "binary", "verbose": -1, "num_leaves": 15, "min_data_in_leaf": 5,
          "deterministic": True, "num_threads": 1, "seed": 1}


def _exact(booster: lgb.Booster, data: np.ndarray) -> np.ndarray:
    return np.asarray(booster.predict(data, pred_contrib=True))


def _assert_exact(booster: lgb.Booster, n_trees: int, data: np.ndarray, **kw: int) -> None:
    tables = shap_tables(booster, n_trees, **kw)
    want = np.asarray(booster.predict(data, num_iteration=n_trees, pred_contrib=True))
    got = tables.contributions(data)
    np.testing.assert_allclose(got, want[:, :-1], rtol=0, atol=1e-12)
    assert abs(tables.bias - want[0, -1]) < 1e-12
    raw = booster.predict(data, num_iteration=n_trees, raw_score=True)
    np.testing.assert_allclose(got.sum(axis=1) + tables.bias, raw, rtol=0, atol=1e-9)


def _mixed(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Numeric with NaN, an integer-valued column, and a categorical code column."""
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(8, 1, n)
    amount[rng.random(n) < 0.1] = np.nan
    dpd = rng.integers(-2, 6, n).astype(float)
    code = rng.integers(0, 9, n).astype(float)
    code[rng.random(n) < 0.05] = np.nan
    noise = rng.normal(size=n)
    logit = 0.6 * dpd - 0.3 * np.log(np.nan_to_num(amount, nan=3000.0)) + \
        np.where(np.isin(code, [2, 5, 7]), 1.0, -0.5) + 0.2 * noise
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return np.column_stack([amount, dpd, code, noise]), y


@pytest.fixture(scope="module")
def mixed() -> tuple[lgb.Booster, np.ndarray]:
    X, y = _mixed(4000, 0)
    booster = lgb.train(PARAMS, lgb.Dataset(X, y, categorical_feature=[2]), 60)
    return booster, X


def _awkward(X: np.ndarray, booster: lgb.Booster) -> np.ndarray:
    """Rows built from the edge values of every feature."""
    thresholds: dict[int, list[float]] = {}

    def walk(node: dict) -> None:
        if "split_index" in node:
            if node["decision_type"] == "<=":
                thresholds.setdefault(node["split_feature"], []).append(node["threshold"])
            walk(node["left_child"])
            walk(node["right_child"])

    for tree in booster.dump_model()["tree_info"]:
        walk(tree["tree_structure"])
    rng = np.random.default_rng(7)
    rows = np.repeat(X[:50], 40, axis=0)
    specials = [np.nan, 0.0, -0.0, K_ZERO, -K_ZERO, 5e-36, -5e-36, np.inf, -np.inf, -1.0,
                -0.5, 0.7, 1e12, 8.0, 9.0, 42.0, 2.5]
    for j in range(X.shape[1]):
        pool = specials + thresholds.get(j, []) + [np.nextafter(t, np.inf)
                                                  for t in thresholds.get(j, [])]
        hit = rng.random(len(rows)) < 0.5
        rows[hit, j] = rng.choice(np.asarray(pool, dtype=float), hit.sum())
    return rows


def test_equals_pred_contrib_on_mixed_data(mixed: tuple[lgb.Booster, np.ndarray]) -> None:
    booster, X = mixed
    _assert_exact(booster, 60, X)


def test_equals_pred_contrib_on_edge_values(mixed: tuple[lgb.Booster, np.ndarray]) -> None:
    booster, X = mixed
    _assert_exact(booster, 60, _awkward(X, booster))


def test_zero_as_missing_and_no_missing_handling() -> None:
    X, y = _mixed(3000, 1)
    X[::7, 0] = 0.0
    for extra in ({"zero_as_missing": True}, {"use_missing": False}):
        booster = lgb.train({**PARAMS, **extra}, lgb.Dataset(X, y, categorical_feature=[2]), 30)
        _assert_exact(booster, 30, _awkward(X, booster))


def test_fewer_trees_than_the_booster(mixed: tuple[lgb.Booster, np.ndarray]) -> None:
    booster, X = mixed
    _assert_exact(booster, 17, X[:500])


def test_large_trees_fall_back_to_pred_contrib(mixed: tuple[lgb.Booster, np.ndarray]) -> None:
    booster, X = mixed
    cells = sorted(tree.n_cells for tree in shap_tables(booster, 60).trees)
    cap = cells[30]
    small = shap_tables(booster, 60, max_cells=cap)
    assert 0 < small.n_fallback < 60
    _assert_exact(booster, 60, X[:300], max_cells=cap)
    budget = shap_tables(booster, 60, max_values=2000)
    assert budget.n_fallback > 0
    _assert_exact(booster, 60, X[:300], max_values=2000)


def test_tables_fill_once_and_threads_agree(mixed: tuple[lgb.Booster, np.ndarray]) -> None:
    booster, X = mixed
    tables = shap_tables(booster, 60)
    assert tables.n_filled == 0
    first = tables.contributions(X[:1000])
    filled = tables.n_filled
    assert 0 < filled <= tables.n_cells
    np.testing.assert_array_equal(tables.contributions(X[:1000]), first)
    assert tables.n_filled == filled  # nothing computed twice

    fresh = shap_tables(booster, 60)
    results: dict[int, np.ndarray] = {}

    def run(k: int) -> None:
        results[k] = fresh.contributions(X[k * 500:(k + 2) * 500])

    workers = [threading.Thread(target=run, args=(k,)) for k in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    want = _exact(booster, X)[:, :-1]
    for k, got in results.items():
        np.testing.assert_allclose(got, want[k * 500:(k + 2) * 500], rtol=0, atol=1e-12)


@pytest.mark.parametrize("parallel_from", [0, 10**9])  # fill on two threads, or on one
def test_prepare_fills_a_batch_in_one_go(mixed: tuple[lgb.Booster, np.ndarray],
                                         monkeypatch: pytest.MonkeyPatch,
                                         parallel_from: int) -> None:
    """Two fill threads each predict with their own booster: LightGBM keeps the tree range
    of the last call on the booster, so a shared one mixed the threads' trees up."""
    monkeypatch.setattr(treeshap, "_PARALLEL_FILL", parallel_from)
    booster, X = mixed
    tables = shap_tables(booster, 60)
    filled = tables.prepare(X, threads=2)
    assert filled == tables.n_filled > 0
    assert tables.prepare(X, threads=2) == 0  # warm: the sample finds nothing new
    before = tables.n_filled
    got = tables.contributions(X)
    assert tables.n_filled == before  # nothing left to fill
    np.testing.assert_allclose(got, _exact(booster, X)[:, :-1], rtol=0, atol=1e-12)


def test_wrong_width_is_refused(mixed: tuple[lgb.Booster, np.ndarray]) -> None:
    booster, X = mixed
    with pytest.raises(ValueError, match="must have 4 columns; got shape"):
        shap_tables(booster, 5).contributions(X[:, :3])


@settings(max_examples=12, deadline=None, database=None)
@given(seed=st.integers(0, 10_000), leaves=st.integers(2, 40), trees=st.integers(1, 25),
       n_cat=st.integers(2, 30))
def test_property_equals_pred_contrib(seed: int, leaves: int, trees: int, n_cat: int) -> None:
    """Any tree shapes, category counts and missing patterns: the same values."""
    rng = np.random.default_rng(seed)
    n = 600
    X = np.column_stack([rng.normal(size=n), rng.integers(0, n_cat, n).astype(float),
                         rng.integers(0, 3, n).astype(float), rng.exponential(size=n)])
    X[rng.random((n, 4)) < 0.08] = np.nan
    y = (rng.random(n) < 0.3 + 0.4 * (np.nan_to_num(X[:, 0]) > 0)).astype(int)
    booster = lgb.train({**PARAMS, "num_leaves": leaves, "min_data_in_leaf": 3,
                         "max_cat_to_onehot": 4, "min_data_per_group": 3, "cat_smooth": 1},
                        lgb.Dataset(X, y, categorical_feature=[1]), trees)
    _assert_exact(booster, booster.current_iteration(), _awkward(X, booster))
