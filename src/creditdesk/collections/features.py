"""What the collection scores see of a case on the morning of a business date.

Only what a lender knows as of the previous close: the books (DPD, amounts, product,
the behaviour-score PD), the contact history of the last seven days (how many
contacts, how many reached the debtor), and the promise book (one pending, promises
broken). The same function builds the features for training (logged with each
decision, so a model never sees features computed differently from the ones it is
served: no training/serving skew) and for planning.

>>> f = case_features(dpd=[0, 12], days_to_due=[2, -12], total_due=[50_000, 80_000],
...                   overdue=[0, 80_000], is_loan=[False, True], pd=[0.05, float("nan")],
...                   contacts_7d=[0, 5], reached_7d=[0, 1], promise_pending=[False, True],
...                   broken=[0, 1])
>>> list(f.columns) == list(FEATURES), f["log_overdue"].round(2).tolist()
(True, [0.0, 11.29])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pandas import DataFrame

__all__ = ["FEATURES", "case_features"]

FEATURES = ("dpd", "days_to_due", "log_total_due", "log_overdue", "is_loan", "pd",
            "contacts_7d", "reached_7d", "promise_pending", "broken")


def case_features(*, dpd: Sequence[int] | np.ndarray, days_to_due: Sequence[int] | np.ndarray,
                  total_due: Sequence[int] | np.ndarray, overdue: Sequence[int] | np.ndarray,
                  is_loan: Sequence[bool] | np.ndarray, pd: Sequence[float] | np.ndarray,
                  contacts_7d: Sequence[int] | np.ndarray, reached_7d: Sequence[int] | np.ndarray,
                  promise_pending: Sequence[bool] | np.ndarray,
                  broken: Sequence[int] | np.ndarray) -> DataFrame:
    """One row per case, the columns of :data:`FEATURES` (floats; PD may be NaN)."""
    f = np.float64
    return DataFrame({
        "dpd": np.asarray(dpd, f),
        # before the due date: days left (0..); after it: -1 (the DPD says how late)
        "days_to_due": np.clip(np.asarray(days_to_due, f), -1, 40),
        "log_total_due": np.log1p(np.maximum(np.asarray(total_due, f), 0)),
        "log_overdue": np.log1p(np.maximum(np.asarray(overdue, f), 0)),
        "is_loan": np.asarray(is_loan, f),
        "pd": np.asarray(pd, f),
        "contacts_7d": np.asarray(contacts_7d, f),
        "reached_7d": np.asarray(reached_7d, f),
        "promise_pending": np.asarray(promise_pending, f),
        "broken": np.asarray(broken, f),
    }, columns=list(FEATURES))
