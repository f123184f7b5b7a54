"""Collection scores on a synthetic book whose true effects are known.

The world: features x1..x4 and a latent u the models never see (an agent's judgement,
a phone note). P(pay within the horizon) = sigmoid(base(x, u) + effect_t(x)) with

* agent: +1.5 on the log-odds when x1 > 0, +0.1 otherwise;
* sms: +0.7 when x2 > 0, nothing otherwise;
* none: the control.

Randomised rows draw the arm with known shares; confounded rows get an agent mostly
when they look risky (low x3, low u), as a bucket policy does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.exceptions import NotFittedError

from creditdesk.collections.scores import SelfCureModel
from creditdesk.collections.uplift import TreatmentUplift, qini_coefficient, qini_curve
from creditdesk.errors import BadInputError
from creditdesk.risk.artifact import ArtifactError, load_model
from creditdesk.risk.metrics import auc

ARMS = ("none", "sms", "agent")
SHARES = (0.3, 0.35, 0.35)
FAST: dict[str, Any] = {"n_estimators": 300, "learning_rate": 0.1, "early_stopping_rounds": 20}


def sigmoid(z: Any) -> Any:
    return 1.0 / (1.0 + np.exp(-z))


class World(NamedTuple):
    X: pd.DataFrame
    t: np.ndarray
    y: np.ndarray
    p: dict[str, np.ndarray]  # true P(pay) under each arm, per row


def world(n: int, seed: int, *, assign: str = "random") -> World:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=["x1", "x2", "x3", "x4"])
    u = rng.normal(size=n)
    base = -0.6 + 0.9 * X["x3"].to_numpy() - 0.5 * X["x4"].to_numpy() + 0.8 * u
    effect = {"none": np.zeros(n), "sms": np.where(X["x2"] > 0, 0.7, 0.0),
              "agent": np.where(X["x1"] > 0, 1.5, 0.1)}
    p = {a: sigmoid(base + effect[a]) for a in ARMS}
    if assign == "random":
        t = rng.choice(ARMS, n, p=SHARES)
    else:  # agents for the rows that look worst, on what the features show and what they don't
        risky = sigmoid(2.5 * (-(0.9 * X["x3"].to_numpy() + 0.8 * u) - 0.3))
        t = np.where(rng.random(n) < risky, "agent", "none")
    own = np.select([t == a for a in ARMS], [p[a] for a in ARMS])
    return World(X, t, (rng.random(n) < own).astype(int), p)


@pytest.fixture(scope="module")
def train() -> World:
    return world(20_000, 1)


@pytest.fixture(scope="module")
def held() -> World:
    return world(10_000, 2)


@pytest.fixture(scope="module")
def t_model(train: World) -> TreatmentUplift:
    return TreatmentUplift(treatments=list(ARMS), **FAST).fit(train.X, train.t, train.y)


@pytest.fixture(scope="module")
def x_model(train: World) -> TreatmentUplift:
    return TreatmentUplift(method="x_learner", treatments=list(ARMS), **FAST).fit(
        train.X, train.t, train.y, propensity=dict(zip(ARMS, SHARES, strict=True)))


# -- uplift: heterogeneous effects ------------------------------------------------------

@pytest.mark.parametrize("which", ["t_model", "x_model"])
def test_uplift_recovers_sign_and_size_of_each_effect_by_region(
        which: str, held: World, request: pytest.FixtureRequest) -> None:
    model = request.getfixturevalue(which)
    assert model.treatments_ == list(ARMS)
    uplift = model.predict_uplift(held.X)
    for arm, col, tol in (("agent", "x1", 0.06), ("sms", "x2", 0.05)):
        k = model.treatments_.index(arm)
        truth = held.p[arm] - held.p["none"]
        hi = (held.X[col] > 0).to_numpy()
        true_gap = truth[hi].mean() - truth[~hi].mean()  # agent ~0.26, sms ~0.13
        pred_gap = uplift[hi, k].mean() - uplift[~hi, k].mean()
        assert abs(pred_gap - true_gap) < tol, (arm, pred_gap, true_gap)
        assert uplift[hi, k].mean() > 0.08  # helps where it should
        assert abs(uplift[~hi, k].mean() - truth[~hi].mean()) < 0.04  # ~nothing elsewhere


def test_qini_of_learned_uplift_beats_random_ranking(t_model: TreatmentUplift,
                                                     held: World) -> None:
    uplift = t_model.predict_uplift(held.X)
    agent = uplift[:, t_model.treatments_.index("agent")]
    learned = qini_coefficient(held.y, agent, held.t, treated="agent", control="none")
    oracle = qini_coefficient(held.y, held.p["agent"] - held.p["none"], held.t,
                              treated="agent", control="none")
    rng = np.random.default_rng(0)
    random = [qini_coefficient(held.y, rng.random(len(held.y)), held.t, treated="agent",
                               control="none") for _ in range(20)]
    assert max(random) < 0.04 and abs(float(np.mean(random))) < 0.01
    assert learned > max(random) + 0.04
    assert learned > 0.6 * oracle
    sms = uplift[:, t_model.treatments_.index("sms")]
    assert qini_coefficient(held.y, sms, held.t, treated="sms", control="none") > 0.02


def test_randomised_arms_separate_effect_from_selection() -> None:
    """Why collections trains on randomised challenger arms, not on the policy's history."""
    book = world(20_000, 3, assign="confounded")
    truth = float(np.mean(book.p["agent"] - book.p["none"]))  # ~ +0.15
    naive = book.y[book.t == "agent"].mean() - book.y[book.t == "none"].mean()
    assert truth > 0.1
    assert naive < 0 and truth - naive > 0.2  # agents "lower" payment: it is who they call
    # even a T-learner cannot undo selection on what the features do not show
    on_policy = TreatmentUplift(**FAST).fit(book.X, book.t, book.y)
    assert truth - on_policy.predict_uplift(book.X)[:, 1].mean() > 0.1
    # the randomised challenger rows recover the effect on the same population
    rnd = world(12_000, 4)
    keep = rnd.t != "sms"
    trial = TreatmentUplift(**FAST).fit(rnd.X[keep], rnd.t[keep], rnd.y[keep])
    assert trial.treatments_ == ["none", "agent"]
    assert abs(trial.predict_uplift(book.X)[:, 1].mean() - truth) < 0.03


def test_outcomes_are_probabilities_and_uplift_is_their_difference(
        t_model: TreatmentUplift, x_model: TreatmentUplift, train: World, held: World) -> None:
    for model in (t_model, x_model):
        outcome = model.predict_outcome(held.X.head(500))
        assert outcome.shape == (500, 3) and ((outcome >= 0) & (outcome <= 1)).all()
        uplift = model.predict_uplift(held.X.head(500))
        np.testing.assert_allclose(uplift, outcome - outcome[:, :1])
        assert (uplift[:, 0] == 0).all()
    # the control arm's model follows what the features say of P(pay | no treatment)
    p0 = t_model.predict_outcome(held.X)[:, 0]
    seen = -0.6 + 0.9 * held.X["x3"] - 0.5 * held.X["x4"]  # base without the unseen u
    assert np.corrcoef(p0, sigmoid(seen))[0, 1] > 0.95
    assert t_model.n_rows_ == {a: int((train.t == a).sum()) for a in ARMS}


def test_x_learner_propensity_weights(x_model: TreatmentUplift, held: World) -> None:
    assert x_model.g_[1] == pytest.approx(0.35 / 0.65) and x_model.g_[0] == 0.0
    rows = held.X.head(300)
    same = pd.DataFrame({a: np.full(300, s) for a, s in zip(ARMS, SHARES, strict=True)})
    np.testing.assert_allclose(x_model.predict_uplift(rows, propensity=same),
                               x_model.predict_uplift(rows))
    # all weight on tau_0 vs all on tau_1 gives different, both sensible, effects
    only_t = pd.DataFrame({"none": 0.0, "sms": 1.0, "agent": 1.0}, index=range(300))
    assert not np.allclose(x_model.predict_uplift(rows, propensity=only_t),
                           x_model.predict_uplift(rows))


def test_regression_objective_recovers_amount_uplift(train: World, held: World) -> None:
    def balance(X: pd.DataFrame) -> np.ndarray:
        return 1000 * (1 + np.exp(0.5 * X["x4"].to_numpy()))  # minor units

    rng = np.random.default_rng(9)
    amount = train.y * balance(train.X) * rng.uniform(0.8, 1.2, len(train.y))
    model = TreatmentUplift(objective="regression", **FAST).fit(train.X, train.t, amount)
    k = model.treatments_.index("agent")
    uplift = model.predict_uplift(held.X)[:, k]
    truth = (held.p["agent"] - held.p["none"]) * balance(held.X)
    hi = (held.X["x1"] > 0).to_numpy()
    assert truth[hi].mean() - truth[~hi].mean() == pytest.approx(
        uplift[hi].mean() - uplift[~hi].mean(), rel=0.2)
    assert (model.predict_outcome(held.X) >= 0).all()
    assert qini_coefficient(held.y * balance(held.X), uplift, held.t, treated="agent",
                            control="none") > 0.06


# -- Qini from its definition -----------------------------------------------------------

def test_qini_curve_by_hand() -> None:
    # ranked: T y=1, T y=0, C y=0, C y=1 -> g = Y_T - Y_C * N_T / N_C
    k, g = qini_curve([1, 0, 0, 1], [0.9, 0.5, 0.2, 0.1], [1, 1, 0, 0])
    assert k.tolist() == [0, 1, 2, 3, 4] and g.tolist() == [0, 1, 1, 1, 0]
    # ties are taken together; other arms are left out; string labels
    k, g = qini_curve([1, 1, 0, 1, 5], [0.5, 0.5, 0.5, 0.1, 9.0], ["a", "n", "a", "n", "b"],
                      treated="a", control="n")
    assert k.tolist() == [0, 3, 4] and g.tolist() == [0, 1 - 1 * 2 / 1, 1 - 2 * 2 / 2]
    y, t = [1, 0, 0, 1], [1, 1, 0, 0]
    assert qini_coefficient(y, [0.9, 0.5, 0.2, 0.1], t) == pytest.approx(1.0)
    assert qini_coefficient(y, [0.1, 0.2, 0.5, 0.9], t) < 0
    # unnormalised: area between the curve and the line to its end, in outcome per row
    assert qini_coefficient(y, [0.9, 0.5, 0.2, 0.1], t, normalize=False) == pytest.approx(3 / 16)


# -- self-cure ----------------------------------------------------------------------------

def cure_world(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"dpd": rng.integers(1, 60, n), "paid_share": rng.random(n),
                      "utilisation": rng.random(n), "product": rng.choice(["loan", "card"], n)})
    logit = (0.5 - 0.06 * X["dpd"] + 2.0 * X["paid_share"] - 0.8 * X["utilisation"]
             + np.where(X["product"] == "card", 0.5, 0.0))
    p = sigmoid(logit.to_numpy())
    return X, (rng.random(n) < p).astype(int), p


@pytest.fixture(scope="module")
def cure() -> SelfCureModel:
    X, y, _ = cure_world(10_000, 5)
    return SelfCureModel(monotone_constraints={"dpd": -1}, **FAST).fit(X, y)


def test_self_cure_auc_near_what_the_data_supports(cure: SelfCureModel) -> None:
    X, y, p = cure_world(5_000, 6)
    best = auc(y, p)  # the true probabilities: no model can do better on average
    got = auc(y, cure.predict_self_cure(X))
    assert best > 0.75 and got > best - 0.02, (got, best)
    assert cure.feature_names_ == ["dpd", "paid_share", "utilisation", "product"]
    # the monotone constraint holds: later is never likelier to cure
    grid = pd.DataFrame({"dpd": np.arange(1, 60), "paid_share": 0.5, "utilisation": 0.5,
                         "product": "card"})
    assert (np.diff(cure.predict_self_cure(grid)) <= 1e-12).all()


def test_self_cure_inputs_polars_numpy_and_column_checks(cure: SelfCureModel) -> None:
    X, _, _ = cure_world(200, 7)
    expected = cure.predict_self_cure(X)
    np.testing.assert_array_equal(cure.predict_self_cure(pl.from_pandas(X)), expected)
    np.testing.assert_array_equal(cure.predict_self_cure(X[X.columns[::-1]]), expected)
    with pytest.raises(BadInputError, match="missing paid_share") as err:
        cure.predict_self_cure(X.drop(columns="paid_share"))
    assert err.value.field == "paid_share"
    with pytest.raises(BadInputError, match="unexpected account_id"):
        cure.predict_self_cure(X.assign(account_id=1))
    with pytest.raises(BadInputError, match="fitted on named columns"):
        cure.predict_self_cure(X.to_numpy())
    arr = np.random.default_rng(0).normal(size=(500, 2))
    model = SelfCureModel(**FAST).fit(arr, (arr[:, 0] > 0).astype(int))
    assert model.feature_names_ == ["x0", "x1"]
    with pytest.raises(BadInputError, match="must have 2 columns"):
        model.predict_self_cure(arr[:, :1])


def test_not_fitted() -> None:
    X = pd.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(NotFittedError):
        SelfCureModel().predict_proba(X)
    with pytest.raises(NotFittedError):
        TreatmentUplift().predict_uplift(X)
    with pytest.raises(NotFittedError):
        TreatmentUplift().save("unused")


# -- bad inputs name the field ------------------------------------------------------------

def _small(n: int = 600) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    X = pd.DataFrame({"x1": rng.normal(size=n)})
    return X, rng.choice(["none", "sms"], n), rng.integers(0, 2, n)


BAD: list[tuple[str, Any, str, str]] = [
    ("short treatment", lambda X, t, y: (X, t[:-1], y, {}), "treatment", "600 values"),
    ("short outcome", lambda X, t, y: (X, t, y[:10], {}), "y", "600 values"),
    ("NaN outcome", lambda X, t, y: (X, t, np.where(np.arange(600) == 7, np.nan, y), {}),
     "y", "missing .first at row 7"),
    ("outcome 2", lambda X, t, y: (X, t, y * 2, {}), "y", "must be 0 or 1"),
    ("unknown label", lambda X, t, y: (X, np.where(np.arange(600) == 3, "emial", t), y,
                                       {"treatments": ["none", "sms"]}),
     "treatment", "must be one of 'none', 'sms'; got 'emial'"),
    ("too few rows", lambda X, t, y: (X, np.where(np.arange(600) < 150, "agent", t), y,
                                      {"min_rows": 160}),
     "treatment", "'agent' has 150 rows; at least min_rows=160"),
    ("no control", lambda X, t, y: (X, np.where(t == "none", "call", t), y, {}),
     "control", "must include the control 'none'"),
    ("missing label", lambda X, t, y: (X, np.where(np.arange(600) == 5, None, t), y, {}),
     "treatment", "missing value at row 5"),
    ("bad method", lambda X, t, y: (X, t, y, {"method": "s_learner"}), "method",
     "must be one of t_learner, x_learner"),
    ("bad X", lambda X, t, y: ([[1.0]] * 600, t, y, {}), "X", "must be a pandas or polars"),
    ("negative amount", lambda X, t, y: (X, t, y - 1.0, {"objective": "regression"}), "y",
     "non-negative amount"),
]


@pytest.mark.parametrize(("case", "make", "field", "match"), BAD, ids=[b[0] for b in BAD])
def test_bad_inputs_name_the_field(case: str, make: Any, field: str, match: str) -> None:
    X, t, y, params = make(*_small())
    with pytest.raises(BadInputError, match=match) as err:
        TreatmentUplift(**{"min_rows": 100, **FAST, **params}).fit(X, t, y)
    assert err.value.field == field


def test_bad_propensity_and_self_cure_outcome() -> None:
    X, t, y = _small()
    model = TreatmentUplift(method="x_learner", min_rows=100, **FAST)
    with pytest.raises(BadInputError, match="missing 'sms'") as err:
        model.fit(X, t, y, propensity={"none": 0.5})
    assert err.value.field == "propensity"
    with pytest.raises(BadInputError, match=r"shape \(600, 2\)"):
        model.fit(X, t, y, propensity=np.full((600, 3), 0.5))
    with pytest.raises(BadInputError, match="> 0; got 0 at row"):
        model.fit(X, t, y, propensity={"none": 0.0, "sms": 1.0})
    with pytest.raises(BadInputError, match="missing") as err:
        SelfCureModel(**FAST).fit(X, np.where(np.arange(600) == 0, np.nan, y))
    assert err.value.field == "y"
    with pytest.raises(BadInputError, match="treated label 'agent' must be in treatment") as err:
        qini_curve(y, np.zeros(600), t, treated="agent", control="none")
    assert err.value.field == "treated"


# -- save / load --------------------------------------------------------------------------

def test_save_load_round_trip_gives_identical_predictions(
        tmp_path: Path, t_model: TreatmentUplift, x_model: TreatmentUplift,
        cure: SelfCureModel, held: World) -> None:
    for name, model in (("t", t_model), ("x", x_model)):
        model.save(tmp_path / name, info={"horizon_days": 30})
        back = TreatmentUplift.load(tmp_path / name)
        assert back.treatments_ == list(ARMS) and back.get_params() == model.get_params()
        np.testing.assert_array_equal(back.predict_outcome(held.X), model.predict_outcome(held.X))
    manifest = json.loads((tmp_path / "x" / "manifest.json").read_text())
    assert manifest["format"] == "creditdesk-collections-model"
    assert (manifest["method"], manifest["treatments"], manifest["features"]) == (
        "x_learner", list(ARMS), ["x1", "x2", "x3", "x4"])
    assert "lightgbm" in manifest["versions"]
    assert {"uplift.json", "outcome_0.txt", "effect_2_treated.txt"} <= set(manifest["files"])

    cure.save(tmp_path / "cure")
    X, _, _ = cure_world(1_000, 8)
    back_cure = SelfCureModel.load(tmp_path / "cure")
    np.testing.assert_array_equal(back_cure.predict_self_cure(X), cure.predict_self_cure(X))
    assert json.loads((tmp_path / "cure" / "manifest.json").read_text())["horizon_days"] == 30

    # the folder is checked like a risk model's: a changed file or the wrong kind is refused
    with pytest.raises(ArtifactError, match="model_type must be 'self_cure'"):
        SelfCureModel.load(tmp_path / "t")
    with pytest.raises(ArtifactError, match="format must be 'creditdesk-risk-model'"):
        load_model(tmp_path / "cure")
    path = tmp_path / "t" / "outcome_1.txt"
    path.write_text(path.read_text() + "\n")
    with pytest.raises(ArtifactError, match=r"outcome_1\.txt does not match its SHA-256"):
        TreatmentUplift.load(tmp_path / "t")


def test_integer_labels_and_categorical_features_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    n = 3000
    X = pl.DataFrame({"x1": rng.normal(size=n), "region": rng.choice(["n", "s", "e"], n)})
    t = rng.integers(0, 2, n)
    lift = np.where(X["region"].to_numpy() == "s", 1.5, 0.0)
    y = (rng.random(n) < sigmoid(-1 + X["x1"].to_numpy() + t * lift)).astype(int)
    model = TreatmentUplift(control=0, **FAST).fit(X, t, y)
    assert model.treatments_ == [0, 1] and "region" in model.category_maps_
    uplift = model.predict_uplift(X)[:, 1]
    south = X["region"].to_numpy() == "s"
    assert uplift[south].mean() > uplift[~south].mean() + 0.15
    back = TreatmentUplift.load(model.save(tmp_path / "int"))
    assert back.treatments_ == [0, 1]
    np.testing.assert_array_equal(back.predict_uplift(X), model.predict_uplift(X))
