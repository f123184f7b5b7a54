"""Collection scores: the probability that a delinquent account cures on its own.

A collector's first question about an account is not "how risky is it?" but "will it
pay if we leave it alone?". Contacting an account that would have paid anyway costs
money and goodwill and, in riskier markets, is exactly the over-collection creditdesk
exists to avoid. So the planner needs two scores per account:

* :class:`SelfCureModel` — P(self-cure): the probability that the account is back to
  current (nothing overdue) within :data:`SELF_CURE_HORIZON_DAYS` days of the score
  date *without collection treatment*. The label is built by the data extraction from
  ``account_day``; learn it from rows that received no treatment in the horizon, at
  best the randomised control arm, so the label is not mixed with treatment effects.
* :class:`~creditdesk.collections.uplift.TreatmentUplift` — the expected outcome under
  each treatment and its effect against doing nothing, learned from randomised
  challenger arms (see :mod:`creditdesk.collections.uplift`, re-exported here).

Both are pure estimators over a feature matrix (pandas or polars frame, or a 2-D NumPy
array) following scikit-learn's contract; they never touch the store. Their inputs are
checked the same way: a frame's column names are the model's features, kept in
``feature_names_``, and scoring a frame whose columns differ (missing *or* unexpected)
is refused naming them, because a silently dropped or renamed feature is a wrong score.

Models are saved as a folder of plain files — LightGBM's text model plus JSON — with a
manifest of SHA-256 digests, the same safe format as :mod:`creditdesk.risk.artifact`
(no pickle), under the format name :data:`FORMAT`.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"dpd": rng.integers(1, 30, 2000), "paid_before": rng.random(2000)})
>>> cured = rng.random(2000) < 1 / (1 + np.exp(0.1 * X["dpd"] - 3 * X["paid_before"]))
>>> model = SelfCureModel(n_estimators=60, learning_rate=0.1, early_stopping_rounds=10)
>>> p = model.fit(X, cured).predict_self_cure(X)
>>> p.shape, bool(p[X["dpd"] < 5].mean() > p[X["dpd"] > 25].mean())
((2000,), True)
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from creditdesk import __version__
from creditdesk.errors import BadInputError
from creditdesk.risk.artifact import (
    ArtifactError,
    read_json,
    read_manifest,
    write_json,
    write_manifest,
)
from creditdesk.risk.gbm import GBMModel

if TYPE_CHECKING:
    from creditdesk.collections.uplift import TreatmentUplift, qini_coefficient, qini_curve

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "SELF_CURE_HORIZON_DAYS",
    "SelfCureModel",
    "TreatmentUplift",
    "qini_coefficient",
    "qini_curve",
]

#: the manifest's format name for collection-score model folders
FORMAT = "creditdesk-collections-model"
FORMAT_VERSION = 1
#: the default self-cure horizon: back to current within this many days of the score date
SELF_CURE_HORIZON_DAYS = 30

_UPLIFT = ("TreatmentUplift", "qini_coefficient", "qini_curve")


def __getattr__(name: str) -> Any:
    # uplift.py imports this module's helpers, so its names are re-exported lazily
    if name in _UPLIFT:
        return getattr(import_module("creditdesk.collections.uplift"), name)
    raise AttributeError(f"module 'creditdesk.collections.scores' has no attribute {name!r}")


# -- inputs shared by the collection models --------------------------------------------

def as_frame(X: Any) -> tuple[pd.DataFrame, bool]:
    """``X`` as a pandas frame with string column names, and whether it came with names.

    A NumPy array gets the names ``x0, x1, ...`` (and ``False``): such a model then scores
    arrays of the same width, or frames with those names.
    """
    named = True
    if isinstance(X, pd.DataFrame):
        frame = X
    elif type(X).__module__.split(".")[0] == "polars" and hasattr(X, "to_pandas"):
        frame = X.to_pandas()
    elif isinstance(X, np.ndarray):
        if X.ndim != 2:
            raise BadInputError(f"X must be 2-D (rows x features); got shape {X.shape}",
                                field="X", value=X.shape)
        frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
        named = False
    else:
        raise BadInputError("X must be a pandas or polars DataFrame or a 2-D NumPy array; "
                            f"got {type(X).__name__}", field="X", value=type(X).__name__)
    if frame.shape[1] == 0:
        raise BadInputError("X must have at least one column; got none", field="X")
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise BadInputError(f"X must have unique column names; got {dup!r} twice", field=dup)
    if names != list(frame.columns):
        frame = frame.set_axis(names, axis=1)
    return frame, named


def scoring_frame(X: Any, features: list[str], named: bool) -> pd.DataFrame:
    """``X`` with exactly the model's columns in the model's order, or an error naming them."""
    frame, x_named = as_frame(X)
    if not x_named:
        if named:
            raise BadInputError("X must be a frame with the model's columns "
                                f"({', '.join(features)}): it was fitted on named columns; "
                                "got a NumPy array", field="X")
        if frame.shape[1] != len(features):
            raise BadInputError(f"X must have {len(features)} columns as when fitted; got "
                                f"{frame.shape[1]}", field="X", value=frame.shape[1])
        return frame
    wanted = set(features)
    missing = [f for f in features if f not in frame.columns]
    extra = [c for c in frame.columns if c not in wanted]
    if missing or extra:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"unexpected {', '.join(extra)}"] if extra else [])
        raise BadInputError(f"X must have the model's columns ({', '.join(features)}); got "
                            f"{'; '.join(parts)}", field=(missing or extra)[0])
    return frame if list(frame.columns) == features else frame[features]


def vector(values: Any, n: int, field: str) -> np.ndarray:
    """A 1-D array of ``n`` values (one per row of X), or an error naming ``field``."""
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    arr = np.asarray(values)
    if arr.ndim != 1 or len(arr) != n:
        raise BadInputError(f"{field} must be 1-D with {n} values (one per row of X); got "
                            f"shape {arr.shape}", field=field, value=arr.shape)
    return arr


def binary_target(values: Any, n: int, field: str = "y", *, both: bool = True) -> np.ndarray:
    """0/1 int64 outcomes (booleans accepted); refuses missing, other values, one class."""
    arr = vector(values, n, field)
    if arr.dtype != bool:
        num = pd.to_numeric(pd.Series(arr), errors="coerce").to_numpy(dtype=float)
        if np.isnan(num).any():
            row = int(np.flatnonzero(np.isnan(num))[0])
            raise BadInputError(f"{field} must be 0 or 1 with no missing values; got "
                                f"{int(np.isnan(num).sum())} missing (first at row {row})",
                                row=row, field=field, value=arr[row])
        if not np.isin(num, [0, 1]).all():
            bad = np.unique(num[~np.isin(num, [0, 1])])[:5].tolist()
            raise BadInputError(f"{field} must be 0 or 1; got {bad}", field=field, value=bad[0])
        arr = num
    out = arr.astype(np.int64)
    if both and len(np.unique(out)) != 2:
        raise BadInputError(f"{field} must hold both 0 and 1; got only "
                            f"{np.unique(out).tolist()}", field=field)
    return out


def versions() -> dict[str, str]:
    """Library versions recorded in a model manifest (LightGBM's text format follows it)."""
    import lightgbm
    import sklearn

    return {"creditdesk": __version__, "lightgbm": lightgbm.__version__,
            "numpy": np.__version__, "scikit-learn": sklearn.__version__}


def open_folder(path: str | Path, model_type: str) -> tuple[Path, dict[str, Any]]:
    """A verified collections model folder (digests, format, version) of ``model_type``."""
    root = Path(path)
    manifest = read_manifest(root, fmt=FORMAT, version=FORMAT_VERSION)
    if manifest.get("model_type") != model_type:
        raise ArtifactError(f"model_type must be {model_type!r}; got "
                            f"{manifest.get('model_type')!r}", field="model_type",
                            value=manifest.get("model_type"))
    return root, manifest


def save_gbm(model: GBMModel, path: str | Path, model_type: str, state: dict[str, Any],
             manifest: dict[str, Any]) -> Path:
    """Write a LightGBM-backed model folder: ``<type>.json`` (its state plus ``state``),
    ``<type>_model.txt`` and, last, the digest-checked manifest (``model_type`` first,
    then ``manifest``)."""
    meta, text = model.to_state()
    meta.update(state)
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / f"{model_type}.json", meta)
    (out / f"{model_type}_model.txt").write_text(text, encoding="utf-8")
    write_manifest(out, [f"{model_type}.json", f"{model_type}_model.txt"],
                   {"model_type": model_type, **manifest}, fmt=FORMAT, version=FORMAT_VERSION)
    return out


def load_gbm(cls: type[GBMModel], path: str | Path, model_type: str
             ) -> tuple[GBMModel, dict[str, Any]]:
    """Verify a folder written by :func:`save_gbm` and rebuild the model (no code is run);
    returns it with the saved state (for the subclass's own fields)."""
    root, _ = open_folder(path, model_type)
    meta = read_json(root / f"{model_type}.json")
    text = (root / f"{model_type}_model.txt").read_text(encoding="utf-8")
    return cls.from_state(meta, text), meta


# -- self-cure ---------------------------------------------------------------------------

class SelfCureModel(GBMModel):
    """P(self-cure within the horizon): LightGBM binary classifier, y = 1 when cured.

    The risk module's :class:`~creditdesk.risk.gbm.GBMModel` with collection inputs: the
    same parameters (early stopping on a stratified split, then a refit; native
    categorical splits; optional ``monotone_constraints`` such as ``{"dpd": -1}``, the
    longer overdue the less likely to cure; SHAP reason codes through ``explain``), so a
    validator reviews one LightGBM recipe. Added here: polars frames and NumPy arrays as
    input, "must be X; got Y" checks of the outcome, strict column checks when scoring,
    and :meth:`save`/:meth:`load`.

    ``predict_proba`` columns are P(not cured), P(cured); :meth:`predict_self_cure` is
    the second. The horizon is part of the label (built outside the model); :meth:`save`
    records it in the manifest.

    >>> import numpy as np
    >>> X = np.random.default_rng(1).normal(size=(600, 2)); y = (X[:, 0] > 0).astype(int)
    >>> SelfCureModel(n_estimators=20, early_stopping_rounds=5).fit(X, y).feature_names_
    ['x0', 'x1']
    """

    def fit(self, X: Any, y: Any) -> SelfCureModel:
        """Learn P(cure); ``y`` is 1 when the account cured within the horizon, else 0."""
        frame, named = as_frame(X)
        yy = binary_target(y, len(frame), "y")
        super().fit(frame, yy)
        self.feature_names_ = list(self.features_)
        self.named_ = named
        return self

    def _check_X(self, X: Any) -> pd.DataFrame:
        check_is_fitted(self, "booster_")
        return scoring_frame(X, self.features_, self.named_)

    def predict_self_cure(self, X: Any) -> np.ndarray:
        """P(self-cure within the horizon) per row."""
        return self.predict_proba(X)[:, 1]

    def save(self, path: str | Path, *, horizon_days: int = SELF_CURE_HORIZON_DAYS,
             info: dict[str, Any] | None = None) -> Path:
        """Write ``self_cure.json``, ``self_cure_model.txt`` and, last, the manifest."""
        return save_gbm(self, path, "self_cure", {"named": bool(self.named_)}, {
            "features": list(self.feature_names_), "horizon_days": int(horizon_days),
            "versions": versions(), "info": info or {}})

    @classmethod
    def load(cls, path: str | Path) -> SelfCureModel:
        """Verify a folder written by :meth:`save` and rebuild the model (no code is run)."""
        base, meta = load_gbm(cls, path, "self_cure")
        model = cast(SelfCureModel, base)
        model.feature_names_ = list(model.features_)
        model.named_ = bool(meta.get("named", True))
        return model
