"""The optimized day: capacities and per-debtor limits hold, explore is random, holds get nothing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditdesk.collections.features import case_features
from creditdesk.collections.optimize import CONTROL, CollectModels, choose, shipped_models
from creditdesk.collections.proposals import BookView, propose
from creditdesk.collections.strategy import Strategy, load_strategy

AGENT = 3


@pytest.fixture(scope="module")
def models() -> CollectModels:
    return CollectModels.load(shipped_models())


def _day(strat: Strategy, n: int, seed: int, hold: np.ndarray | None = None,
         explore_share: float = 0.0):
    rng = np.random.default_rng(seed)
    dpd = rng.integers(1, 120, n)
    view = BookView.of(dpd=dpd.tolist(), days_to_due=(-dpd).tolist(),
                       total_due=rng.integers(5_000, 500_000, n).tolist(), flagged=[True] * n,
                       arm=["champion"] * n, hold=None if hold is None else hold.tolist())
    menu = propose(strat, view)
    accs = np.unique(menu.account)
    feats = case_features(dpd=dpd[accs], days_to_due=-dpd[accs], total_due=view.total_due[accs],
                          overdue=view.total_due[accs], is_loan=rng.random(len(accs)) < 0.3,
                          pd=rng.random(len(accs)), contacts_7d=rng.integers(0, 9, len(accs)),
                          reached_7d=rng.integers(0, 3, len(accs)),
                          promise_pending=np.zeros(len(accs), bool),
                          broken=np.zeros(len(accs), int))
    feats.index = accs
    explore = rng.random(n) < explore_share
    unit = rng.integers(0, max(n // 2, 1), n)          # some debtors hold two accounts
    return menu, feats, explore, unit


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 10_000), st.floats(0, 60), st.integers(1, 2))
def test_capacity_and_per_debtor_limits_hold(models: CollectModels, seed: int,
                                             agent_minutes: float, per_day: int) -> None:
    base = load_strategy("optimized")
    strat = base.model_copy(update={"planner": base.planner.model_copy(update={
        "agent_minutes_per_hour": agent_minutes, "max_per_customer_per_day": per_day})})
    menu, feats, explore, unit = _day(strat, 300, seed)
    day = choose(strat, menu, feats, explore, unit, models, np.random.default_rng(seed))
    picked = day.chosen
    hours = menu.minute[picked & (menu.channel == AGENT)] // 60
    for h in np.unique(hours):
        used = (hours == h).sum() * strat.planner.agent_minutes_per_call
        assert used <= agent_minutes + 1e-9
    per_unit = np.bincount(unit[menu.account[picked]], minlength=unit.max() + 1)
    assert per_unit.max(initial=0) <= per_day
    if day.solution is not None:
        assert day.solution.objective <= day.solution.bound + 1e-6 * max(1, abs(day.solution.bound))
    logged = day.log.set_index("account")["treatment"]
    assert set(logged.index) == set(np.unique(menu.account).tolist())


def test_explore_arm_draws_uniformly_with_its_propensity(models: CollectModels) -> None:
    strat = load_strategy("optimized")
    menu, feats, _, unit = _day(strat, 2000, 3)
    explore = np.ones(2000, bool)
    day = choose(strat, menu, feats, explore, unit, models, np.random.default_rng(1))
    k = np.bincount(menu.account, minlength=2000)
    lg = day.log.set_index("account")
    assert np.allclose(lg["propensity"].to_numpy(), 1.0 / (k[lg.index.to_numpy()] + 1))
    share_none = float((lg["treatment"] == CONTROL).mean())
    assert abs(share_none - float(np.mean(1.0 / (k[k > 0] + 1)))) < 0.03
    # at most one contact per explore account
    assert np.bincount(menu.account[day.chosen], minlength=2000).max() <= 1


def test_a_case_on_hold_gets_nothing(models: CollectModels) -> None:
    strat = load_strategy("optimized")
    hold = np.ones(50, bool)
    menu, feats, explore, unit = _day(strat, 50, 4, hold=hold)
    assert len(menu) == 0
    day = choose(strat, menu, feats, explore, unit, models, np.random.default_rng(0))
    assert not day.chosen.any() and day.log.empty
