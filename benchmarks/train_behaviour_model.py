"""Train the shipped behaviour model on the digital twin's own history.

    .venv/bin/python benchmarks/train_behaviour_model.py \
        --store /tmp/beh/twin.duckdb --customers 20000 --days 400 --seed 21 \
        --out src/creditdesk/risk/models/behaviour

Runs the twin (``simulate.driver.run_twin``, calibrated parameters, no behaviour
model so the twin's own contact policy is the built-in one) unless the store
already holds closed dates, then builds the training frame in the store's
engine (``features_sql.training_frame_from_store``) at every month end whose
180-day outcome window is inside the run, and trains a LightGBM model
(``risk.train``, ``TrainOptions(model="gbm")``) with an out-of-time hold-out:
the last snapshot dates (``time_col="as_of"``). Prints the hold-out metrics as
JSON.

The training run's folder (with its 5 MB offline report.html) goes to
``--work``; the shipped folder ``--out`` is re-written from the verified model
by ``artifact.save_model`` with metrics.json only, so the manifest digests
exactly what ships (about 1.6 MB).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from creditdesk.risk.artifact import load_model, save_model
from creditdesk.risk.behaviour import FEATURES
from creditdesk.risk.features_sql import training_frame_from_store
from creditdesk.risk.train import TrainOptions, train
from creditdesk.store import open_store

HORIZON = 180


def month_ends(first: date, last: date) -> list[date]:
    out, d = [], first
    while d <= last:
        if (d + timedelta(days=1)).day == 1:
            out.append(d)
        d += timedelta(days=1)
    return out


def ship(work: Path, out: Path, provenance: dict[str, object]) -> None:
    """The verified model of ``work`` re-written to ``out`` with metrics.json only."""
    bundle = load_model(work)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copy(work / "metrics.json", out / "metrics.json")
    save_model(out, bundle.model, bundle.schema, scaling=bundle.scaling,
               extra_files=["metrics.json"],
               info={**bundle.manifest.get("info", {}), "training": provenance})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default="/tmp/beh/twin.duckdb")
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=400)
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--out", default="src/creditdesk/risk/models/behaviour")
    ap.add_argument("--work", default="/tmp/beh/behaviour-model-work")
    ap.add_argument("--test-size", type=float, default=0.3)
    args = ap.parse_args()

    store = open_store(f"duckdb:///{args.store}")
    started = time.perf_counter()
    if store.last_closed() is None:
        from creditdesk.simulate.driver import run_twin
        from creditdesk.simulate.params import load_params

        run_twin(store, customers=args.customers, days=args.days, seed=args.seed,
                 params=load_params())
    twin_s = time.perf_counter() - started
    first = store.scalar("SELECT min(business_date) FROM closed_dates")
    last = store.last_closed()
    assert isinstance(first, date) and last is not None
    snapshots = month_ends(first, last - timedelta(days=HORIZON))
    t0 = time.perf_counter()
    frame = training_frame_from_store(store, snapshots, horizon_days=HORIZON)
    frame_s = time.perf_counter() - t0
    data = frame.select("as_of", *FEATURES, "target").to_pandas()
    t1 = time.perf_counter()
    result = train(data, "target", Path(args.work),
                   TrainOptions(model="gbm", time_col="as_of", test_size=args.test_size,
                                cv_folds=5, random_state=args.seed))
    provenance = {"store": args.store, "customers": args.customers, "days": args.days,
                  "seed": args.seed, "snapshots": [str(d) for d in snapshots],
                  "script": "benchmarks/train_behaviour_model.py"}
    ship(Path(args.work), Path(args.out), provenance)
    hold = result.metrics["holdout"]
    print(json.dumps({
        "store": args.store, "books": [str(first), str(last)], "snapshots": [str(d) for d in snapshots],
        "rows": frame.height, "bad_rate": round(float(frame.select(pl.col("target").mean()).item()), 4),
        "bad_rate_by_snapshot": {str(k): round(v, 4) for k, v in
                                 frame.group_by("as_of").agg(pl.col("target").mean())
                                 .sort("as_of").iter_rows()},
        "split": result.metrics["split"], "holdout_auc": hold["auc"], "holdout_ks": hold["ks"],
        "holdout_gini": hold.get("gini"), "holdout_brier": hold.get("brier"),
        "cv": result.metrics["cv"], "train_auc": result.metrics["train_auc"],
        "gain": result.metrics.get("gbm", {}).get("gain"),
        "seconds": {"twin": round(twin_s, 1), "frame": round(frame_s, 1),
                    "train": round(time.perf_counter() - t1, 1)},
    }, indent=2, default=str))


if __name__ == "__main__":
    main()
