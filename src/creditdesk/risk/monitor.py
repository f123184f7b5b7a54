"""Population stability: has the scored population moved since the baseline?

PSI = sum over bins of (actual share - expected share) x ln(actual / expected).
Bins come from the *baseline*: ten quantile bins for numbers (ties merged),
one bin per category for categories (categories new in the current sample
land in an "other" bin), and a bin for missing values in both cases. Empty
cells get a share of 0.0001 so the logarithm stays finite — the usual
convention, written down so the figures can be reproduced by hand.

Bands, as the industry reads them: below 0.1 stable, 0.1 to 0.25 watch, above
0.25 shifted.

>>> import numpy as np
>>> round(psi_from_shares(np.array([0.5, 0.5]), np.array([0.6, 0.4])), 4)
0.0405
>>> psi_band(0.04), psi_band(0.1), psi_band(0.3)
('stable', 'watch', 'shifted')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["MonitorResult", "PSIResult", "psi", "psi_band", "psi_from_shares"]

_FLOOR = 1e-4
STABLE, WATCH = 0.1, 0.25


def psi_band(value: float) -> str:
    """'stable' below 0.1, 'watch' from 0.1 to 0.25, 'shifted' above."""
    if value < STABLE:
        return "stable"
    return "watch" if value <= WATCH else "shifted"


def psi_from_shares(expected: np.ndarray, actual: np.ndarray) -> float:
    """PSI of two share vectors over the same bins (empty cells floored at 0.0001)."""
    e = np.maximum(np.asarray(expected, dtype=float), _FLOOR)
    a = np.maximum(np.asarray(actual, dtype=float), _FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


@dataclass
class PSIResult:
    """PSI of one variable with the bins it was measured on."""

    name: str
    psi: float
    band: str
    bins: list[str] = field(default_factory=list)
    expected: list[float] = field(default_factory=list)
    actual: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"name": self.name, "psi": self.psi, "band": self.band, "bins": self.bins,
                "expected": self.expected, "actual": self.actual}


def _numeric_bins(base: np.ndarray, cur: np.ndarray, n_bins: int
                  ) -> tuple[list[str], np.ndarray, np.ndarray]:
    finite = base[~np.isnan(base)]
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, n_bins + 1)[1:-1])) \
        if len(finite) else np.zeros(0)
    k = len(edges) + 1

    def codes(x: np.ndarray) -> np.ndarray:
        out = np.searchsorted(edges, x, side="right")
        out[np.isnan(x)] = k
        return out

    lo = [-np.inf, *edges]
    hi = [*edges, np.inf]
    labels = [f"[{a:.6g}, {b:.6g})" for a, b in zip(lo, hi, strict=True)] + ["missing"]
    return labels, codes(base), codes(cur)


def _categorical_bins(base: pd.Series, cur: pd.Series) -> tuple[list[str], np.ndarray, np.ndarray]:
    cats = sorted(base.dropna().astype(str).unique().tolist())
    mapping = {c: i for i, c in enumerate(cats)}
    k = len(cats)

    def codes(s: pd.Series) -> np.ndarray:
        out = np.array(s.astype(str).map(mapping).fillna(k + 1).to_numpy(dtype=np.int64))
        out[s.isna().to_numpy()] = k
        return out

    return [*cats, "missing", "other"], codes(base), codes(cur)


def psi(baseline: Any, current: Any, *, name: str = "value", n_bins: int = 10) -> PSIResult:
    """PSI of one variable, numeric or categorical, binned on the baseline.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> psi(rng.normal(size=5000), rng.normal(size=5000)).band
    'stable'
    """
    b = pd.Series(baseline)
    c = pd.Series(current)
    if pd.api.types.is_numeric_dtype(b) and pd.api.types.is_numeric_dtype(c):
        labels, bc, cc = _numeric_bins(b.to_numpy(dtype=float), c.to_numpy(dtype=float), n_bins)
    else:
        labels, bc, cc = _categorical_bins(b, c)
    k = len(labels)
    e = np.bincount(bc, minlength=k) / max(len(bc), 1)
    a = np.bincount(cc, minlength=k) / max(len(cc), 1)
    keep = (e > 0) | (a > 0)
    value = psi_from_shares(e[keep], a[keep])
    return PSIResult(name=name, psi=value, band=psi_band(value),
                     bins=[lab for lab, kk in zip(labels, keep, strict=True) if kk],
                     expected=[float(x) for x in e[keep]], actual=[float(x) for x in a[keep]])


@dataclass
class MonitorResult:
    """PSI of the score and of every model feature, worst first."""

    score: PSIResult
    features: list[PSIResult]
    n_baseline: int
    n_current: int

    @property
    def status(self) -> str:
        """The worst band over the score and the features."""
        bands = [self.score.band, *(f.band for f in self.features)]
        for band in ("shifted", "watch"):
            if band in bands:
                return band
        return "stable"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"status": self.status, "n_baseline": self.n_baseline,
                "n_current": self.n_current, "score": self.score.to_dict(),
                "features": [f.to_dict() for f in self.features]}
