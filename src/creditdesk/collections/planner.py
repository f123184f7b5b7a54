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

The pure core: no I/O, arrays in, arrays out. The HiGHS models (the LPs, the exact MIP for
small instances and tests) are in :mod:`creditdesk.collections.planner_exact`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from creditdesk.collections.planner_exact import ReducedModel, reduce_model, solve_model
from creditdesk.errors import BadInputError

__all__ = ["PlanProblem", "PlanSolution", "lp_bound", "solve", "solve_exact"]

_EXACT_CASES = 30_000  # up to this many cases (with candidates), the prices are LP duals
_SAMPLE_CASES = 20_000  # cases in the sampled LP that gives the first prices above that
_IPM_COLUMNS = 50_000  # LPs with more columns go to the interior-point solver (no crossover)
_SMALL = 20_000  # candidates: up to this, also the local search
_LNS_ITEMS = 100_000  # candidates x trials per ruin-and-recreate round, at most
_LNS_ROUNDS = 40  # ruin-and-recreate rounds (64 trials each) on small problems
_RUIN_MAX = 4  # items dropped by one ruin-and-recreate trial, at most


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


# --------------------------------------------------------------------------------------
# the compact form: candidates that can matter, grouped by case
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Compact:
    idx: np.ndarray  # original candidate index, sorted by case
    seg: np.ndarray  # segment (case) number per item
    starts: np.ndarray  # first item of each segment
    limit: np.ndarray  # per segment: min(case_limit, segment size)
    value: np.ndarray
    use: np.ndarray  # 0 where the candidate uses no resource
    row: np.ndarray  # capacity row per item; n_resources for "none"
    price_row: np.ndarray  # priced row per item; n_prices for "unpriced"
    priced: np.ndarray  # capacity row of each price
    cap: np.ndarray  # capacity per row, +inf appended for "none"
    step: np.ndarray  # per price: its natural scale (mean value per unit used)


def _compact(p: PlanProblem) -> _Compact:
    """Drop what can never be chosen (value <= 0, limit 0), sort by case, find the rows
    that can bind (only those get a price)."""
    keep = (p.value > 0) & (p.case_limit[p.case] > 0)
    idx = np.flatnonzero(keep)
    case = p.case[idx]
    if case.size > 1 and np.any(case[1:] < case[:-1]):
        order = np.argsort(case, kind="stable")
        idx, case = idx[order], case[order]
    n = len(idx)
    new = np.ones(n, dtype=bool)
    new[1:] = case[1:] != case[:-1]
    starts = np.flatnonzero(new)
    seg = np.cumsum(new) - 1
    size = np.diff(np.append(starts, n))
    limit = np.minimum(p.case_limit[case[starts]], size)
    value = p.value[idx]
    r = p.resource[idx].astype(np.int64)
    n_res = p.n_resources
    row = np.where(r >= 0, r, n_res)
    use = np.where(r >= 0, p.use[idx], 0.0)
    demand = np.bincount(row, weights=use, minlength=n_res + 1)[:n_res]
    priced = np.flatnonzero(demand > p.capacity)
    price_of_row = np.full(n_res + 1, len(priced), dtype=np.int64)
    price_of_row[priced] = np.arange(len(priced))
    price_row = price_of_row[row]
    on = (price_row < len(priced)) & (use > 0)
    total = np.bincount(price_row[on], weights=value[on], minlength=len(priced) + 1)
    units = np.bincount(price_row[on], weights=use[on], minlength=len(priced) + 1)
    step = (total / np.maximum(units, 1e-300))[: len(priced)]
    return _Compact(idx=idx, seg=seg, starts=starts, limit=limit, value=value, use=use,
                    row=row, price_row=price_row, priced=priced,
                    cap=np.append(p.capacity, np.inf), step=step)


def _subset(c: _Compact, keep_seg: np.ndarray,
            capacity: np.ndarray) -> tuple[np.ndarray, ReducedModel]:
    """The reduced LP model of the cases in ``keep_seg`` against ``capacity``, and their
    items."""
    items = np.flatnonzero(keep_seg[c.seg])
    seg_new = np.cumsum(keep_seg) - 1
    n_res = len(c.cap) - 1
    res = np.where(c.row[items] < n_res, c.row[items], -1)
    model = reduce_model(seg_new[c.seg[items]], c.value[items], res, c.use[items], capacity,
                         c.limit[keep_seg])
    return items, model


# --------------------------------------------------------------------------------------
# the Lagrangian subproblem
# --------------------------------------------------------------------------------------


def _first_per_segment(hit: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """Indices of the first ``True`` of ``hit`` in each segment (``seg`` sorted)."""
    idx = np.flatnonzero(hit)
    s = seg[idx]
    first = np.ones(len(idx), dtype=bool)
    first[1:] = s[1:] != s[:-1]
    return idx[first]


def _top(c: _Compact, score: np.ndarray) -> np.ndarray:
    """Each case's top-``limit`` items by ``score``, among those with ``score > 0``.

    Cases with no more positive items than their limit take them all; the rest take their
    best item, then their next best, ... (one vectorised pass per unit of limit).
    """
    pos = score > 0
    npos = np.add.reduceat(pos, c.starts, dtype=np.int64)
    crowded = npos > c.limit
    chosen = pos & ~crowded[c.seg]
    if crowded.any():
        w = np.where(pos & crowded[c.seg], score, -np.inf)
        room = np.where(crowded, c.limit, 0)
        for _ in range(int(room.max())):
            m = np.maximum.reduceat(w, c.starts)
            active = (room > 0) & (m > 0)
            if not active.any():
                break
            first = _first_per_segment((w == m[c.seg]) & active[c.seg], c.seg)
            chosen[first] = True
            w[first] = -np.inf
            room -= active
    return chosen


@dataclass(frozen=True)
class _Eval:
    prices: np.ndarray
    dual: float  # the Lagrangian dual value: an upper bound on the LP optimum
    reduced: np.ndarray  # reduced value per item
    chosen: np.ndarray  # the per-case optimum at these prices
    demand: np.ndarray  # capacity it asks of each priced row


def _evaluate(c: _Compact, prices: np.ndarray) -> _Eval:
    reduced = c.value - np.append(prices, 0.0)[c.price_row] * c.use
    chosen = _top(c, reduced)
    dual = float(reduced[chosen].sum() + prices @ c.cap[c.priced])
    n_p = len(c.priced)
    demand = np.bincount(c.price_row[chosen], weights=c.use[chosen], minlength=n_p + 1)[:n_p]
    return _Eval(prices, dual, reduced, chosen, demand)


# --------------------------------------------------------------------------------------
# the prices
# --------------------------------------------------------------------------------------


def _lp_prices(c: _Compact, sample: int | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Row prices from HiGHS: the LP of all cases, or of ``sample`` random cases against
    proportionally scaled capacities. Also the LP solution per item (whole LP only)."""
    n_seg = len(c.starts)
    n_row = len(c.cap) - 1
    keep = np.ones(n_seg, dtype=bool)
    cap = c.cap[:n_row]
    if sample is not None and sample < n_seg:
        keep = np.zeros(n_seg, dtype=bool)
        keep[np.random.default_rng(0).choice(n_seg, size=sample, replace=False)] = True
        cap = cap * (sample / n_seg)
    items, model = _subset(c, keep, cap)
    res = solve_model(model, n_row, integer=False,
                      solver="ipm" if len(model.cols) > _IPM_COLUMNS else "simplex")
    if not res.optimal:
        return np.zeros(len(c.priced)), None
    x = None
    if keep.all():
        x = np.zeros(len(c.value))
        x[items] = res.x
    return res.prices[c.priced], x


def _clear(c: _Compact, ev: _Eval, max_iter: int, tol: float) -> tuple[_Eval, int]:
    """Move each row's price until its demand meets its capacity; return the evaluation
    with the lowest dual value and the number of evaluations made.

    Per row: a secant step on its demand curve (damped by 0.8, at most half the price or
    2 % of the row's value per unit), or a multiplicative step while no slope is known.
    Stops when every priced row is within ``tol`` of its capacity (or below it at price
    0), or after five evaluations without a lower dual value.
    """
    cap = np.maximum(c.cap[c.priced], 1e-12)
    best, prev, idle, n = ev, None, 0, 0
    while n < max_iter:
        lam, excess = ev.prices, ev.demand - cap
        off = np.where((lam <= 0) & (excess <= 0), 0.0, np.abs(excess) / cap)
        if not off.size or off.max() <= tol or idle >= 5:
            break
        new = lam * (1.0 + 0.5 * np.clip(excess / cap, -0.5, 0.5))
        new = np.where((lam <= 0) & (excess > 0), 0.01 * c.step, new)
        if prev is not None:
            dl, dd = lam - prev.prices, ev.demand - prev.demand
            with np.errstate(divide="ignore", invalid="ignore"):
                slope = dd / dl
            known = (dl != 0) & np.isfinite(slope) & (slope < 0)
            reach = np.maximum(0.5 * lam, 0.02 * c.step)
            newton = np.clip(lam - 0.8 * excess / np.where(known, slope, -1.0), lam - reach,
                             lam + reach)
            new = np.where(known, newton, new)
        prev, ev = ev, _evaluate(c, np.maximum(new, 0.0))
        n += 1
        if ev.dual < best.dual - 1e-12 * abs(best.dual):
            best, idle = ev, 0
        else:
            idle += 1
    return best, n


# --------------------------------------------------------------------------------------
# repair, refill, improve
# --------------------------------------------------------------------------------------


def _group_cumsum(x: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Running sum of ``x`` within runs of equal ``key`` (``key`` sorted)."""
    cs = np.cumsum(x)
    new = np.ones(len(key), dtype=bool)
    new[1:] = key[1:] != key[:-1]
    starts = np.flatnonzero(new)
    base = np.repeat(cs[starts] - x[starts], np.diff(np.append(starts, len(key))))
    return cs - base


def _usage(c: _Compact, chosen: np.ndarray) -> np.ndarray:
    return np.bincount(c.row[chosen], weights=c.use[chosen], minlength=len(c.cap))


def _repair(c: _Compact, chosen: np.ndarray, reduced: np.ndarray,
            regret: bool = True) -> np.ndarray:
    """Drop candidates from over-used rows, the least worth per unit used first.

    Worth is the reduced value, less (with ``regret``) what the case would still get from
    its best candidate on a row that is not over-used: a case with an equally good slot
    at another hour then moves there at no loss, which matters where cases tie across
    rows; without it, the cheapest contacts go first.
    """
    chosen = chosen.copy()
    for attempt in range(9):  # one pass suffices but for floating-point crumbs
        usage = _usage(c, chosen)
        over = usage > c.cap
        if not over.any():
            break
        if attempt == 8:  # never reached in practice; feasibility is not negotiable
            chosen &= ~(over[c.row] & (c.use > 0))
            break
        idx = np.flatnonzero(chosen & over[c.row] & (c.use > 0))
        key = reduced[idx] / c.use[idx]
        if regret:
            spare = np.where(~chosen & ~over[c.row], np.maximum(reduced, 0.0), 0.0)
            key -= np.maximum.reduceat(spare, c.starts)[c.seg[idx]] / c.use[idx]
        idx = idx[np.lexsort((key, c.row[idx]))]
        r = c.row[idx]
        dropped_before = _group_cumsum(c.use[idx], r) - c.use[idx]
        chosen[idx[usage[r] - dropped_before > c.cap[r]]] = False
    return chosen


def _fill(c: _Compact, chosen: np.ndarray, priority: np.ndarray, rounds: int = 32,
          batch: int = 1 << 18) -> np.ndarray:
    """Add the best remaining candidates (by ``priority``) that fit, in greedy order.

    Each round takes, per case, its best items up to its free slots, then per capacity row
    the longest prefix (by priority) that fits; an item that did not fit no longer fits in
    the next round, so the rounds reproduce the one-at-a-time greedy. A round looks at the
    ``batch`` best eligible items only: after the LP, leftover capacity is small.
    """
    chosen = chosen.copy()
    n_seg = len(c.starts)
    for _ in range(rounds):
        left = c.cap - _usage(c, chosen)
        room = c.limit - np.bincount(c.seg[chosen], minlength=n_seg)
        idx = np.flatnonzero(~chosen & (room[c.seg] > 0) & (c.use <= left[c.row]))
        if not idx.size:
            break
        if idx.size > batch:
            idx = idx[np.argpartition(-priority[idx], batch)[:batch]]
        idx = idx[np.lexsort((-priority[idx], c.seg[idx]))]
        s = c.seg[idx]
        rank = np.arange(len(idx)) - np.searchsorted(s, s, side="left")
        idx = idx[rank < room[s]]
        idx = idx[np.lexsort((-priority[idx], c.row[idx]))]
        r = c.row[idx]
        ok = _group_cumsum(c.use[idx], r) <= left[r]
        if not ok.any():
            break
        chosen[idx[ok]] = True
    return chosen


def _upgrade(c: _Compact, chosen: np.ndarray, rounds: int = 4) -> np.ndarray:
    """Swap a full case's worst chosen item for its best unchosen one, if better and fits."""
    chosen = chosen.copy()
    n_seg = len(c.starts)
    for _ in range(rounds):
        left = c.cap - _usage(c, chosen)
        worst = np.full(n_seg, np.inf)
        np.minimum.at(worst, c.seg[chosen], c.value[chosen])
        full = np.bincount(c.seg[chosen], minlength=n_seg) >= c.limit
        out_of = np.full(n_seg, -1, dtype=np.int64)  # the worst chosen item of each case
        wi = np.flatnonzero(chosen & (c.value == worst[c.seg]))
        out_of[c.seg[wi]] = wi
        idx = np.flatnonzero(~chosen & full[c.seg] & (c.value > worst[c.seg]))
        out = out_of[c.seg[idx]]
        need = c.use[idx] - np.where(c.row[out] == c.row[idx], c.use[out], 0.0)
        keep = need <= left[c.row[idx]]
        idx, out, need = idx[keep], out[keep], need[keep]
        if not idx.size:
            break
        gain = c.value[idx] - c.value[out]
        order = np.lexsort((-gain, c.seg[idx]))  # the best swap of each case
        s = c.seg[idx[order]]
        order = order[np.r_[True, s[1:] != s[:-1]]]
        order = order[np.lexsort((-gain[order], c.row[idx[order]]))]
        idx, out, need = idx[order], out[order], need[order]
        r = c.row[idx]
        ok = _group_cumsum(np.maximum(need, 0.0), r) <= left[r]
        if not ok.any():
            break
        chosen[out[ok]] = False
        chosen[idx[ok]] = True
    return chosen


def _pairs(key_a: np.ndarray, key_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All index pairs ``(ia, ib)`` with ``key_a[ia] == key_b[ib]`` (a vectorised join)."""
    oa, ob = np.argsort(key_a, kind="stable"), np.argsort(key_b, kind="stable")
    ka, kb = key_a[oa], key_b[ob]
    lo = np.searchsorted(ka, kb, side="left")
    hi = np.searchsorted(ka, kb, side="right")
    n = hi - lo
    ib = np.repeat(ob, n)
    offs = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    ia = oa[np.repeat(lo, n) + offs]
    return ia, ib


def _exchange(c: _Compact, chosen: np.ndarray, moves: int = 200,
              max_pairs: int = 500_000) -> np.ndarray:
    """Local search: apply the best improving exchange, one at a time.

    An exchange drops one chosen item and adds one left out, either within a case (any
    rows) or on one capacity row (across cases, the new case having a free slot). These are
    the moves a greedy plan misses when one contact takes a visible share of a row; on a
    large plan their worth is negligible, so the search stops once the pairs to look at
    exceed ``max_pairs``.
    """
    chosen = chosen.copy()
    n_seg = len(c.starts)
    none_row = len(c.cap) - 1
    for _ in range(moves):
        left = c.cap - _usage(c, chosen)
        room = c.limit - np.bincount(c.seg[chosen], minlength=n_seg)
        ch = np.flatnonzero(chosen)
        un = np.flatnonzero(~chosen)
        if not ch.size or not un.size:
            break
        row_ch = np.where(c.row[ch] == none_row, -1, c.row[ch])
        if ch.size * un.size > max_pairs and un.size * 8 > max_pairs:
            break
        a1, b1 = _pairs(c.seg[ch], c.seg[un])  # same case
        a2, b2 = _pairs(row_ch, c.row[un])  # same row (never "none")
        other = c.seg[ch[a2]] != c.seg[un[b2]]
        a2, b2 = a2[other], b2[other]
        a2, b2 = a2[room[c.seg[un[b2]]] > 0], b2[room[c.seg[un[b2]]] > 0]
        i = ch[np.concatenate([a1, a2])]
        j = un[np.concatenate([b1, b2])]
        if not i.size:
            break
        freed = np.where(c.row[i] == c.row[j], c.use[i], 0.0)
        ok = c.use[j] - freed <= left[c.row[j]]
        gain = np.where(ok, c.value[j] - c.value[i], -np.inf)
        k = int(np.argmax(gain))
        if gain[k] <= 1e-12 * max(1.0, abs(c.value[j[k]])):
            break
        chosen[i[k]] = False
        chosen[j[k]] = True
    return chosen


def _contrib(r1: np.ndarray, d1: np.ndarray, r2: np.ndarray, d2: np.ndarray, m: np.ndarray,
             row: np.ndarray) -> np.ndarray:
    """What moves ``m`` add to rows ``row`` (each move touches rows ``r1``, ``r2``)."""
    return np.where(r1[m] == row, d1[m], 0.0) + np.where(r2[m] == row, d2[m], 0.0)


def _two_moves(c: _Compact, chosen: np.ndarray, moves: int = 100, max_moves: int = 4000,
               max_ring: int = 160) -> np.ndarray:
    """Local search over pairs (then triples) of elementary moves in different cases.

    An elementary move drops a chosen item, adds an item to a case with a free slot, or
    swaps a case's chosen item for another of its own. Two of them together can fit where
    neither fits alone (case A moves from the agent row to SMS, freeing the agent minutes
    case B's better call needs). All pairs that share a row are checked at once; the best
    improving pair is applied, and again, until none is left; then triples of moves in
    three cases (rings of swaps, say) are tried the same way. Only for plans with at most
    ``max_moves`` elementary moves; triples are drawn from at most ``max_ring`` moves
    (all, else without adds, else swaps only), as they grow with its cube.
    """
    chosen = chosen.copy()
    n_seg = len(c.starts)
    n_row = len(c.cap) - 1  # the "none" row has no capacity to check
    for _ in range(moves):
        left = np.append(np.maximum(c.cap[:n_row] - _usage(c, chosen)[:n_row], 0.0), np.inf)
        room = c.limit - np.bincount(c.seg[chosen], minlength=n_seg)
        ch = np.flatnonzero(chosen)
        un = np.flatnonzero(~chosen)
        ia, ib = _pairs(c.seg[ch], c.seg[un])  # swaps within a case
        add = un[room[c.seg[un]] > 0]
        drop_i = np.concatenate([ch, ch[ia], np.full(len(add), -1)])
        add_j = np.concatenate([np.full(len(ch), -1), un[ib], add])
        m = len(drop_i)
        if m < 2 or m > max_moves:
            break
        has_i, has_j = drop_i >= 0, add_j >= 0
        gain = np.where(has_j, c.value[add_j], 0.0) - np.where(has_i, c.value[drop_i], 0.0)
        case = np.where(has_i, c.seg[drop_i], c.seg[add_j])
        # each move: row r1 loses d1 (a drop), row r2 gains d2 (an add); -1 = no row
        r1 = np.where(has_i, c.row[drop_i], -1)
        r2 = np.where(has_j, c.row[add_j], -1)
        d1 = np.where(has_i, -c.use[drop_i], 0.0)
        d2 = np.where(has_j, c.use[add_j], 0.0)
        r1 = np.where(r1 == n_row, -1, r1)
        r2 = np.where(r2 == n_row, -1, r2)
        moved = np.concatenate([np.flatnonzero(r1 >= 0), np.flatnonzero(r2 >= 0)])
        on_row = np.concatenate([r1[r1 >= 0], r2[r2 >= 0]])
        pa, pb = _pairs(on_row, on_row)
        a, b = moved[pa], moved[pb]
        keep = (a < b) & (case[a] != case[b]) & (gain[a] + gain[b] > 1e-9)
        key = np.unique(a[keep] * m + b[keep])
        a, b = key // m, key % m
        ok = np.ones(len(a), dtype=bool)
        for rows in (r1[a], r2[a], r1[b], r2[b]):
            total = _contrib(r1, d1, r2, d2, a, rows) + _contrib(r1, d1, r2, d2, b, rows)
            ok &= (rows < 0) | (total <= left[rows])
        best: tuple[np.ndarray, ...] = (a[ok], b[ok])
        if not best[0].size:  # three in a ring (A: row 1 -> 2, B: 2 -> 3, C: leaves 3)
            sw = np.arange(m)  # all moves if few enough, else without adds, else swaps
            for keep_kind in (has_i, has_i & has_j):
                if len(sw) > max_ring:
                    sw = np.flatnonzero(keep_kind)
            if len(sw) < 3 or len(sw) > max_ring:
                break
            delta = np.zeros((m, n_row + 1))
            np.add.at(delta, (np.flatnonzero(r1 >= 0), r1[r1 >= 0]), d1[r1 >= 0])
            np.add.at(delta, (np.flatnonzero(r2 >= 0), r2[r2 >= 0]), d2[r2 >= 0])
            a, b = np.triu_indices(len(sw), k=1)
            a, b = sw[a], sw[b]
            n_k = len(sw) - 1 - np.searchsorted(sw, b)
            a, b = np.repeat(a, n_k), np.repeat(b, n_k)
            k3 = sw[len(sw) - n_k.repeat(n_k) + np.arange(int(n_k.sum()))
                    - np.repeat(np.cumsum(n_k) - n_k, n_k)]
            ok = ((case[a] != case[b]) & (case[a] != case[k3]) & (case[b] != case[k3])
                  & (gain[a] + gain[b] + gain[k3] > 1e-9))
            a, b, k3 = a[ok], b[ok], k3[ok]
            ok = np.all(delta[a] + delta[b] + delta[k3] <= left[None, :], axis=1)
            best = (a[ok], b[ok], k3[ok])
            if not best[0].size:
                break
        total_gain = np.sum([gain[e] for e in best], axis=0)
        k = int(np.argmax(total_gain))
        for e in (col[k] for col in best):
            if drop_i[e] >= 0:
                chosen[drop_i[e]] = False
            if add_j[e] >= 0:
                chosen[add_j[e]] = True
    return chosen


def _replicate(c: _Compact, k: int) -> _Compact:
    """``k`` independent copies of the problem side by side (cases and rows renumbered),
    so that one vectorised refill serves ``k`` trial plans at once."""
    n, n_seg, n_row = len(c.value), len(c.starts), len(c.cap)
    copy = np.repeat(np.arange(k), n)
    return _Compact(idx=np.tile(np.arange(n), k), seg=np.tile(c.seg, k) + copy * n_seg,
                    starts=(np.arange(k)[:, None] * n + c.starts[None, :]).ravel(),
                    limit=np.tile(c.limit, k), value=np.tile(c.value, k),
                    use=np.tile(c.use, k), row=np.tile(c.row, k) + copy * n_row,
                    price_row=np.tile(c.price_row, k), priced=c.priced,
                    cap=np.tile(c.cap, k), step=c.step)


def _ruin_recreate(c: _Compact, chosen: np.ndarray, reduced: np.ndarray, rounds: int,
                   width: int = 64, patience: int = 8, seed: int = 2) -> np.ndarray:
    """Large-neighbourhood search: ``width`` trials a round, each dropping one to four
    random chosen items and refilling without them (then with them), all trials in one
    vectorised refill on side-by-side copies; the best trial replaces the plan if better.
    Stops after ``patience`` rounds without a gain.

    It finds the compound moves single exchanges miss: move a case to another row so that
    a third case's contact fits; drop two small contacts for one large one.
    """
    rng = np.random.default_rng(seed)
    n = len(c.value)
    big = _replicate(c, width)
    copy = np.repeat(np.arange(width), n)
    best, best_v = chosen.copy(), float(c.value[chosen].sum())
    prio_rv = np.tile(reduced, width)
    prio_v = np.tile(c.value, width)
    idle = 0
    for _ in range(rounds):
        if idle >= patience:
            break
        idle += 1
        ch = np.flatnonzero(best)
        if not ch.size:
            break
        # half the trials drop items of one row (an anchor's), the rest any items
        size = rng.integers(1, min(_RUIN_MAX, len(ch)) + 1, size=width)
        anchor_row = c.row[ch[rng.integers(0, len(ch), size=width)]]
        related = (rng.random(width) < 0.5)[:, None] & (c.row[ch][None, :] != anchor_row[:, None])
        pick = np.argsort(rng.random((width, len(ch))) + related, axis=1)
        mask = np.arange(len(ch))[None, :] < size[:, None]
        rows_k, cols_k = np.nonzero(mask)
        out = rows_k * n + ch[pick[rows_k, cols_k]]
        trial = np.tile(best, width)
        trial[out] = False
        kind = rng.integers(0, 3, size=width)[copy]  # refill by value, reduced value, or noisy
        prio = np.where(kind == 0, prio_v, prio_rv)
        prio = np.where(kind == 2, prio_v * rng.lognormal(0.0, 0.3, size=len(prio)), prio)
        prio[out] = -np.inf
        trial = _fill(big, trial, prio, rounds=8)
        trial[out] = False
        trial = _fill(big, trial, prio_rv, rounds=8)
        v = np.bincount(copy[trial], weights=big.value[trial], minlength=width)
        k = int(np.argmax(v))
        if v[k] > best_v + 1e-12 * max(1.0, abs(best_v)):
            best, best_v = trial[k * n:(k + 1) * n].copy(), float(v[k])
            idle = 0
    return best


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
