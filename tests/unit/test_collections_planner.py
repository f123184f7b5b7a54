"""The contact planner's solver (creditdesk.collections.planner).

A worked example computed by hand, properties on random small instances (checked against
HiGHS's LP and MIP), the acceptance criterion of the issue (within 1 % of the exact MIP
optimum on small instances with binding capacities), the price-clearing path used above
30,000 cases (exercised on a small instance by lowering its threshold), and the
validation messages.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from creditdesk.collections import planner
from creditdesk.collections.planner import (
    PlanProblem,
    PlanSolution,
    lp_bound,
    solve,
    solve_exact,
)
from creditdesk.errors import BadInputError

# ----------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------


def _usage(p: PlanProblem, chosen: np.ndarray) -> np.ndarray:
    on = chosen & (p.resource >= 0)
    return np.bincount(p.resource[on], weights=p.use[on], minlength=p.n_resources)


def _assert_feasible(p: PlanProblem, chosen: np.ndarray) -> None:
    assert chosen.dtype == bool and chosen.shape == p.value.shape
    used = _usage(p, chosen)
    assert np.all(used <= p.capacity + 1e-9 * np.maximum(p.capacity, 1.0)), (used, p.capacity)
    per_case = np.bincount(p.case[chosen], minlength=p.n_cases)
    assert np.all(per_case <= p.case_limit)
    assert not per_case[p.case_limit == 0].any()


def _greedy_by_value(p: PlanProblem) -> np.ndarray:
    """The plan a planner without prices makes: best value first, if it still fits."""
    chosen = np.zeros(len(p.value), dtype=bool)
    left = p.capacity.copy()
    room = p.case_limit.copy()
    for i in np.argsort(-p.value, kind="stable"):
        r = p.resource[i]
        if p.value[i] <= 0 or room[p.case[i]] == 0 or (r >= 0 and p.use[i] > left[r]):
            continue
        chosen[i] = True
        room[p.case[i]] -= 1
        if r >= 0:
            left[r] -= p.use[i]
    return chosen


# ----------------------------------------------------------------------------------
# the worked example
# ----------------------------------------------------------------------------------

# Three cases, one contact each today; 10 agent minutes (row 0), 2 SMS (row 1).
#   case 0: agent call worth 10 using all 10 minutes, or an SMS worth 6
#   case 1: agent call worth 9 (5 minutes), or an SMS worth 2
#   case 2: agent call worth 8 (5 minutes), or an SMS worth 5
# Greedy by value gives case 0 the call (10), then the SMS to cases 2 and 1: 17.
# The optimum gives the minutes to cases 1 and 2 (9 + 8) and case 0 its SMS (6): 23.
# The LP relaxation cannot do better: at an agent price of 0.5 a minute and SMS free,
# the cases' best reduced values are 6, 6.5 and 5.5, plus 0.5 x 10 minutes = 23.
WORKED = dict(case=[0, 0, 1, 1, 2, 2], value=[10.0, 6.0, 9.0, 2.0, 8.0, 5.0],
              resource=[0, 1, 0, 1, 0, 1], use=[10.0, 1.0, 5.0, 1.0, 5.0, 1.0],
              capacity=[10.0, 2.0], case_limit=[1, 1, 1])
OPTIMUM = [False, True, True, False, True, False]


def test_worked_example_greedy_by_value_is_wrong() -> None:
    p = PlanProblem(**WORKED)
    greedy = _greedy_by_value(p)
    assert greedy.tolist() == [True, False, False, True, False, True]
    assert p.objective(greedy) == 17.0


def test_worked_example_planner_finds_the_optimum_and_its_bound() -> None:
    p = PlanProblem(**WORKED)
    s = solve(p)
    assert isinstance(s, PlanSolution)
    assert s.chosen.tolist() == OPTIMUM
    assert s.objective == 23.0
    assert s.bound == pytest.approx(23.0, abs=1e-9)
    assert s.gap == pytest.approx(0.0, abs=1e-9)
    # the SMS budget does not bind at the optimum (one of two used): its price is 0;
    # any agent price in [0.4, 0.6] proves 23 optimal
    assert 0.4 - 1e-9 <= s.prices[0] <= 0.6 + 1e-9
    assert s.prices[1] == pytest.approx(0.0, abs=1e-12)


def test_worked_example_lp_bound_and_exact_mip() -> None:
    p = PlanProblem(**WORKED)
    assert lp_bound(p) == pytest.approx(23.0, abs=1e-6)
    e = solve_exact(p)
    assert e.chosen.tolist() == OPTIMUM
    assert e.objective == 23.0


# ----------------------------------------------------------------------------------
# properties on random small instances
# ----------------------------------------------------------------------------------

# numbers on a quarter grid: realistic magnitudes, many ties, no denormal coefficients
# that HiGHS would read as zero
QUARTERS = st.integers(0, 48).map(lambda k: k / 4)


@st.composite
def problems(draw: st.DrawFn) -> PlanProblem:
    n_cases = draw(st.integers(0, 10))
    n_res = draw(st.integers(0, 3))
    n = draw(st.integers(0, 30)) if n_cases else 0

    def column(elements: st.SearchStrategy, size: int) -> list:
        return draw(st.lists(elements, min_size=size, max_size=size))

    return PlanProblem(
        case=column(st.integers(0, max(n_cases - 1, 0)), n),
        value=column(st.integers(-20, 80).map(lambda k: k / 4), n),
        resource=column(st.integers(-1, n_res - 1), n),
        use=column(QUARTERS, n),
        capacity=column(QUARTERS, n_res),
        case_limit=column(st.integers(0, 3), n_cases),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_plan_is_feasible_and_below_every_bound(p: PlanProblem) -> None:
    s = solve(p)
    _assert_feasible(p, s.chosen)
    assert not (s.chosen & (p.value <= 0)).any()  # never a contact worth nothing
    assert s.objective == pytest.approx(float(p.value[s.chosen].sum()), abs=1e-9)
    scale = max(1.0, abs(s.bound))
    assert s.objective <= s.bound + 1e-9 * scale
    assert s.gap == pytest.approx((s.bound - s.objective) / max(abs(s.bound), 1e-9))
    assert s.prices.shape == p.capacity.shape and np.all(s.prices >= 0)
    lp = lp_bound(p)
    assert lp <= s.bound + 1e-6 * scale  # the Lagrangian bound is an LP dual value
    e = solve_exact(p)
    _assert_feasible(p, e.chosen)
    assert e.objective <= lp + 1e-6 * max(1.0, abs(lp))
    assert s.objective <= e.objective + 1e-9 * scale


# ----------------------------------------------------------------------------------
# the acceptance criterion: within 1 % of the exact MIP optimum on small instances
# ----------------------------------------------------------------------------------

# Three rows as in a day's plan: agent minutes (a call takes 3-12), robot minutes (1-3),
# SMS (1 each). Each case has 4 candidates on random rows with values skewed like
# collections (a few cases worth much, most little; some candidates worth less than
# they cost). Capacities are 20-70 % of what the worthwhile candidates would use, so
# every row binds.
USE_LO = np.array([3.0, 1.0, 1.0])
USE_HI = np.array([12.0, 3.0, 1.0])
COST = np.array([4.0, 0.5, 0.05])


def small_day(seed: int, n_cases: int, tightness: float) -> PlanProblem:
    rng = np.random.default_rng(seed)
    k = 4
    case = np.repeat(np.arange(n_cases), k)
    res = rng.integers(0, 3, size=case.size)
    use = rng.uniform(USE_LO[res], USE_HI[res])
    worth = np.repeat(rng.lognormal(2.0, 1.0, size=n_cases), k)
    value = (worth * rng.uniform(0.1, 1.0, size=case.size) - COST[res] * use / USE_HI[res])
    pos = value > 0
    demand = np.bincount(res[pos], weights=use[pos], minlength=3)
    cap = np.floor(demand * (tightness + rng.uniform(0.0, 0.3, size=3)))
    return PlanProblem(case=case, value=value.round(2), resource=res.astype(np.int32),
                       use=use, capacity=cap,
                       case_limit=rng.choice([0, 1, 1, 1, 2], size=n_cases))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n_cases=st.integers(1, 60),
       tightness=st.floats(0.2, 0.4))
# instances where the repaired Lagrangian plan alone misses by 1.5-5.6 % (the local search
# closes it): they keep this test failing if that ever regresses
@example(seed=1, n_cases=8, tightness=0.25)
@example(seed=122, n_cases=15, tightness=0.3)
@example(seed=172, n_cases=5, tightness=0.3)
@example(seed=232, n_cases=5, tightness=0.3)
@example(seed=241, n_cases=8, tightness=0.25)
@example(seed=336, n_cases=13, tightness=0.25)
def test_within_one_percent_of_the_exact_mip(seed: int, n_cases: int,
                                              tightness: float) -> None:
    """Relative to max(|optimum|, 1): the values are currency units, and when nothing is
    worth doing the optimum is 0 and the plan must be worth 0 too (within a cent)."""
    p = small_day(seed, n_cases, tightness)
    s = solve(p)
    e = solve_exact(p)
    _assert_feasible(p, s.chosen)
    assert e.method == "highs-mip"
    assert e.objective - s.objective <= 0.01 * max(abs(e.objective), 1.0), (
        s.objective, e.objective)


# ----------------------------------------------------------------------------------
# the path for large problems: a sampled LP, then prices cleared on the whole problem
# ----------------------------------------------------------------------------------


def test_sampled_lp_and_clearing_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(planner, "_EXACT_CASES", 100)
    monkeypatch.setattr(planner, "_SAMPLE_CASES", 80)
    p = small_day(seed=11, n_cases=600, tightness=0.3)
    s = solve(p)
    assert "clearing" in s.method
    _assert_feasible(p, s.chosen)
    lp = lp_bound(p)
    assert lp <= s.bound + 1e-6 * abs(lp)
    assert s.bound - lp <= 1e-3 * abs(lp)  # cleared prices: the bound is near the LP's
    assert s.gap < 0.01


# ----------------------------------------------------------------------------------
# degenerate problems
# ----------------------------------------------------------------------------------


def test_empty_problem() -> None:
    p = PlanProblem(case=np.zeros(0, dtype=np.int64), value=[], resource=np.zeros(0, np.int32),
                    use=[], capacity=[], case_limit=np.zeros(0, np.int64))
    s = solve(p)
    assert s.chosen.shape == (0,) and s.objective == 0.0 and s.bound == 0.0
    assert lp_bound(p) == 0.0 and solve_exact(p).objective == 0.0


def test_nothing_worth_doing_plans_nothing() -> None:
    p = PlanProblem(case=[0, 0, 1], value=[-1.0, 0.0, -3.0], resource=[0, -1, 0],
                    use=[1.0, 0.0, 1.0], capacity=[5.0], case_limit=[1, 1])
    s = solve(p)
    assert not s.chosen.any() and s.objective == 0.0 and s.bound == 0.0 and s.gap == 0.0


def test_no_capacity_rows_is_the_per_case_best() -> None:
    p = PlanProblem(case=[0, 0, 0, 1, 1], value=[3.0, 5.0, 4.0, 2.0, 1.0],
                    resource=[-1, -1, -1, -1, -1], use=[0.0] * 5, capacity=[],
                    case_limit=[2, 0])
    s = solve(p)
    assert s.chosen.tolist() == [False, True, True, False, False]
    assert s.objective == 9.0 and s.bound == 9.0 and s.method == "per-case"


def test_zero_capacity_row_is_never_used() -> None:
    p = PlanProblem(case=[0, 0], value=[9.0, 1.0], resource=[0, 1], use=[2.0, 1.0],
                    capacity=[0.0, 1.0], case_limit=[1])
    s = solve(p)
    assert s.chosen.tolist() == [False, True]


def test_writes_nothing_to_stdout() -> None:
    """HiGHS's banner would corrupt the --json output of whatever calls the planner (it
    is printed once per process, hence a fresh one)."""
    code = ("from creditdesk.collections.planner import PlanProblem, solve, lp_bound, "
            "solve_exact\n"
            f"p = PlanProblem(**{WORKED!r})\n"
            "solve(p); lp_bound(p); solve_exact(p)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout == ""


# ----------------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------------

GOOD = dict(case=[0, 1, 1], value=[1.0, 2.0, 3.0], resource=[0, -1, 0],
            use=[1.0, 0.0, 2.0], capacity=[5.0], case_limit=[1, 1])


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"value": [1.0, 2.0]}, "value", "value must be of length 3"),
    ({"use": [1.0]}, "use", "use must be of length 3"),
    ({"resource": [0, 0]}, "resource", "resource must be of length 3"),
    ({"case": [0, 2, 1]}, "case", "case must be a case index in [0, 2)"),
    ({"case": [0, -1, 1]}, "case", "got -1 at candidate 1"),
    ({"case": [0.0, 1.0, 1.0]}, "case", "case must be integers; got dtype float64"),
    ({"resource": [0, -2, 0]}, "resource", "resource must be -1 or a capacity row in [0, 1)"),
    ({"resource": [0, 1, 0]}, "resource", "got 1 at candidate 1"),
    ({"use": [1.0, -0.5, 2.0]}, "use", "use must be >= 0; got -0.5 at candidate 1"),
    ({"value": [1.0, float("nan"), 3.0]}, "value", "value must be finite; got nan"),
    ({"value": [1.0, 2.0, float("inf")]}, "value", "got inf at candidate 2"),
    ({"value": ["a", "b", "c"]}, "value", "value must be numbers"),
    ({"capacity": [-5.0]}, "capacity", "capacity must be >= 0; got -5.0 at row 0"),
    ({"capacity": [float("inf")]}, "capacity", "capacity must be finite"),
    ({"case_limit": [1, -1]}, "case_limit", "case_limit must be >= 0; got -1 at case 1"),
    ({"case_limit": [[1, 1]]}, "case_limit", "must be a one-dimensional array; got shape"),
])
def test_bad_input_names_the_field(change: dict, field: str, words: str) -> None:
    with pytest.raises(BadInputError) as err:
        PlanProblem(**{**GOOD, **change})
    assert words in str(err.value)
    assert err.value.field == field
    assert "must be" in str(err.value) and "got" in str(err.value)


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"max_iter": -1}, "max_iter must be >= 0; got -1"),
    ({"tol": -0.1}, "tol must be >= 0; got -0.1"),
    ({"tol": float("nan")}, "tol must be >= 0; got nan"),
])
def test_bad_solver_settings(kwargs: dict, words: str) -> None:
    with pytest.raises(BadInputError, match=words):
        solve(PlanProblem(**GOOD), **kwargs)


def test_good_input_is_normalised() -> None:
    p = PlanProblem(**GOOD)
    assert p.case.dtype == np.int64 and p.resource.dtype == np.int32
    assert p.value.dtype == np.float64 and p.case_limit.dtype == np.int64
    assert p.n_cases == 2 and p.n_resources == 1
