"""Real-data calibration targets for the digital twin.

Why this module: a simulator is only worth trusting if what it produces looks
like what real borrowers did. Two public data sets give the targets the twin is
calibrated against, and this module computes them once, in one place, as pure
functions so that the calibration, its tests and ``creditdesk simulate
calibrate --json`` all quote the same figures.

* Month-to-month repayment-status transitions of 30,000 Taiwanese card holders
  (Yeh & Lien 2009, UCI id 350, CC BY 4.0, shipped with the package): how
  often a customer who paid duly, revolved, or was 1, 2, 3+ months late in one
  month is in each status the next month (:func:`taiwan_transitions`).
* What a stronger collection effort adds: the jump in actual recovery where the
  bank's recovery strategy steps up at an expected recovery of 1000
  (DataCamp's "Which debts are worth the bank's effort?" teaching data, a sharp
  regression-discontinuity design; research use only, so it is read from
  ``../shared/data`` and never shipped, :func:`debt_recovery_effect`).

A caveat on the Taiwan data, kept visible because it shapes any fit: status 1
("one month late") appears 3,688 times in September (``PAY_0``) but only 34
times in April-August (``PAY_2``..``PAY_6``), where customers mostly jump from
revolving straight to 2. The ``late_1`` row therefore rests on few
observations (all 34 stay at 1), and nobody is seen moving from duly or
revolving straight to 3+. Weight gaps by ``counts`` when fitting.

>>> table = taiwan_transitions()
>>> int(table.counts.sum()), table.states[0]
(150000, 'duly')
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from creditdesk.errors import BadInputError

__all__ = [
    "MERGE",
    "MERGED_STATES",
    "STATES",
    "RddResult",
    "TransitionTable",
    "debt_recovery_data",
    "debt_recovery_effect",
    "max_abs_gap",
    "merge_counts",
    "merged_gap",
    "rdd_jump",
    "status_codes",
    "taiwan_transitions",
    "transition_counts",
]

STATES: tuple[str, ...] = ("duly", "revolving", "late_1", "late_2", "late_3plus")
"""Monthly repayment statuses, in index order 0..4 (see :func:`status_codes`)."""

TAIWAN_PAY_OLDEST_FIRST: tuple[str, ...] = ("PAY_6", "PAY_5", "PAY_4", "PAY_3", "PAY_2", "PAY_0")
"""The Taiwan status columns April..September 2005 (the data set has no ``PAY_1``)."""

DEBT_RECOVERY_FILE = Path("debt_recovery") / "bank_data.csv"
DEBT_RECOVERY_COLUMNS = ("expected_recovery_amount", "actual_recovery_amount")
MIN_ROWS_PER_SIDE = 10

_N = len(STATES)


def status_codes(pay: np.ndarray) -> np.ndarray:
    """Map raw Taiwan ``PAY`` values to state indices 0..4 of :data:`STATES`.

    Why collapse: -2 (no consumption) and -1 (paid duly) both mean nothing is
    owed late, and 3..8 months late are too rare to fit one by one, so the twin
    is calibrated on five states: <= -1 duly, 0 revolving, 1, 2, >= 3 late.

    >>> status_codes(np.array([-2, -1, 0, 1, 2, 3, 8])).tolist()
    [0, 0, 1, 2, 3, 4, 4]
    """
    raw = np.asarray(pay)
    if raw.dtype.kind not in "iuf":
        raise BadInputError(f"PAY values must be numbers, got dtype {raw.dtype}", field="pay",
                            value=str(raw.dtype))
    if raw.dtype.kind == "f":
        bad = ~np.isfinite(raw) | (raw != np.round(raw))
        if bad.any():
            raise BadInputError("PAY values must be whole numbers", field="pay",
                                value=raw[bad].flat[0].item())
    return np.clip(raw, -1, 3).astype(np.int64) + 1


def transition_counts(statuses: np.ndarray) -> np.ndarray:
    """Count month-to-month transitions between states, a 5x5 int64 matrix.

    ``statuses`` is (n_customers, n_months) of state indices, OLDEST month
    first; cell [i, j] counts the customer-months in state i followed by state
    j the next month. A negative index means "missing" (say, the account was
    not yet open) and any pair with a missing side is left out, so that gaps
    never create transitions that did not happen.

    >>> transition_counts(np.array([[0, 0, 1], [1, 3, -1]])).tolist()[:2]
    [[1, 1, 0, 0, 0], [0, 0, 0, 1, 0]]
    """
    s = np.asarray(statuses)
    if s.ndim != 2:
        raise BadInputError(f"statuses must be 2-d (customers x months), got {s.ndim}-d",
                            field="statuses", value=s.shape)
    if s.dtype.kind not in "iu":
        raise BadInputError(f"statuses must be integer state indices, got dtype {s.dtype}",
                            field="statuses", value=str(s.dtype))
    if s.size and s.max() >= _N:
        raise BadInputError(f"state indices run 0..{_N - 1} (negative = missing)",
                            field="statuses", value=int(s.max()))
    src, dst = s[:, :-1].ravel(), s[:, 1:].ravel()
    keep = (src >= 0) & (dst >= 0)
    flat = np.bincount(src[keep].astype(np.int64) * _N + dst[keep], minlength=_N * _N)
    return flat.reshape(_N, _N).astype(np.int64)


#: the fit compares 4 states: late_1 and late_2 merged. In PAY_2..PAY_6 the Taiwan data
#: almost never codes "1 month late" (34 of 150,000 monthly statuses; 3,688 in PAY_0
#: alone): accounts show up as "2" in their first late month. Merging the two keeps
#: the real information (how many fall behind, how many cure) without asking the
#: ledger to skip a month of arrears.
MERGE = np.array([0, 1, 2, 2, 3])
MERGED_STATES = ("duly", "revolving", "late_1_2", "late_3plus")


def merge_counts(counts: np.ndarray) -> np.ndarray:
    """5x5 transition counts summed into the 4 merged states (late_1 + late_2).

    >>> merge_counts(np.eye(5)).tolist()[2]
    [0.0, 0.0, 2.0, 0.0]
    """
    a = np.zeros((5, 4))
    a[np.arange(5), MERGE] = 1.0
    return np.asarray(a.T @ counts @ a)


def merged_gap(real: np.ndarray, simulated: np.ndarray) -> tuple[float, str, str]:
    """Largest absolute gap between two 5x5 count matrices once late_1 and late_2 merge.

    >>> merged_gap(np.eye(5), np.eye(5))
    (0.0, 'duly', 'duly')
    """
    a = merge_counts(np.asarray(real, dtype=float))
    b = merge_counts(np.asarray(simulated, dtype=float))
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = np.abs(a / a.sum(axis=1, keepdims=True) - b / b.sum(axis=1, keepdims=True))
    if np.isnan(diff).all():
        raise BadInputError("no merged row is known on both sides", field="counts", value=None)
    i, j = np.unravel_index(int(np.nanargmax(diff)), diff.shape)
    return float(diff[i, j]), MERGED_STATES[int(i)], MERGED_STATES[int(j)]


def _row_normalise(counts: np.ndarray) -> np.ndarray:
    totals = counts.sum(axis=1, keepdims=True).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, counts / np.where(totals > 0, totals, 1.0), np.nan)


@dataclass(frozen=True)
class TransitionTable:
    """Transition counts and row-normalised probabilities between :data:`STATES`.

    ``probabilities[i]`` is NaN where state i was never observed as a "from"
    state: an unknown row, not a row of zeros.

    >>> t = TransitionTable.from_counts(np.array([[3, 1, 0, 0, 0]] + [[0] * 5] * 4))
    >>> probs = t.to_dict()["probabilities"]
    >>> probs["duly"]["revolving"], probs["late_2"]["late_2"]
    (0.25, None)
    """

    counts: np.ndarray
    probabilities: np.ndarray
    states: tuple[str, ...] = field(default=STATES)

    @classmethod
    def from_counts(cls, counts: np.ndarray) -> TransitionTable:
        """Build the table from a 5x5 count matrix."""
        c = np.asarray(counts)
        if c.shape != (_N, _N) or c.dtype.kind not in "iu" or (c < 0).any():
            raise BadInputError(f"counts must be a {_N}x{_N} matrix of non-negative integers",
                                field="counts", value=c.shape)
        c = c.astype(np.int64)
        return cls(counts=c, probabilities=_row_normalise(c))

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly: ``{"states", "probabilities": {from: {to: p}}, "counts": ...}``.

        Unknown (NaN) probabilities become ``None`` so that ``json.dumps`` emits
        valid JSON (``null``), never ``NaN``.
        """
        probs = {
            a: {b: (None if np.isnan(p) else float(p)) for b, p in zip(self.states, row, strict=True)}
            for a, row in zip(self.states, self.probabilities, strict=True)
        }
        counts = {a: {b: int(n) for b, n in zip(self.states, row, strict=True)}
                  for a, row in zip(self.states, self.counts, strict=True)}
        return {"states": list(self.states), "probabilities": probs, "counts": counts,
                "total": int(self.counts.sum())}


def taiwan_transitions() -> TransitionTable:
    """The real monthly status transitions of the Taiwan card holders (April-September 2005).

    Uses the copy shipped in the package (:func:`creditdesk.datasets.taiwan_credit_default`):
    30,000 customers x 5 month-to-month steps give 150,000 transitions, none missing.

    >>> t = taiwan_transitions()
    >>> np.allclose(t.probabilities.sum(axis=1), 1.0), round(float(t.probabilities[0, 0]), 3)
    (True, 0.848)
    """
    from creditdesk.datasets import taiwan_credit_default

    frame = taiwan_credit_default()
    pay = frame[list(TAIWAN_PAY_OLDEST_FIRST)].to_numpy()
    return TransitionTable.from_counts(transition_counts(status_codes(pay)))


def max_abs_gap(a: np.ndarray | TransitionTable, b: np.ndarray | TransitionTable
                ) -> tuple[float, str, str]:
    """The largest absolute difference between two probability matrices, and where it is.

    Why: "simulated matches real" needs one number that a test or a human can
    read; the worst cell (from-state, to-state) says what to fix. Cells where
    either side is NaN (a state never observed) are ignored; no weighting.

    >>> real = np.array([[.9, .1, 0, 0, 0], [.2, .8, 0, 0, 0]] + [[np.nan] * 5] * 3)
    >>> sim = np.array([[.7, .2, .1, 0, 0], [.2, .75, .05, 0, 0]] + [[.2] * 5] * 3)
    >>> gap, frm, to = max_abs_gap(real, sim)
    >>> round(gap, 3), frm, to
    (0.2, 'duly', 'duly')
    """
    pa = a.probabilities if isinstance(a, TransitionTable) else np.asarray(a, dtype=float)
    pb = b.probabilities if isinstance(b, TransitionTable) else np.asarray(b, dtype=float)
    if pa.shape != (_N, _N) or pb.shape != (_N, _N):
        raise BadInputError(f"both matrices must be {_N}x{_N}", field="probabilities",
                            value=(pa.shape, pb.shape))
    diff = np.abs(pa - pb)
    if np.isnan(diff).all():
        raise BadInputError("no cell is known on both sides", field="probabilities", value=None)
    i, j = np.unravel_index(int(np.nanargmax(diff)), diff.shape)
    return float(diff[i, j]), STATES[int(i)], STATES[int(j)]


def _data_dirs(data_dir: Path | None) -> list[Path]:
    if data_dir is not None:
        return [Path(data_dir)]
    env = os.environ.get("CREDITDESK_DATA_DIR")
    if env:
        return [Path(env)]
    repo_root = Path(__file__).resolve().parents[3]
    return [Path.cwd().parent / "shared" / "data", repo_root.parent / "shared" / "data"]


def debt_recovery_data(data_dir: Path | None = None) -> pl.DataFrame:
    """The debt-recovery teaching data set (``debt_recovery/bank_data.csv``), 1,882 debts.

    Why read it from outside: it is a DataCamp teaching set for research use, so
    it may not be shipped inside the package. Looked for in ``data_dir``, else
    in ``$CREDITDESK_DATA_DIR``, else in ``../shared/data`` relative to the
    current directory and to the repository. An explicit location is not
    second-guessed: if the file is not there, the error names it.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> (folder / "debt_recovery").mkdir()
    >>> _ = (folder / "debt_recovery" / "bank_data.csv").write_text(
    ...     "expected_recovery_amount,actual_recovery_amount\\n950,600.5\\n1050,990.0\\n")
    >>> debt_recovery_data(folder)["actual_recovery_amount"].to_list()
    [600.5, 990.0]
    """
    tried = [d / DEBT_RECOVERY_FILE for d in _data_dirs(data_dir)]
    path = next((p for p in tried if p.is_file()), None)
    if path is None:
        where = ", ".join(str(p) for p in tried)
        raise BadInputError(f"debt recovery data not found (looked for {where}); set "
                            "CREDITDESK_DATA_DIR to the folder that holds debt_recovery/",
                            field="data_dir", value=str(tried[0]))
    frame = pl.read_csv(path)
    missing = [c for c in DEBT_RECOVERY_COLUMNS if c not in frame.columns]
    if missing:
        raise BadInputError(f"{path} lacks column(s) {', '.join(missing)}", field="columns",
                            value=missing)
    return frame


@dataclass(frozen=True)
class RddResult:
    """A sharp regression-discontinuity estimate at ``threshold``.

    ``jump`` / ``se``: local linear with separate slopes on each side,
    ``y ~ 1 + (x - c) + D + D (x - c)``, HC1 standard error.
    ``common_slope_jump`` / ``common_slope_se``: ``y ~ 1 + x + D``, one slope,
    the specification of the DataCamp project. ``D`` is ``x >= threshold``.
    """

    jump: float
    se: float
    n_below: int
    n_above: int
    common_slope_jump: float
    common_slope_se: float
    threshold: float
    window: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly copy of the fields."""
        return {"jump": self.jump, "se": self.se, "n_below": self.n_below,
                "n_above": self.n_above, "common_slope_jump": self.common_slope_jump,
                "common_slope_se": self.common_slope_se, "threshold": self.threshold,
                "window": list(self.window)}


def _ols_hc1(design: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OLS coefficients and their HC1 (White, small-sample n/(n-k)) standard errors."""
    n, k = design.shape
    beta, _, rank, _ = np.linalg.lstsq(design, y, rcond=None)
    if rank < k or n <= k:
        raise BadInputError("the window does not identify the regression (x takes too few "
                            "distinct values on a side)", field="window", value=None)
    resid = y - design @ beta
    bread = np.linalg.inv(design.T @ design)
    meat = (design * resid[:, None] ** 2).T @ design
    cov = bread @ meat @ bread * (n / (n - k))
    return beta, np.sqrt(np.diag(cov))


def rdd_jump(x: np.ndarray | Sequence[float], y: np.ndarray | Sequence[float], threshold: float,
             window: tuple[float, float]) -> RddResult:
    """Sharp regression-discontinuity jump of ``y`` at ``x == threshold``.

    Why: treatment (here, a stronger collection strategy) switches on at a
    threshold of ``x``; debts just either side are alike but for the treatment,
    so the jump in ``y`` there is its effect. Uses the rows with
    ``window[0] <= x < window[1]``: the window is half-open, like ``D = x >=
    threshold``, so that adjacent windows tile the axis. This is also the
    DataCamp project's convention and reproduces its figure of about 278.
    Refuses windows that leave fewer than 10 rows on a side.

    >>> x = np.arange(0.0, 40.0)
    >>> y = 2.0 + 0.5 * x + 7.0 * (x >= 20)
    >>> r = rdd_jump(x, y, 20.0, (0.0, 40.0))
    >>> round(r.jump, 6), round(r.common_slope_jump, 6), r.n_below, r.n_above
    (7.0, 7.0, 20, 20)
    """
    xa = np.asarray(x, dtype=float)
    ya = np.asarray(y, dtype=float)
    if xa.ndim != 1 or xa.shape != ya.shape:
        raise BadInputError("x and y must be 1-d and of equal length", field="x",
                            value=(xa.shape, ya.shape))
    lo, hi = float(window[0]), float(window[1])
    if not lo < float(threshold) < hi:
        raise BadInputError(f"the threshold {threshold} must lie inside the window ({lo}, {hi})",
                            field="window", value=(lo, hi))
    inside = (xa >= lo) & (xa < hi)
    if not np.isfinite(ya[inside]).all():
        raise BadInputError("y has missing or infinite values inside the window", field="y",
                            value=None)
    xw, yw = xa[inside], ya[inside]
    above = (xw >= threshold).astype(float)
    n_above = int(above.sum())
    n_below = int(xw.size - n_above)
    if min(n_below, n_above) < MIN_ROWS_PER_SIDE:
        raise BadInputError(f"window ({lo}, {hi}) leaves {n_below} rows below and {n_above} "
                            f"above {threshold}; at least {MIN_ROWS_PER_SIDE} a side are needed",
                            field="window", value=(lo, hi))
    xc = xw - threshold
    ones = np.ones_like(xw)
    beta, se = _ols_hc1(np.column_stack([ones, xc, above, above * xc]), yw)
    beta_c, se_c = _ols_hc1(np.column_stack([ones, xw, above]), yw)
    return RddResult(jump=float(beta[2]), se=float(se[2]), n_below=n_below, n_above=n_above,
                     common_slope_jump=float(beta_c[2]), common_slope_se=float(se_c[2]),
                     threshold=float(threshold), window=(lo, hi))


def debt_recovery_effect(data_dir: Path | None = None, threshold: float = 1000.0,
                         window: tuple[float, float] = (900.0, 1100.0)) -> RddResult:
    """What the step from strategy Level 0 to Level 1 adds to actual recovery.

    The regression-discontinuity estimate of ``actual_recovery_amount`` on
    ``expected_recovery_amount`` at ``threshold`` (see :func:`rdd_jump`). With
    the defaults the common-slope jump is 277.6 (HC1 SE 88.8; DataCamp's "about
    278") and the separate-slopes jump 273.5 (SE 93.5), on 88 debts below and
    95 above, against the project's stated extra cost of about 50 per customer:
    the stronger effort pays. (With the window closed at 1100 as well, one more
    debt enters and the figures are 284.0 and 281.3.)

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> (folder / "debt_recovery").mkdir()
    >>> rows = [f"{x},{0.5 * x + 250 * (x >= 1000)}" for x in range(900, 1100, 5)]
    >>> _ = (folder / "debt_recovery" / "bank_data.csv").write_text(
    ...     "expected_recovery_amount,actual_recovery_amount\\n" + "\\n".join(rows))
    >>> round(debt_recovery_effect(folder).jump, 6)
    250.0
    """
    frame = debt_recovery_data(data_dir)
    return rdd_jump(frame["expected_recovery_amount"].to_numpy(),
                    frame["actual_recovery_amount"].to_numpy(), threshold, window)
