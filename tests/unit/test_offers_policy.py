"""An offer never breaks the arrangements policy: a property test over random account states.

The invariants are written out here from the policy file's rules (docs/
collections-arrangements.md), not by calling ``eligibility`` again, so the test checks
the offers code and the policy function together against the rules as stated.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from creditdesk.collections.arrangements import (
    AccountState,
    PastArrangement,
    default_arrangement_policy,
)
from creditdesk.collections.offers import OfferView, choose_offers, rule_matches
from creditdesk.collections.strategy import Offers
from creditdesk.products.dates import add_months
from creditdesk.simulate.behaviour import offer_acceptance_probability, plan_keep_probability
from creditdesk.simulate.params import SimParams

POLICY = default_arrangement_policy()
TODAY = date(2026, 6, 15)
BUCKETS = ("M0", "M1", "M2", "M3", "M4", "M5", "M6")


def _bucket(dpd: int) -> str:
    return "M0" if dpd <= 0 else f"M{min((dpd - 1) // 30 + 1, 6)}"


@st.composite
def account(draw: st.DrawFn) -> tuple[AccountState, list[PastArrangement], dict[str, object]]:
    status = draw(st.sampled_from(["open", "open", "open", "open", "charged_off", "settled"]))
    # weighted towards the states the policy allows, so both answers are exercised
    dpd = draw(st.one_of(st.just(0), st.integers(1, 90), st.integers(1, 200)))
    bucket = "CO" if status == "charged_off" else _bucket(dpd)
    age = draw(st.one_of(st.integers(0, 400), st.integers(260, 2000)))
    balance = draw(st.one_of(st.integers(0, 200_000), st.integers(0, 8_000_000)))
    late = dpd > 0 if draw(st.integers(0, 9)) else draw(st.booleans())
    past_due = draw(st.integers(1, max(balance, 1))) if late else 0
    state = AccountState(f"A{draw(st.integers(0, 999))}", status, dpd, bucket,
                         TODAY - timedelta(days=age), TODAY - timedelta(days=1),
                         balance=balance, past_due=past_due)
    history = [PastArrangement(draw(st.sampled_from(["hardship_plan", "payment_holiday",
                                                     "settlement"])),
                               TODAY - timedelta(days=draw(st.integers(1, 2200))),
                               draw(st.sampled_from(["posted", "pending", "rejected"])))
               for _ in range(draw(st.sampled_from([0, 0, 1, 2, 3])))]
    view = {"arm": draw(st.sampled_from(["champion", "explore"])),
            "broken": draw(st.integers(0, 3)), "signal_age": draw(st.integers(0, 40)),
            "self_cure": draw(st.one_of(st.just(float("nan")), st.floats(0, 1))),
            "offer_age": draw(st.integers(0, 60))}
    return state, history, view


@st.composite
def rule(draw: st.DrawFn) -> dict[str, object]:
    kind = draw(st.sampled_from(["hardship_plan", "payment_holiday", "settlement"]))
    out: dict[str, object] = {"name": f"r{draw(st.integers(0, 10**6))}", "kind": kind,
                              "contact": {"channel": "agent", "at": "19:00"}}
    if kind == "hardship_plan":
        out["terms"] = draw(st.integers(3, 12))
    elif kind == "payment_holiday":
        out["terms"] = draw(st.integers(1, 3))
    when: dict[str, object] = {}
    if draw(st.booleans()):
        when["buckets"] = draw(st.lists(st.sampled_from(BUCKETS), min_size=1, max_size=4,
                                        unique=True))
    if draw(st.booleans()):
        when["min_dpd"] = draw(st.integers(0, 60))
    if draw(st.booleans()):
        when["min_broken_promises"] = draw(st.integers(1, 2))
    if draw(st.booleans()):
        when["hardship_signal_days"] = draw(st.integers(1, 30))
    if draw(st.booleans()):
        when["max_self_cure"] = draw(st.floats(0.05, 1.0))
    if draw(st.booleans()):
        when["min_past_due"] = draw(st.integers(0, 100_000))
    if draw(st.booleans()):
        out["arms"] = ["champion"]
    out["when"] = when
    return out


def _count(history: list[PastArrangement], kind: str, months: int) -> int:
    since = add_months(TODAY, -months)
    return sum(1 for h in history if h.kind == kind and h.status != "rejected"
               and since < h.business_date <= TODAY)


def _assert_allowed_by_policy(s: AccountState, hist: list[PastArrangement], kind: str,
                              terms: int | None, amount: int | None) -> None:
    age = (TODAY - s.opened).days
    if kind == "settlement":
        assert s.status in ("open", "charged_off")
        floor = POLICY.settlement.floor[s.bucket]            # a bucket with a floor
        assert amount is not None and 0 < amount <= s.balance
        num, den = Decimal(floor).as_integer_ratio()
        assert amount * den >= s.balance * num               # at least the floor
        assert s.balance - amount <= POLICY.settlement.approval_above_writeoff
        return
    assert s.status == "open"
    if kind == "hardship_plan":
        r = POLICY.hardship_plan
        assert s.past_due > 0 and r.min_dpd <= s.dpd <= r.max_dpd
        assert age >= r.min_account_age_days                 # FFIEC: nine months on book
        assert terms is not None and r.min_terms <= terms <= r.max_terms
        assert amount == s.past_due
        assert _count(hist, kind, 12) < r.max_reages_12_months
        assert _count(hist, kind, 60) < r.max_reages_5_years
        assert s.past_due <= r.approval_above                # no approver is named
        return
    h = POLICY.payment_holiday
    assert s.bucket in h.buckets and age >= h.min_account_age_days
    assert terms is not None and h.min_months <= terms <= h.max_months
    assert amount == 0 and _count(hist, kind, 12) < h.max_per_12_months


@settings(max_examples=300, deadline=None)
@given(cases=st.lists(account(), min_size=1, max_size=8),
       rules=st.lists(rule(), min_size=1, max_size=3, unique_by=lambda r: r["name"]),
       cooldown=st.integers(0, 45))
def test_an_offer_never_breaks_the_policy(cases: list[tuple[AccountState,
                                                            list[PastArrangement],
                                                            dict[str, object]]],
                                          rules: list[dict[str, object]],
                                          cooldown: int) -> None:
    cfg = Offers.model_validate({"cooldown_days": cooldown, "rules": rules})
    states = [c[0] for c in cases]
    hists = [c[1] for c in cases]
    view = OfferView.of(
        arm=[str(c[2]["arm"]) for c in cases], bucket=[s.bucket for s in states],
        dpd=[s.dpd for s in states], broken=[int(c[2]["broken"]) for c in cases],  # type: ignore[call-overload]
        signal_age=[int(c[2]["signal_age"]) for c in cases],  # type: ignore[call-overload]
        self_cure=[float(c[2]["self_cure"]) for c in cases],  # type: ignore[arg-type]
        past_due=[s.past_due for s in states],
        offer_age=[int(c[2]["offer_age"]) for c in cases])  # type: ignore[call-overload]
    m = rule_matches(cfg, view)
    decisions = choose_offers(cfg, m, states, hists, POLICY, TODAY)
    # one answer per case with a matching rule, none for the others
    assert [d.case for d in decisions] == np.nonzero(m.any(axis=1))[0].tolist()
    for d in decisions:
        i = d.case
        j = [r.name for r in cfg.rules].index(d.rule)
        assert m[i, j]
        r = cfg.rules[j]
        w = r.when
        # the rule's conditions hold for the case
        assert view.offer_age[i] >= cooldown
        assert r.arms is None or view.arm[i] in r.arms
        assert w.buckets is None or states[i].bucket in w.buckets
        assert w.min_dpd is None or states[i].dpd >= w.min_dpd
        assert w.min_broken_promises is None or view.broken[i] >= w.min_broken_promises
        assert w.hardship_signal_days is None or view.signal_age[i] < w.hardship_signal_days
        assert w.max_self_cure is None or view.self_cure[i] < w.max_self_cure
        assert w.min_past_due is None or states[i].past_due >= w.min_past_due
        if d.eligible:
            assert d.kind == r.kind and d.policy_rule is None
            _assert_allowed_by_policy(states[i], hists[i], d.kind, d.terms, d.amount)
        else:
            assert d.policy_rule is not None and d.policy_rule.split(".")[0] in (
                "account", "hardship_plan", "payment_holiday", "settlement")


def test_a_young_account_gets_no_hardship_plan() -> None:
    cfg = Offers.model_validate({"rules": [{"name": "p", "kind": "hardship_plan", "terms": 6,
                                            "contact": {"channel": "agent", "at": "19:00"}}]})
    young = AccountState("A", "open", 20, "M1", TODAY - timedelta(days=269), TODAY,
                         balance=50_000, past_due=10_000)
    old = AccountState("B", "open", 20, "M1", TODAY - timedelta(days=270), TODAY,
                       balance=50_000, past_due=10_000)
    view = OfferView.of(arm=["champion"] * 2, bucket=["M1"] * 2, dpd=[20, 20])
    out = choose_offers(cfg, rule_matches(cfg, view), [young, old], [[], []], POLICY, TODAY)
    assert [(d.eligible, d.policy_rule) for d in out] == [
        (False, "hardship_plan.min_account_age_days"), (True, None)]


def test_the_borrowers_answers_move_the_right_way() -> None:
    p = SimParams()
    k = np.array(["hardship_plan"] * 4)
    acc = offer_acceptance_probability(k, np.array([False, True, False, True]),
                                       np.array([5, 5, 75, 75]), np.zeros(4),
                                       np.zeros(4, bool), p)
    assert acc[1] > acc[0] and acc[3] > acc[2] and acc[2] > acc[0]
    s = np.array(["settlement"] * 3)
    settle = offer_acceptance_probability(s, np.array([False, False, True]),
                                          np.full(3, 70), np.array([0.3, 0.5, 0.3]),
                                          np.zeros(3, bool), p)
    assert settle[1] > settle[0] > settle[2]
    msg = offer_acceptance_probability(k[:1], np.ones(1, bool), np.ones(1), np.zeros(1),
                                       np.ones(1, bool), p)
    assert msg[0] < acc[1]
    keep = plan_keep_probability(np.array([0.0, 2.0, 0.0]), np.array([False, False, True]), p)
    assert keep[0] > keep[1] and keep[0] > keep[2]
    # a debtor in a plan pays its instalment far more often than the full arrears: from
    # one month late in hardship, the monthly model cures about one in six
    assert keep.min() > 0.6
