"""Local search for small planning days (up to ``_SMALL`` candidates), where one contact
is a visible share of a capacity row: ruin-and-recreate trials side by side, best single
exchanges, pairs and rings of moves across cases (see :mod:`creditdesk.collections.planner`).
"""

from __future__ import annotations

import numpy as np

from creditdesk.collections.planner_core import _RUIN_MAX, _Compact, _fill, _usage


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
