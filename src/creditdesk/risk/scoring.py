"""Apply a trained model: score rows, watch stability, study cut-offs.

Each function takes a verified :class:`~creditdesk.risk.artifact.ModelBundle`
and a raw table; the table goes through the same column treatment as at
training (:func:`~creditdesk.risk.data.coerce_features`), so missing columns
are refused by name, missing values and unseen categories are scored (they
fall into the missing / average-risk bins), and everything is vectorised.

>>> import tempfile
>>> from creditdesk.datasets import taiwan_credit_default
>>> from creditdesk.risk.train import TrainOptions, train
>>> frame = taiwan_credit_default().sample(1500, random_state=1)
>>> folder = tempfile.mkdtemp()
>>> _ = train(frame, "class", folder, TrainOptions(model="gbm", cv_folds=0))
>>> scored = score_table(load_model(folder), frame.head(3))
>>> list(scored.columns[:5])
['ID', 'pd', 'score', 'risk_band', 'decision']
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from creditdesk.errors import BadInputError
from creditdesk.risk.artifact import ModelBundle, load_model
from creditdesk.risk.data import coerce_features, target_vector
from creditdesk.risk.gbm import REASON_METHODS
from creditdesk.risk.monitor import MonitorResult, psi
from creditdesk.risk.policy import Policy, cutoff_table, decide, default_policy
from creditdesk.risk.reasons import reason_columns
from creditdesk.risk.scorecard import ScorecardModel

__all__ = ["cutoff_analysis", "load_model", "monitor_tables", "predict_pd_score",
           "score_table", "write_table"]


def predict_pd_score(bundle: ModelBundle, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """PD and scaled score of already-coerced feature rows."""
    model = bundle.model
    pd_ = model.predict_proba(features)[:, 1]
    if isinstance(model, ScorecardModel):
        return pd_, model.credit_score(features)
    return pd_, bundle.scaling.score_from_pd(pd_)


def _check_income(frame: pd.DataFrame, income_col: str | None) -> Any:
    if income_col is None:
        return None
    if income_col not in frame.columns:
        raise BadInputError(f"income column {income_col!r} is not in the data",
                            field="income_col", value=income_col)
    return frame[income_col].to_numpy()


def score_table(bundle: ModelBundle, frame: pd.DataFrame, *, policy: Policy | None = None,
                income_col: str | None = None, n_reasons: int = 3,
                reason_method: str = "shap", num_threads: int | None = None) -> pd.DataFrame:
    """PD, score, band, decision, price, limit and reason codes for every row.

    Id-like columns seen at training are carried through first, so results can
    be joined back. Reason values: points lost (scorecard) or the gbm's
    contribution to the log-odds of default — exact TreeSHAP by default
    (``reason_k_shap``), or Saabas path attributions when
    ``reason_method="saabas"`` (``reason_k_saabas``: an approximation of SHAP,
    now slower than the exact tables; the column name says which was used).
    ``n_reasons=0`` skips the reason codes. The model is evaluated once per
    row: the PD comes from the same pass as the reasons. ``num_threads``: threads
    for the gbm's reasons (default: every core, ``os.cpu_count()``).
    """
    policy = policy or default_policy()
    if n_reasons < 0:
        raise BadInputError(f"n_reasons must be 0 or more; got {n_reasons}", field="n_reasons",
                            value=n_reasons)
    if num_threads is not None and not 1 <= num_threads <= 256:
        raise BadInputError(f"num_threads must be between 1 and 256; got {num_threads}",
                            field="num_threads", value=num_threads)
    if reason_method not in REASON_METHODS:
        raise BadInputError(f"reason method must be one of {', '.join(REASON_METHODS)}; got "
                            f"{reason_method!r}", field="reason_method", value=reason_method)
    features = coerce_features(frame, bundle.schema)
    income = _check_income(frame, income_col)
    model = bundle.model
    adverse: np.ndarray | None = None
    value_name = "points_lost"
    if isinstance(model, ScorecardModel):
        points = model.points_matrix(features)  # binned once: score, PD and reasons from it
        score = points.sum(axis=1)
        pd_ = model.scaling.pd_from_score(score)
        if n_reasons:
            adverse = -model.points_lost(features, points=points)
    elif n_reasons:
        threads = num_threads if num_threads is not None else (os.cpu_count() or 1)
        pd_, adverse = model.explain(features, reason_method, num_threads=threads)
        score, value_name = bundle.scaling.score_from_pd(pd_), reason_method
    else:
        pd_, score = predict_pd_score(bundle, features)
    ids = [c for c, why in bundle.schema.dropped.items() if why.startswith("id") and
           c in frame.columns]
    out = frame[ids].reset_index(drop=True).copy()
    out["pd"] = pd_
    out["score"] = np.rint(score).astype(np.int64)
    parts = [out, decide(policy, pd_, income)]
    if adverse is not None:
        parts.append(reason_columns(adverse, model.features_, n_reasons, value_name=value_name))
    return pd.concat(parts, axis=1)


def write_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write CSV, or Parquet when the name ends in .parquet/.pq."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.suffix.lower() in {".parquet", ".pq"}:
        table.to_parquet(p, index=False)
    else:
        table.to_csv(p, index=False)
    return p


def monitor_tables(bundle: ModelBundle, baseline: pd.DataFrame, current: pd.DataFrame, *,
                   n_bins: int = 10) -> MonitorResult:
    """PSI of the score and of every model input, current against baseline, worst first."""
    base = coerce_features(baseline, bundle.schema)
    cur = coerce_features(current, bundle.schema)
    if len(base) == 0 or len(cur) == 0:
        raise BadInputError("baseline and current data must both have rows", field="data")
    _, base_score = predict_pd_score(bundle, base)
    _, cur_score = predict_pd_score(bundle, cur)
    score = psi(base_score, cur_score, name="score", n_bins=n_bins)
    feats = [psi(base[f], cur[f], name=f, n_bins=n_bins) for f in bundle.schema.features]
    feats.sort(key=lambda r: -r.psi)
    return MonitorResult(score=score, features=feats, n_baseline=len(base), n_current=len(cur))


def cutoff_analysis(bundle: ModelBundle, frame: pd.DataFrame, *, policy: Policy | None = None,
                    income_col: str | None = None, n_cutoffs: int = 10) -> list[dict[str, Any]]:
    """Approval rate, expected (and, with the target present, observed) bad rate and profit."""
    policy = policy or default_policy()
    features = coerce_features(frame, bundle.schema)
    pd_, score = predict_pd_score(bundle, features)
    target = bundle.schema.target
    y = target_vector(frame, target) if target in frame.columns else None
    return cutoff_table(policy, pd_, y=y, income=_check_income(frame, income_col),
                        scores=score, n_cutoffs=n_cutoffs)
