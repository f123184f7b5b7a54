"""P(complaint within a week) under each treatment: one pooled model, the treatment as inputs.

Why not one model per treatment as for recovery: complaints are rare (a fraction of a
percent of decisions), so a per-treatment model would have arms with no complaint at
all and nothing to learn from. One LightGBM classifier (an "S-learner", Künzel et al.
2019) sees the case's features plus the treatment described by its channel and local
hour, so what a robot call at 19:00 adds to the risk is learned from every voice
contact and every evening contact. Trained, like the recovery uplift, only on
explore-arm rows, where the treatment was drawn at random.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0); n = 6000
>>> X = pd.DataFrame({"contacts_7d": rng.integers(0, 20, n).astype(float)})
>>> t = rng.choice(["none", "sms@09:30", "agent@19:30"], n)
>>> p = 0.002 + 0.002 * X["contacts_7d"] * (t == "agent@19:30")
>>> y = (rng.random(n) < p).astype(int)
>>> m = ComplaintModel(n_estimators=60, early_stopping_rounds=10).fit(X, t, y)
>>> up = m.predict_uplift(pd.DataFrame({"contacts_7d": [0.0, 18.0]}))
>>> bool(up[1, m.treatments_.index("agent@19:30")] > up[0, m.treatments_.index("agent@19:30")])
True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from creditdesk.collections.scores import (
    as_frame,
    binary_target,
    load_gbm,
    save_gbm,
    scoring_frame,
    vector,
    versions,
)
from creditdesk.errors import BadInputError
from creditdesk.risk.gbm import GBMModel

__all__ = ["ComplaintModel", "treatment_columns"]

_CHANNELS = ("sms", "push", "robot", "agent")


def treatment_columns(labels: Any, control: str = "none") -> pd.DataFrame:
    """A treatment label (``channel@HH:MM`` or the control) as model inputs.

    >>> treatment_columns(["none", "robot@19:00"]).values.tolist()
    [[0.0, 0.0, 0.0, 0.0, -1.0], [0.0, 0.0, 1.0, 0.0, 19.0]]
    """
    labs = [str(x) for x in labels]
    out: dict[str, list[float]] = {f"t_{c}": [] for c in _CHANNELS}
    out["t_hour"] = []
    for lab in labs:
        ch, _, hhmm = lab.partition("@")
        if lab != control and (ch not in _CHANNELS or len(hhmm) != 5):
            raise BadInputError(f"treatment must be {control!r} or channel@HH:MM; got {lab!r}",
                                field="treatment", value=lab)
        for c in _CHANNELS:
            out[f"t_{c}"].append(1.0 if ch == c and lab != control else 0.0)
        out["t_hour"].append(-1.0 if lab == control else int(hhmm[:2]) + int(hhmm[3:]) / 60)
    return pd.DataFrame(out)


class ComplaintModel(GBMModel):
    """P(complaint within the horizon | features, treatment); see the module docstring.

    ``fit(X, treatment, y)``; learned: ``treatments_`` (the control first),
    ``feature_names_``. :meth:`predict_outcome` and :meth:`predict_uplift` return one
    column per entry of ``treatments_`` (the control's uplift is zero), as
    :class:`~creditdesk.collections.uplift.TreatmentUplift` does.
    """

    def fit(self, X: Any, treatment: Any, y: Any, control: str = "none"  # type: ignore[override]
            ) -> ComplaintModel:
        frame, _ = as_frame(X)
        t = vector(treatment, len(frame), "treatment").astype(str)
        yy = binary_target(y, len(frame), "y")
        if control not in set(t.tolist()):
            raise BadInputError(f"treatment must include the control {control!r}; got none",
                                field="treatment", value=control)
        full = pd.concat([frame.reset_index(drop=True), treatment_columns(t, control)], axis=1)
        super().fit(full, yy)
        self.feature_names_ = [str(c) for c in frame.columns]
        self.control_ = control
        self.treatments_ = [control, *sorted(set(t.tolist()) - {control})]
        return self

    def predict_outcome(self, X: Any) -> np.ndarray:
        """P(complaint) under each treatment, shape (rows, len(treatments_))."""
        check_is_fitted(self, "booster_")
        frame = scoring_frame(X, self.feature_names_, True).reset_index(drop=True)
        out = np.empty((len(frame), len(self.treatments_)))
        for k, lab in enumerate(self.treatments_):
            tc = treatment_columns([lab] * len(frame), self.control_)
            out[:, k] = self.predict_proba(pd.concat([frame, tc], axis=1))[:, 1]
        return out

    def predict_uplift(self, X: Any) -> np.ndarray:
        """Added complaint probability of each treatment over the control."""
        p = self.predict_outcome(X)
        return p - p[:, [0]]

    def save(self, path: str | Path, *, info: dict[str, Any] | None = None) -> Path:
        """Write ``complaint.json``, ``complaint_model.txt`` and, last, the manifest."""
        return save_gbm(self, path, "complaint", {
            "feature_names": self.feature_names_, "treatments": self.treatments_,
            "control": self.control_}, {
            "features": list(self.feature_names_), "treatments": list(self.treatments_),
            "versions": versions(), "info": info or {}})

    @classmethod
    def load(cls, path: str | Path) -> ComplaintModel:
        """Verify a folder written by :meth:`save` and rebuild the model (no code is run)."""
        base, meta = load_gbm(cls, path, "complaint")
        model = cast(ComplaintModel, base)
        model.feature_names_ = list(meta["feature_names"])
        model.treatments_ = list(meta["treatments"])
        model.control_ = str(meta["control"])
        return model
