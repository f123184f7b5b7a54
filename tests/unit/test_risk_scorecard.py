"""Scorecard: points scaling, estimator contract, points and reasons, plain-data state."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from creditdesk.errors import BadInputError
from creditdesk.risk.scorecard import FeatureBins, ScorecardModel, ScoreScaling


def test_points_scaling_worked_example() -> None:
    s = ScoreScaling(pdo=20, base_score=600, base_odds=50)
    factor = 20 / math.log(2)
    assert s.factor == pytest.approx(factor)
    assert s.offset == pytest.approx(600 - factor * math.log(50))
    assert float(s.score_from_pd(1 / 51)) == pytest.approx(600.0)  # odds 50:1
    assert float(s.score_from_pd(1 / 101)) == pytest.approx(620.0, abs=0.1)  # odds ~100:1
    assert float(s.pd_from_score(s.score_from_pd(0.07))) == pytest.approx(0.07)


def test_scaling_refuses_nonpositive_pdo() -> None:
    with pytest.raises(BadInputError, match="pdo must be a positive number; got 0"):
        ScoreScaling(pdo=0)


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    n = 3000
    x = rng.normal(size=n)
    x[rng.random(n) < 0.1] = np.nan
    city = rng.choice(["north", "south", "east", "west"], n)
    noise = rng.normal(size=n)
    logit = -1.2 + 1.1 * np.nan_to_num(x, nan=1.0) + (city == "north") * 0.8
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"x": x, "city": city, "noise": noise}), y


@pytest.fixture(scope="module")
def fitted(data: tuple[pd.DataFrame, np.ndarray]) -> ScorecardModel:
    X, y = data
    return ScorecardModel().fit(X, y)


def test_init_only_stores_params() -> None:
    model = ScorecardModel(pdo=-1, monotonic_trend="sideways")
    assert model.get_params()["pdo"] == -1
    assert clone(model).get_params()["monotonic_trend"] == "sideways"


def test_unfitted_raises_not_fitted(data: tuple[pd.DataFrame, np.ndarray]) -> None:
    with pytest.raises(NotFittedError):
        ScorecardModel().predict_proba(data[0])


@pytest.mark.parametrize(("params", "message"), [
    ({"monotonic_trend": "sideways"}, "monotonic_trend must be one of"),
    ({"max_n_bins": 1}, "max_n_bins must be an integer >= 2; got 1"),
    ({"encoding": "onehot"}, "encoding must be 'dummy' or 'woe'; got 'onehot'"),
    ({"pdo": 0}, "pdo must be a positive number; got 0"),
])
def test_bad_params_fail_in_fit(data: tuple[pd.DataFrame, np.ndarray], params: dict,
                                message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        ScorecardModel(**params).fit(*data)


def test_bad_target_is_refused(data: tuple[pd.DataFrame, np.ndarray]) -> None:
    with pytest.raises(BadInputError, match="y must hold both 0 and 1"):
        ScorecardModel().fit(data[0], np.full(len(data[0]), 2))


def test_points_sum_to_score_and_match_pd(fitted: ScorecardModel,
                                          data: tuple[pd.DataFrame, np.ndarray]) -> None:
    X, _ = data
    score = fitted.credit_score(X)
    np.testing.assert_allclose(fitted.points_matrix(X).sum(axis=1), score)
    pd_ = fitted.predict_proba(X)[:, 1]
    np.testing.assert_allclose(fitted.scaling.score_from_pd(pd_), score, rtol=1e-9)


def test_noise_feature_is_dropped_by_iv(fitted: ScorecardModel) -> None:
    assert "x" in fitted.features_ and "city" in fitted.features_
    assert fitted.iv_["x"] > fitted.iv_["noise"]


def test_points_lost_are_nonpositive_and_zero_at_best_bin(
        fitted: ScorecardModel, data: tuple[pd.DataFrame, np.ndarray]) -> None:
    lost = fitted.points_lost(data[0])
    assert (lost <= 1e-9).all()
    assert np.isclose(lost.max(axis=0), 0.0).all()


def test_missing_and_unseen_values_are_scored(fitted: ScorecardModel) -> None:
    new = pd.DataFrame({"x": [np.nan, 0.5], "city": ["atlantis", None], "noise": [0.0, 0.0]})
    pd_ = fitted.predict_proba(new)[:, 1]
    assert np.isfinite(pd_).all()


def test_state_round_trip_gives_identical_scores(fitted: ScorecardModel,
                                                  data: tuple[pd.DataFrame, np.ndarray]) -> None:
    import json

    clone_ = ScorecardModel.from_state(json.loads(json.dumps(fitted.to_state())))
    np.testing.assert_array_equal(clone_.credit_score(data[0]), fitted.credit_score(data[0]))


def test_points_table_has_every_bin(fitted: ScorecardModel) -> None:
    table = fitted.points_table()
    assert set(table["feature"]) == set(fitted.features_)
    assert {"missing", "unseen category"} <= set(table["bin"])


def test_numeric_bins_follow_optbinning_edges() -> None:
    bins = FeatureBins(name="x", kind="numeric", splits=[1.0, 2.0], woe=[0, 0, 0, 0, 0])
    idx = bins.bin_index(pd.Series([0.5, 1.0, 1.5, 2.0, np.nan]))
    assert idx.tolist() == [0, 1, 1, 2, 3]  # [-inf,1) [1,2) [2,inf) missing


def test_woe_encoding_keeps_negative_coefficients(data: tuple[pd.DataFrame, np.ndarray]) -> None:
    model = ScorecardModel(encoding="woe").fit(*data)
    for f in model.features_:
        woe = np.asarray(model.bins_[f].woe)
        logit = model.logit_bins_[f]
        used = woe != 0
        assert (np.sign(logit[used]) == -np.sign(woe[used])).all()


def test_large_table_chooses_bins_on_a_sample_and_counts_every_row(
        data: tuple[pd.DataFrame, np.ndarray], fitted: ScorecardModel) -> None:
    X, y = data
    model = ScorecardModel(large_rows=1000).fit(X, y)
    assert len(model.choice_rows_) == pytest.approx(1000, abs=2)
    assert abs(y[model.choice_rows_].mean() - y.mean()) < 0.002  # stratified
    for f in model.features_:
        assert sum(model.bins_[f].count) == len(X)  # counts, WoE and IV from every row
    from sklearn.metrics import roc_auc_score
    full = roc_auc_score(y, fitted.predict_proba(X)[:, 1])
    sampled = roc_auc_score(y, model.predict_proba(X)[:, 1])
    assert sampled > full - 0.01
    assert len(fitted.choice_rows_) == len(X)  # below large_rows nothing changes
