"""Treatment uplift: the expected outcome under each collection treatment, and its effect.

Why randomised arms. Under a bucket policy agents call the accounts that look worst,
so "accounts that got a call paid less" mixes the call's effect with who was chosen to
be called (selection). The difference of group means can even have the wrong sign, and
no model fixes it when the choice used what the features do not show (an agent's
judgement, a phone note). Accounts assigned at random to challenger arms — with known
shares — differ only by chance, so an outcome model per arm estimates the effect.
Train :class:`TreatmentUplift` on those rows only; the extraction selects them.

Two learners (Künzel, Sekhon, Bickel and Yu, "Metalearners for estimating
heterogeneous treatment effects using machine learning", PNAS 2019):

* ``method="t_learner"`` (two-model): one LightGBM outcome model per arm, ``mu_k(x)``;
  the effect of arm k is ``mu_k(x) - mu_control(x)``. Simple, and each arm's expected
  outcome comes straight from its model.
* ``method="x_learner"``: after the T-learner stage, impute each row's effect with the
  *other* arm's model (treated rows: ``y - mu_control(x)``; control rows:
  ``mu_k(x) - y``), regress those on x in each arm (``tau_1``, ``tau_0``) and blend
  ``tau = g tau_0 + (1 - g) tau_1`` with ``g`` the probability of arm k against
  control. Better when an arm is much smaller than the control or the effect is
  simpler than the outcome, as with a small agent arm. ``g`` comes from the known
  randomisation probabilities (``propensity``), else the arm shares in the data.

Outcomes are ``objective="binary"`` (paid within the horizon, 0/1: the outcomes are
probabilities) or ``objective="regression"`` (amount recovered in minor units, >= 0).

Evaluation on held-out randomised rows: :func:`qini_curve` and :func:`qini_coefficient`,
from the definitions of Radcliffe (2007), "Using control groups to target on predicted
lift: building and assessing uplift models", Direct Marketing Analytics Journal 3:14–21,
as documented by scikit-uplift (``sklift.metrics.qini_curve`` and ``qini_auc_score``,
https://www.uplift-modeling.com/en/latest/api/metrics/qini_curve.html).

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0); n = 4000
>>> X = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n)})
>>> t = rng.choice(["none", "call"], n)
>>> p = 1 / (1 + np.exp(-(-1 + X["x2"] + np.where((t == "call") & (X["x1"] > 0), 1.5, 0))))
>>> y = (rng.random(n) < p).astype(int)
>>> model = TreatmentUplift(n_estimators=80, learning_rate=0.1).fit(X, t, y)
>>> model.treatments_
['none', 'call']
>>> u = model.predict_uplift(X)
>>> u.shape, bool(u[X["x1"] > 0, 1].mean() > u[X["x1"] <= 0, 1].mean() + 0.15)
((4000, 2), True)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted

from creditdesk.collections.scores import (
    FORMAT,
    FORMAT_VERSION,
    as_frame,
    binary_target,
    open_folder,
    scoring_frame,
    vector,
    versions,
)
from creditdesk.errors import BadInputError
from creditdesk.risk.artifact import ArtifactError, read_json, write_json, write_manifest

__all__ = ["METHODS", "OBJECTIVES", "TreatmentUplift", "qini_coefficient", "qini_curve"]

METHODS = ("t_learner", "x_learner")
OBJECTIVES = ("binary", "regression")
_OTHER = 0.0  # the code of rare and unseen categories, as in creditdesk.risk.gbm

Label = int | str


def _labels(values: Any, n: int, field: str = "treatment") -> list[Label]:
    """Treatment labels as Python ints or strings, one per row."""
    arr = vector(values, n, field)
    if arr.dtype == bool:
        arr = arr.astype(np.int64)
    if arr.dtype.kind in "iu":
        return [int(v) for v in arr]
    if arr.dtype.kind == "f":
        if np.isnan(arr).any() or not np.all(arr == np.round(arr)):
            row = int(np.flatnonzero(np.isnan(arr) | (arr != np.round(arr)))[0])
            raise BadInputError(f"{field} must be an integer or string label on every row; "
                                f"got {arr[row]!r} at row {row}", row=row, field=field,
                                value=arr[row])
        return [int(v) for v in arr]
    out: list[Label] = []
    for i, v in enumerate(arr):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            raise BadInputError(f"{field} must be a label on every row; got a missing value at "
                                f"row {i}", row=i, field=field, value=None)
        out.append(int(v) if isinstance(v, int | np.integer) else str(v))
    return out


def _amounts(values: Any, n: int) -> np.ndarray:
    arr = pd.to_numeric(pd.Series(vector(values, n, "y")), errors="coerce").to_numpy(float)
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise BadInputError(f"y must be a non-negative amount (minor units) on every row; got "
                            f"{int(bad.sum())} missing, infinite or negative (first at row "
                            f"{row}: {arr[row]!r})", row=row, field="y", value=arr[row])
    return arr


class TreatmentUplift(BaseEstimator):
    """Expected outcome under each treatment and the effect against the control.

    ``fit(X, treatment, y, propensity=None)``: ``treatment`` holds one label per row
    (integers or strings), one of them ``control`` (default ``"none"``). ``treatments``,
    when given, lists the labels expected (any other label is refused). An arm with fewer
    than ``min_rows`` rows is refused: an outcome model on a handful of rows would
    produce confident-looking noise. ``propensity`` (X-learner only) gives the known
    randomisation probabilities: a mapping ``{label: share}`` or an (n, arms) array or
    frame whose columns are the labels.

    Learned: ``treatments_`` (control first), ``feature_names_``, ``n_rows_`` per arm,
    ``g_`` (the share of each arm against the control, used by the X-learner), the
    LightGBM boosters. :meth:`predict_outcome` and :meth:`predict_uplift` return one
    column per entry of ``treatments_``; the control's uplift column is zero.
    """

    def __init__(self, *, method: str = "t_learner", objective: str = "binary",
                 control: Label = "none", treatments: list[Label] | None = None,
                 min_rows: int = 200, n_estimators: int = 400, learning_rate: float = 0.05,
                 num_leaves: int = 15, min_child_samples: int = 50,
                 early_stopping_rounds: int | None = 30, validation_fraction: float = 0.2,
                 subsample: float = 0.8, colsample: float = 1.0, reg_lambda: float = 1.0,
                 min_category_count: int = 20, random_state: int = 0,
                 num_threads: int = 1) -> None:
        self.method = method
        self.objective = objective
        self.control = control
        self.treatments = treatments
        self.min_rows = min_rows
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.subsample = subsample
        self.colsample = colsample
        self.reg_lambda = reg_lambda
        self.min_category_count = min_category_count
        self.random_state = random_state
        self.num_threads = num_threads

    # -- checks ---------------------------------------------------------------------

    def _validate_params(self) -> None:
        def is_int(v: Any, lo: int) -> bool:
            return isinstance(v, int) and not isinstance(v, bool) and v >= lo

        checks: list[tuple[str, bool, str]] = [
            ("method", self.method in METHODS, f"one of {', '.join(METHODS)}"),
            ("objective", self.objective in OBJECTIVES, f"one of {', '.join(OBJECTIVES)}"),
            ("control", isinstance(self.control, int | str), "an integer or string label"),
            ("min_rows", is_int(self.min_rows, 1), "an integer >= 1"),
            ("n_estimators", is_int(self.n_estimators, 1), "an integer >= 1"),
            ("learning_rate", 0 < self.learning_rate <= 1, "in (0, 1]"),
            ("num_leaves", is_int(self.num_leaves, 2), "an integer >= 2"),
            ("min_child_samples", is_int(self.min_child_samples, 1), "an integer >= 1"),
            ("early_stopping_rounds", self.early_stopping_rounds is None
             or is_int(self.early_stopping_rounds, 1), "None or an integer >= 1"),
            ("validation_fraction", 0 < self.validation_fraction < 0.5, "in (0, 0.5)"),
            ("subsample", 0 < self.subsample <= 1, "in (0, 1]"),
            ("colsample", 0 < self.colsample <= 1, "in (0, 1]"),
            ("reg_lambda", self.reg_lambda >= 0, "non-negative"),
            ("min_category_count", is_int(self.min_category_count, 1), "an integer >= 1"),
            ("num_threads", is_int(self.num_threads, 1), "an integer >= 1"),
        ]
        for name, ok, what in checks:
            if not ok:
                value = getattr(self, name)
                raise BadInputError(f"{name} must be {what}; got {value!r}", field=name,
                                    value=value)

    def _arms(self, labels: list[Label]) -> list[Label]:
        """Control first, then the declared order (or sorted); refuses unknown labels."""
        seen = set(labels)
        if self.treatments is not None:
            declared = list(dict.fromkeys(self.treatments))
            if self.control not in declared:
                raise BadInputError(f"treatments must include the control {self.control!r}; "
                                    f"got {declared}", field="control", value=self.control)
            unknown = sorted(seen - set(declared), key=str)
            if unknown:
                raise BadInputError(f"treatment must be one of {', '.join(map(repr, declared))}"
                                    f"; got {unknown[0]!r} ({labels.count(unknown[0])} rows)",
                                    field="treatment", value=unknown[0])
            others = [a for a in declared if a != self.control]
        else:
            if self.control not in seen:
                raise BadInputError(f"treatment must include the control {self.control!r}; "
                                    f"got labels {sorted(seen, key=str)}", field="control",
                                    value=self.control)
            others = sorted(seen - {self.control}, key=str)
        if not others:
            raise BadInputError("treatment must hold at least one arm besides the control "
                                f"{self.control!r}; got only the control", field="treatment")
        return [self.control, *others]

    def _propensity(self, propensity: Any, n: int, arm: np.ndarray | None) -> np.ndarray:
        """(n, arms) known assignment probabilities in ``treatments_`` order."""
        arms = self.treatments_
        if isinstance(propensity, Mapping):
            missing = [a for a in arms if a not in propensity]
            if missing:
                raise BadInputError(f"propensity must give a share for every treatment; "
                                    f"missing {missing[0]!r}", field="propensity",
                                    value=missing[0])
            try:
                shares = np.array([float(propensity[a]) for a in arms])
            except (TypeError, ValueError) as exc:
                raise BadInputError(f"propensity must map each treatment to a number; {exc}",
                                    field="propensity") from exc
            p = np.tile(shares, (n, 1))
        else:
            if type(propensity).__module__.split(".")[0] == "polars":
                propensity = propensity.to_pandas()
            if isinstance(propensity, pd.DataFrame):
                cols = {str(c): c for c in propensity.columns}
                missing = [a for a in arms if str(a) not in cols]
                if missing:
                    raise BadInputError(f"propensity must have a column per treatment; missing "
                                        f"{missing[0]!r}", field="propensity", value=missing[0])
                propensity = propensity[[cols[str(a)] for a in arms]].to_numpy(dtype=float)
            p = np.asarray(propensity, dtype=float)
            if p.shape != (n, len(arms)):
                raise BadInputError(f"propensity must be a mapping, or shape ({n}, {len(arms)}) "
                                    f"with columns {arms}; got shape {p.shape}",
                                    field="propensity", value=p.shape)
        if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
            raise BadInputError("propensity must be probabilities in [0, 1]", field="propensity")
        if arm is not None:
            own = p[np.arange(n), arm]
            if (own <= 0).any():
                row = int(np.flatnonzero(own <= 0)[0])
                raise BadInputError(f"propensity of the treatment a row received must be > 0; "
                                    f"got 0 at row {row}", row=row, field="propensity")
        return p

    # -- features -------------------------------------------------------------------

    def _matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """Numeric features as floats; categories coded 1.. (rare or unseen 0, missing NaN)."""
        out = np.empty((len(frame), len(self.feature_names_)))
        for j, name in enumerate(self.feature_names_):
            col = frame[name]
            if name in self.category_maps_:
                codes = col.map(self.category_maps_[name]).astype("float64").fillna(_OTHER)
                codes[col.isna().to_numpy()] = np.nan
                out[:, j] = codes.to_numpy()
            else:
                out[:, j] = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
        return out

    def _cats(self) -> list[int]:
        return [j for j, n in enumerate(self.feature_names_) if n in self.category_maps_]

    # -- fitting --------------------------------------------------------------------

    def _params(self, objective: str, seed: int) -> dict[str, Any]:
        return {"objective": objective, "learning_rate": self.learning_rate,
                "num_leaves": self.num_leaves, "min_child_samples": self.min_child_samples,
                "bagging_fraction": self.subsample, "bagging_freq": 1 if self.subsample < 1 else 0,
                "feature_fraction": self.colsample, "lambda_l2": self.reg_lambda,
                "seed": seed, "deterministic": True, "force_row_wise": True,
                "num_threads": self.num_threads, "verbose": -1, "max_cat_to_onehot": 8,
                "cat_smooth": 10.0}

    def _train(self, data: np.ndarray, y: np.ndarray, objective: str, seed: int) -> tuple[Any, int]:
        """Trees found by early stopping on a split, then a refit on all rows (as GBMModel)."""
        import lightgbm as lgb

        params, cats = self._params(objective, seed), self._cats()
        rounds = self.n_estimators
        vf = self.validation_fraction
        if self.early_stopping_rounds is not None and len(y) * vf >= 20:
            strat = y if objective == "binary" and np.bincount(y.astype(int)).min() >= 2 else None
            fit_idx, val_idx = train_test_split(np.arange(len(y)), test_size=vf,
                                                random_state=seed, stratify=strat)
            train_set = lgb.Dataset(data[fit_idx], y[fit_idx], categorical_feature=cats,
                                    free_raw_data=False)
            valid_set = lgb.Dataset(data[val_idx], y[val_idx], reference=train_set,
                                    categorical_feature=cats)
            probe = lgb.train(params, train_set, num_boost_round=rounds, valid_sets=[valid_set],
                              callbacks=[lgb.early_stopping(self.early_stopping_rounds,
                                                            verbose=False)])
            best = max(int(probe.best_iteration or probe.current_iteration()), 1)
            rounds = max(round(best / (1.0 - vf)), 1)
        booster = lgb.train(params, lgb.Dataset(data, y, categorical_feature=cats),
                            num_boost_round=rounds)
        return booster, rounds

    def fit(self, X: Any, treatment: Any, y: Any, *, propensity: Any = None) -> TreatmentUplift:
        """Fit one outcome model per arm (and, for the X-learner, two effect models per arm)."""
        self._validate_params()
        frame, named = as_frame(X)
        n = len(frame)
        labels = _labels(treatment, n)
        yy = (binary_target(y, n, "y", both=False) if self.objective == "binary"
              else _amounts(y, n)).astype(float)
        self.treatments_ = self._arms(labels)
        index = {a: k for k, a in enumerate(self.treatments_)}
        arm = np.array([index[a] for a in labels], dtype=np.int64)
        counts = np.bincount(arm, minlength=len(self.treatments_))
        for k, a in enumerate(self.treatments_):
            if counts[k] < self.min_rows:
                raise BadInputError(f"treatment {a!r} has {int(counts[k])} rows; at least "
                                    f"min_rows={self.min_rows} are needed to learn its outcome",
                                    field="treatment", value=a)
            if self.objective == "binary" and len(np.unique(yy[arm == k])) != 2:
                raise BadInputError(f"y must hold both 0 and 1 within treatment {a!r}; got only "
                                    f"{int(yy[arm == k][0])}", field="y", value=a)
        p = None if propensity is None else self._propensity(propensity, n, arm)

        self.feature_names_ = list(frame.columns)
        self.named_ = named
        self.n_features_in_ = len(self.feature_names_)
        self.category_maps_: dict[str, dict[str, int]] = {}
        for name in self.feature_names_:
            if not pd.api.types.is_numeric_dtype(frame[name]):
                freq = frame[name].dropna().astype(str).value_counts()
                kept = sorted(freq[freq >= self.min_category_count].index)
                self.category_maps_[name] = {c: i + 1 for i, c in enumerate(kept)}
        data = self._matrix(frame)
        self.n_rows_ = {a: int(c) for a, c in zip(self.treatments_, counts, strict=True)}

        self.outcome_models_: list[Any] = []
        self.outcome_trees_: list[int] = []
        for k in range(len(self.treatments_)):
            rows = arm == k
            booster, rounds = self._train(data[rows], yy[rows], self.objective,
                                          self.random_state + k)
            self.outcome_models_.append(booster)
            self.outcome_trees_.append(rounds)

        self.g_ = [0.0] * len(self.treatments_)
        self.effect_models_: list[tuple[Any, Any] | None] = [None] * len(self.treatments_)
        self.effect_trees_: list[tuple[int, int] | None] = [None] * len(self.treatments_)
        if self.method == "x_learner":
            ctrl = arm == 0
            mu0 = self._outcome(0, data)
            for k in range(1, len(self.treatments_)):
                rows = arm == k
                pair = rows | ctrl
                self.g_[k] = (float(np.mean(p[pair, k] / (p[pair, k] + p[pair, 0])))
                              if p is not None else float(counts[k] / (counts[k] + counts[0])))
                d_treated = yy[rows] - mu0[rows]
                d_control = self._outcome(k, data[ctrl]) - yy[ctrl]
                seed = self.random_state + 100 * k
                tau1, r1 = self._train(data[rows], d_treated, "regression", seed)
                tau0, r0 = self._train(data[ctrl], d_control, "regression", seed + 1)
                self.effect_models_[k] = (tau0, tau1)
                self.effect_trees_[k] = (r0, r1)
        return self

    # -- prediction -----------------------------------------------------------------

    def _outcome(self, k: int, data: np.ndarray) -> np.ndarray:
        return np.asarray(self.outcome_models_[k].predict(
            data, num_iteration=self.outcome_trees_[k], num_threads=self.num_threads))

    def _scoring_matrix(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "outcome_models_")
        return self._matrix(scoring_frame(X, self.feature_names_, self.named_))

    def predict_outcome(self, X: Any, *, propensity: Any = None) -> np.ndarray:
        """Expected outcome under each treatment, shape (rows, len(treatments_)).

        P(paid) for ``objective="binary"`` (clipped to [0, 1]), the expected amount for
        ``"regression"`` (clipped at 0). X-learner: the control's model plus the blended
        effect; ``propensity`` (as in :meth:`fit`) gives per-row ``g`` for the rows
        scored, else ``g_`` from training is used.
        """
        data = self._scoring_matrix(X)
        n = len(data)
        out = np.empty((n, len(self.treatments_)))
        if self.method == "t_learner":
            for k in range(len(self.treatments_)):
                out[:, k] = self._outcome(k, data)
        else:
            p = None if propensity is None else self._propensity(propensity, n, None)
            out[:, 0] = self._outcome(0, data)
            for k in range(1, len(self.treatments_)):
                models, trees = self.effect_models_[k], self.effect_trees_[k]
                assert models is not None and trees is not None
                tau0 = models[0].predict(data, num_iteration=trees[0], num_threads=self.num_threads)
                tau1 = models[1].predict(data, num_iteration=trees[1], num_threads=self.num_threads)
                g = self.g_[k] if p is None else p[:, k] / np.maximum(p[:, k] + p[:, 0], 1e-12)
                out[:, k] = out[:, 0] + g * tau0 + (1 - g) * tau1
        return np.clip(out, 0.0, 1.0 if self.objective == "binary" else None)

    def predict_uplift(self, X: Any, *, propensity: Any = None) -> np.ndarray:
        """Effect of each treatment against the control, shape (rows, len(treatments_))."""
        out = self.predict_outcome(X, propensity=propensity)
        return out - out[:, :1]

    # -- save / load ----------------------------------------------------------------

    def save(self, path: str | Path, *, info: dict[str, Any] | None = None) -> Path:
        """Write ``uplift.json``, one LightGBM text model per booster and, last, the manifest."""
        check_is_fitted(self, "outcome_models_")
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        files = ["uplift.json"]
        for k, booster in enumerate(self.outcome_models_):
            name = f"outcome_{k}.txt"
            (out / name).write_text(booster.model_to_string(num_iteration=self.outcome_trees_[k]),
                                    encoding="utf-8")
            files.append(name)
            models, trees = self.effect_models_[k], self.effect_trees_[k]
            if models is not None and trees is not None:
                for side, model, rounds in zip(("control", "treated"), models, trees, strict=True):
                    name = f"effect_{k}_{side}.txt"
                    (out / name).write_text(model.model_to_string(num_iteration=rounds),
                                            encoding="utf-8")
                    files.append(name)
        write_json(out / "uplift.json", {
            "params": self.get_params(), "features": self.feature_names_, "named": self.named_,
            "category_maps": self.category_maps_, "treatments": self.treatments_,
            "n_rows": [self.n_rows_[a] for a in self.treatments_], "g": self.g_,
            "outcome_trees": self.outcome_trees_, "effect_trees": self.effect_trees_})
        write_manifest(out, files, {
            "model_type": "treatment_uplift", "features": self.feature_names_,
            "treatments": self.treatments_, "control": self.control, "method": self.method,
            "objective": self.objective, "versions": versions(), "info": info or {}},
            fmt=FORMAT, version=FORMAT_VERSION)
        return out

    @classmethod
    def load(cls, path: str | Path) -> TreatmentUplift:
        """Verify a folder written by :meth:`save` and rebuild the model (no code is run)."""
        import lightgbm as lgb

        root, _ = open_folder(path, "treatment_uplift")
        meta = read_json(root / "uplift.json")
        try:
            model = cls(**meta["params"])
            model.feature_names_ = [str(f) for f in meta["features"]]
            model.named_ = bool(meta["named"])
            model.n_features_in_ = len(model.feature_names_)
            model.category_maps_ = {k: {str(c): int(i) for c, i in v.items()}
                                    for k, v in meta["category_maps"].items()}
            model.treatments_ = list(meta["treatments"])
            model.n_rows_ = dict(zip(model.treatments_, meta["n_rows"], strict=True))
            model.g_ = [float(g) for g in meta["g"]]
            model.outcome_trees_ = [int(r) for r in meta["outcome_trees"]]
            model.outcome_models_ = []
            model.effect_models_ = []
            model.effect_trees_ = []
            for k, trees in enumerate(meta["effect_trees"]):
                text = (root / f"outcome_{k}.txt").read_text(encoding="utf-8")
                model.outcome_models_.append(lgb.Booster(model_str=text))
                if trees is None:
                    model.effect_models_.append(None)
                    model.effect_trees_.append(None)
                    continue
                pair = tuple(lgb.Booster(model_str=(root / f"effect_{k}_{side}.txt").read_text(
                    encoding="utf-8")) for side in ("control", "treated"))
                model.effect_models_.append((pair[0], pair[1]))
                model.effect_trees_.append((int(trees[0]), int(trees[1])))
        except (KeyError, TypeError, ValueError, OSError, lgb.basic.LightGBMError) as exc:
            raise ArtifactError(f"uplift model state is not valid: {exc}") from exc
        if len(model.outcome_models_) != len(model.treatments_):
            raise ArtifactError("uplift model state is not valid: one outcome model per "
                                "treatment expected", field="treatments")
        return model


# -- evaluation ---------------------------------------------------------------------------

def _qini_inputs(y: Any, uplift: Any, treatment: Any, treated: Label,
                 control: Label) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    score = np.asarray(uplift.to_numpy() if hasattr(uplift, "to_numpy") else uplift, dtype=float)
    if score.ndim != 1:
        raise BadInputError(f"uplift must be 1-D; got shape {score.shape}", field="uplift")
    n = len(score)
    labels = _labels(treatment, n)
    yy = pd.to_numeric(pd.Series(vector(y, n, "y")), errors="coerce").to_numpy(float)
    if not np.isfinite(yy).all() or not np.isfinite(score).all():
        raise BadInputError("y and uplift must be finite numbers on every row", field="y")
    for name, label in (("treated", treated), ("control", control)):
        if label not in set(labels):
            raise BadInputError(f"{name} label {label!r} must be in treatment; got labels "
                                f"{sorted(set(labels), key=str)}", field=name, value=label)
    lab = np.array(labels, dtype=object)
    keep = (lab == treated) | (lab == control)
    return yy[keep], score[keep], (lab[keep] == treated).astype(float)


def qini_curve(y: Any, uplift: Any, treatment: Any, *, treated: Label = 1,
               control: Label = 0) -> tuple[np.ndarray, np.ndarray]:
    """Qini curve of a ranking by ``uplift``, for arm ``treated`` against ``control``.

    Rows of other arms are left out. Sort the rest by predicted uplift, highest first;
    after the top k rows, with ``Y_T(k)``, ``Y_C(k)`` the summed outcomes and ``N_T(k)``,
    ``N_C(k)`` the counts in the treated and control arms, the curve is the incremental
    outcome of treating those k rows (Radcliffe 2007; scikit-uplift ``qini_curve``)::

        g(k) = Y_T(k) - Y_C(k) * N_T(k) / N_C(k)        (0 while N_C(k) = 0)

    Rows with equal predicted uplift are taken together (points only where the score
    changes). Returns ``(k, g)``, both starting at 0. ``y`` may be 0/1 or an amount.

    >>> k, g = qini_curve([1, 0, 0, 1], [0.9, 0.5, 0.2, 0.1], [1, 1, 0, 0])
    >>> k.tolist(), g.tolist()
    ([0, 1, 2, 3, 4], [0.0, 1.0, 1.0, 1.0, 0.0])
    """
    yy, score, t = _qini_inputs(y, uplift, treatment, treated, control)
    order = np.argsort(-score, kind="stable")
    yy, score, t = yy[order], score[order], t[order]
    last = np.r_[np.flatnonzero(np.diff(score)), len(score) - 1]
    n_t = np.cumsum(t)[last]
    n_c = (last + 1) - n_t
    y_t = np.cumsum(yy * t)[last]
    y_c = np.cumsum(yy * (1 - t))[last]
    gain = y_t - y_c * np.divide(n_t, n_c, out=np.zeros_like(n_t), where=n_c > 0)
    return np.r_[0, last + 1], np.r_[0.0, gain]


def _area_above_random(k: np.ndarray, g: np.ndarray) -> float:
    """Trapezoid area between the curve and the straight line to its end, per row squared."""
    n = float(k[-1])
    gap = g - g[-1] * k / n
    return float(np.sum((gap[1:] + gap[:-1]) / 2 * np.diff(k)) / n**2)


def qini_coefficient(y: Any, uplift: Any, treatment: Any, *, treated: Label = 1,
                     control: Label = 0, normalize: bool = True) -> float:
    """Area between the Qini curve and random targeting (the line from 0 to the end).

    Random ranking scores about 0, better rankings more, a harmful one below 0. With
    ``normalize=False`` the area is taken over the share of rows targeted with the gain
    per row (an average incremental outcome per row across targeting depths). With
    ``normalize=True`` (default) it is divided by the same area for the perfect ranking of
    the observed rows — treated rows by outcome, highest first, control rows by outcome
    last — as scikit-uplift's ``qini_auc_score``: 1 is perfect.

    >>> y = [1, 0, 0, 1]; t = [1, 1, 0, 0]
    >>> best = qini_coefficient(y, [0.9, 0.5, 0.2, 0.1], t)
    >>> worst = qini_coefficient(y, [0.1, 0.2, 0.5, 0.9], t)
    >>> best, round(worst, 3)
    (1.0, -0.167)
    """
    k, g = qini_curve(y, uplift, treatment, treated=treated, control=control)
    area = _area_above_random(k, g)
    if not normalize:
        return area
    yy, _, t = _qini_inputs(y, uplift, treatment, treated, control)
    kp, gp = qini_curve(yy, np.where(t == 1, yy, -yy), t, treated=1, control=0)
    best = _area_above_random(kp, gp)
    if best <= 0:
        raise BadInputError("qini_coefficient cannot be normalised: the outcomes leave no "
                            "room above random targeting (no treated outcome, or all equal)",
                            field="y")
    return area / best
