"""Which cases a strategy offers a repayment arrangement today: pure, no store.

A strategy's ``offers`` section (:class:`creditdesk.collections.strategy.Offers`) lists
rules: an arrangement kind and its terms, the conditions under which it is offered
(bucket, DPD, broken promises, a hardship signal, a low self-cure score, the amount past
due) and the contact that carries it. Two steps decide, and the second is the
arrangements policy's, never the strategy's:

1. :func:`rule_matches` — vectorised: which rules' conditions hold for which cases
   (the account's arm, the cool-down after a declined or refused offer included);
2. :func:`choose_offers` — per case with a match, the rules in order through
   :func:`creditdesk.collections.arrangements.eligibility` (the same function
   ``creditdesk collect offer`` applies): the first rule the policy allows is offered,
   with the amount and terms the policy computes; when the policy refuses every
   matching rule the case gets no offer and the first refusal is reported (its rule
   name, e.g. ``hardship_plan.min_account_age_days``).

>>> from datetime import date
>>> from creditdesk.collections.strategy import Offers
>>> cfg = Offers.model_validate({"rules": [{"name": "plan", "kind": "hardship_plan",
...     "terms": 6, "when": {"min_dpd": 5}, "contact": {"channel": "agent", "at": "11:00"}}]})
>>> v = OfferView.of(arm=["champion"], bucket=["M2"], dpd=[40])
>>> rule_matches(cfg, v).tolist()
[[True]]
>>> acc = AccountState("R1", "open", 40, "M2", date(2025, 1, 5), date(2026, 3, 22),
...                    balance=102_260, past_due=20_210)
>>> [o.amount for o in choose_offers(cfg, rule_matches(cfg, v), [acc], [[]],
...                                  cfg.arrangement_policy(), date(2026, 3, 23))]
[20210]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from creditdesk.collections.arrangements import (
    AccountState,
    ArrangementPolicy,
    PastArrangement,
    eligibility,
)
from creditdesk.collections.strategy import Offers

__all__ = ["AccountState", "OfferDecision", "OfferView", "choose_offers", "rule_matches"]

#: "no signal / no earlier offer": days since, for arrays
NEVER = 10**6


@dataclass(frozen=True)
class OfferView:
    """What the offer rules read of each case on the morning of the date (parallel arrays).

    ``signal_age``: days since the debtor last said in a contact that they are in
    hardship (:data:`NEVER` if never); ``self_cure``: the self-cure score (NaN when not
    scored: a ``max_self_cure`` condition then does not hold); ``offer_age``: days since
    the last offer was declined or refused by the policy (:data:`NEVER` if none).
    """

    arm: np.ndarray
    bucket: np.ndarray
    dpd: np.ndarray
    broken: np.ndarray
    signal_age: np.ndarray
    self_cure: np.ndarray
    past_due: np.ndarray
    offer_age: np.ndarray

    @classmethod
    def of(cls, *, arm: Sequence[str], bucket: Sequence[str], dpd: Sequence[int],
           broken: Sequence[int] | None = None, signal_age: Sequence[int] | None = None,
           self_cure: Sequence[float] | None = None, past_due: Sequence[int] | None = None,
           offer_age: Sequence[int] | None = None) -> OfferView:
        n = len(dpd)

        def arr(x: Sequence[float] | None, fill: float, dtype: type) -> np.ndarray:
            return np.full(n, fill, dtype) if x is None else np.asarray(x, dtype)

        return cls(np.asarray(arm, object), np.asarray(bucket, object), arr(dpd, 0, np.int64),
                   arr(broken, 0, np.int64), arr(signal_age, NEVER, np.int64),
                   arr(self_cure, np.nan, np.float64), arr(past_due, 0, np.int64),
                   arr(offer_age, NEVER, np.int64))


def rule_matches(offers: Offers, view: OfferView) -> np.ndarray:
    """(cases, rules) booleans: the rule's arm and conditions hold, the cool-down is over."""
    n = len(view.dpd)
    out = np.zeros((n, len(offers.rules)), bool)
    cool = view.offer_age >= offers.cooldown_days
    for j, r in enumerate(offers.rules):
        m = cool.copy()
        if r.arms is not None:
            m &= np.isin(view.arm, r.arms)
        w = r.when
        if w.buckets is not None:
            m &= np.isin(view.bucket, w.buckets)
        if w.min_dpd is not None:
            m &= view.dpd >= w.min_dpd
        if w.max_dpd is not None:
            m &= view.dpd <= w.max_dpd
        if w.min_broken_promises is not None:
            m &= view.broken >= w.min_broken_promises
        if w.hardship_signal_days is not None:
            m &= view.signal_age < w.hardship_signal_days
        if w.max_self_cure is not None:
            m &= np.nan_to_num(view.self_cure, nan=np.inf) < w.max_self_cure
        if w.min_past_due is not None:
            m &= view.past_due >= w.min_past_due
        out[:, j] = m
    return out


@dataclass(frozen=True)
class OfferDecision:
    """One case's answer: an offer (``eligible``), or the policy's first refusal."""

    case: int                 # position in the arrays given
    rule: str                 # the offer rule (the first that matched, when refused)
    kind: str
    terms: int | None
    amount: int | None
    eligible: bool
    policy_rule: str | None   # the policy rule that refused (None when eligible)
    reason: str


def choose_offers(offers: Offers, matches: np.ndarray, states: Sequence[AccountState],
                  histories: Sequence[Sequence[PastArrangement]], policy: ArrangementPolicy,
                  business_date: date) -> list[OfferDecision]:
    """The policy's answer for every case with a matching rule, in case order.

    ``states`` and ``histories`` are per case (the books as of the last closed date
    and the arrangements already on file). The first matching rule the policy allows
    is offered with the amount and terms :func:`eligibility` gives; a case whose every
    matching rule is refused gets a decision with ``eligible`` False naming the first
    refusal. No approver is named: an offer that needs one is refused
    (``*.approval_above*``), as the policy says.
    """
    out: list[OfferDecision] = []
    for i in np.nonzero(matches.any(axis=1))[0].tolist():
        first: OfferDecision | None = None
        for j in np.nonzero(matches[i])[0].tolist():
            r = offers.rules[j]
            e = eligibility(states[i], histories[i], policy, r.kind,
                            business_date=business_date, terms=r.terms)
            d = OfferDecision(i, r.name, r.kind, e.terms, e.amount, e.eligible, e.rule,
                              e.reason)
            if e.eligible:
                first = d
                break
            first = first or d
        if first is not None:
            out.append(first)
    return out
