"""Train a PD model on any tabular data set and write the model folder.

The runner ties the pure parts together: read the table, infer column roles,
split (out-of-time when a time column is given, otherwise stratified), fit on
the training part, measure on the hold-out, run a stratified k-fold
cross-validation on the whole table for a steadier AUC, and write

* the model files and ``manifest.json`` (:mod:`creditdesk.risk.artifact`),
* ``metrics.json`` (hold-out AUC, Gini, KS, Brier, log loss, calibration by
  decile, IV per feature, CV AUC, the split and the columns not used),
* ``report.html`` (ROC, KS, calibration and score-distribution charts),
* for a scorecard, ``points_table.csv`` and ``points_table.html``.

The model shipped is the one fitted on the training part — the one whose
hold-out figures are reported — so the figures describe exactly that model.

>>> import tempfile
>>> from creditdesk.datasets import taiwan_credit_default
>>> frame = taiwan_credit_default().sample(1500, random_state=0)
>>> result = train(frame, "class", tempfile.mkdtemp(), TrainOptions(cv_folds=0))
>>> 0.6 < result.metrics["holdout"]["auc"] < 0.9
True
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from creditdesk.errors import BadInputError
from creditdesk.risk import metrics as m
from creditdesk.risk.artifact import save_model
from creditdesk.risk.data import (
    LARGE_ROWS,
    FeatureSchema,
    coerce_features,
    infer_schema,
    read_table,
    stratified_sample,
    target_vector,
    time_values,
)
from creditdesk.risk.gbm import GBMModel
from creditdesk.risk.report import points_table_html, training_report_html
from creditdesk.risk.scorecard import ScorecardModel, ScoreScaling

__all__ = ["TrainOptions", "TrainResult", "cross_validated_auc", "cv_folds_for", "make_model",
           "train"]

MODEL_TYPES = ("scorecard", "gbm")


@dataclass
class TrainOptions:
    """Everything a training run can be told; the defaults suit most books."""

    model: str = "scorecard"
    time_col: str | None = None
    test_size: float = 0.25
    cv_folds: int | None = None  # None: 5, or 0 (off) on tables above LARGE_ROWS rows
    pdo: float = 20.0
    base_score: float = 600.0
    base_odds: float = 50.0
    monotone: dict[str, int] = field(default_factory=dict)
    drop: list[str] = field(default_factory=list)
    random_state: int = 0
    num_threads: int = 1

    def validate(self) -> None:
        """Refuse options that cannot work, naming the option."""
        if self.model not in MODEL_TYPES:
            raise BadInputError(f"model must be one of {', '.join(MODEL_TYPES)}; got "
                                f"{self.model!r}", field="model", value=self.model)
        if not 0.05 <= self.test_size <= 0.5:
            raise BadInputError(f"test_size must be between 0.05 and 0.5; got {self.test_size}",
                                field="test_size", value=self.test_size)
        if self.cv_folds not in (None, 0) and not 2 <= self.cv_folds <= 20:
            raise BadInputError(f"cv_folds must be 0 (off) or between 2 and 20; got "
                                f"{self.cv_folds}", field="cv_folds", value=self.cv_folds)
        if not 1 <= self.num_threads <= 64:
            raise BadInputError(f"num_threads must be between 1 and 64; got {self.num_threads}",
                                field="num_threads", value=self.num_threads)
        if self.monotone and self.model != "gbm":
            raise BadInputError("monotone constraints apply to --model gbm only; the scorecard "
                                "finds monotone bins itself", field="monotone")
        ScoreScaling(self.pdo, self.base_score, self.base_odds)

    @property
    def scaling(self) -> ScoreScaling:
        """The score scaling asked for."""
        return ScoreScaling(self.pdo, self.base_score, self.base_odds)


@dataclass
class TrainResult:
    """What a run produced: the folder, its metrics and the fitted model."""

    out_dir: Path
    metrics: dict[str, Any]
    model: ScorecardModel | GBMModel
    schema: FeatureSchema
    files: list[str]


def make_model(options: TrainOptions) -> ScorecardModel | GBMModel:
    """A fresh, unfitted estimator for the options."""
    if options.model == "scorecard":
        return ScorecardModel(pdo=options.pdo, base_score=options.base_score,
                              base_odds=options.base_odds)
    return GBMModel(monotone_constraints=dict(options.monotone) or None,
                    random_state=options.random_state, num_threads=options.num_threads)


def _split(frame: pd.DataFrame, y: np.ndarray, schema: FeatureSchema, options: TrainOptions
           ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    n = len(frame)
    if options.time_col:
        t = time_values(frame, options.time_col).to_numpy()
        cut = np.sort(t)[min(int(n * (1 - options.test_size)), n - 1)]
        test = t >= cut
        if test.all():
            raise BadInputError(f"time column {options.time_col!r} must hold more than one "
                                "period to split out-of-time", field=options.time_col)
        train_idx, test_idx = np.flatnonzero(~test), np.flatnonzero(test)
        info = {"kind": "out-of-time", "time_col": options.time_col, "test_from": float(cut)}
    else:
        train_idx, test_idx = train_test_split(np.arange(n), test_size=options.test_size,
                                               stratify=y, random_state=options.random_state)
        info = {"kind": "stratified", "test_size": options.test_size}
    for name, idx in (("training", train_idx), ("hold-out", test_idx)):
        if len(np.unique(y[idx])) < 2:
            raise BadInputError(f"the {name} part must hold both classes of {schema.target!r}; "
                                "got one", field=schema.target)
    info.update({"n_train": len(train_idx), "n_test": len(test_idx)})
    return np.sort(train_idx), np.sort(test_idx), info


def cv_folds_for(options: TrainOptions, n_rows: int) -> int:
    """Folds to run: as asked, or by default 5 up to ``LARGE_ROWS`` rows and 0 above.

    On a large table the hold-out (a quarter of the rows, 50,000 or more) already
    measures the AUC within about ±0.005, and each fold would be another full fit.
    """
    if options.cv_folds is not None:
        return options.cv_folds
    return 5 if n_rows <= LARGE_ROWS else 0


def cross_validated_auc(X: pd.DataFrame, y: np.ndarray, options: TrainOptions, *,
                        on_fold: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Stratified k-fold AUC of the configured model on ``X``."""
    folds = StratifiedKFold(cv_folds_for(options, len(y)) or 5, shuffle=True,
                            random_state=options.random_state)
    aucs = []
    for i, (tr, te) in enumerate(folds.split(X, y)):
        model = make_model(options).fit(X.iloc[tr], y[tr])
        aucs.append(m.auc(y[te], model.predict_proba(X.iloc[te])[:, 1]))
        if on_fold:
            on_fold(i)
    return {"auc_folds": aucs, "auc_mean": float(np.mean(aucs)), "auc_std": float(np.std(aucs))}


def n_steps(options: TrainOptions) -> int:
    """How many progress steps :func:`train` reports."""
    return 4 + (5 if options.cv_folds is None else options.cv_folds)


def train(data: str | Path | pd.DataFrame, target: str, out_dir: str | Path,
          options: TrainOptions | None = None, *,
          on_step: Callable[[str], None] | None = None) -> TrainResult:
    """Train, validate and write a model folder; see the module docstring."""
    options = options or TrainOptions()
    options.validate()
    step = on_step or (lambda _msg: None)
    started = time.perf_counter()
    frame = read_table(data) if isinstance(data, str | Path) else data
    frame = frame.reset_index(drop=True)
    y = target_vector(frame, target)
    schema = infer_schema(frame, target, time_col=options.time_col, drop=options.drop)
    for feature in options.monotone:
        if feature not in schema.numeric:
            raise BadInputError(f"monotone constraint must name a numeric feature; got "
                                f"{feature!r}", field="monotone", value=feature)
    X = coerce_features(frame, schema)
    train_idx, test_idx, split_info = _split(frame, y, schema, options)
    step("data read and split")
    model = make_model(options).fit(X.iloc[train_idx], y[train_idx])
    step("model fitted")
    X_test, y_test = X.iloc[test_idx], y[test_idx]
    pd_test = model.predict_proba(X_test)[:, 1]
    scaling = model.scaling if isinstance(model, ScorecardModel) else options.scaling
    score_test = model.credit_score(X_test) if isinstance(model, ScorecardModel) \
        else scaling.score_from_pd(pd_test)
    cv = cross_validated_auc(X, y, options, on_fold=lambda i: step(f"cv fold {i + 1}")) \
        if cv_folds_for(options, len(frame)) else None
    iv = {f: m.information_value(X[f].iloc[train_idx], y[train_idx]) for f in schema.features}
    # training AUC on at most LARGE_ROWS training rows (a stratified sample on large tables)
    auc_rows = train_idx[stratified_sample(y[train_idx], LARGE_ROWS, options.random_state)]
    metrics: dict[str, Any] = {
        "model_type": options.model, "target": target, "n_rows": len(frame),
        "split": split_info,
        "holdout": m.summary(y_test, pd_test),
        "train_auc": m.auc(y[auc_rows], model.predict_proba(X.iloc[auc_rows])[:, 1]),
        "train_auc_rows": len(auc_rows),
        "cv": cv, "iv": iv, "dropped": schema.dropped,
        "features": {"numeric": schema.numeric, "categorical": schema.categorical,
                     "dates": schema.dates},
        "scaling": {"pdo": scaling.pdo, "base_score": scaling.base_score,
                    "base_odds": scaling.base_odds},
    }
    if isinstance(model, ScorecardModel):
        metrics["scorecard"] = {"selected": list(model.features_), "binning_iv": model.iv_}
    else:
        metrics["gbm"] = {"best_iteration": model.best_iteration_, "n_trees": model.n_trees_,
                          "gain": model.feature_importance(),
                          "monotone": dict(options.monotone)}
    metrics["seconds"] = round(time.perf_counter() - started, 2)
    step("metrics computed")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False),
                                      encoding="utf-8")
    (out / "report.html").write_text(training_report_html(metrics, y_test, pd_test, score_test),
                                     encoding="utf-8")
    files = ["metrics.json", "report.html"]
    if isinstance(model, ScorecardModel):
        table = model.points_table()
        table.to_csv(out / "points_table.csv", index=False)
        (out / "points_table.html").write_text(points_table_html(table), encoding="utf-8")
        files += ["points_table.csv", "points_table.html"]
    save_model(out, model, schema, scaling=scaling, extra_files=files,
               info={"holdout_auc": metrics["holdout"]["auc"],
                     "cv_auc": cv["auc_mean"] if cv else None})
    step("model folder written")
    return TrainResult(out_dir=out, metrics=metrics, model=model, schema=schema,
                       files=["manifest.json", *files])
