"""Validation metrics for PD models: discrimination, calibration, information value.

These are the figures a model-validation team asks for first. AUC comes from
scikit-learn; the rest are short and written out so their definitions are on
the page:

* Gini = 2 x AUC - 1;
* KS = the largest gap between the cumulative score distributions of bads and
  goods (0..1);
* Brier score = mean squared error of the PD;
* log loss = mean negative log-likelihood (PD clipped to [1e-15, 1 - 1e-15]);
* calibration by decile: rows sorted by PD into ten equal groups, mean PD
  against the observed bad rate in each;
* information value of a feature: sum over bins of (good share - bad share)
  x ln(good share / bad share), with numeric features cut into (up to) ten
  quantile bins plus a missing bin, categorical ones by category (rare ones
  pooled), and half-count smoothing so an empty cell stays finite.

>>> import numpy as np
>>> y = np.array([0, 0, 1, 1]); p = np.array([0.1, 0.4, 0.35, 0.8])
>>> round(auc(y, p), 4), round(ks_statistic(y, p), 4)
(0.75, 0.5)
>>> round(brier_score(y, p), 4)
0.1581
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score, roc_curve

from creditdesk.errors import BadInputError

__all__ = [
    "auc",
    "brier_score",
    "calibration_by_decile",
    "gini",
    "information_value",
    "ks_statistic",
    "log_loss",
    "summary",
]


def _check(y: Any, p: Any) -> tuple[np.ndarray, np.ndarray]:
    yy = np.asarray(y, dtype=float)
    pp = np.asarray(p, dtype=float)
    if yy.shape != pp.shape or yy.ndim != 1:
        raise BadInputError(f"y and pd must be 1-D of equal length; got {yy.shape} and {pp.shape}")
    if len(np.unique(yy)) != 2 or not np.isin(yy, [0, 1]).all():
        raise BadInputError("y must hold both 0 and 1 to compute the metric; got "
                            f"{np.unique(yy)[:5].tolist()}", field="y")
    return yy, pp


def auc(y: Any, p: Any) -> float:
    """Area under the ROC curve."""
    yy, pp = _check(y, p)
    return float(roc_auc_score(yy, pp))


def gini(y: Any, p: Any) -> float:
    """Accuracy ratio (Somers' D): 2 x AUC - 1."""
    return 2.0 * auc(y, p) - 1.0


def ks_statistic(y: Any, p: Any) -> float:
    """Kolmogorov-Smirnov: max |TPR - FPR| over all thresholds."""
    yy, pp = _check(y, p)
    fpr, tpr, _ = roc_curve(yy, pp)
    return float(np.max(tpr - fpr))


def brier_score(y: Any, p: Any) -> float:
    """Mean squared error of the predicted PD."""
    yy, pp = _check(y, p)
    return float(np.mean((pp - yy) ** 2))


def log_loss(y: Any, p: Any) -> float:
    """Mean negative log-likelihood (binary cross-entropy)."""
    yy, pp = _check(y, p)
    q = np.clip(pp, 1e-15, 1 - 1e-15)
    return float(-np.mean(yy * np.log(q) + (1 - yy) * np.log(1 - q)))


def calibration_by_decile(y: Any, p: Any, n_groups: int = 10) -> list[dict[str, float]]:
    """Mean PD and observed bad rate in groups of equal size, lowest PD first.

    >>> rows = calibration_by_decile([0, 1] * 10, [0.2, 0.8] * 10, n_groups=2)
    >>> [(r["mean_pd"], r["bad_rate"]) for r in rows]
    [(0.2, 0.0), (0.8, 1.0)]
    """
    yy = np.asarray(y, dtype=float)
    pp = np.asarray(p, dtype=float)
    order = np.argsort(pp, kind="stable")
    out = []
    for i, idx in enumerate(np.array_split(order, n_groups)):
        if len(idx) == 0:
            continue
        out.append({"group": i + 1, "count": len(idx), "min_pd": float(pp[idx].min()),
                    "max_pd": float(pp[idx].max()), "mean_pd": float(pp[idx].mean()),
                    "bad_rate": float(yy[idx].mean())})
    return out


def _bin_codes(values: pd.Series, max_bins: int, min_share: float) -> np.ndarray:
    n = len(values)
    if pd.api.types.is_numeric_dtype(values):
        x = values.to_numpy(dtype=float)
        finite = x[~np.isnan(x)]
        codes = np.full(n, -1, dtype=np.int64)
        if len(finite):
            edges = np.unique(np.quantile(finite, np.linspace(0, 1, max_bins + 1)[1:-1]))
            codes[~np.isnan(x)] = np.searchsorted(edges, finite, side="right")
        return codes
    counts = values.value_counts(dropna=True)
    common = counts[counts >= max(min_share * n, 1)].index
    mapping = {c: i for i, c in enumerate(common)}
    coded = values.map(mapping).fillna(len(mapping)).to_numpy(dtype=np.int64)
    coded = np.array(coded)
    coded[values.isna().to_numpy()] = -1
    return coded


def information_value(values: pd.Series, y: Any, *, max_bins: int = 10,
                      min_share: float = 0.01) -> float:
    """Information value of one feature against a 0/1 target.

    >>> import pandas as pd
    >>> round(information_value(pd.Series([1, 1, 2, 2]), [0, 0, 1, 1]), 3)
    3.219
    """
    yy = np.asarray(y, dtype=np.int64)
    codes = _bin_codes(values, max_bins, min_share)
    codes = codes - codes.min()
    bad = np.bincount(codes, weights=yy).astype(float)
    count = np.bincount(codes).astype(float)
    used = count > 0
    bad, good = bad[used], count[used] - bad[used]
    tb, tg = max(bad.sum(), 1.0), max(good.sum(), 1.0)
    bs, gs = (bad + 0.5) / tb, (good + 0.5) / tg
    return float(np.sum((good / tg - bad / tb) * np.log(gs / bs)))


def summary(y: Any, p: Any) -> dict[str, Any]:
    """Every discrimination and calibration figure for one sample, JSON-ready."""
    yy, pp = _check(y, p)
    return {"n": len(yy), "bad_rate": float(yy.mean()), "mean_pd": float(pp.mean()),
            "auc": auc(yy, pp), "gini": gini(yy, pp), "ks": ks_statistic(yy, pp),
            "brier": brier_score(yy, pp), "log_loss": log_loss(yy, pp),
            "calibration": calibration_by_decile(yy, pp)}
