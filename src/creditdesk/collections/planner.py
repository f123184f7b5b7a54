"""The optimising contact planner's solver: which candidate contacts to make tomorrow.

Each open collection case has a few allowed candidate contacts (a channel, a party, a time
slot), each with a net expected value (expected recovery minus contact cost minus a price
per expected complaint). The plan picks at most ``case_limit`` candidates per case and
keeps every capacity row (agent minutes in an hour, robot lines in an hour, the day's SMS
and push budgets) within its capacity, maximising the total value. It is a 0-1 programme
with a million cases but only a few dozen coupling rows, and the method lives off that:

* **Lagrangian bound.** Price each capacity row; a candidate's reduced value is
  ``value - price[resource] * use``. Given prices the cases decouple: each takes its
  top-``case_limit`` candidates by positive reduced value (one vectorised pass). The dual
  value ``sum(reduced values taken) + price . capacity`` is an upper bound on every plan
  for *any* prices >= 0, and since a case's own polytope is integral its minimum over the
  prices equals the LP relaxation's optimum. The lowest one found is the ``bound``.
* **Prices.** Up to 30,000 cases, HiGHS solves the LP relaxation itself and its row
  duals are the prices (the bound is then the LP optimum). Above that, HiGHS solves the
  LP of 20,000 random cases against proportionally scaled capacities, and the prices are
  then cleared on the whole problem: each row's price moves until the capacity the
  Lagrangian plan asks of it matches what it has (a secant step per row on its own
  demand curve, damped, with a multiplicative step as fallback). Demand falls as a row's
  own price rises, so this is a root search per row; the rows interact (an agent slot's
  price pushes cases to the next slot), which the damping absorbs. Each step is one
  Lagrangian evaluation and the lowest dual value seen is kept, so the bound stays valid
  whatever the steps do. On the benchmark's day at 100,000 cases, from the same sampled
  prices, 16 clearing steps bring the bound within 5e-8 of the LP optimum; 200 projected
  subgradient steps with Polyak's step length get within 6e-5 (docs/collections-planner.md).
* **Greedy repair.** The plan at the best prices (and, on small problems, the rounded LP
  solution) can over-use a row where cases tie. Over-used rows shed candidates, the
  least worth per unit first (worth: the reduced value, less what the case keeps from
  its best candidate on a row with room; the plain reduced value is tried too, and the
  better plan kept); leftover capacity is refilled with the best remaining candidates
  that fit; cases trade a chosen contact for a better one of theirs where capacity
  allows. On small problems (up to 20,000 candidates), where one contact is a visible
  share of a row, a local search closes most of what greedy rounding leaves:
  ruin-and-recreate trials run side by side, best single exchanges, then pairs and rings
  of moves across cases.

The pure core: no I/O, arrays in, arrays out. This module holds the problem, the answer and
the entry points; the working parts (compact form, evaluation, prices, repair) are in
:mod:`creditdesk.collections.planner_core`, the local search in
:mod:`creditdesk.collections.planner_search`, and the HiGHS models (the LPs, the exact MIP for
small instances and tests) in :mod:`creditdesk.collections.planner_exact`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from creditdesk.collections.planner_core import (
    _EXACT_CASES,
    _LNS_ITEMS,
    _LNS_ROUNDS,
    _SAMPLE_CASES,
    _SMALL,
    _clear,
    _Compact,
    _compact,
    _evaluate,
    _fill,
    _lp_prices,
    _repair,
    _upgrade,
)
from creditdesk.collections.planner_exact import reduce_model, solve_model
from creditdesk.collections.planner_search import _exchange, _ruin_recreate, _two_moves
from creditdesk.errors import BadInputError

# --------------------------------------------------------------------------------------
# the problem and the answer
# --------------------------------------------------------------------------------------


def _bad(field: str, expected: str, got: object, row: int | None = None) -> BadInputError:
    unit = {"capacity": "row", "case_limit": "case"}.get(field, "candidate")
    where = "" if row is None else f" at {unit} {row}"
    return BadInputError(f"{field} must be {expected}; got {got}{where}", row=row, field=field,
                         value=got)


def _array(field: str, data: object, kind: str) -> np.ndarray:
    arr = np.asarray(data)
    if arr.ndim != 1:
        raise _bad(field, "a one-dimensional array", f"shape {arr.shape}")
    if kind == "int":
        if arr.size and arr.dtype.kind not in "iu":
            raise _bad(field, "integers", f"dtype {arr.dtype}")
        return arr.astype(np.int64)
    if arr.size and arr.dtype.kind not in "iuf":
        raise _bad(field, "numbers", f"dtype {arr.dtype}")
    out = arr.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        raise _bad(field, "finite", out[bad[0]], int(bad[0]))
    return out


def _check_range(field: str, arr: np.ndarray, lo: float, hi: float | None, text: str) -> None:
    bad = arr < lo if hi is None else (arr < lo) | (arr >= hi)
    idx = np.flatnonzero(bad)
    if idx.size:
        got = arr[idx[0]].item()
        raise _bad(field, text, got, int(idx[0]))


@dataclass(frozen=True, eq=False)
class PlanProblem:
    """One day's planning problem over candidate contacts (validated on construction).

    Arrays are per candidate (``case``, ``value``, ``resource``, ``use``), per capacity row
    (``capacity``) or per case (``case_limit``; its length is the number of cases).

    >>> p = PlanProblem(case=[0, 0, 1], value=[5.0, 3.0, 4.0], resource=[0, -1, 0],
    ...                 use=[1.0, 0.0, 1.0], capacity=[1.0], case_limit=[1, 1])
    >>> p.n_cases, p.n_resources, len(p.value)
    (2, 1, 3)
    """

    case: np.ndarray
    value: np.ndarray
    resource: np.ndarray
    use: np.ndarray
    capacity: np.ndarray
    case_limit: np.ndarray

    def __post_init__(self) -> None:
        case = _array("case", self.case, "int")
        value = _array("value", self.value, "float")
        resource = _array("resource", self.resource, "int")
        use = _array("use", self.use, "float")
        capacity = _array("capacity", self.capacity, "float")
        case_limit = _array("case_limit", self.case_limit, "int")
        n = len(case)
        for name, arr in (("value", value), ("resource", resource), ("use", use)):
            if len(arr) != n:
                raise _bad(name, f"of length {n} (one per candidate, like case)",
                           f"length {len(arr)}")
        _check_range("case", case, 0, len(case_limit),
                     f"a case index in [0, {len(case_limit)}) (len(case_limit))")
        _check_range("resource", resource, -1, len(capacity),
                     f"-1 or a capacity row in [0, {len(capacity)})")
        _check_range("use", use, 0.0, None, ">= 0")
        _check_range("capacity", capacity, 0.0, None, ">= 0")
        _check_range("case_limit", case_limit, 0, None, ">= 0")
        object.__setattr__(self, "case", case)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "resource", resource.astype(np.int32))
        object.__setattr__(self, "use", use)
        object.__setattr__(self, "capacity", capacity)
        object.__setattr__(self, "case_limit", case_limit)

    @property
    def n_cases(self) -> int:
        return len(self.case_limit)

    @property
    def n_resources(self) -> int:
        return len(self.capacity)

    def objective(self, chosen: np.ndarray) -> float:
        """Total value of a 0-1 choice of candidates."""
        return float(self.value[np.asarray(chosen, dtype=bool)].sum())


@dataclass(frozen=True, eq=False)
class PlanSolution:
    """A feasible plan, with an upper bound that says how far from optimal it can be."""

    chosen: np.ndarray  # bool per candidate
    objective: float  # sum of value over chosen
    bound: float  # upper bound on the LP relaxation optimum (hence on any plan)
    gap: float  # (bound - objective) / max(|bound|, 1e-9)
    prices: np.ndarray  # final price per resource row (0 on rows that never bind)
    method: str
    seconds: float


def _gap(bound: float, objective: float) -> float:
    return (bound - objective) / max(abs(bound), 1e-9)


def _polish(c: _Compact, chosen: np.ndarray, reduced: np.ndarray,
            regret: bool = True) -> np.ndarray:
    """Repair, refill, upgrade within cases, refill."""
    chosen = _fill(c, _repair(c, chosen, reduced, regret), reduced)
    return _fill(c, _upgrade(c, chosen), reduced)


# --------------------------------------------------------------------------------------
# public entry points
# --------------------------------------------------------------------------------------


def solve(problem: PlanProblem, *, max_iter: int = 40, tol: float = 1e-3) -> PlanSolution:
    """Plan the day: Lagrangian prices (LP duals, or a sampled LP cleared on the whole
    problem), then a greedy repair of the plan they give.

    ``max_iter`` caps the clearing steps (each one Lagrangian evaluation, a vectorised
    pass over the candidates); ``tol`` is the relative mismatch between a row's demand
    and its capacity at which clearing stops. Neither changes what ``bound`` means: it is
    always a valid upper bound, and ``gap`` says how far the plan can be from optimal.

    The worked example: one agent minute left, two cases that both want it. Greedy by
    value gives it to case 0 (worth 5) and leaves case 1 its SMS (2): 7. Giving it to
    case 1 (worth 4) and case 0 its SMS (4) makes 8.

    >>> p = PlanProblem(case=[0, 0, 1, 1], value=[5.0, 4.0, 4.0, 2.0],
    ...                 resource=[0, 1, 0, 1], use=[1.0, 1.0, 1.0, 1.0],
    ...                 capacity=[1.0, 5.0], case_limit=[1, 1])
    >>> s = solve(p)
    >>> s.chosen.tolist(), s.objective, s.bound, s.gap
    ([False, True, True, False], 8.0, 8.0, 0.0)
    """
    t0 = time.perf_counter()
    if max_iter < 0:
        raise BadInputError(f"max_iter must be >= 0; got {max_iter}", field="max_iter",
                            value=max_iter)
    if not tol >= 0:
        raise BadInputError(f"tol must be >= 0; got {tol}", field="tol", value=tol)
    c = _compact(problem)
    out_prices = np.zeros(problem.n_resources)
    chosen_all = np.zeros(len(problem.value), dtype=bool)
    if len(c.starts) == 0:
        return PlanSolution(chosen_all, 0.0, 0.0, 0.0, out_prices, "empty",
                            time.perf_counter() - t0)
    starts: list[np.ndarray] = []
    if len(c.priced) == 0:  # nothing couples the cases: the per-case choice is optimal
        best = _evaluate(c, np.zeros(0))
        method = "per-case"
    elif len(c.starts) <= _EXACT_CASES:
        prices, x = _lp_prices(c, None)
        best = _evaluate(c, prices)
        if x is not None:
            starts.append(x > 0.5)
        method = "lagrangian+lp-prices+greedy-repair"
    else:
        best, n = _clear(c, _evaluate(c, _lp_prices(c, _SAMPLE_CASES)[0]), max_iter, tol)
        method = f"lagrangian+sampled-lp+clearing({n} steps)+greedy-repair"
    starts.append(best.chosen)
    plan, obj = best.chosen, -math.inf
    for start in starts:
        for regret in (True, False):
            cand = _polish(c, start, best.reduced, regret)
            v = float(c.value[cand].sum())
            if v > obj:
                plan, obj = cand, v
    if len(c.value) <= _SMALL and best.dual - obj > 1e-12 * max(abs(best.dual), 1.0):
        width = min(64, _LNS_ITEMS // len(c.value))
        if width >= 4:
            plan = _ruin_recreate(c, plan, best.reduced, _LNS_ROUNDS, width=width)
        plan = _fill(c, _two_moves(c, _exchange(c, plan)), best.reduced)
        method += "+local-search"
    plan = _repair(c, plan, best.reduced)  # a no-op unless a step above slipped
    chosen_all[c.idx[plan]] = True
    out_prices[c.priced] = best.prices
    objective = problem.objective(chosen_all)
    bound = best.dual
    return PlanSolution(chosen_all, objective, bound, _gap(bound, objective), out_prices,
                        method, time.perf_counter() - t0)


def lp_bound(problem: PlanProblem, *, time_limit: float | None = None) -> float:
    """The LP relaxation's optimum by HiGHS's interior-point method (no crossover).

    An upper bound on every plan, independent of :func:`solve`'s own bound. Raises
    ``TimeoutError`` if HiGHS stops at ``time_limit`` seconds before optimality.

    >>> p = PlanProblem(case=[0, 0, 1, 1], value=[5.0, 4.0, 4.0, 2.0],
    ...                 resource=[0, 1, 0, 1], use=[1.0, 1.0, 1.0, 1.0],
    ...                 capacity=[1.0, 5.0], case_limit=[1, 1])
    >>> round(lp_bound(p), 6)
    8.0
    """
    model = reduce_model(problem.case, problem.value, problem.resource, problem.use,
                         problem.capacity, problem.case_limit)
    res = solve_model(model, problem.n_resources, integer=False, solver="ipm",
                      time_limit=time_limit)
    if not res.optimal:
        raise TimeoutError(f"HiGHS IPM stopped without an optimum: {res.status}")
    return res.objective


def solve_exact(problem: PlanProblem, *, time_limit: float | None = None) -> PlanSolution:
    """The optimal plan by HiGHS's MIP solver: the yardstick for small instances.

    >>> p = PlanProblem(case=[0, 0, 1, 1], value=[5.0, 4.0, 4.0, 2.0],
    ...                 resource=[0, 1, 0, 1], use=[1.0, 1.0, 1.0, 1.0],
    ...                 capacity=[1.0, 5.0], case_limit=[1, 1])
    >>> s = solve_exact(p)
    >>> s.chosen.tolist(), s.objective
    ([False, True, True, False], 8.0)
    """
    t0 = time.perf_counter()
    model = reduce_model(problem.case, problem.value, problem.resource, problem.use,
                         problem.capacity, problem.case_limit)
    res = solve_model(model, problem.n_resources, integer=True, time_limit=time_limit)
    if not res.optimal and not res.chosen.any() and len(model.cols):
        raise TimeoutError(f"HiGHS MIP stopped without a plan: {res.status}")
    objective = problem.objective(res.chosen)
    bound = max(res.bound, objective)
    return PlanSolution(res.chosen, objective, bound, _gap(bound, objective),
                        np.zeros(problem.n_resources),
                        "highs-mip" if res.optimal else f"highs-mip ({res.status})",
                        time.perf_counter() - t0)
