"""Real-time credit decisions: one application in, score, decision, limit, rate and reasons out.

Why a second scoring path: :func:`~creditdesk.risk.scoring.score_table` is built for tables
(pandas, vectorised, chunked) and costs about 13 ms for a single row, almost all of it
DataFrame overhead. An API that answers one application at a time within a few
milliseconds needs the model *compiled* once into plain look-ups:

* scorecard: for every feature its bin edges (or category -> bin map) and the points of
  every bin, missing and unseen-category bins included, plus the best reachable points
  (for "points lost"). Scoring is a ``bisect`` per feature and a sum;
* gbm: the LightGBM booster called on one row with ``pred_contrib=True`` (exact
  TreeSHAP, the values the table path looks up per tree, summed in LightGBM's order:
  equal to 1e-12): the contributions give both the PD and the reasons in one pass, as
  in :meth:`~creditdesk.risk.gbm.GBMModel.explain`.

The results are the table path's, not an approximation of them: the same bins, the same
floating-point operations in the same order for the score and PD (the scorecard's points
are summed by NumPy, as the table path sums them), the same policy bands and tie-breaking
of reasons. ``tests/unit/test_realtime_scorer.py`` checks equality with ``score_table``
on 2,000 rows for the shipped scorecard and for a gbm. The credit limit is computed in
exact decimal arithmetic (``score_table`` uses floats with a guard epsilon; they agree,
and the test checks that too).

Input rules (an application is a ``{feature: value}`` mapping):

* every feature of the model's schema must be present as a key (as ``score_table``
  refuses a table without one of the model's columns); ``None`` (or a float NaN) is a
  *missing* value and is scored as ``score_table`` scores it (the missing bin of a
  scorecard, LightGBM's missing branch);
* keys the schema dropped at training (ids, ``--drop`` columns) are accepted and
  ignored; any other key is refused, so a misspelt feature is never scored as missing;
* numeric features take an int or a finite float (not a bool, not text); categorical
  features take a string; date features an ISO-like date string, turned into days since
  1970-01-01 as at training;
* ``income`` is ``None`` (no limit) or a positive integer of minor units (per month,
  the unit the policy's ``income_multiple`` is written for).

Anything else raises :class:`~creditdesk.errors.BadInputError` naming the field and the
value, before anything is computed.

>>> from creditdesk.datasets import taiwan_credit_default
>>> scorer = load_scorer()  # the shipped application scorecard
>>> row = taiwan_credit_default().drop(columns=["class"]).iloc[2].to_dict()
>>> out = scorer.decide(row, income=2_500_000)
>>> out["decision"], out["band"], out["limit"], out["daily_rate"]
('approve', 'C', 4500000, '0.0004')
>>> [r["feature"] for r in out["reasons"]]
['PAY_AMT2', 'PAY_AMT1', 'LIMIT_BAL']
"""

from __future__ import annotations

import hashlib
import json
import math
from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from creditdesk.errors import BadInputError
from creditdesk.risk.artifact import ModelBundle, load_model
from creditdesk.risk.policy import Policy, default_policy
from creditdesk.risk.scorecard import ScorecardModel

__all__ = ["APPLICATION_MODEL", "RealtimeScorer", "load_scorer", "model_hash"]

#: the shipped application scorecard (Taiwan data, without SEX and MARRIAGE)
APPLICATION_MODEL = Path(__file__).parent / "models" / "application"

_EPOCH = datetime(1970, 1, 1)
_OTHER = 0.0  # the gbm's code for rare and unseen categories (creditdesk.risk.gbm._OTHER)
_NOTHING = 1e-12  # an adverse amount at or below this is no reason (creditdesk.risk.reasons)


def model_hash(bundle: ModelBundle) -> str:
    """A stable id of a model: the SHA-256 of its manifest in canonical JSON.

    The manifest holds the SHA-256 of every model file, so two folders with the same
    hash score identically; decisions record it so each can be traced to its model.

    >>> len(model_hash(load_model(APPLICATION_MODEL)))
    64
    """
    text = json.dumps(bundle.manifest, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _number(name: str, value: Any) -> float:
    """A numeric feature's value as float (NaN = missing)."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise BadInputError(f"feature {name!r} must be a number or null; got {value!r} "
                            f"({_type_name(value)})", field=name, value=value)
    try:
        x = float(value)
    except OverflowError as exc:
        raise BadInputError(f"feature {name!r} is too large to score: {value!r}", field=name,
                            value=value) from exc
    if math.isinf(x):
        raise BadInputError(f"feature {name!r} must be a finite number; got {value!r}",
                            field=name, value=str(x))  # an infinity is no JSON value
    return x


def _category(name: str, value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if not isinstance(value, str):
        raise BadInputError(f"feature {name!r} must be a string (a category) or null; got "
                            f"{value!r} ({_type_name(value)})", field=name, value=value)
    return value


def _date_days(name: str, value: Any) -> float:
    """A date feature as days since 1970-01-01 (the table path's ``_date_to_days``)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    if isinstance(value, datetime | date):
        parsed: Any = value
    elif isinstance(value, str):
        import pandas as pd

        try:
            parsed = pd.Timestamp(value)
        except (ValueError, TypeError, OverflowError) as exc:
            raise BadInputError(f"feature {name!r} must be a date such as '2026-01-31'; got "
                                f"{value!r}", field=name, value=value) from exc
        if parsed is pd.NaT:
            return math.nan
    else:
        raise BadInputError(f"feature {name!r} must be a date string or null; got {value!r} "
                            f"({_type_name(value)})", field=name, value=value)
    if not isinstance(parsed, datetime):
        parsed = datetime(parsed.year, parsed.month, parsed.day)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return float((parsed - _EPOCH).days)


@dataclass(frozen=True)
class _Bins:
    """One scorecard feature compiled: value -> bin -> points."""

    name: str
    categorical: bool
    splits: tuple[float, ...]
    groups: dict[str, int]
    n_bins: int
    points: tuple[float, ...]  # n_bins + 2: regular bins, missing, unseen
    best: float

    def bin_of(self, value: Any) -> int:
        """:meth:`creditdesk.risk.scorecard.FeatureBins.bin_index` for one value."""
        if self.categorical:
            if value is None:
                return self.n_bins
            return self.groups.get(value, self.n_bins + 1)
        if math.isnan(value):
            return self.n_bins
        return bisect_right(self.splits, value)


def _compile_scorecard(model: ScorecardModel) -> tuple[list[_Bins], float]:
    """The per-feature bins and points, and the points of a model with no features."""
    s = model.scaling
    if not model.features_:
        return [], float(s.offset - s.factor * model.intercept_)
    share = (s.offset - s.factor * model.intercept_) / len(model.features_)
    per_bin = model._points_per_bin()  # the table path's best-points source
    out = []
    for f in model.features_:
        b = model.bins_[f]
        # the same expression, element by element, as ScorecardModel.points_matrix
        points = -s.factor * np.asarray(model.logit_bins_[f], dtype=float) + share
        groups = {c: i for i, group in enumerate(b.groups) for c in group}
        out.append(_Bins(name=f, categorical=b.kind == "categorical",
                         splits=tuple(float(x) for x in b.splits), groups=groups,
                         n_bins=b.n_bins, points=tuple(float(p) for p in points),
                         best=model._best_points(f, per_bin[f])))
    return out, 0.0


class RealtimeScorer:
    """A model compiled for one application at a time; immutable, safe to share by threads.

    ``decide`` gives what ``score_table`` gives for the same row (see the module
    docstring) as a plain dict:

    ``pd`` (float), ``score`` (int), ``band``, ``decision`` ("approve"/"decline"),
    ``limit`` (int minor units; ``None`` when declined or without an income),
    ``daily_rate`` (decimal string; ``None`` when declined) and ``reasons``: up to
    ``n_reasons`` ``{"feature", "value"}``, worst first, where ``value`` is the points
    lost (scorecard) or the SHAP contribution to the log-odds of default (gbm), as
    named by :attr:`reason_value`.

    >>> scorer = RealtimeScorer(load_model(APPLICATION_MODEL))
    >>> scorer.model_type, scorer.reason_value, len(scorer.features)
    ('scorecard', 'points_lost', 21)
    """

    def __init__(self, bundle: ModelBundle, *, policy: Policy | None = None,
                 n_reasons: int = 3) -> None:
        if isinstance(n_reasons, bool) or not isinstance(n_reasons, int) or n_reasons < 0:
            raise BadInputError(f"n_reasons must be an integer 0 or more; got {n_reasons!r}",
                                field="n_reasons", value=n_reasons)
        self.bundle = bundle
        self.policy = policy or default_policy()
        self.n_reasons = n_reasons
        self.model_type = bundle.model_type
        self.model_hash = model_hash(bundle)
        schema = bundle.schema
        #: the features every application must carry, in the schema's order
        self.features: tuple[str, ...] = tuple(schema.features)
        self._ignored = frozenset(schema.dropped)
        self._known = frozenset(self.features) | self._ignored
        dates = set(schema.dates)
        categorical = set(schema.categorical)
        self._readers: dict[str, Callable[[str, Any], Any]] = {
            f: _date_days if f in dates else _category if f in categorical else _number
            for f in self.features}
        model = bundle.model
        if isinstance(model, ScorecardModel):
            self.reason_value = "points_lost"
            self._bins, self._constant = _compile_scorecard(model)
            self._scaling = model.scaling
        else:
            self.reason_value = "shap"
            self._booster = model.booster_
            self._n_trees = int(model.n_trees_)
            self._gbm_features = list(model.features_)
            self._maps = {k: dict(v) for k, v in model.category_maps_.items()}
            self._scaling = bundle.scaling
        self._reason_names: tuple[str, ...] = tuple(model.features_)
        bands = self.policy.bands
        self._band_names = [b.name for b in bands]
        self._band_decisions = [b.decision for b in bands]
        self._band_rates = [None if b.daily_rate is None else str(b.daily_rate) for b in bands]
        self._band_factors = [b.limit_factor for b in bands]

    # -- input -------------------------------------------------------------------------

    def read(self, application: Mapping[str, Any]) -> dict[str, Any]:
        """The application's features as the model reads them (float, str or None/NaN);
        raises :class:`BadInputError` naming the first unknown, absent or ill-typed field."""
        if not isinstance(application, Mapping):
            raise BadInputError(f"the application must be a mapping of feature to value; got "
                                f"{_type_name(application)}", field="features",
                                value=_type_name(application))
        unknown = sorted(str(k) for k in application if k not in self._known)
        if unknown:
            raise BadInputError(
                f"unknown feature{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}"
                f"; the model reads {', '.join(self.features)}", field=unknown[0],
                value=application[unknown[0]])
        absent = [f for f in self.features if f not in application]
        if absent:
            raise BadInputError(
                f"the application lacks the model's feature{'s' if len(absent) > 1 else ''} "
                f"{', '.join(absent)} (send null for a value that is not known)",
                field=absent[0])
        return {f: self._readers[f](f, application[f]) for f in self.features}

    @staticmethod
    def check_income(income: Any) -> int | None:
        """``None`` or a positive int of minor units, else :class:`BadInputError`.

        >>> RealtimeScorer.check_income(1_200_000)
        1200000
        >>> RealtimeScorer.check_income(12.5)
        Traceback (most recent call last):
        ...
        creditdesk.errors.BadInputError: income must be a positive integer of minor units \
(or null); got 12.5
        """
        if income is None:
            return None
        if isinstance(income, bool) or not isinstance(income, int | np.integer) or income <= 0:
            raise BadInputError(f"income must be a positive integer of minor units (or null); "
                                f"got {income!r}", field="income", value=income)
        return int(income)

    # -- scoring -----------------------------------------------------------------------

    def _scorecard(self, x: dict[str, Any]) -> tuple[float, float, list[float]]:
        bins = self._bins
        if not bins:
            pd0 = self._scaling.pd_from_score(np.array([self._constant]))
            return float(pd0[0]), self._constant, []
        points = [b.points[b.bin_of(x[b.name])] for b in bins]
        score = float(np.asarray(points).sum())  # NumPy's (pairwise) sum, as the table path
        pd_ = float(self._scaling.pd_from_score(np.array([score]))[0])
        adverse = [-min(p - b.best, 0.0) for p, b in zip(points, bins, strict=True)]
        return pd_, score, adverse

    def _gbm(self, x: dict[str, Any]) -> tuple[float, float, list[float]]:
        row = np.empty((1, len(self._gbm_features)))
        for j, f in enumerate(self._gbm_features):
            v = x[f]
            if f in self._maps:
                v = math.nan if v is None else float(self._maps[f].get(v, _OTHER))
            row[0, j] = v
        full = np.asarray(self._booster.predict(row, num_iteration=self._n_trees,
                                                pred_contrib=True, num_threads=1))
        raw = full.sum(axis=1)
        p = 1.0 / (1.0 + np.exp(-raw))
        pd_, score = float(p[0]), float(self._scaling.score_from_pd(p)[0])
        return pd_, score, full[0, :-1].tolist()

    def _reasons(self, adverse: list[float]) -> list[dict[str, Any]]:
        """Top ``n_reasons`` by adverse amount, ties to the earlier feature (as
        :func:`creditdesk.risk.reasons.reason_columns`)."""
        m = [-math.inf if math.isnan(a) else a for a in adverse]
        out = []
        for _ in range(min(self.n_reasons, len(m))):
            best = max(range(len(m)), key=m.__getitem__)
            if m[best] > _NOTHING:
                out.append({"feature": self._reason_names[best], "value": m[best]})
            m[best] = -math.inf
        return out

    def _limit(self, band: int, income: int | None) -> int | None:
        """income x multiple x band factor, capped, down to the step, in minor units (exact)."""
        if income is None or self._band_decisions[band] != "approve":
            return None
        rule = self.policy.limit
        raw = Decimal(income) / rule.minor_per_unit * rule.income_multiple \
            * self._band_factors[band]
        capped = max(min(raw, rule.cap), Decimal(0))
        return int((capped // rule.step) * rule.step * rule.minor_per_unit)

    def decide(self, application: Mapping[str, Any], income: int | None = None
               ) -> dict[str, Any]:
        """Score one application and apply the policy.

        ``income``: monthly income in minor units, or ``None`` (then no limit).
        """
        x = self.read(application)
        income = self.check_income(income)
        if isinstance(self.bundle.model, ScorecardModel):
            pd_, score, adverse = self._scorecard(x)
        else:
            pd_, score, adverse = self._gbm(x)
        band = int(self.policy.band_index(np.array([pd_]))[0])
        return {"pd": pd_, "score": int(np.rint(score)), "band": self._band_names[band],
                "decision": self._band_decisions[band], "limit": self._limit(band, income),
                "daily_rate": self._band_rates[band],
                "reasons": self._reasons(adverse) if self.n_reasons else []}


def load_scorer(folder: str | Path | None = None, *, policy: Policy | None = None,
                n_reasons: int = 3) -> RealtimeScorer:
    """Load (and verify) a model folder — default: the shipped application scorecard — and
    compile it. The only I/O of this module.

    >>> load_scorer().model_type
    'scorecard'
    """
    bundle = load_model(APPLICATION_MODEL if folder is None else folder)
    return RealtimeScorer(bundle, policy=policy, n_reasons=n_reasons)
