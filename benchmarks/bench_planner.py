"""Benchmark of the optimising contact planner's solver (creditdesk.collections.planner).

Not a timed test: run by hand, figures recorded in BENCHMARKS.md ("Contact planner").

    .venv/bin/python benchmarks/bench_planner.py --cases 1000000 [--json]

It builds a random but realistic day: open cases with skewed balances (most worth little, a
few worth much), each with SMS at 2-3 local hour slots, push for app users, robot calls and
agent calls at a few hours (6-10 candidates a case); per-case limits (1 a day, 2 for some,
0 for cases on hold); and binding capacities: agent minutes per hour for ~2,000 agents,
robot line-minutes per hour, daily SMS and push budgets. Then it times, in the same run:

* the baseline: one vectorised per-case argmax pass without capacities (the cost of one
  dual evaluation), and a plain greedy-by-value plan (cases in order of their best value,
  each taking its best candidates that still fit), its objective;
* the planner (`solve`): seconds, objective, Lagrangian bound, gap;
* the contact-rules pass over the plan (`collections.gate.gate`, CN profile, as `collect plan`
  checks the planned contacts after solving): every chosen contact as a Proposal at its hour,
  one account per debtor in Shanghai time, fresh histories;
* HiGHS's interior-point LP bound (`lp_bound`) under a time limit, or that it did not finish;
* peak memory (RSS) of the process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import cpu_model

from creditdesk.collections.planner import PlanProblem, lp_bound, solve

HOURS = np.arange(8, 20)  # agent and robot hours (local = row, for simplicity)
AGENTS = 2_000
AGENT_MINUTES = 50.0  # productive minutes per agent per hour
ROBOT_LINES = 1_500
SMS_BUDGET_SHARE = 0.35  # of open cases
PUSH_BUDGET_SHARE = 0.25


def build(n_cases: int, seed: int = 7) -> PlanProblem:
    """A realistic random day for ``n_cases`` open cases (scaled capacities)."""
    rng = np.random.default_rng(seed)
    scale = n_cases / 1_000_000
    # case economics: owed balance (lognormal, heavy tail), propensity to pay, risk of complaint
    owed = rng.lognormal(mean=7.3, sigma=1.3, size=n_cases)  # median ~1,500, a few 100,000+
    dpd = rng.choice([5, 20, 45, 75, 105], size=n_cases, p=[0.45, 0.25, 0.15, 0.1, 0.05])
    base_pay = rng.beta(2.0, 6.0, size=n_cases) * np.exp(-dpd / 120)
    complaint_risk = rng.beta(1.0, 60.0, size=n_cases)
    app_user = rng.random(n_cases) < 0.6
    hour_profile = rng.dirichlet(np.full(len(HOURS), 2.0), size=n_cases) * len(HOURS)
    complaint_price = 150.0

    cases, values, rows, uses = [], [], [], []

    def add(mask: np.ndarray, value: np.ndarray, row: np.ndarray | np.integer | int,
            use: np.ndarray | float) -> None:
        idx = np.flatnonzero(mask)
        cases.append(idx)
        values.append(value[idx])
        rows.append(np.broadcast_to(row, (n_cases,))[idx].astype(np.int32))
        uses.append(np.broadcast_to(use, (n_cases,))[idx])

    n_h = len(HOURS)
    agent_row0, robot_row0, sms_row, push_row = 0, n_h, 2 * n_h, 2 * n_h + 1
    # SMS: 2-3 slots (budget is daily: one row), small uplift
    n_sms = rng.integers(2, 4, size=n_cases)
    for k in range(3):
        slot_factor = rng.uniform(0.7, 1.1, size=n_cases)
        v = owed * base_pay * 0.010 * slot_factor - 0.05 - complaint_price * complaint_risk * 0.002
        add(n_sms > k, v, np.int32(sms_row), np.float64(1.0))
    # push for app users
    v = owed * base_pay * 0.006 - 0.005 - complaint_price * complaint_risk * 0.001
    add(app_user, v, np.int32(push_row), np.float64(1.0))
    # robot and agent at a few hours each; right-party contact rate varies by hour and case
    for channel, n_lo, n_hi, uplift, cost_per_min, complaint_k, row0 in (
            ("robot", 2, 4, 0.030, 0.10, 0.006, robot_row0),
            ("agent", 2, 4, 0.090, 1.00, 0.012, agent_row0)):
        n_slots = rng.integers(n_lo, n_hi, size=n_cases)
        slots = np.argsort(rng.random((n_cases, n_h)), axis=1)[:, : n_hi - 1]
        for k in range(n_hi - 1):
            h = slots[:, k]
            contact = np.clip(hour_profile[np.arange(n_cases), h] * 0.35, 0.02, 0.95)
            minutes = (rng.gamma(4.0, 0.5, size=n_cases) if channel == "robot"
                       else rng.gamma(6.0, 1.1, size=n_cases))
            v = (owed * base_pay * uplift * contact - minutes * cost_per_min
                 - complaint_price * complaint_risk * complaint_k)
            add(n_slots > k, v, (row0 + h).astype(np.int32), minutes)
    case = np.concatenate(cases)
    order = np.argsort(case, kind="stable")
    capacity = np.concatenate([
        np.full(n_h, AGENTS * AGENT_MINUTES * scale),
        np.full(n_h, ROBOT_LINES * 60.0 * scale),
        [SMS_BUDGET_SHARE * n_cases, PUSH_BUDGET_SHARE * n_cases]])
    limit = rng.choice([0, 1, 2], size=n_cases, p=[0.03, 0.80, 0.17])
    return PlanProblem(case=case[order], value=np.concatenate(values)[order],
                       resource=np.concatenate(rows)[order], use=np.concatenate(uses)[order],
                       capacity=capacity, case_limit=limit)


def argmax_pass(p: PlanProblem) -> float:
    """Seconds of one per-case best-candidate pass without capacities (candidates sorted)."""
    t0 = time.perf_counter()
    starts = np.flatnonzero(np.r_[True, p.case[1:] != p.case[:-1]])
    best = np.maximum.reduceat(p.value, starts)
    seg = np.cumsum(np.r_[True, p.case[1:] != p.case[:-1]]) - 1
    hit = np.flatnonzero(p.value == best[seg])
    _ = hit[np.r_[True, seg[hit][1:] != seg[hit][:-1]]]
    return time.perf_counter() - t0


def greedy_by_value(p: PlanProblem) -> tuple[float, float]:
    """A plain greedy plan: candidates by value, each taken if its case and row have room.

    Vectorised in rounds like the planner's refill, without prices. Returns (objective,
    seconds).
    """
    t0 = time.perf_counter()
    n = len(p.value)
    chosen = np.zeros(n, dtype=bool)
    cap = np.append(p.capacity, np.inf)
    row = np.where(p.resource >= 0, p.resource, len(p.capacity))
    use = np.where(p.resource >= 0, p.use, 0.0)
    for _ in range(64):
        left = cap - np.bincount(row[chosen], weights=use[chosen], minlength=len(cap))
        room = p.case_limit - np.bincount(p.case[chosen], minlength=p.n_cases)
        idx = np.flatnonzero(~chosen & (p.value > 0) & (room[p.case] > 0) & (use <= left[row]))
        if not idx.size:
            break
        idx = idx[np.lexsort((-p.value[idx], p.case[idx]))]
        s = p.case[idx]
        rank = np.arange(len(idx)) - np.searchsorted(s, s)
        idx = idx[rank < room[s]]
        idx = idx[np.lexsort((-p.value[idx], row[idx]))]
        r = row[idx]
        cs = np.cumsum(use[idx])
        first = np.searchsorted(r, r)
        within = cs - (cs[first] - use[idx][first])
        ok = within <= left[r]
        if not ok.any():
            break
        chosen[idx[ok]] = True
    return float(p.value[chosen].sum()), time.perf_counter() - t0


def gate_plan(p: PlanProblem, chosen: np.ndarray) -> dict[str, object]:
    """Check the plan's contacts with the contact rules, as ``collect plan`` does."""
    from datetime import date

    from creditdesk.collections.gate import ContactLog, gate
    from creditdesk.collections.proposals import CHANNELS, Proposals
    from creditdesk.collections.strategy import load_strategy
    from creditdesk.compliance import load_profile

    n_h = len(HOURS)
    idx = np.flatnonzero(chosen)
    row = p.resource[idx]
    kind = np.where(row < n_h, CHANNELS.index("agent"), np.where(
        row < 2 * n_h, CHANNELS.index("robot"),
        np.where(row == 2 * n_h, CHANNELS.index("sms"), CHANNELS.index("push"))))
    hour = np.where(row < 2 * n_h, HOURS[row % n_h], 10)
    is_msg = row >= 2 * n_h
    props = Proposals(account=p.case[idx].astype(np.int64), channel=kind.astype(np.int8),
                      minute=(hour * 60).astype(np.int32), reminder=np.zeros(len(idx), bool),
                      retry=np.zeros(len(idx), bool), party=np.zeros(len(idx), np.int8),
                      template=np.where(is_msg, "dunning", None).astype(object))
    n = p.n_cases
    strat = load_strategy("bucket_rules")
    log = ContactLog.new(load_profile("CN"))
    t0 = time.perf_counter()
    allowed, _, _, _, _ = gate(
        props, date(2026, 3, 2), np.arange(n), np.full(n, "Asia/Shanghai", dtype=object),
        np.array([f"+86139{i:08d}" for i in range(n)], dtype=object), np.zeros(n, bool),
        np.full(n, 20), log, np.zeros(len(idx)), np.ones(24), 1.0, strat.templates)
    return {"gate_seconds": round(time.perf_counter() - t0, 2), "gate_contacts": len(idx),
            "gate_allowed": int(allowed.sum())}


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0)


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=Path(__file__).resolve().parent, check=False)
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--lp-time-limit", type=float, default=900.0,
                    help="seconds HiGHS's IPM may take for the LP bound (0 skips it)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    out: dict[str, object] = {
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(),
                    "python": platform.python_version(), "numpy": np.__version__},
        "commit": _commit(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "cases": args.cases,
    }
    t0 = time.perf_counter()
    p = build(args.cases, args.seed)
    out["build_seconds"] = round(time.perf_counter() - t0, 2)
    out["candidates"] = len(p.value)
    out["resources"] = p.n_resources

    pass_s = argmax_pass(p)
    out["baseline_argmax_pass_seconds"] = round(pass_s, 3)
    g_obj, g_s = greedy_by_value(p)
    out["baseline_greedy_objective"] = round(g_obj, 2)
    out["baseline_greedy_seconds"] = round(g_s, 2)

    s = solve(p)
    used = np.bincount(p.resource[s.chosen & (p.resource >= 0)],
                       weights=p.use[s.chosen & (p.resource >= 0)], minlength=p.n_resources)
    out.update({
        "solve_seconds": round(s.seconds, 2),
        "solve_over_argmax_pass": round(s.seconds / max(pass_s, 1e-9), 1),
        "objective": round(s.objective, 2),
        "bound": round(s.bound, 2),
        "gap": s.gap,
        "method": s.method,
        "contacts_planned": int(s.chosen.sum()),
        "capacity_rows_full_to_0.1pct": int(np.sum(used >= 0.999 * p.capacity)),
        "objective_over_greedy": round(s.objective / g_obj, 4) if g_obj else None,
        "peak_rss_mb_after_solve": _peak_rss_mb(),
    })
    out.update(gate_plan(p, s.chosen))
    out["solve_and_gate_seconds"] = round(s.seconds + float(out["gate_seconds"]), 2)
    if args.lp_time_limit > 0:
        t1 = time.perf_counter()
        try:
            lp = lp_bound(p, time_limit=args.lp_time_limit)
            out["lp_bound"] = round(lp, 2)
            out["lp_bound_seconds"] = round(time.perf_counter() - t1, 1)
            out["gap_to_lp_bound"] = (lp - s.objective) / abs(lp)
            out["lagrangian_bound_over_lp_bound"] = s.bound / lp - 1
        except TimeoutError as err:
            out["lp_bound"] = None
            out["lp_bound_seconds"] = round(time.perf_counter() - t1, 1)
            out["lp_bound_note"] = f"not finished within {args.lp_time_limit:.0f} s: {err}"
        out["peak_rss_mb_after_lp_bound"] = _peak_rss_mb()
    out["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for k, v in out.items():
            print(f"{k:34s} {v}")


if __name__ == "__main__":
    main()
