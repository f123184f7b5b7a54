"""Fit the twin to real data, and show how close it gets.

Two targets, two fits:

1. **Monthly repayment-status transitions** (Taiwan, PAY_6..PAY_0). The twin's monthly
   decision model (:func:`creditdesk.simulate.behaviour.next_status_probabilities`) is
   run on the 30,000 Taiwan customers themselves: each starts in their real April
   status and carries their risk index; an unobserved random effect (``risk_sigma``) is
   integrated out by Gauss-Hermite quadrature. The chain is propagated exactly (as
   probabilities, not draws) for five months, giving the expected simulated transition
   counts; the logits ``theta`` and ``risk_sigma`` maximise the multinomial likelihood
   of the real counts. Because the propagation is exact, the objective is smooth and
   the fit deterministic. Real transitions the ledger cannot produce (from paid duly
   straight to two months late — an artefact of how the data set codes PAY_2..PAY_6,
   where "1 month late" almost never appears) stay in the reported gap: the twin is not
   bent to reproduce a coding quirk.

2. **What a stronger collection effort adds** (debt_recovery, a regression
   discontinuity at an expected recovery of 1000: Level 0 below, Level 1 above). The
   twin's collection response (self-cure, contact reach by hour, promise and
   promise-kept rates) gives each treatment path a daily payment hazard. Level 0 is the
   twin's M1 treatment (SMS on set days, a robot call every other day), Level 1 adds a
   weekly agent call (with an evening retry) — about a dozen calls over the horizon,
   the order of the data's "extra effort of about 50 per customer". ``self_cure_daily``
   is set so that Level 0 recovers what the real data recovers just below the
   threshold, and ``collection_effect`` (a multiplier on
   promise rates) so that Level 1 adds the real jump. The simulated effect is then
   *measured*, not asserted: a simulated cohort with the real data's expected-recovery
   values is drawn, and the same RDD estimator is run on it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from creditdesk.simulate import behaviour as bh
from creditdesk.simulate.params import CALIBRATED, SimParams, load_params
from creditdesk.simulate.targets import (
    MERGED_STATES,
    RddResult,
    TransitionTable,
    debt_recovery_data,
    max_abs_gap,
    merge_counts,
    rdd_jump,
    status_codes,
    taiwan_transitions,
)

__all__ = ["apply_policy", "calibrate", "expected_transitions", "fit_recovery",
           "fit_transitions", "level_hazards", "policy_adjustments", "simulate_recovery"]

_FEASIBLE = bh.feasible_mask()
#: free logits, each a list of the cells that share it (diagonals are the references).
#: late_1 and late_2 share their logits ("pay it all", "pay to revolving", "fall one
#: further") because the data cannot tell them apart (see targets.MERGE).
_FREE: list[list[tuple[int, int]]] = [
    [(0, 1)], [(0, 2)], [(1, 0)], [(1, 2)],
    [(2, 0), (3, 0)], [(2, 1), (3, 1)], [(2, 3), (3, 4)], [(3, 2)],
    [(4, 0)], [(4, 1)], [(4, 2)], [(4, 3)],
]
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(5)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()
_MONTHS = 5
DEBT_MULTIPLE = 1.5
"""Debt outstanding per unit of expected recovery (assumption: lenders expect to recover
about two thirds of a placed debt); sets the size of the simulated debts."""
HORIZON_DAYS = 90
"""Days of collection over which recovery is counted in the RDD cohort."""


def _taiwan_population() -> tuple[np.ndarray, np.ndarray]:
    from creditdesk.simulate.population import taiwan_profiles

    prof = taiwan_profiles()
    start = status_codes(prof.get_column("pay_6").to_numpy())
    return start, prof.get_column("risk").to_numpy()


def expected_transitions(theta: np.ndarray, loading: np.ndarray, sigma: float,
                         start: np.ndarray, risk: np.ndarray, months: int = _MONTHS,
                         adjust: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Expected month-to-month transition counts (5x5) of the monthly model.

    Each customer's status distribution is propagated exactly from their ``start``
    status, averaging over the random effect's quadrature nodes. ``adjust`` =
    (cure, reminded) applies the ``bucket_rules`` strategy on top (:func:`policy_adjustments`):
    in status *s* a share ``cure[s]`` of the late outcomes is cured by contacts and
    a share ``reminded[s]`` of them paid on time after a reminder.

    >>> start = np.array([0, 1]); risk = np.zeros(2)
    >>> c = expected_transitions(np.zeros((5, 5)), np.zeros(5), 0.0, start, risk, months=1)
    >>> np.round(c[0], 3).tolist()
    [0.333, 0.333, 0.333, 0.0, 0.0]
    """
    n = len(start)
    counts = np.zeros((5, 5))
    for node, w in zip(_NODES, _WEIGHTS, strict=True):
        z = risk + sigma * node
        # one transition matrix per customer and status: (n, 5, 5)
        p = np.stack([bh.next_status_probabilities(np.full(n, s), z, theta, loading)
                      for s in range(5)], axis=1)
        if adjust is not None:
            p = apply_policy(p, *adjust)
        dist = np.zeros((n, 5))
        dist[np.arange(n), start] = 1.0
        for _ in range(months):
            flow = dist[:, :, None] * p
            counts += w * flow.sum(axis=0)
            dist = flow.sum(axis=1)
    return counts


def apply_policy(p: np.ndarray, cure: np.ndarray, reminded: np.ndarray) -> np.ndarray:
    """Move the late outcomes that contacts cure or reminders prevent to "revolving".

    >>> p = np.zeros((1, 5, 5)); p[0, :, 2] = 1.0
    >>> apply_policy(p, np.full(5, 0.25), np.zeros(5))[0, 2].tolist()
    [0.0, 0.25, 0.75, 0.0, 0.0]
    """
    moved = 1.0 - (1.0 - cure) * (1.0 - reminded)  # (5,)
    late = p[:, :, 2:] * moved[None, :, None]
    out = p.copy()
    out[:, :, 2:] -= late
    out[:, :, 1] += late.sum(axis=2)
    return out


def policy_adjustments(params: SimParams) -> tuple[np.ndarray, np.ndarray]:
    """What ``bucket_rules`` adds to the monthly model, per status (from its schedule).

    ``cure[s]``: the chance that an account in late status *s* pays its arrears within
    the month through a kept promise or a self-cure, along the policy's schedule on
    the days past due that month covers (late_1: 22-51, late_2: 52-81, 3+: 82-111),
    annoyance included (:func:`schedule_hazard`). ``reminded[s]``: the share of late
    outcomes a pre-due reminder prevents — revolving accounts get reminders, accounts
    paid duly do not unless a behaviour score flags them (not assumed here).
    """
    h = schedule_hazard(params, policy_schedule(111))
    cure = np.zeros(5)
    for s, first in ((2, 22), (3, 52), (4, 82)):
        cure[s] = 1.0 - float(np.prod(1.0 - h[first - 1:first + 29]))
    reminded = np.array([0.0, params.reminder_late_reduction, 0.0, 0.0, 0.0])
    return cure, reminded


def _theta(x: np.ndarray, base: np.ndarray) -> np.ndarray:
    th = base.copy()
    for k, cells in enumerate(_FREE):
        for s, t in cells:
            th[s, t] = x[k]
    return th


def fit_transitions(params: SimParams, real: TransitionTable | None = None,
                    max_rows: int | None = 5000) -> tuple[SimParams, np.ndarray]:
    """Maximum-likelihood ``theta`` and ``risk_sigma``; returns them and the expected counts.

    The likelihood is that of the real merged (4-state) counts; ``max_rows`` takes
    every k-th Taiwan customer to keep the fit under a minute (the expected counts
    are then scaled back to the full population).
    """
    from scipy.optimize import minimize

    real = real or taiwan_transitions()
    start, risk = _taiwan_population()
    full = len(start)
    if max_rows is not None and max_rows < full:
        step = full // max_rows
        start, risk = start[::step], risk[::step]
    loading = np.array(params.risk_loading)
    base = np.where(_FEASIBLE, 0.0, -np.inf)
    c_real = merge_counts(real.counts.astype(float))

    adjust = policy_adjustments(params)

    def nll(x: np.ndarray) -> float:
        counts = merge_counts(expected_transitions(_theta(x[:-1], base), loading, abs(x[-1]),
                                                   start, risk, adjust=adjust))
        prob = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1e-12)
        return float(-(c_real * np.log(np.maximum(prob, 1e-12))).sum() / c_real.sum())

    theta0 = np.array(params.theta, dtype=float)
    x0 = np.array([float(np.clip(theta0[cells[0]], -6, 3)) for cells in _FREE]
                  + [params.risk_sigma])
    res = minimize(nll, x0, method="L-BFGS-B", options={"maxiter": 200})
    theta = _theta(res.x[:-1], base)
    out = np.where(np.isfinite(theta), theta, -30.0).round(4)
    fitted = replace(params, theta=tuple(tuple(float(v) for v in row) for row in out),
                     risk_sigma=round(float(abs(res.x[-1])), 4))
    counts = expected_transitions(np.array(fitted.theta), loading, fitted.risk_sigma, start, risk,
                                  adjust=adjust)
    return fitted, counts * (full / len(start))


Schedule = list[list[tuple[str, int]]]
"""Per day past due, the contacts made: (channel name, local minute)."""


def schedule_hazard(params: SimParams, schedule: Schedule) -> np.ndarray:
    """Daily chance that a debt in arrears is paid, along a contact schedule.

    The daily cycle's own response model: each contact reaches the debtor (read rate,
    or the right-party rate of its hour), may end in a promise that is kept; annoyance
    builds up with the contacts and decays daily, lowering the promise rate, so the
    tenth call of a fortnight does less than the first. Self-cure comes on top.

    >>> from creditdesk.simulate.params import load_params
    >>> h = schedule_hazard(load_params(), [[], [("agent", 12 * 60)]])
    >>> bool(h[1] > h[0] > 0)
    True
    """
    rpc = np.array(params.rpc_by_hour)
    annoyance = 0.0
    out = np.zeros(len(schedule))
    for i, day in enumerate(schedule):
        annoyance *= params.annoyance_decay
        for ch, minute in day:
            late = minute < 8 * 60 or minute >= 21 * 60
            annoyance += params.annoyance_per_contact[ch] + late * params.annoyance_out_of_hours
        miss = 1.0 - params.self_cure_daily
        for ch, minute in day:
            if ch in ("sms", "push"):
                reach = params.reminder_read_rate
            else:
                reach = rpc[minute // 60] * (params.robot_rpc_factor if ch == "robot" else 1.0)
            promise = bh.promise_probability(np.array([params.promise_rate[ch]]),
                                             np.array([annoyance]), np.zeros(1, bool), params)
            miss *= 1.0 - reach * float(promise[0]) * params.promise_kept_rate
        out[i] = 1.0 - miss
    return out


def policy_schedule(days: int) -> Schedule:
    """The ``bucket_rules`` strategy's contacts by day past due (1..days)."""
    from creditdesk.collections.gate import CHANNEL_NAMES
    from creditdesk.collections.proposals import BookView, propose
    from creditdesk.collections.strategy import load_strategy

    dpd = np.arange(1, days + 1)
    props = propose(load_strategy("bucket_rules"), BookView.of(
        dpd=dpd.tolist(), days_to_due=(-dpd).tolist(), total_due=[1] * days,
        flagged=[True] * days, arm=["champion"] * days))
    out: Schedule = [[] for _ in range(days)]
    for a, ch, minute in zip(props.account, props.channel, props.minute, strict=True):
        out[int(a)].append((CHANNEL_NAMES[int(ch)], int(minute)))
    return out


def level_hazards(params: SimParams, days: int = HORIZON_DAYS) -> tuple[np.ndarray, np.ndarray]:
    """Daily payment hazard of a debt in arrears under Level 0 and Level 1 treatment.

    Level 0: the policy's M1 treatment held for the whole horizon (SMS on set days, a
    robot call at 19:00 every other day from day 3); Level 1 adds a weekly agent call
    at 12:15 with an evening retry. Both through :func:`schedule_hazard`.
    """
    level0: Schedule = []
    level1: Schedule = []
    for d in range(1, days + 1):
        day: list[tuple[str, int]] = []
        if d in (1, 3, 7, 15, 25) or (d > 30 and d % 7 == 0):
            day.append(("sms", 9 * 60 + 30))
        if d >= 3 and d % 2 == 1:
            day.append(("robot", 19 * 60))
        level0.append(day)
        level1.append(day + ([("agent", 12 * 60 + 15), ("agent", 19 * 60 + 30)]
                             if d % 7 == 1 else []))
    return schedule_hazard(params, level0), schedule_hazard(params, level1)


def _paid_share(h: np.ndarray) -> float:
    return float(1.0 - np.prod(1.0 - h))


def _real_left_limit(x: np.ndarray, y: np.ndarray, threshold: float,
                     window: tuple[float, float]) -> float:
    m = (x >= window[0]) & (x < threshold)
    _slope, icpt = np.polyfit(x[m] - threshold, y[m], 1)
    return float(icpt)


def fit_recovery(params: SimParams, real: RddResult, left_limit: float,
                 threshold: float = 1000.0) -> SimParams:
    """``self_cure_daily`` and ``collection_effect`` matching the real Level 0 recovery
    at the threshold and the real jump (nested bisection; both are monotone)."""
    debt = DEBT_MULTIPLE * threshold
    want0 = left_limit / debt
    want1 = (left_limit + real.common_slope_jump) / debt

    def solve(f: Any, lo: float, hi: float, target: float) -> float:
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if f(mid) < target else (lo, mid)
        return (lo + hi) / 2

    eff = params.collection_effect
    cure = params.self_cure_daily
    def share(level: int, c: float, e: float) -> float:
        return _paid_share(level_hazards(
            replace(params, self_cure_daily=c, collection_effect=e))[level])

    for _ in range(30):
        cure = solve(partial(share, 0, e=eff), 0.0, 0.2, want0)
        eff = solve(partial(share, 1, cure), 0.0, 20.0, want1)
    return replace(params, self_cure_daily=round(cure, 6), collection_effect=round(eff, 4))


def simulate_recovery(params: SimParams, expected: np.ndarray, threshold: float = 1000.0,
                      seed: int = 11) -> np.ndarray:
    """Recovered amount per debt of a simulated cohort (Level 1 at and above threshold).

    Each debt of size ``DEBT_MULTIPLE x expected`` is paid in full on the first day a
    payment happens, with the day's hazard of its treatment level.
    """
    rng = np.random.default_rng(seed)
    h0, h1 = level_hazards(params)
    h = np.where((expected >= threshold)[:, None], h1[None, :], h0[None, :])
    paid = (rng.random(h.shape) < h).any(axis=1)
    return np.where(paid, DEBT_MULTIPLE * expected, 0.0)


def calibrate(params: SimParams | None = None, *, data_dir: Path | None = None,
              write: Path | None = None, replicates: int = 100,
              daily_customers: int = 0) -> dict[str, Any]:
    """Fit both targets and report real against simulated (the ``simulate calibrate`` JSON).

    ``daily_customers`` > 0 also runs the whole daily cycle with the fitted values on
    that many customers for 240 days and reports the transitions it produced.
    """
    params = params or load_params()
    real_t = taiwan_transitions()
    window = (900.0, 1100.0)
    real_rdd, left, x_window, source = _recovery_target(data_dir, window)
    # the collection response first: the transitions fit then knows what the built-in
    # policy's contacts add on top of the monthly decision
    fitted = fit_recovery(params, real_rdd, left)
    fitted, counts = fit_transitions(fitted, real_t)
    sim_t = TransitionTable.from_counts(np.round(counts).astype(np.int64))
    gap, g_from, g_to = max_abs_gap(real_t, sim_t)
    # the simulated effect, measured on simulated cohorts with the real x values
    xs = np.tile(x_window, replicates)
    ys = simulate_recovery(fitted, xs)
    sim_rdd = rdd_jump(xs, ys, 1000.0, window)
    real_m = merge_counts(real_t.counts.astype(float))
    sim_m = merge_counts(counts)
    real_mp = real_m / real_m.sum(axis=1, keepdims=True)
    sim_mp = sim_m / sim_m.sum(axis=1, keepdims=True)
    diff = np.abs(real_mp - sim_mp)
    mi, mj = np.unravel_index(int(np.argmax(diff)), diff.shape)
    weights = real_t.counts.sum(axis=1) / real_t.counts.sum()
    row_gaps = np.nanmax(np.abs(real_t.probabilities - sim_t.probabilities), axis=1)
    report = {
        "transitions": {
            "states": list(bh.STATES),
            "real": real_t.to_dict(),
            "simulated": sim_t.to_dict(),
            "max_abs_gap": {"gap": round(gap, 4), "from": g_from, "to": g_to},
            "max_abs_gap_by_row": {s: round(float(g), 4) for s, g in
                                   zip(bh.STATES, row_gaps, strict=True)},
            "row_weight": {s: round(float(w), 4) for s, w in zip(bh.STATES, weights, strict=True)},
            "infeasible_real_share": round(float(
                real_t.counts[~_FEASIBLE].sum() / real_t.counts.sum()), 4),
        },
        "transitions_merged": {
            "note": "late_1 and late_2 merged: the fitted view (see targets.MERGE)",
            "states": list(MERGED_STATES),
            "real": _named(real_mp), "simulated": _named(sim_mp),
            "max_abs_gap": {"gap": round(float(diff[mi, mj]), 4), "from": MERGED_STATES[mi],
                            "to": MERGED_STATES[mj]},
        },
        "recovery_effect": {
            "threshold": 1000.0, "window": list(window),
            "real": real_rdd.to_dict(), "real_level0_at_threshold": round(left, 2),
            "real_source": source,
            "simulated": sim_rdd.to_dict(),
            "simulated_cohort": {"debts": len(xs), "replicates": replicates,
                                 "debt_multiple": DEBT_MULTIPLE, "horizon_days": HORIZON_DAYS},
        },
        "fitted": {"theta": [list(r) for r in fitted.theta], "risk_sigma": fitted.risk_sigma,
                   "self_cure_daily": fitted.self_cure_daily,
                   "collection_effect": fitted.collection_effect},
    }
    if daily_customers > 0:
        report["daily_cycle"] = daily_check(fitted, daily_customers)
    if write is not None:
        write.write_text(json.dumps(report["fitted"], indent=2) + "\n")
    return report


def daily_check(params: SimParams, customers: int, days: int = 240, seed: int = 5
                ) -> dict[str, Any]:
    """Run the full daily cycle on a Taiwan-like population and measure its transitions.

    The fit is on the monthly model; this shows what the whole twin — daily timing,
    the ledger's own DPD, reminders and collection contacts on top — makes of it.
    City tiers are given no risk shift here (the Taiwan population is the reference).
    """
    import tempfile

    from creditdesk.simulate.driver import run_twin
    from creditdesk.simulate.kpis import status_transitions
    from creditdesk.store import open_store

    flat = replace(params, tier_risk_shift=(0.0, 0.0, 0.0, 0.0), opening_spread=0.0)
    with tempfile.TemporaryDirectory(prefix="creditdesk-calibrate-") as tmp:
        store = open_store(f"duckdb:///{tmp}/twin.duckdb")
        try:
            run_twin(store, customers=customers, days=days, seed=seed, params=flat)
            result = status_transitions(store)
        finally:
            store.close()
    return {"customers": customers, "days": days, "seed": seed, **result}


#: The debt-recovery figures at the 1000 threshold, window [900, 1100), computed by
#: :func:`creditdesk.simulate.targets.rdd_jump` from the DataCamp teaching data set
#: ("Which debts are worth the bank's effort?", research use). The data set itself may
#: not ship with creditdesk; these summary figures do, so the calibration runs where
#: ../shared/data is absent. With the file present, everything is recomputed from it.
RECOVERY_SUMMARY = RddResult(
    jump=273.4729, se=93.4806, n_below=88, n_above=95, common_slope_jump=277.6344,
    common_slope_se=88.8382, threshold=1000.0, window=(900.0, 1100.0))
RECOVERY_LEFT_LIMIT = 629.4968


def _recovery_target(data_dir: Path | None, window: tuple[float, float]
                     ) -> tuple[RddResult, float, np.ndarray, str]:
    """The real RDD, the Level 0 recovery at the threshold, the x values in the window."""
    from creditdesk.errors import BadInputError

    try:
        df = debt_recovery_data(data_dir)
    except BadInputError:
        if data_dir is not None:
            raise
        n = RECOVERY_SUMMARY.n_below + RECOVERY_SUMMARY.n_above
        grid = np.linspace(window[0], window[1], n, endpoint=False)
        return RECOVERY_SUMMARY, RECOVERY_LEFT_LIMIT, grid, "summary shipped with creditdesk"
    x = df.get_column("expected_recovery_amount").to_numpy().astype(float)
    y = df.get_column("actual_recovery_amount").to_numpy().astype(float)
    return (rdd_jump(x, y, 1000.0, window), _real_left_limit(x, y, 1000.0, window),
            x[(x >= window[0]) & (x < window[1])], "debt_recovery/bank_data.csv")


def _named(p: np.ndarray) -> dict[str, dict[str, float]]:
    return {a: {b: round(float(p[i, j]), 4) for j, b in enumerate(MERGED_STATES)}
            for i, a in enumerate(MERGED_STATES)}


def default_calibration_file() -> Path:
    """Where the shipped calibrated values live (read by :func:`load_params`)."""
    return CALIBRATED
