"""Benchmark of `creditdesk demo`: the digital twin's daily cycle at scale (not a timed test).

    .venv/bin/python benchmarks/bench_demo.py --customers 100000 --days 180 [--json]

Runs the whole demo (population, daily cycle, figures, report) in a fresh folder and
reports the wall time, the time per stage, and the peak memory (max RSS of this
process). The baseline measured in the same run is the end-of-day batch alone: the
seconds the end-of-day batch spent closing the dates (stage ``eod``), so the
twin's own overhead is the ratio of the total to that part.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from creditdesk.demo import run_demo


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=180)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--progress", action="store_true",
                    help="print each date's elapsed seconds to stderr (long runs)")
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-demo-"))
    t0 = time.perf_counter()

    def progress(d: object, i: int, n: int) -> None:
        print(f"{d} {i}/{n} {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)

    res = run_demo(out, customers=args.customers, days=args.days, seed=args.seed,
                   on_day=progress if args.progress else None)
    wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stages = res.kpis.get("seconds_by_stage", {})
    eod = stages.get("eod", 0.0)
    result = {
        "customers": args.customers, "days": args.days, "accounts": res.kpis["accounts"],
        "wall_seconds": round(wall, 1), "twin_seconds": res.kpis.get("seconds"),
        "seconds_by_stage": stages, "ratio_to_eod": round(wall / eod, 2) if eod else None,
        "peak_rss_mb": round(peak_mb), "store_mb": round(
            (out / "creditdesk.duckdb").stat().st_size / 2**20),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_avg_1m": round(os.getloadavg()[0], 2)},
    }
    print(json.dumps(result, indent=None if args.json else 2))
    if args.out is None:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
