"""Collection strategies as data: segment x bucket -> treatment path, with champion/challenger arms.

Why data and not code: a collections team changes cadences, channels and templates
every few weeks and must be able to say exactly what each debtor was exposed to, on
which version, in which arm. A strategy is one YAML file (see
``docs/collections-strategies.md`` and the three built-ins in ``strategies/``):

* ``arms`` — champion and challengers with a fixed share each (shares sum to 1). An
  account's arm is a stable hash of ``salt:account_id`` (BLAKE2b), so it never changes
  between runs, machines or versions unless the salt does; an arm may be ``explore``
  (treatment drawn at random each day: the randomised data the uplift scores learn from).
* ``segments`` — first match wins, on the behaviour-score PD and the product.
* ``paths`` — per bucket (``pre_due``, ``M1`` ... ``M6``, ranges such as ``M2-M3`` or
  ``M4+``) the steps: channel, party, local time, template and cadence (DPD list or
  every N days from a DPD), plus agency placement and escalation on broken promises.
* ``planner`` — ``rules`` (make every step that falls due, subject to the checker) or
  ``optimized`` (the steps are the *menu*; the contact planner picks from it with scores,
  costs, a complaint price and capacities).
* ``offers`` (optional) — repayment arrangements the strategy offers: per rule the kind
  (hardship plan, payment holiday, settlement), the terms, when (bucket, DPD, broken
  promises, a hardship signal, a low self-cure score, the past-due amount) and the
  contact that carries the offer. Whether a case may have it is the arrangements
  policy's decision (:mod:`creditdesk.collections.arrangements`), never the strategy's.

>>> s = load_strategy("bucket_rules")
>>> s.name, [a.name for a in s.arms]
('bucket_rules', ['champion'])
>>> [st.channel for st in s.path_for("champion", "default", "M2")]
['sms', 'agent', 'agent']
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from creditdesk.errors import BadInputError, CreditdeskError

if TYPE_CHECKING:
    from creditdesk.collections.arrangements import ArrangementPolicy

__all__ = [
    "BUCKETS",
    "BUILTIN_STRATEGIES",
    "CHANNELS",
    "OFFER_KINDS",
    "Arm",
    "Costs",
    "OfferContact",
    "OfferRule",
    "OfferWhen",
    "Offers",
    "Placement",
    "PlannerConfig",
    "Segment",
    "Step",
    "Strategy",
    "Treatment",
    "arm_of",
    "arm_shares_u",
    "bucket_keys",
    "load_strategy",
]

#: channels a step may use; ``robot`` and ``agent`` are both voice to the checker
CHANNELS = ("sms", "push", "robot", "agent")
#: the stages a path is written for: before the due date, then the delinquency buckets
BUCKETS = ("pre_due", "M1", "M2", "M3", "M4", "M5", "M6")
BUILTIN_STRATEGIES = ("frequent", "bucket_rules", "optimized")
#: the arrangements a strategy may offer (the ledger's transaction types)
OFFER_KINDS = ("hardship_plan", "payment_holiday", "settlement")
#: buckets an offer rule may name (of the last closed date)
OFFER_BUCKETS = ("M0", "M1", "M2", "M3", "M4", "M5", "M6")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _LocalTime(_Strict):
    """A contact made at a local time ``at`` (HH:MM): one check, one minute-of-day reading.

    Each subclass declares ``at`` where it belongs in its own field order.
    """

    if TYPE_CHECKING:
        at: str

    @field_validator("at", check_fields=False)
    @classmethod
    def _at(cls, v: str) -> str:
        if not _HHMM.match(v):
            raise ValueError(f"must be a local time HH:MM; got {v!r}")
        return v

    @property
    def minute(self) -> int:
        """Local minute of the day."""
        return int(self.at[:2]) * 60 + int(self.at[3:])


class Step(_LocalTime):
    """One contact of a path: what, to whom, when in the local day, on which days."""

    channel: Literal["sms", "push", "robot", "agent"]
    party: Literal["debtor", "third_party"] = "debtor"
    at: str = Field(description="local time HH:MM")
    template: str | None = None
    dpd: list[int] | None = Field(None, description="make it on these days past due")
    every: int | None = Field(None, ge=1, description="or every N days ...")
    from_dpd: int = Field(1, ge=0, description="... from this DPD")
    days_to_due: list[int] | None = Field(None, description="pre_due: days before the due date")
    only_if_unreached: bool = Field(False, description="a retry: only if no voice contact "
                                    "reached the debtor earlier that day")
    only_flagged: bool = Field(False, description="pre_due: only accounts the behaviour "
                               "score flags or that revolve or are in arrears")

    @model_validator(mode="after")
    def _cadence(self) -> Step:
        if self.dpd is not None and self.every is not None:
            raise ValueError("give either dpd (a list of days) or every (N days); got both")
        return self

    def due_on(self, dpd: np.ndarray) -> np.ndarray:
        """Which of the given DPDs this step falls on (pre-due steps: see ``days_to_due``).

        >>> Step(channel="robot", at="19:00", every=2, from_dpd=3).due_on(np.array([1, 3, 4, 5]))
        array([False,  True, False,  True])
        """
        if self.dpd is not None:
            return np.isin(dpd, self.dpd)
        if self.every is not None:
            return (dpd >= self.from_dpd) & ((dpd - self.from_dpd) % self.every == 0)
        return dpd >= self.from_dpd


class Placement(_Strict):
    """Hand the case to an external agency from a bucket, for a commission on recoveries."""

    agency: str
    commission: float = Field(gt=0, lt=1, description="share of what is recovered while placed")
    recall_after_days: int = Field(90, ge=1, description="recalled if not cured by then")


class Treatment(_Strict):
    """The treatment of one bucket: steps, and optionally a placement instead of own contacts."""

    steps: list[Step] = Field(default_factory=list)
    placement: Placement | None = None


class Segment(_Strict):
    """A named slice of the book; the first segment whose conditions hold is the account's."""

    name: str
    min_pd: float | None = Field(None, ge=0, le=1)
    max_pd: float | None = Field(None, ge=0, le=1)
    product: Literal["revolving", "cash_loan"] | None = None


class Arm(_Strict):
    """Champion or challenger: a fixed share of accounts and the paths they get per segment."""

    name: str
    share: float = Field(gt=0, le=1)
    paths: dict[str, str] = Field(description="segment name -> path name ('default' required)")
    explore: bool = Field(False, description="randomised treatment each day (uplift training data)")


class Costs(_Strict):
    """Cost of one contact attempt by channel, in minor units (fen)."""

    sms: int = Field(5, ge=0)
    push: int = Field(0, ge=0)
    robot: int = Field(20, ge=0)
    agent: int = Field(400, ge=0)


class PlannerConfig(_Strict):
    """How a day's contacts are chosen from the paths."""

    kind: Literal["rules", "optimized"] = "rules"
    complaint_price: int = Field(200_000, ge=0, description="fen charged per expected complaint")
    max_per_customer_per_day: int = Field(1, ge=0, description="optimized: contacts per debtor a day")
    agent_minutes_per_hour: float = Field(1e12, ge=0)
    robot_calls_per_hour: float = Field(1e12, ge=0)
    sms_per_day: float = Field(1e12, ge=0)
    push_per_day: float = Field(1e12, ge=0)
    agent_minutes_per_call: float = Field(6.0, gt=0)


class OfferWhen(_Strict):
    """When a rule offers: every condition given must hold (none given: always)."""

    buckets: list[str] | None = Field(None, description="the bucket is one of these")
    min_dpd: int | None = Field(None, ge=0)
    max_dpd: int | None = Field(None, ge=0)
    min_broken_promises: int | None = Field(None, ge=1, description="broken promises in the "
                                            "current spell in arrears, at least")
    hardship_signal_days: int | None = Field(None, ge=1, description="the debtor said in a "
                                             "contact within this many days that they are in "
                                             "hardship")
    max_self_cure: float | None = Field(None, gt=0, le=1, description="the self-cure score "
                                        "is below this")
    min_past_due: int | None = Field(None, ge=0, description="minor units past due, at least: "
                                     "more than is paid in one go")

    @field_validator("buckets")
    @classmethod
    def _buckets(cls, v: list[str] | None) -> list[str] | None:
        bad = [b for b in v or [] if b not in OFFER_BUCKETS]
        if bad:
            raise ValueError(f"must be among {', '.join(OFFER_BUCKETS)}; got {bad[0]!r}")
        return v

    @model_validator(mode="after")
    def _range(self) -> OfferWhen:
        if self.min_dpd is not None and self.max_dpd is not None and self.min_dpd > self.max_dpd:
            raise ValueError(f"min_dpd must be at most max_dpd; got {self.min_dpd} > "
                             f"{self.max_dpd}")
        return self


class OfferContact(_LocalTime):
    """The contact that carries an offer: channel, local time, message template."""

    channel: Literal["sms", "push", "robot", "agent"]
    at: str = Field(description="local time HH:MM")
    template: str | None = None


class OfferRule(_Strict):
    """One offer: which arrangement, on which terms, when, through which contact."""

    name: str
    kind: str
    terms: int | None = Field(None, description="hardship_plan: instalments; "
                              "payment_holiday: months; settlement: none")
    when: OfferWhen = Field(default_factory=lambda: OfferWhen.model_validate({}))
    contact: OfferContact
    arms: list[str] | None = Field(None, description="arms that make this offer (all if "
                                   "not given)")

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if v not in OFFER_KINDS:
            raise ValueError(f"must be one of {', '.join(OFFER_KINDS)}; got {v!r}")
        return v

    @model_validator(mode="after")
    def _terms(self) -> OfferRule:
        if self.kind == "settlement" and self.terms is not None:
            raise ValueError(f"terms: must be empty for a settlement (a lump sum); got "
                             f"{self.terms}")
        if self.kind != "settlement" and self.terms is None:
            what = "instalments" if self.kind == "hardship_plan" else "months"
            raise ValueError(f"terms: must be given for a {self.kind} ({what}); got none")
        return self


class Offers(_Strict):
    """The repayment arrangements a strategy offers (first rule that applies wins)."""

    policy: str = Field("default", description="the arrangements policy: 'default' (shipped) "
                        "or a TOML file")
    cooldown_days: int = Field(30, ge=0, description="no new offer to an account this many "
                               "days after one was declined or refused by the policy")
    rules: list[OfferRule] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Offers:
        names = [r.name for r in self.rules]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"rules: names must be unique; got {dup[0]!r} twice")
        try:
            policy = self.arrangement_policy()
        except CreditdeskError as exc:
            raise ValueError(f"policy: must be 'default' or an arrangements policy file; got "
                             f"{self.policy!r} ({exc})") from None
        for i, r in enumerate(self.rules):
            if r.kind == "hardship_plan":
                lo, hi = policy.hardship_plan.min_terms, policy.hardship_plan.max_terms
            elif r.kind == "payment_holiday":
                lo, hi = policy.payment_holiday.min_months, policy.payment_holiday.max_months
            else:
                continue
            if r.terms is None or not lo <= r.terms <= hi:
                raise ValueError(f"rules.{i}.terms: must be {lo} to {hi} for a {r.kind} (the "
                                 f"arrangements policy); got {r.terms}")
        return self

    def arrangement_policy(self) -> ArrangementPolicy:
        """The arrangements policy the offers are judged by."""
        return _policy(self.policy)


def _policy(source: str) -> ArrangementPolicy:
    """The policy file (cached while the file is unchanged) or the shipped default."""
    if source == "default":
        return _load_policy(None, 0)
    p = Path(source)
    return _load_policy(source, p.stat().st_mtime_ns if p.is_file() else -1)


@lru_cache(maxsize=8)
def _load_policy(source: str | None, mtime: int) -> ArrangementPolicy:
    from creditdesk.collections.arrangements import load_arrangement_policy

    del mtime  # part of the cache key only
    return load_arrangement_policy(source)


class Strategy(_Strict):
    """A versioned collection strategy (see the module docstring)."""

    name: str
    version: int = Field(ge=1)
    description: str = ""
    salt: str | None = None
    jurisdiction: str = "CN"
    arms: list[Arm]
    segments: list[Segment] = Field(default_factory=lambda: [Segment.model_validate(
        {"name": "default"})])
    paths: dict[str, dict[str, Treatment]]
    templates: dict[str, str] = Field(default_factory=dict)
    costs: Costs = Field(default_factory=lambda: Costs.model_validate({}))
    planner: PlannerConfig = Field(default_factory=lambda: PlannerConfig.model_validate({}))
    escalate_after_broken_promises: int | None = Field(
        None, ge=1, description="this many broken promises -> the next bucket's path")
    follow_up: list[Step] = Field(default_factory=list, description="made the day a promise "
                                  "is seen broken, whatever the bucket's cadence")
    offers: Offers | None = Field(None, description="repayment arrangements offered, within "
                                  "the arrangements policy")

    @field_validator("paths")
    @classmethod
    def _bucket_keys(cls, v: dict[str, dict[str, Treatment]]) -> dict[str, dict[str, Treatment]]:
        for pname, by_key in v.items():
            seen: set[str] = set()
            for key in by_key:
                for b in bucket_keys(key):
                    if b in seen:
                        raise ValueError(f"path {pname!r}: bucket {b} given twice")
                    seen.add(b)
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Strategy:
        total = sum(a.share for a in self.arms)
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"arms: shares must sum to 1; got {total:g}")
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names):
            raise ValueError(f"arms: names must be unique; got {names}")
        segs = {s.name for s in self.segments}
        if "default" not in segs:
            raise ValueError("segments: must include one named 'default' (the catch-all)")
        for a in self.arms:
            if "default" not in a.paths:
                raise ValueError(f"arms.{a.name}.paths: must map segment 'default'")
            for seg, pname in a.paths.items():
                if seg not in segs:
                    raise ValueError(f"arms.{a.name}.paths: unknown segment {seg!r}")
                if pname not in self.paths:
                    raise ValueError(f"arms.{a.name}.paths: unknown path {pname!r}")
        for pname, by_key in self.paths.items():
            for path in by_key.values():
                for st in path.steps:
                    if st.template is not None and st.template not in self.templates:
                        raise ValueError(f"paths.{pname}: unknown template {st.template!r}")
        for st in self.follow_up:
            if st.template is not None and st.template not in self.templates:
                raise ValueError(f"follow_up: unknown template {st.template!r}")
        for i, r in enumerate(self.offers.rules if self.offers else []):
            tpl = r.contact.template
            if tpl is not None and tpl not in self.templates:
                raise ValueError(f"offers.rules.{i}.contact.template: must be one of the "
                                 f"strategy's templates; got {tpl!r}")
            for arm in r.arms or []:
                if arm not in names:
                    raise ValueError(f"offers.rules.{i}.arms: must be among {', '.join(names)}; "
                                     f"got {arm!r}")
        return self

    @property
    def arm_salt(self) -> str:
        return self.salt or self.name

    def path_for(self, arm: str, segment: str, bucket: str) -> list[Step]:
        """The steps an account of ``arm``/``segment`` gets in ``bucket`` (empty: none)."""
        p = self.bucket_path(arm, segment, bucket)
        return list(p.steps) if p is not None else []

    def bucket_path(self, arm: str, segment: str, bucket: str) -> Treatment | None:
        a = next(x for x in self.arms if x.name == arm)
        pname = a.paths.get(segment, a.paths["default"])
        for key, path in self.paths[pname].items():
            if bucket in bucket_keys(key):
                return path
        return None

    def segment_of(self, pd: np.ndarray, is_loan: np.ndarray) -> np.ndarray:
        """Each account's segment name (first match; NaN PD matches only PD-free segments)."""
        out = np.full(len(pd), "default", dtype=object)
        done = np.zeros(len(pd), bool)
        for s in self.segments:
            m = ~done
            if s.min_pd is not None:
                m &= pd >= s.min_pd
            if s.max_pd is not None:
                m &= pd < s.max_pd
            if s.product is not None:
                m &= is_loan == (s.product == "cash_loan")
            out[m] = s.name
            done |= m
        return out


def bucket_keys(key: str) -> tuple[str, ...]:
    """The buckets a path key covers: ``M2``, ``M2-M3``, ``M4+`` or ``pre_due``.

    >>> bucket_keys("M2-M4"), bucket_keys("M5+"), bucket_keys("pre_due")
    (('M2', 'M3', 'M4'), ('M5', 'M6'), ('pre_due',))
    """
    if key in BUCKETS:
        return (key,)
    m = re.fullmatch(r"M([1-6])(?:-M([1-6])|(\+))", key)
    if not m:
        raise ValueError(f"bucket key must be pre_due, M1..M6, Ma-Mb or Ma+; got {key!r}")
    lo = int(m.group(1))
    hi = 6 if m.group(3) else int(m.group(2))
    if hi < lo:
        raise ValueError(f"bucket range must go up; got {key!r}")
    return tuple(f"M{i}" for i in range(lo, hi + 1))


def arm_shares_u(account_ids: list[str] | np.ndarray, salt: str) -> np.ndarray:
    """A uniform number in [0, 1) per account, a pure function of ``salt`` and the id.

    BLAKE2b, not Python's ``hash`` (salted per process) nor a dataframe library's
    hash (may change between versions): the arm must be the same forever.

    >>> u = arm_shares_u(["R00000001", "R00000002"], "bucket_rules")
    >>> bool(0 <= u[0] < 1), bool(u[0] == arm_shares_u(["R00000001"], "bucket_rules")[0])
    (True, True)
    """
    out = np.empty(len(account_ids), np.float64)
    for i, a in enumerate(account_ids):
        h = hashlib.blake2b(f"{salt}:{a}".encode(), digest_size=8).digest()
        out[i] = int.from_bytes(h, "big") / 2.0**64
    return out


def arm_of(strategy: Strategy, account_ids: list[str] | np.ndarray) -> np.ndarray:
    """Each account's arm name under ``strategy`` (stable hash into the cumulative shares).

    >>> s = load_strategy("optimized")
    >>> arms = arm_of(s, [f"R{i:08d}" for i in range(2000)])
    >>> sorted(set(arms.tolist())) == sorted(a.name for a in s.arms)
    True
    """
    u = arm_shares_u(account_ids, strategy.arm_salt)
    edges = np.cumsum([a.share for a in strategy.arms])
    edges[-1] = 1.0
    idx = np.searchsorted(edges, u, side="right")
    names = np.array([a.name for a in strategy.arms], dtype=object)
    return names[np.minimum(idx, len(names) - 1)]


def load_strategy(source: str | Path) -> Strategy:
    """A built-in strategy by name, or a YAML file; errors name the key and the value."""
    text: str
    where: str
    if isinstance(source, str) and source in BUILTIN_STRATEGIES:
        text = resources.files("creditdesk.collections").joinpath(
            f"strategies/{source}.yaml").read_text(encoding="utf-8")
        where = f"built-in strategy {source!r}"
    else:
        path = Path(source)
        if not path.is_file():
            raise BadInputError(
                f"strategy must be one of {', '.join(BUILTIN_STRATEGIES)} or a YAML file; "
                f"got {str(source)!r}", field="strategy", value=str(source))
        text = path.read_text(encoding="utf-8")
        where = str(path)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BadInputError(f"{where}: not valid YAML: {exc}", field="strategy",
                            value=str(source)) from None
    if not isinstance(raw, dict):
        raise BadInputError(f"{where}: must be a YAML mapping; got {type(raw).__name__}",
                            field="strategy", value=str(source))
    try:
        return Strategy.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        value = err.get("input")
        if not key:  # a whole-strategy check: its message starts with the key
            key, _, msg = msg.partition(": ")
            value = None
        shown = "" if isinstance(value, dict | list) else f" (value {value!r})"
        raise BadInputError(f"{where}: {key}: {msg}{shown}", field=key, value=value) from None
