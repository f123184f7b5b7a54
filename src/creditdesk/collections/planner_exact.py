"""HiGHS models behind the contact planner: the LP relaxation (whole, sampled or
restricted to the cases whose choice is still open) and the exact MIP.

Why a separate module: :mod:`creditdesk.collections.planner` is the fast heuristic and
must stay readable; the models here are the yardsticks it is judged by (the LP optimum,
the MIP optimum) and the small LPs it takes its prices from. Everything here
works on plain arrays so that the planner can wrap it without an import cycle.

The contact plan as a 0-1 programme, for candidates ``i``::

    maximise    sum_i value_i x_i
    subject to  sum_{i in case c} x_i        <= case_limit_c   for every case c
                sum_{i on resource r} use_i x_i <= capacity_r   for every resource r
                x_i in {0, 1}   (LP relaxation: 0 <= x_i <= 1)

Two reductions keep the models small and change no optimum: a candidate with
``value <= 0`` or in a case with limit 0 is fixed at 0 (all constraints are ``<=`` with
non-negative coefficients, so lowering a variable keeps any plan feasible), and a row is
written only if it can bind (a case with more remaining candidates than its limit; a
resource whose remaining candidates could use more than its capacity).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np

__all__ = ["ExactResult", "ReducedModel", "reduce_model", "solve_model"]

_INF = highspy.kHighsInf


def _new_highs() -> Any:
    """A HiGHS instance that writes nothing.

    ``highspy.Highs()`` prints HiGHS's banner on stdout while it is being built (its
    constructor calls a public method before any option can be set), which would corrupt
    a ``--json`` report of whatever called the planner; the bare class underneath it does
    not. Falls back to ``highspy.Highs`` should a later highspy rename that class.
    """
    cls = getattr(getattr(highspy, "_core", None), "_Highs", None) or highspy.Highs
    h = cls()
    h.setOptionValue("output_flag", False)
    return h


@dataclass(frozen=True)
class ReducedModel:
    """The 0-1 programme in HiGHS's column-wise form, over the candidates that matter."""

    cols: np.ndarray  # int64: original candidate index of each column
    cost: np.ndarray  # float64: value of each column
    start: np.ndarray  # int32: column starts into index/value (len = n_cols + 1)
    index: np.ndarray  # int32: row of each non-zero
    coef: np.ndarray  # float64: coefficient of each non-zero
    row_upper: np.ndarray  # float64: right-hand side of each row
    resources: np.ndarray  # int64: the resource of each capacity row (they follow the case rows)
    n_candidates: int


@dataclass(frozen=True)
class ExactResult:
    """What HiGHS reported: whether it proved optimality, the objective, the 0-1 choice."""

    optimal: bool
    status: str
    objective: float
    bound: float
    chosen: np.ndarray  # bool per original candidate
    x: np.ndarray  # float per original candidate (0 where fixed out); empty if no solution
    prices: np.ndarray  # LP only: dual price per resource (0 on rows not written), else empty


def reduce_model(case: np.ndarray, value: np.ndarray, resource: np.ndarray, use: np.ndarray,
                 capacity: np.ndarray, case_limit: np.ndarray) -> ReducedModel:
    """Build the reduced column-wise model (see the module docstring for the reductions)."""
    n = len(value)
    keep = (value > 0) & (case_limit[case] > 0)
    cols = np.flatnonzero(keep)
    c_case = case[cols]
    c_res = resource[cols].astype(np.int64)
    c_use = np.where(c_res >= 0, use[cols], 0.0)

    n_case = np.bincount(c_case, minlength=len(case_limit))
    case_binding = n_case > case_limit
    case_row = np.full(len(case_limit), -1, dtype=np.int64)
    case_row[case_binding] = np.arange(int(case_binding.sum()))
    n_case_rows = int(case_binding.sum())

    on_res = (c_res >= 0) & (c_use > 0)
    demand = np.bincount(c_res[on_res], weights=c_use[on_res], minlength=len(capacity))
    res_binding = demand > capacity
    res_row = np.full(len(capacity) + 1, -1, dtype=np.int64)  # slot -1 for "no resource"
    res_row[:-1][res_binding] = n_case_rows + np.arange(int(res_binding.sum()))

    r_case = case_row[c_case]
    r_res = np.where(on_res, res_row[c_res], -1)
    has_case = r_case >= 0
    has_res = r_res >= 0
    count = has_case.astype(np.int64) + has_res
    start = np.zeros(len(cols) + 1, dtype=np.int64)
    np.cumsum(count, out=start[1:])
    nnz = int(start[-1])
    index = np.empty(nnz, dtype=np.int32)
    coef = np.empty(nnz, dtype=np.float64)
    pos_case = start[:-1][has_case]
    index[pos_case] = r_case[has_case]
    coef[pos_case] = 1.0
    pos_res = start[:-1][has_res] + has_case[has_res]
    index[pos_res] = r_res[has_res]
    coef[pos_res] = c_use[has_res]
    row_upper = np.concatenate([case_limit[case_binding].astype(np.float64),
                                capacity[res_binding].astype(np.float64)])
    return ReducedModel(cols=cols, cost=value[cols].astype(np.float64),
                        start=start.astype(np.int32), index=index, coef=coef,
                        row_upper=row_upper, resources=np.flatnonzero(res_binding),
                        n_candidates=n)


def solve_model(model: ReducedModel, n_resources: int, *, integer: bool,
                solver: str = "simplex", time_limit: float | None = None) -> ExactResult:
    """Maximise the reduced model with HiGHS: the MIP when ``integer``, else the LP.

    For the LP, ``solver="simplex"`` gives a vertex and its row duals (the planner wants
    both: a vertex has at most one fractional candidate per binding capacity row);
    ``solver="ipm"`` runs the interior-point method without crossover, for the optimum's
    value alone (crossover is the slow part at a million columns).
    """
    n_cols = len(model.cols)
    chosen = np.zeros(model.n_candidates, dtype=bool)
    x_all = np.zeros(model.n_candidates)
    prices = np.zeros(n_resources)
    if n_cols == 0:
        return ExactResult(True, "Optimal", 0.0, 0.0, chosen, x_all, prices)
    h = _new_highs()
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    if integer:
        h.setOptionValue("mip_rel_gap", 1e-9)
        h.setOptionValue("mip_abs_gap", 1e-9)
    else:
        h.setOptionValue("solver", solver)
        if solver in ("ipm", "ipx", "hipo"):
            h.setOptionValue("run_crossover", "off")
    n_rows = len(model.row_upper)
    integrality = np.full(n_cols, 1 if integer else 0, dtype=np.int32)
    h.passModel(n_cols, n_rows, len(model.index), int(highspy.MatrixFormat.kColwise),
                int(highspy.ObjSense.kMaximize), 0.0, model.cost, np.zeros(n_cols),
                np.ones(n_cols), np.full(n_rows, -_INF), model.row_upper, model.start,
                model.index, model.coef, integrality)
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    info = h.getInfo()
    optimal = status == "Optimal"
    objective = float(info.objective_function_value)
    bound = float(info.mip_dual_bound) if integer else objective
    if integer and not math.isfinite(bound):
        bound = objective
    solution = h.getSolution()
    x = np.asarray(solution.col_value, dtype=np.float64)
    if len(x) == n_cols and (optimal or integer):
        x_all[model.cols] = x
        chosen[model.cols] = x > 0.5
    if not integer and optimal:
        dual = np.asarray(solution.row_dual, dtype=np.float64)
        n_cap = len(model.resources)
        if len(dual) == n_rows and n_cap:
            prices[model.resources] = np.maximum(np.abs(dual[n_rows - n_cap:]), 0.0)
    return ExactResult(optimal, status, objective, bound, chosen, x_all, prices)
