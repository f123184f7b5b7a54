"""Risk-model performance benchmark: bulk scoring speed and training on 1,000,000 rows.

One command, ``nice .venv/bin/python benchmarks/bench_risk_perf.py`` (``--quick`` for a
smoke run; ``--part score`` or ``--part train`` for one half). Prints the figures and writes
``benchmarks/RESULTS-risk-perf.md`` with the machine facts.

Scoring: a 300-tree gbm (creditdesk's gbm settings, early stopping off, exactly 300 trees)
and the default scorecard, both trained on the Taiwan data, score 300,000 distinct rows
(the training table below at that size). Timed in rounds (``--rounds``, default 3: every
variant once per round, the best round kept, so that every variant meets the same load on a
shared machine): LightGBM's plain ``predict`` on 1 thread and on every core and LightGBM's
own ``pred_contrib`` on 3,000 rows (the baselines), ``score_table`` without reasons, with
exact SHAP reasons (the default; "cold": a fresh model whose SHAP tables are laid out and
filled during the run; "warm": filled by an earlier round) and with Saabas reasons (the
approximate method), each on 1 thread and on every core, and the end-to-end
``read -> score -> write`` of a Parquet file. Every row names its method.

Training: the Taiwan rows resampled with replacement to 1,000,000 rows, with Gaussian noise of
1 % of each numeric column's standard deviation added to the non-integer-coded amounts
(``LIMIT_BAL``, ``BILL_AMT*``, ``PAY_AMT*``, ``AGE`` left as is), seed 0, labels drawn from
a teacher model (``--labels copied`` keeps the copied labels; see :func:`big_frame`);
``train`` is timed for both models with the default options (``--train-cv 5`` adds runs with
an explicit 5-fold CV).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from machine import cpu_model  # benchmarks/machine.py (scripts run from their folder)

from creditdesk.datasets import taiwan_credit_default
from creditdesk.risk import load_model, score_table
from creditdesk.risk.artifact import save_model
from creditdesk.risk.data import coerce_features, infer_schema, read_table
from creditdesk.risk.gbm import GBMModel
from creditdesk.risk.scoring import write_table
from creditdesk.risk.train import TrainOptions, train

RESULTS = Path(__file__).with_name("RESULTS-risk-perf.md")


def facts() -> str:
    import lightgbm
    import scipy
    load = os.getloadavg()[0]
    cpu = cpu_model()
    return (f"{cpu}, {os.cpu_count()} cores (shared with other jobs; load average at start "
            f"{load:.1f}); Python {platform.python_version()}, LightGBM {lightgbm.__version__}, "
            f"NumPy {np.__version__}, SciPy {scipy.__version__}, pandas {pd.__version__}")


def best_of(fn: Any, n: int = 3) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def big_frame(n_rows: int, labels: str = "teacher") -> pd.DataFrame:
    """Taiwan resampled to ``n_rows`` with 1 % noise on the money columns (see module doc).

    ``labels="copied"`` keeps each resampled row's own label: every source row then appears
    ~33 times at 1,000,000 rows, so a validation or hold-out split holds copies of
    training rows, the hold-out AUC is inflated (0.97) and early stopping never stops (it
    runs to the 3,000-round cap). ``labels="teacher"`` (default) draws each label afresh
    from a teacher model's PD for that row (LightGBM, 200 trees, default settings, fitted
    on the Taiwan rows): copies no longer share their labels, the best achievable AUC is
    the teacher's, and early stopping behaves as on real data of that size.
    """
    base = taiwan_credit_default()
    rng = np.random.default_rng(0)
    frame = base.iloc[rng.integers(0, len(base), n_rows)].reset_index(drop=True)
    for col in frame.columns:
        if col.startswith(("BILL_AMT", "PAY_AMT")) or col == "LIMIT_BAL":
            v = frame[col].to_numpy(dtype=float)
            frame[col] = v + rng.normal(0, 0.01 * float(np.std(v)), n_rows)
    frame["ID"] = np.arange(1, n_rows + 1)
    if labels == "teacher":
        import lightgbm as lgb

        cols = [c for c in base.columns if c not in ("ID", "class")]
        teacher = lgb.train({"objective": "binary", "verbose": -1, "seed": 0,
                             "num_threads": 1, "deterministic": True},
                            lgb.Dataset(base[cols].to_numpy(float), base["class"].to_numpy()),
                            num_boost_round=200)
        pd_ = teacher.predict(frame[cols].to_numpy(float), num_threads=1)
        frame["class"] = (rng.random(n_rows) < pd_).astype(np.int64)
    elif labels != "copied":
        raise ValueError(f"labels must be teacher or copied; got {labels!r}")
    return frame


def score_part(n_rows: int, tmp: Path, rounds: int = 3) -> list[tuple[str, float, float]]:
    base = taiwan_credit_default()
    schema = infer_schema(base, "class")
    out_sc = tmp / "sc"
    train(base, "class", out_sc, TrainOptions(model="scorecard", cv_folds=0))
    out_gbm = tmp / "gbm"
    train(base, "class", out_gbm, TrainOptions(model="gbm", cv_folds=0))
    gbm_bundle = load_model(out_gbm)
    # replace the trained gbm by a 300-tree one with the same settings (no early stopping)
    X = coerce_features(base, schema)
    import lightgbm as lgb
    y = base["class"].to_numpy()
    model300 = GBMModel(n_estimators=50).fit(X, y)
    model300.booster_ = lgb.train(model300._params(), lgb.Dataset(model300._encode(X), y),
                                  num_boost_round=300)  # Taiwan has no categorical columns
    model300.n_trees_ = model300.booster_.current_iteration()
    assert model300.n_trees_ == 300, model300.n_trees_
    gbm_bundle.model = model300
    sc_bundle = load_model(out_sc)
    frame = big_frame(n_rows)  # distinct rows: tiled copies would reach fewer SHAP cells
    variants: list[tuple[str, int, Any]] = []

    def add(name: str, n: int, fn: Any) -> None:
        variants.append((name, n, fn))

    feats = coerce_features(frame, schema)
    data = model300._matrix(feats)
    cores = os.cpu_count() or 1
    for threads in (1, cores):
        add(f"gbm 300 trees: LightGBM predict only, {threads} thread(s) (baseline)", n_rows,
            lambda t=threads: model300.booster_.predict(data, num_threads=t))
    add("gbm 300 trees: score_table, no reasons", n_rows,
        lambda: score_table(gbm_bundle, frame, n_reasons=0))
    for threads in (1, cores):
        add(f"gbm 300 trees: score_table, 3 Saabas reasons (approximate), {threads} thread(s)",
            n_rows, lambda t=threads: score_table(gbm_bundle, frame, reason_method="saabas",
                                                  num_threads=t))
    small = data[:3000]
    add(f"gbm 300 trees: LightGBM pred_contrib (exact SHAP, per row), {cores} thread(s), "
        "3,000 rows (baseline)", len(small),
        lambda: model300.booster_.predict(small, pred_contrib=True, num_threads=cores))

    def cold(t: int) -> None:
        model300._shap_cache = None  # a fresh process: cell layout and every fill included
        score_table(gbm_bundle, frame, reason_method="shap", num_threads=t)

    add(f"gbm 300 trees: score_table, 3 exact SHAP reasons (default), {cores} thread(s), "
        "cold (tables built and filled in the run)", n_rows, lambda: cold(cores))
    for threads in (1, cores):
        add(f"gbm 300 trees: score_table, 3 exact SHAP reasons (default), {threads} "
            "thread(s), warm", n_rows,
            lambda t=threads: score_table(gbm_bundle, frame, reason_method="shap",
                                          num_threads=t))
    add("scorecard: score_table, no reasons", n_rows,
        lambda: score_table(sc_bundle, frame, n_reasons=0))
    add("scorecard: score_table, 3 reasons", n_rows, lambda: score_table(sc_bundle, frame))
    src = tmp / "in.parquet"
    frame.to_parquet(src, index=False)
    for name, bundle, method in (("gbm 300 trees, exact SHAP reasons", gbm_bundle, "shap"),
                                 ("gbm 300 trees, Saabas reasons", gbm_bundle, "saabas"),
                                 ("scorecard, points-lost reasons", sc_bundle, "shap")):
        def e2e(bundle: Any = bundle, method: str = method) -> None:
            write_table(score_table(bundle, read_table(src), reason_method=method),
                        tmp / "out.parquet")
        add(f"{name}: Parquet read -> score -> Parquet write", n_rows, e2e)
    # the CLI in a fresh process: imports, model load, numba's cached loops, a cold table
    folder300 = save_model(tmp / "gbm300", model300, schema, scaling=gbm_bundle.scaling)
    cli = [str(Path(sys.executable).with_name("creditdesk")), "risk", "score", "--model",
           str(folder300), "--data", str(src), "--out", str(tmp / "cli.parquet")]
    add("gbm 300 trees, exact SHAP reasons: `creditdesk risk score` Parquet -> Parquet, "
        "a fresh process (cold tables)", n_rows,
        lambda: subprocess.run(cli, check=True, capture_output=True))
    # Rounds: every variant once per round, best of the rounds. On a shared machine the
    # load moves within seconds; interleaving gives every variant the same chances.
    best = {name: float("inf") for name, _, _ in variants}
    for r in range(rounds):
        for name, _, fn in variants:
            t = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t)
        print(f"round {r + 1}/{rounds} done (load {os.getloadavg()[0]:.1f})", flush=True)
    rows = [(name, n / best[name], best[name]) for name, n, _ in variants]
    for name, rate, seconds in rows:
        print(f"{name:<90} {rate:>10,.0f} rows/s  ({seconds:.2f} s)", flush=True)
    return rows


def train_part(n_rows: int, tmp: Path, folds: list[int | None], labels: str
               ) -> list[tuple[str, float, float]]:
    frame = big_frame(n_rows, labels)
    rows: list[tuple[str, float, float]] = []
    # same-run yardstick: bare LightGBM, default parameters, 100 rounds, 1 thread, every row
    import lightgbm as lgb
    cols = [c for c in frame.columns if c not in ("ID", "class")]
    t = time.perf_counter()
    lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1, "seed": 0},
              lgb.Dataset(frame[cols].to_numpy(float), frame["class"].to_numpy()),
              num_boost_round=100)
    seconds = time.perf_counter() - t
    name = f"baseline: bare LightGBM defaults, 100 rounds, 1 thread, {n_rows:,} rows"
    rows.append((name, float("nan"), seconds))
    print(f"{name:<58} {seconds:>8.1f} s", flush=True)
    for cv in folds:  # None: the default (5 folds up to 200,000 rows, none above)
        for model in ("gbm", "scorecard"):
            t = time.perf_counter()
            res = train(frame, "class", tmp / f"{model}{cv}",
                        TrainOptions(model=model, cv_folds=cv))
            seconds = time.perf_counter() - t
            auc = res.metrics["holdout"]["auc"]
            extra = f", {res.model.n_trees_} trees" if model == "gbm" else ""
            name = (f"train {model} on {n_rows:,} rows ({labels} labels), "
                    f"cv_folds={'default' if cv is None else cv}{extra}")
            rows.append((name, auc, seconds))
            print(f"{name:<58} {seconds:>8.1f} s  hold-out AUC {auc:.4f}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--part", choices=["all", "score", "train"], default="all")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--labels", choices=["teacher", "copied"], default="teacher",
                        help="training table labels (see big_frame)")
    parser.add_argument("--train-cv", type=int, action="append", default=None,
                        help="also train with this many CV folds (repeatable; the default "
                        "options are always run)")
    parser.add_argument("--train-rows", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=3, help="scoring rounds (best of)")
    args = parser.parse_args()
    n_score = 30_000 if args.quick else 300_000
    n_train = args.train_rows or (50_000 if args.quick else 1_000_000)
    machine = facts()
    print(machine, file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        scoring = score_part(n_score, tmp, args.rounds) if args.part in ("all", "score") else []
        folds: list[int | None] = [None, *(args.train_cv or [])]
        training = train_part(n_train, tmp, folds, args.labels) \
            if args.part in ("all", "train") else []
    if args.no_write or args.quick:
        return
    lines = ["# Risk models: performance benchmark (generated part)", "",
             f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with "
             f"`nice .venv/bin/python benchmarks/bench_risk_perf.py --part {args.part}`.",
             f"Machine: {machine}.", ""]
    if scoring:
        lines += ["| scoring | rows/s | seconds |", "|---|---:|---:|"]
        lines += [f"| {n} | {r:,.0f} | {s:.2f} |" for n, r, s in scoring]
        lines.append("")
    if training:
        lines += ["| training | hold-out AUC | seconds |", "|---|---:|---:|"]
        lines += [f"| {n} | {a:.4f} | {s:.1f} |" for n, a, s in training]
    out = RESULTS.with_suffix(f".{args.part}.generated.md")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
