"""Gradient-boosted PD model (LightGBM) with early stopping and SHAP reason codes.

Why these choices:

* A validation split is carved out of the *training* rows (stratified) to find
  the number of trees by early stopping; the model is then refitted on all the
  training rows with that many trees (scaled up by the share of data that was
  held back), so no training data is wasted and no test data is peeked at.
* Conservative, generic defaults (small learning rate, shallow trees, at least
  50 rows a leaf, row and column subsampling, L2) — nothing tuned to one file.
* Categorical columns are coded as integers with LightGBM's native categorical
  splits; categories rarer than ``min_category_count`` and categories unseen
  in training share the "other" code, missing stays missing.
* Optional monotone constraints per feature (+1 PD rises with the feature,
  -1 falls), the usual ask of model validators for e.g. days past due.
* Reason codes are LightGBM's exact TreeSHAP values (``pred_contrib``), in
  log-odds of default, looked up per tree from tables LightGBM fills
  (:mod:`creditdesk.risk.treeshap`: a hundred times faster than calling
  ``pred_contrib`` on every row), unless Saabas path attributions are asked for
  by name (``method="saabas"``, :mod:`creditdesk.risk.paths`): an
  approximation of SHAP, never substituted silently.
* Determinism: fixed seeds, ``deterministic=True``. One thread by default:
  on a shared machine OpenMP threads that wait for a busy core can make
  training many times slower, and at credit-file sizes a second thread buys
  little (``num_threads`` raises it).

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"x": rng.normal(size=1000), "c": rng.choice(["a", "b"], 1000)})
>>> y = (rng.random(1000) < 1 / (1 + np.exp(-2 * X["x"]))).astype(int)
>>> model = GBMModel(n_estimators=50).fit(X, y)
>>> model.contributions(X).shape
(1000, 2)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted

from creditdesk.errors import BadInputError
from creditdesk.risk.data import LARGE_ROWS, require_frame
from creditdesk.risk.paths import PathTables, path_tables
from creditdesk.risk.scorecard import _check_xy

if TYPE_CHECKING:  # numba (0.2 s to import) only when SHAP reasons are asked for
    from creditdesk.risk.treeshap import ShapTables

__all__ = ["CHUNK_ROWS", "REASON_METHODS", "GBMModel", "run_in_chunks"]

REASON_METHODS = ("shap", "saabas")  # exact TreeSHAP, or approximate path attributions

_OTHER = 0  # the code of rare and unseen categories; real categories start at 1
CHUNK_ROWS = 8192  # rows per LightGBM call when explaining: output stays cache-sized


def run_in_chunks(n: int, work: Callable[[int, int], None], threads: int,
                  chunk: int = CHUNK_ROWS) -> None:
    """Call ``work(lo, hi)`` over ``[0, n)`` in chunks, on up to ``threads`` threads.

    The chunk shrinks so that every thread gets work (at least 256 rows a chunk).
    ``work`` writes its own slice of preallocated outputs, so the order does not matter.
    """
    threads = max(1, int(threads))
    if threads > 1:
        chunk = max(256, min(chunk, -(-n // (2 * threads))))
    bounds = [(lo, min(lo + chunk, n)) for lo in range(0, n, chunk)]
    if threads == 1 or len(bounds) <= 1:
        for lo, hi in bounds:
            work(lo, hi)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(threads, len(bounds))) as pool:
        for _ in pool.map(lambda b: work(*b), bounds):
            pass


class GBMModel(ClassifierMixin, BaseEstimator):
    """LightGBM binary PD model following scikit-learn's estimator contract."""

    def __init__(self, *, learning_rate: float = 0.02, num_leaves: int = 15,
                 min_child_samples: int = 100, n_estimators: int = 3000,
                 early_stopping_rounds: int = 200, validation_fraction: float = 0.2,
                 subsample: float = 0.8, colsample: float = 0.7, reg_lambda: float = 1.0,
                 path_smooth: float = 10.0,
                 monotone_constraints: dict[str, int] | None = None,
                 min_category_count: int = 20, refit: bool = True, random_state: int = 0,
                 num_threads: int = 1, large_rows: int | None = LARGE_ROWS,
                 large_learning_rate: float = 0.1) -> None:
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.n_estimators = n_estimators
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.subsample = subsample
        self.colsample = colsample
        self.reg_lambda = reg_lambda
        self.path_smooth = path_smooth
        self.monotone_constraints = monotone_constraints
        self.min_category_count = min_category_count
        self.refit = refit
        self.random_state = random_state
        self.num_threads = num_threads
        self.large_rows = large_rows
        self.large_learning_rate = large_learning_rate

    def _validate_params(self, names: list[str]) -> None:
        checks: list[tuple[str, bool, str]] = [
            ("learning_rate", 0 < self.learning_rate <= 1, "in (0, 1]"),
            ("num_leaves", isinstance(self.num_leaves, int) and self.num_leaves >= 2,
             "an integer >= 2"),
            ("min_child_samples", isinstance(self.min_child_samples, int)
             and self.min_child_samples >= 1, "an integer >= 1"),
            ("n_estimators", isinstance(self.n_estimators, int) and self.n_estimators >= 1,
             "an integer >= 1"),
            ("early_stopping_rounds", isinstance(self.early_stopping_rounds, int)
             and self.early_stopping_rounds >= 1, "an integer >= 1"),
            ("validation_fraction", 0 < self.validation_fraction < 0.5, "in (0, 0.5)"),
            ("subsample", 0 < self.subsample <= 1, "in (0, 1]"),
            ("colsample", 0 < self.colsample <= 1, "in (0, 1]"),
            ("reg_lambda", self.reg_lambda >= 0, "non-negative"),
            ("path_smooth", self.path_smooth >= 0, "non-negative"),
            ("num_threads", isinstance(self.num_threads, int) and self.num_threads >= 1,
             "an integer >= 1"),
            ("large_rows", self.large_rows is None or (isinstance(self.large_rows, int)
                                                       and self.large_rows >= 1000),
             "None or an integer >= 1000"),
            ("large_learning_rate", 0 < self.large_learning_rate <= 1, "in (0, 1]"),
        ]
        for name, ok, what in checks:
            if not ok:
                raise BadInputError(f"{name} must be {what}; got {getattr(self, name)!r}",
                                    field=name, value=getattr(self, name))
        for feature, sign in (self.monotone_constraints or {}).items():
            if feature not in names:
                raise BadInputError(f"monotone_constraints must name model features; got "
                                    f"{feature!r}", field="monotone_constraints", value=feature)
            if sign not in (-1, 0, 1):
                raise BadInputError(f"monotone_constraints[{feature!r}] must be -1, 0 or 1; "
                                    f"got {sign!r}", field="monotone_constraints", value=sign)

    def _params(self, n_rows: int | None = None) -> dict[str, Any]:
        """LightGBM parameters; ``n_rows`` (rows boosted on) above ``large_rows`` selects
        the large-table settings (see :meth:`fit`)."""
        lr, bagging = self.learning_rate, self.subsample
        if self.large_rows is not None and n_rows is not None and n_rows > self.large_rows:
            lr = max(lr, self.large_learning_rate)
            bagging = min(bagging, self.large_rows / n_rows)
        return {"objective": "binary", "learning_rate": lr,
                "num_leaves": self.num_leaves, "min_child_samples": self.min_child_samples,
                "bagging_fraction": bagging, "bagging_freq": 1 if bagging < 1 else 0,
                "feature_fraction": self.colsample, "lambda_l2": self.reg_lambda,
                "seed": self.random_state, "deterministic": True, "force_row_wise": True,
                "num_threads": self.num_threads, "verbose": -1, "max_cat_to_onehot": 8,
                "cat_smooth": 10.0, "path_smooth": self.path_smooth}

    def _encode(self, X: pd.DataFrame) -> pd.DataFrame:
        out: dict[str, Any] = {}
        for name in self.features_:
            col = X[name]
            if name in self.category_maps_:
                codes = col.map(self.category_maps_[name]).astype("float64")
                codes = codes.fillna(float(_OTHER))
                codes[col.isna().to_numpy()] = np.nan
                out[name] = codes
            else:
                out[name] = pd.to_numeric(col, errors="coerce").astype("float64")
        return pd.DataFrame(out, index=X.index)

    def fit(self, X: pd.DataFrame, y: Any) -> GBMModel:
        """Early-stop on a stratified validation split, then (by default) refit on all rows."""
        import lightgbm as lgb

        X, yy = _check_xy(X, y)
        names = [str(c) for c in X.columns]
        self._validate_params(names)
        self.features_ = names
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_features_in_ = len(names)
        self.classes_ = np.array([0, 1])
        self.category_maps_: dict[str, dict[str, int]] = {}
        for name in names:
            if not pd.api.types.is_numeric_dtype(X[name]):
                counts = X[name].dropna().astype(str).value_counts()
                kept = sorted(counts[counts >= self.min_category_count].index)
                self.category_maps_[name] = {c: i + 1 for i, c in enumerate(kept)}
        data = self._encode(X)
        cats = [n for n in names if n in self.category_maps_]
        fit_idx, val_idx = train_test_split(np.arange(len(yy)), test_size=self.validation_fraction,
                                            stratify=yy, random_state=self.random_state)
        # Large tables (more than ``large_rows`` rows to boost on): each tree sees about
        # ``large_rows`` bagged rows, the learning rate is ``large_learning_rate``, the
        # early-stopping patience shrinks in proportion (the same distance in learning-rate
        # units) and there is no refit. See docs/risk.md "Large tables".
        self.large_ = self.large_rows is not None and len(fit_idx) > self.large_rows
        params = self._params(len(fit_idx))
        if self.monotone_constraints:
            params["monotone_constraints"] = [int(self.monotone_constraints.get(n, 0))
                                              for n in names]
        patience = self.early_stopping_rounds
        if self.large_:
            patience = max(10, round(patience * self.learning_rate / params["learning_rate"]))
        train_set = lgb.Dataset(data.iloc[fit_idx], yy[fit_idx], categorical_feature=cats,
                                free_raw_data=False)
        valid_set = lgb.Dataset(data.iloc[val_idx], yy[val_idx], reference=train_set,
                                categorical_feature=cats)
        booster = lgb.train(params, train_set, num_boost_round=self.n_estimators,
                            valid_sets=[valid_set],
                            callbacks=[lgb.early_stopping(patience, verbose=False)])
        best = max(int(booster.best_iteration or booster.current_iteration()), 1)
        self.best_iteration_ = best
        self.validation_auc_ = float(booster.best_score["valid_0"].get("auc", np.nan)) \
            if "valid_0" in booster.best_score else float("nan")
        if self.refit and not self.large_:
            rounds = max(round(best / (1.0 - self.validation_fraction)), 1)
            booster = lgb.train(params, lgb.Dataset(data, yy, categorical_feature=cats),
                                num_boost_round=rounds)
            self.n_trees_ = rounds
        else:
            self.n_trees_ = best
        self.booster_ = booster
        return self

    def _check_X(self, X: Any) -> pd.DataFrame:
        check_is_fitted(self, "booster_")
        return require_frame(X, self.features_)

    def predict_proba(self, X: pd.DataFrame, *, num_threads: int | None = None) -> np.ndarray:
        """Columns: P(good), P(bad).

        Rows go to LightGBM in chunks on ``num_threads`` Python threads (default: every
        core), each chunk walked by one LightGBM thread: no OpenMP team that could spin
        on a busy core, and the result is the same whatever the thread count.
        """
        data = self._matrix(X)
        threads = num_threads if num_threads is not None else (os.cpu_count() or 1)
        p = np.empty(len(data))
        booster, n_trees = self.booster_, self.n_trees_

        def work(lo: int, hi: int) -> None:
            p[lo:hi] = booster.predict(data[lo:hi], num_iteration=n_trees, num_threads=1)

        run_in_chunks(len(data), work, threads, chunk=65_536)
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """1 where PD > 0.5 (use :mod:`creditdesk.risk.policy` for real decisions)."""
        return (self.predict_proba(X)[:, 1] > 0.5).astype(int)

    def _matrix(self, X: Any) -> np.ndarray:
        """Encoded features as one C-ordered float64 array (LightGBM's fastest input)."""
        return np.ascontiguousarray(self._encode(self._check_X(X)).to_numpy(dtype=np.float64))

    def explain(self, X: pd.DataFrame, method: str = "shap", *,
                num_threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """PD and per-feature contributions to the log-odds of default, in one pass.

        ``method="shap"``: exact TreeSHAP, LightGBM's ``pred_contrib`` values
        looked up per tree and cell (:mod:`creditdesk.risk.treeshap`).
        ``method="saabas"``: path attributions from leaf look-up tables
        (:mod:`creditdesk.risk.paths`), an approximation of SHAP. Either way
        the contributions plus a constant add up to the row's log-odds, so the
        PD is taken from them and the trees are walked once.

        Rows are processed in chunks of :data:`CHUNK_ROWS` on ``num_threads``
        threads (default: the model's ``num_threads``): both paths release
        Python's lock while they work. Results do not depend on the thread
        count or the chunking (every row is computed on its own).
        """
        if method not in REASON_METHODS:
            raise BadInputError(f"reason method must be one of {', '.join(REASON_METHODS)}; "
                                f"got {method!r}", field="reason_method", value=method)
        data = self._matrix(X)  # checks fitted and columns before the booster is touched
        threads = self.num_threads if num_threads is None else num_threads
        n = len(data)
        contrib = np.empty((n, len(self.features_)))
        raw = np.empty(n)
        booster, n_trees = self.booster_, self.n_trees_
        if method == "shap":
            shap = self._shap_tables()
            shap.prepare(data, threads)  # a cold table fills in one go, not chunk by chunk

            def work(lo: int, hi: int) -> None:
                part = contrib[lo:hi]
                shap.contributions(data[lo:hi], out=part)
                raw[lo:hi] = part.sum(axis=1) + shap.bias
        else:
            tables = self._path_tables()

            def work(lo: int, hi: int) -> None:
                leaves = booster.predict(data[lo:hi], num_iteration=n_trees, pred_leaf=True,
                                         num_threads=1)
                part = contrib[lo:hi]
                tables.contributions(np.asarray(leaves).reshape(hi - lo, -1), out=part)
                raw[lo:hi] = part.sum(axis=1) + tables.bias
        run_in_chunks(n, work, threads)
        return 1.0 / (1.0 + np.exp(-raw)), contrib

    def contributions(self, X: pd.DataFrame, method: str = "shap", *,
                      num_threads: int | None = None) -> np.ndarray:
        """Contributions to the log-odds of default, shape (rows, features); see :meth:`explain`."""
        return self.explain(X, method, num_threads=num_threads)[1]

    def _shap_tables(self) -> ShapTables:
        # one cell layout per fitted booster; its tables fill as batches need them
        from creditdesk.risk.treeshap import shap_tables

        cached = getattr(self, "_shap_cache", None)
        if cached is None or cached[0] is not self.booster_:
            cached = (self.booster_, shap_tables(self.booster_, self.n_trees_))
            self._shap_cache = cached
        return cached[1]

    def _path_tables(self) -> PathTables:
        # built once per fitted booster from its own dump; cheap (~0.1 s for 300 trees)
        cached = getattr(self, "_paths_cache", None)
        if cached is None or cached[0] is not self.booster_:
            tables = path_tables(self.booster_.dump_model(num_iteration=self.n_trees_),
                                 self.n_trees_)
            cached = (self.booster_, tables)
            self._paths_cache = cached
        return cached[1]

    def feature_importance(self) -> dict[str, float]:
        """Total gain per feature."""
        check_is_fitted(self, "booster_")
        gains = self.booster_.feature_importance(importance_type="gain")
        return {n: float(g) for n, g in zip(self.features_, gains, strict=True)}

    # -- plain-data state (see creditdesk.risk.artifact) ----------------------------

    def to_state(self) -> tuple[dict[str, Any], str]:
        """JSON-ready metadata and LightGBM's own text model."""
        check_is_fitted(self, "booster_")
        meta = {"params": self.get_params(), "features": list(self.features_),
                "category_maps": self.category_maps_, "n_trees": int(self.n_trees_),
                "best_iteration": int(self.best_iteration_)}
        return meta, self.booster_.model_to_string(num_iteration=self.n_trees_)

    @classmethod
    def from_state(cls, meta: dict[str, Any], model_text: str) -> GBMModel:
        """Rebuild a fitted model from :meth:`to_state`."""
        import lightgbm as lgb

        try:
            model = cls(**meta["params"])
            model.features_ = [str(f) for f in meta["features"]]
            model.category_maps_ = {k: {str(c): int(i) for c, i in v.items()}
                                    for k, v in meta["category_maps"].items()}
            model.n_trees_ = int(meta["n_trees"])
            model.best_iteration_ = int(meta["best_iteration"])
            booster = lgb.Booster(model_str=model_text)
        except (KeyError, TypeError, ValueError, lgb.basic.LightGBMError) as exc:
            raise BadInputError(f"gbm model state is not valid: {exc}") from exc
        if booster.num_feature() != len(model.features_):
            raise BadInputError("gbm model state is not valid: feature count disagrees "
                                f"({booster.num_feature()} vs {len(model.features_)})")
        model.booster_ = booster
        model.feature_names_in_ = np.asarray(model.features_, dtype=object)
        model.n_features_in_ = len(model.features_)
        model.classes_ = np.array([0, 1])
        return model
