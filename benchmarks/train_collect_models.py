"""Train the shipped collection scores on a digital-twin run's explore arm.

    .venv/bin/python benchmarks/train_collect_models.py [--customers 20000] [--days 150]
        [--seed 101] [--out src/creditdesk/collections/models/collect] [--json]

Runs the twin with the ``optimized`` strategy's menu but every account in an explore arm
(each day a uniformly random item of its menu, or nothing), then fits the recovery and
complaint uplift models and the self-cure score on the decisions whose horizon closed,
and reports each model's held-out quality (Qini coefficient of the recovery uplift per
treatment on accounts not used for fitting, AUC of the self-cure score).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from creditdesk.collections.features import FEATURES
from creditdesk.collections.optimize import CONTROL
from creditdesk.collections.strategy import Arm, load_strategy
from creditdesk.collections.training import fit_models, training_frame
from creditdesk.collections.uplift import qini_coefficient
from creditdesk.risk.refresh import BEHAVIOUR_MODEL
from creditdesk.simulate.driver import run_twin
from creditdesk.simulate.params import load_params
from creditdesk.store import open_store


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=150)
    ap.add_argument("--seed", type=int, default=101)
    ap.add_argument("--out", type=Path,
                    default=Path("src/creditdesk/collections/models/collect"))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--keep", type=Path, default=None,
                    help="keep the twin's store here, and reuse it if it exists")
    a = ap.parse_args()
    base = load_strategy("optimized")
    explore = base.model_copy(update={
        "name": "optimized_explore",
        "arms": [Arm(name="explore", share=1.0, paths={"default": "menu"}, explore=True)]})
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        db = a.keep or Path(tmp) / "explore.duckdb"
        reuse = db.exists()
        store = open_store(f"duckdb:///{db}")
        try:
            if not reuse:
                run_twin(store, customers=a.customers, days=a.days, seed=a.seed,
                         params=load_params(), strategy=explore,
                         behaviour_model=BEHAVIOUR_MODEL)
            frame = training_frame(store)
        finally:
            store.close()
    sim_s = time.perf_counter() - t0
    # hold out a fifth of the accounts for the quality figures, then refit on all
    held = frame["account_id"].str[-1].isin(["0", "5"]).to_numpy()
    t1 = time.perf_counter()
    fit = fit_models(frame[~held])
    quality: dict[str, float] = {}
    test = frame[held]
    up = fit.models.recovery.predict_uplift(test[list(FEATURES)])
    for j, lab in enumerate(fit.models.recovery.treatments_):
        if lab == CONTROL:
            continue
        m = test["treatment"].isin([lab, CONTROL]).to_numpy()
        if m.sum() > 200:
            quality[f"qini_recovery_{lab}"] = round(float(qini_coefficient(
                test["recovered"].to_numpy()[m], up[m, j],
                (test["treatment"].to_numpy()[m] == lab).astype(int))), 4)
    if fit.self_cure is not None:
        from sklearn.metrics import roc_auc_score
        idle = test[(test["treatment"] == CONTROL) & (test["dpd"] > 0)]
        if idle["cured"].nunique() == 2:
            quality["self_cure_auc"] = round(float(roc_auc_score(
                idle["cured"], fit.self_cure.predict_self_cure(idle[list(FEATURES)]))), 4)
    final = fit_models(frame)
    fit_s = time.perf_counter() - t1
    info = {"customers": a.customers, "days": a.days, "seed": a.seed, "rows": final.rows,
            "rows_by_treatment": final.rows_by_treatment}
    final.models.save(a.out)
    if final.self_cure is not None:
        final.self_cure.save(a.out / "self_cure", info=info)
    report = {**info, "held_out_quality": quality, "simulate_seconds": round(sim_s, 1),
              "fit_seconds": round(fit_s, 1), "mean_recovered_by_treatment": {
                  str(k): round(float(v), 1) for k, v in
                  frame.groupby("treatment")["recovered"].mean().items()},
              "complaint_rate_by_treatment": {
                  str(k): round(float(v), 5) for k, v in
                  frame.groupby("treatment")["complained"].mean().items()},
              "out": str(a.out)}
    print(json.dumps(report, indent=None if a.json else 2))


if __name__ == "__main__":
    main()
