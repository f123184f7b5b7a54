"""The contact planner's working parts: the compact form, Lagrangian evaluation, prices, repair.

Split from :mod:`creditdesk.collections.planner` (the public entry points and the problem's
validation) and :mod:`creditdesk.collections.planner_search` (the local search on small
days); the method is described in the first module's docstring.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from creditdesk.collections.planner_exact import ReducedModel, reduce_model, solve_model

if TYPE_CHECKING:
    from creditdesk.collections.planner import PlanProblem

_EXACT_CASES = 30_000  # up to this many cases (with candidates), the prices are LP duals
_SAMPLE_CASES = 20_000  # cases in the sampled LP that gives the first prices above that
_IPM_COLUMNS = 50_000  # LPs with more columns go to the interior-point solver (no crossover)
_SMALL = 20_000  # candidates: up to this, also the local search
_LNS_ITEMS = 100_000  # candidates x trials per ruin-and-recreate round, at most
_LNS_ROUNDS = 40  # ruin-and-recreate rounds (64 trials each) on small problems
_RUIN_MAX = 4  # items dropped by one ruin-and-recreate trial, at most


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
