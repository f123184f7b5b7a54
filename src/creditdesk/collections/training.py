"""Train the collection scores from the books' own history: explore-arm decisions and outcomes.

The ``treatments`` table logs each decision of the ``optimized`` strategy with the
features it saw; rows of an explore arm carry the known randomisation propensity.
Only those rows train the uplift models: there the treatment was drawn at random, so
its effect is not mixed up with who a policy chose to contact (see
:mod:`creditdesk.collections.uplift`). Outcomes come from the books and the
complaints: the amount repaid on the account from the decision's date over
``horizon_days`` (capped at what was due that morning — a payment of next month's bill
is not this contact's doing), and whether the debtor complained within a week.

:func:`sql_training_rows` builds the query (pure), :func:`training_frame` runs it,
:func:`fit_models` fits the two uplift models and the self-cure score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from creditdesk.collections.complaints import ComplaintModel
from creditdesk.collections.features import FEATURES
from creditdesk.collections.optimize import CONTROL, CollectModels
from creditdesk.collections.scores import SelfCureModel
from creditdesk.collections.uplift import TreatmentUplift
from creditdesk.errors import BadInputError

__all__ = ["COMPLAINT_DAYS", "HORIZON_DAYS", "TrainedScores", "fit_models",
           "sql_training_rows", "training_frame"]

HORIZON_DAYS = 14
COMPLAINT_DAYS = 7
SELF_CURE_DAYS = 30


def sql_training_rows(horizon_days: int = HORIZON_DAYS, complaint_days: int = COMPLAINT_DAYS,
                      self_cure_days: int = SELF_CURE_DAYS) -> str:
    """Explore-arm decisions whose horizon has closed, with their outcomes.

    >>> "propensity IS NOT NULL" in sql_training_rows()
    True
    """
    feats = ", ".join(f"t.{f}" for f in FEATURES)
    return f"""
WITH last AS (SELECT max(business_date) AS d FROM closed_dates),
dec AS (
  SELECT t.* FROM treatments t, last
  WHERE t.propensity IS NOT NULL AND t.business_date + {max(horizon_days, self_cure_days)} <= last.d
),
paid AS (
  SELECT d.business_date, d.account_id,
         coalesce(sum(x.amount) FILTER (WHERE x.business_date < d.business_date + {horizon_days}),
                  0) AS paid_h,
         coalesce(sum(x.amount), 0) AS paid_cure
  FROM dec d LEFT JOIN transactions x
    ON x.account_id = d.account_id AND x.type = 'repayment'
   AND x.business_date >= d.business_date
   AND x.business_date < d.business_date + {self_cure_days}
  GROUP BY 1, 2
),
comp AS (
  SELECT d.business_date, d.account_id, count(c.customer_id) > 0 AS complained
  FROM dec d LEFT JOIN complaints c
    ON c.customer_id = d.customer_id AND c.business_date >= d.business_date
   AND c.business_date < d.business_date + {complaint_days}
  GROUP BY 1, 2
)
SELECT t.business_date, t.account_id, t.treatment, t.propensity, {feats},
       least(p.paid_h, t.total_due)::DOUBLE AS recovered,
       c.complained::INTEGER AS complained,
       (t.overdue > 0 AND p.paid_cure >= t.overdue)::INTEGER AS cured
FROM dec t JOIN paid p USING (business_date, account_id)
JOIN comp c USING (business_date, account_id)
ORDER BY t.business_date, t.account_id
"""


def training_frame(store: Any) -> pd.DataFrame:
    """The explore-arm rows and their outcomes, from a DuckDB store (twin or live)."""
    con = getattr(store, "con", store)
    frame: pd.DataFrame = con.sql(sql_training_rows()).df()
    return frame


@dataclass(frozen=True)
class TrainedScores:
    """The fitted models and what they were fitted on."""

    models: CollectModels
    self_cure: SelfCureModel | None
    rows: int
    rows_by_treatment: dict[str, int]


def fit_models(frame: pd.DataFrame, *, min_rows: int = 200, n_estimators: int = 300,
               random_state: int = 0) -> TrainedScores:
    """Fit the recovery uplift (T-learner), the complaint model and the self-cure score.

    Self-cure (probability the arrears are paid within 30 days with no contact) is fitted
    on the delinquent explore rows that drew "nothing".
    """
    if frame.empty:
        raise BadInputError("training data must have explore-arm rows whose horizon has "
                            "closed; got none", field="treatments", value=0)
    X = frame[list(FEATURES)]
    t = frame["treatment"].astype(str).to_numpy()
    common: dict[str, Any] = {"method": "t_learner", "control": CONTROL, "min_rows": min_rows,
              "n_estimators": n_estimators, "random_state": random_state}
    recovery = TreatmentUplift(objective="regression", **common).fit(
        X, t, frame["recovered"].to_numpy())
    complaint = ComplaintModel(n_estimators=n_estimators, learning_rate=0.05,
                               early_stopping_rounds=30, random_state=random_state).fit(
        X, t, frame["complained"].to_numpy(), control=CONTROL)
    idle = frame[(frame["treatment"] == CONTROL) & (frame["dpd"] > 0)]
    self_cure = None
    if len(idle) >= min_rows and idle["cured"].nunique() == 2:
        self_cure = SelfCureModel(n_estimators=n_estimators, learning_rate=0.05,
                                  early_stopping_rounds=30, random_state=random_state).fit(
            idle[list(FEATURES)], idle["cured"].to_numpy())
    counts = frame["treatment"].value_counts()
    return TrainedScores(CollectModels(recovery, complaint), self_cure, len(frame),
                         {str(k): int(v) for k, v in counts.items()})
