"""Contact-checker throughput on one core, histories of 50 events.

Run: ``.venv/bin/python benchmarks/bench_compliance.py`` (``--quick`` for a smoke run).

What is measured: ``check(proposed, customer, history, profile)`` on prepared inputs,
as a planner calls it: the debtor's history is loaded once into a ``History`` and
the planner checks candidate contacts against it. A second figure includes building
the ``History`` from a plain list inside every check (the ad-hoc path).

Workload per profile (CN, US): 2,000 debtors, each with 50 past contacts spread over
the last 30 days (60 % calls of which 35 % connected and half of those
conversations, 25 % SMS, 15 % e-mail, two phone numbers), and one proposed call at a
uniformly random minute of the day: so some proposals fall in quiet hours or hit a
cap and take the blocked path with its next-allowed search, as in real planning.

Baseline, measured in the same run: a bare Python loop that reads each of the 50
events once (``ev.us`` and ``ev.flags``) and does nothing else: the floor for any
checker that touches every event in Python. The ratio says how many bare passes
over the history one full check costs.

On a shared machine the load drifts during a run, so the figures are measured in
rounds (each round times every figure once, the baseline included), the ratio is
taken within a round, and each figure is also given per CPU-second of this thread
(``time.thread_time``), which leaves out the time other processes held the core.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from creditdesk.compliance import (
    Blocked,
    ContactEvent,
    CustomerState,
    ProposedContact,
    check,
    load_profile,
)
from creditdesk.compliance.history import History

ZONES = {"CN": "Asia/Shanghai", "US": "America/New_York"}
NUMBERS = {"CN": ["+8613800138000", "+8613900139000"], "US": ["+12125550100", "+12125550111"]}


def workload(profile: str, debtors: int, seed: int) -> list[tuple[Any, Any, list[Any]]]:
    rng = random.Random(seed)
    nums = NUMBERS[profile]
    who = CustomerState(ZONES[profile])
    out = []
    for _ in range(debtors):
        now = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 60 * 24 * 60))
        events = []
        for _ in range(50):
            ts = now - timedelta(minutes=rng.randrange(1, 60 * 24 * 30))
            r = rng.random()
            if r < 0.60:
                connected = rng.random() < 0.35
                events.append(ContactEvent(ts, "voice", number=rng.choice(nums),
                                           connected=connected,
                                           conversation=connected and rng.random() < 0.5,
                                           robot=rng.random() < 0.3))
            elif r < 0.85:
                events.append(ContactEvent(ts, "sms", number=rng.choice(nums)))
            else:
                events.append(ContactEvent(ts, "email", number="debtor@example.com"))
        out.append((ProposedContact(now, "voice", number=rng.choice(nums)), who, events))
    return out


def once(fn: Callable[[], int], seconds: float) -> tuple[float, float]:
    """(items per wall second, items per CPU-second of this thread) over ~``seconds``."""
    n, t0, c0 = 0, time.perf_counter(), time.thread_time()
    while time.perf_counter() - t0 < seconds:
        n += fn()
    return n / (time.perf_counter() - t0), n / max(time.thread_time() - c0, 1e-9)


def rounds(figures: dict[str, Callable[[], int]], seconds: float, repeats: int
           ) -> dict[str, list[tuple[float, float]]]:
    """Every figure timed once per round, ``repeats`` rounds: load drift hits all alike."""
    out: dict[str, list[tuple[float, float]]] = {k: [] for k in figures}
    for _ in range(repeats):
        for k, fn in figures.items():
            out[k].append(once(fn, seconds))
    return out


def summary(runs: list[tuple[float, float]]) -> tuple[float, float, float]:
    """(best wall rate, median wall rate, best CPU-time rate)."""
    wall = [w for w, _ in runs]
    return max(wall), statistics.median(wall), max(c for _, c in runs)


def bare_loop(items: list[tuple[Any, Any, list[Any]]]) -> Callable[[], int]:
    def run() -> int:
        for p, _, h in items:
            t = p.us
            n = 0
            for ev in h:
                if ev.us <= t and ev.flags:
                    n += 1
        return len(items)
    return run


def checks(items: list[tuple[Any, Any, Any]], profile: Any) -> Callable[[], int]:
    def run() -> int:
        for p, s, h in items:
            check(p, s, h, profile)
        return len(items)
    return run


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": str(os.cpu_count()), "cpu": cpu, "python": platform.python_version()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short smoke run")
    args = ap.parse_args()
    seconds, repeats, debtors = (0.3, 1, 300) if args.quick else (2.0, 5, 2000)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    info = machine()
    print(f"machine: nproc={info['nproc']} cpu={info['cpu']!r} python={info['python']}")
    if hasattr(os, "getloadavg"):  # other work on the machine depresses every figure
        print("load average at start: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print("pinned to one core; best (median) of", repeats, "runs of", seconds, "s")
    for name in ("CN", "US"):
        profile = load_profile(name)
        raw = workload(name, debtors, seed=7)
        prepared = [(p, s, History(h)) for p, s, h in raw]
        decisions = [check(p, s, h, profile) for p, s, h in prepared]
        blocked = [d for d in decisions if isinstance(d, Blocked)]
        by_rule: dict[str, int] = {}
        for d in blocked:
            by_rule[d.rule_id] = by_rule.get(d.rule_id, 0) + 1
        allowed_only = [x for x, d in zip(prepared, decisions, strict=True) if d.allowed]
        blocked_only = [x for x, d in zip(prepared, decisions, strict=True) if not d.allowed]

        runs = rounds({"base": bare_loop(raw), "mix": checks(prepared, profile),
                       "plain": checks(raw, profile), "ok": checks(allowed_only, profile),
                       "no": checks(blocked_only, profile)}, seconds, repeats)
        print(f"\n{name} profile {profile.version}: {len(raw)} debtors x 50 events, "
              f"{len(blocked)} blocked ({', '.join(f'{k} {v}' for k, v in sorted(by_rule.items()))})")
        print("  figure                                   best/s   median/s  per CPU-s")
        labels = {"mix": "check, prepared History, stress mix ",
                  "plain": "check, plain list (History per check)",
                  "ok": "check, allowed path only            ",
                  "no": "check, blocked path only (with next)",
                  "base": "baseline bare loop over 50 events   "}
        for key, label in labels.items():
            best, med, cpu = summary(runs[key])
            print(f"  {label} {best:>9,.0f} {med:>10,.0f} {cpu:>10,.0f}")
        ratios = sorted(m[0] / b[0] for m, b in zip(runs["mix"], runs["base"], strict=True))
        print(f"  ratio check/baseline, mix, same round: median {statistics.median(ratios):.2f} "
              f"(range {ratios[0]:.2f} to {ratios[-1]:.2f})")
        mix = summary(runs["mix"])
        print(f"  target 50,000 checks/s (mix): best {'met' if mix[0] >= 50_000 else 'NOT met'}, "
              f"median {'met' if mix[1] >= 50_000 else 'NOT met'}, "
              f"per CPU-second {'met' if mix[2] >= 50_000 else 'NOT met'}")


if __name__ == "__main__":
    main()
