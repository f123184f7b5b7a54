"""The decision policy: PD band -> approve or decline, credit limit, daily rate.

A policy is data (TOML), validated by pydantic, so a credit committee can
change it without a release and every mistake is caught with the key named.
Bands are read in order of ``max_pd``: a row falls in the first band whose
``max_pd`` is at least its PD; the last band must reach 1.

* Decision: the band's ``decision``. Declines must follow approvals (a riskier
  band is never approved when a safer one is declined).
* Credit limit: income x ``limit.income_multiple`` x the band's
  ``limit_factor``, capped at ``limit.cap``, rounded down to ``limit.step``,
  in minor units (``limit.minor_per_unit``; 100 for yuan/dollars).
* Price: the band's cash-loan ``daily_rate``, a decimal string within the
  product range 0.0002-0.0006 (0.02 %-0.06 % a day).
* Cut-off economics (:func:`cutoff_table`): an approved row earns
  ``(1 - PD) x daily_rate x term_days`` and loses ``PD x lgd`` per unit of
  exposure, minus ``funding_rate_annual x term_days / 365``. Exposure is the
  policy limit when an income is known, else ``economics.exposure``. Rows in
  a declined band are priced as the riskiest approved band.

>>> policy = default_policy()
>>> [b.name for b in policy.bands]
['A', 'B', 'C', 'D', 'E']
>>> decide(policy, [0.01, 0.5], income=[10000.0, 10000.0])["decision"].tolist()
['approve', 'decline']
"""

from __future__ import annotations

import itertools
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from creditdesk.errors import BadInputError, NotFoundError

__all__ = ["Band", "Policy", "PolicyError", "cutoff_table", "decide", "default_policy",
           "load_policy"]

MIN_DAILY_RATE = Decimal("0.0002")
MAX_DAILY_RATE = Decimal("0.0006")

DEFAULT_POLICY_TOML = """\
# creditdesk default decision policy (cash loans). Amounts in currency units,
# rates as decimal strings. Copy, edit, and pass with --policy.

[[bands]]
name = "A"
max_pd = "0.03"
decision = "approve"
limit_factor = "1.0"
daily_rate = "0.0002"

[[bands]]
name = "B"
max_pd = "0.08"
decision = "approve"
limit_factor = "0.8"
daily_rate = "0.0003"

[[bands]]
name = "C"
max_pd = "0.15"
decision = "approve"
limit_factor = "0.6"
daily_rate = "0.0004"

[[bands]]
name = "D"
max_pd = "0.25"
decision = "approve"
limit_factor = "0.4"
daily_rate = "0.0006"

[[bands]]
name = "E"
max_pd = "1"
decision = "decline"
limit_factor = "0"

[limit]
income_multiple = "3"
cap = "50000"
step = "100"
minor_per_unit = 100

[economics]
exposure = "10000"
term_days = 180
lgd = "0.65"
funding_rate_annual = "0.03"
"""


class PolicyError(BadInputError):
    """A policy that does not validate; the message names the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _no_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError(f'must be a decimal string such as "0.0003"; got float {value!r}')
    return value


class Band(_Strict):
    """One PD band of the policy."""

    name: str = Field(min_length=1)
    max_pd: Decimal = Field(gt=0, le=1)
    decision: Literal["approve", "decline"]
    limit_factor: Decimal = Field(ge=0, le=10)
    daily_rate: Decimal | None = None

    _strings = field_validator("max_pd", "limit_factor", mode="before")(_no_float)

    @field_validator("daily_rate", mode="before")
    @classmethod
    def _rate(cls, value: Any, info: ValidationInfo) -> Any:
        value = _no_float(value)
        if info.data.get("decision") == "approve":
            if value is None:
                raise ValueError("is required for an approving band")
            rate = Decimal(str(value))
            if not MIN_DAILY_RATE <= rate <= MAX_DAILY_RATE:
                raise ValueError(f"must be between {MIN_DAILY_RATE} and {MAX_DAILY_RATE}; "
                                 f"got {value}")
        return value

    @model_validator(mode="after")
    def _approve_has_rate(self) -> Band:
        if self.decision == "approve" and self.daily_rate is None:
            raise ValueError("daily_rate is required for an approving band")
        return self


class LimitRule(_Strict):
    """Income multiple x band factor, capped, rounded down to a step."""

    income_multiple: Decimal = Field(gt=0)
    cap: Decimal = Field(gt=0)
    step: Decimal = Field(gt=0)
    minor_per_unit: int = Field(default=100, ge=1)

    _strings = field_validator("income_multiple", "cap", "step", mode="before")(_no_float)


class Economics(_Strict):
    """Inputs of the cut-off profit estimate."""

    exposure: Decimal = Field(gt=0)
    term_days: int = Field(gt=0, le=3660)
    lgd: Decimal = Field(ge=0, le=1)
    funding_rate_annual: Decimal = Field(ge=0, le=1)

    _strings = field_validator("exposure", "lgd", "funding_rate_annual", mode="before")(_no_float)


class Policy(_Strict):
    """A complete decision policy."""

    bands: list[Band] = Field(min_length=1)
    limit: LimitRule
    economics: Economics

    @model_validator(mode="after")
    def _ordered(self) -> Policy:
        edges = [b.max_pd for b in self.bands]
        if any(a >= b for a, b in itertools.pairwise(edges)):
            raise ValueError(f"bands must have increasing max_pd; got {[str(e) for e in edges]}")
        if edges[-1] != 1:
            raise ValueError(f"the last band must have max_pd = 1; got {edges[-1]}")
        names = [b.name for b in self.bands]
        if len(set(names)) != len(names):
            raise ValueError(f"band names must be unique; got {names}")
        decisions = [b.decision for b in self.bands]
        if "decline" in decisions and "approve" in decisions[decisions.index("decline"):]:
            raise ValueError("bands must not approve after a declining band")
        if "approve" not in decisions:
            raise ValueError("at least one band must approve")
        return self

    def band_index(self, pd_: Any) -> np.ndarray:
        """Index of each PD's band (the first whose max_pd >= PD)."""
        edges = np.array([float(b.max_pd) for b in self.bands])
        p = np.clip(np.asarray(pd_, dtype=float), 0.0, 1.0)
        return np.minimum(np.searchsorted(edges, p, side="left"), len(edges) - 1)


def _message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        msg = err["msg"].removeprefix("Value error, ")
        value = err.get("input")
        shown = "" if isinstance(value, dict | list) or value is None or "got" in msg \
            else f" (got {value!r})"
        parts.append(f"{loc or 'policy'}: {msg}{shown}")
    return "policy is not valid: " + "; ".join(parts)


def parse_policy(text: str, *, source: str = "policy") -> Policy:
    """Validate a policy from TOML text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source} is not valid TOML: {exc}", field="policy") from exc
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]["loc"]
        raise PolicyError(_message(exc), field=".".join(map(str, first))) from exc


def default_policy() -> Policy:
    """The policy shipped with creditdesk (:data:`DEFAULT_POLICY_TOML`)."""
    return parse_policy(DEFAULT_POLICY_TOML, source="default policy")


def load_policy(path: str | Path | None = None) -> Policy:
    """Read and validate a TOML policy; ``None`` gives the default policy."""
    if path is None:
        return default_policy()
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"policy file not found: {p}")
    return parse_policy(p.read_text(encoding="utf-8"), source=str(p))


def _limits(policy: Policy, income: np.ndarray, factor: np.ndarray) -> np.ndarray:
    rule = policy.limit
    raw = income * float(rule.income_multiple) * factor
    capped = np.minimum(raw, float(rule.cap))
    step = float(rule.step)
    units = np.floor(np.maximum(capped, 0.0) / step + 1e-9) * step
    return np.round(units * rule.minor_per_unit)


def decide(policy: Policy, pd_: Any, income: Any = None) -> pd.DataFrame:
    """Band, decision, daily rate and (when incomes are given) the credit limit in minor units.

    Declined rows and rows with a missing income get no limit.
    """
    p = np.asarray(pd_, dtype=float)
    idx = policy.band_index(p)
    bands = policy.bands
    names = np.array([b.name for b in bands], dtype=object)
    decisions = np.array([b.decision for b in bands], dtype=object)
    rates = np.array([str(b.daily_rate) if b.daily_rate is not None else None for b in bands],
                     dtype=object)
    out = pd.DataFrame({"risk_band": names[idx], "decision": decisions[idx],
                        "daily_rate": rates[idx]})
    if income is not None:
        inc = pd.to_numeric(pd.Series(np.asarray(income)), errors="coerce").to_numpy(dtype=float)
        factor = np.array([float(b.limit_factor) for b in bands])[idx]
        limit = _limits(policy, np.nan_to_num(inc, nan=0.0), factor)
        ok = (decisions[idx] == "approve") & ~np.isnan(inc)
        out["credit_limit_minor"] = pd.array(np.where(ok, limit, np.nan), dtype="Int64")
    return out


def cutoff_table(policy: Policy, pd_: Any, *, y: Any = None, income: Any = None,
                 scores: Any = None, n_cutoffs: int = 10) -> list[dict[str, Any]]:
    """Approval rate, expected bad rate and expected profit when approving the best x %.

    Cut-offs are the PD quantiles that approve 1/n, 2/n ... all applicants. With
    ``y`` the observed bad rate of the approved rows is shown too; with
    ``scores`` the matching minimum score.
    """
    p = np.asarray(pd_, dtype=float)
    if len(p) == 0:
        raise BadInputError("no rows to analyse", field="data")
    idx = policy.band_index(p)
    approve_idx = [i for i, b in enumerate(policy.bands) if b.decision == "approve"]
    price_idx = np.minimum(idx, max(approve_idx))
    rate = np.array([float(policy.bands[i].daily_rate or 0) for i in range(len(policy.bands))])
    factor = np.array([float(b.limit_factor) for b in policy.bands])
    eco = policy.economics
    if income is not None:
        inc = np.nan_to_num(np.asarray(income, dtype=float), nan=0.0)
        exposure = _limits(policy, inc, factor[price_idx]) / policy.limit.minor_per_unit
    else:
        exposure = np.full(len(p), float(eco.exposure))
    margin = ((1.0 - p) * rate[price_idx] * eco.term_days - p * float(eco.lgd)
              - float(eco.funding_rate_annual) * eco.term_days / 365.0)
    profit = exposure * margin
    order = np.argsort(p, kind="stable")
    yy = None if y is None else np.asarray(y, dtype=float)[order]
    sc = None if scores is None else np.asarray(scores, dtype=float)[order]
    cum_profit = np.cumsum(profit[order])
    cum_pd = np.cumsum(p[order])
    rows = []
    for k in range(1, n_cutoffs + 1):
        n_ok = max(round(len(p) * k / n_cutoffs), 1)
        row: dict[str, Any] = {
            "max_pd": float(p[order][n_ok - 1]), "approved": n_ok,
            "approval_rate": n_ok / len(p), "expected_bad_rate": float(cum_pd[n_ok - 1] / n_ok),
            "expected_profit": float(cum_profit[n_ok - 1])}
        if sc is not None:
            row["min_score"] = float(sc[n_ok - 1])
        if yy is not None:
            row["observed_bad_rate"] = float(yy[:n_ok].mean())
        rows.append(row)
    best = max(range(len(rows)), key=lambda i: rows[i]["expected_profit"])
    for i, row in enumerate(rows):
        row["best"] = i == best
    return rows
