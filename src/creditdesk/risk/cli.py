"""`creditdesk risk` commands (a Typer sub-app registered in creditdesk.cli).

Each command parses its options, calls one library function and formats the
result: a Rich table for people, ``--json`` for machines. Domain errors leave
with a one-line message and their exit code (2 bad input, 3 not found).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from creditdesk.cli_support import handle_errors, print_json
from creditdesk.errors import BadInputError

app = typer.Typer(no_args_is_help=True, help="risk commands: train, score, monitor, cutoff, "
                  "policy")
_err = Console(stderr=True)
_out = Console()



_handle = handle_errors
_json = print_json


def _parse_monotone(items: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        name, sep, sign = item.rpartition("=")
        if not sep or sign.strip() not in {"1", "-1", "+1", "0"} or not name:
            raise BadInputError(f"--monotone must look like COLUMN=1 or COLUMN=-1; got {item!r}",
                                field="monotone", value=item)
        out[name.strip()] = int(sign)
    return out


DataOpt = Annotated[Path, typer.Option("--data", help="CSV or Parquet file")]
ModelOpt = Annotated[Path, typer.Option("--model", help="model folder written by `risk train`")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
PolicyOpt = Annotated[Path | None, typer.Option("--policy", help="decision policy TOML "
                                                "(default: the shipped policy)")]
IncomeOpt = Annotated[str | None, typer.Option("--income-col", help="column with the income "
                                               "used for credit limits")]


@app.command("train")
@_handle
def train_cmd(
    data: DataOpt,
    target: Annotated[str, typer.Option("--target", help="0/1 column, 1 = bad")],
    out: Annotated[Path, typer.Option("--out", help="folder to write the model into")],
    model: Annotated[str, typer.Option("--model", help="scorecard or gbm")] = "scorecard",
    time_col: Annotated[str | None, typer.Option("--time-col", help="split out-of-time on this "
                                                 "column (latest rows held out)")] = None,
    test_size: Annotated[float, typer.Option(help="share held out")] = 0.25,
    cv_folds: Annotated[int | None, typer.Option(
        help="cross-validation folds (0 = off; default 5, or off above 200,000 rows)")] = None,
    pdo: Annotated[float, typer.Option(help="points to double the odds")] = 20.0,
    base_score: Annotated[float, typer.Option(help="score at the base odds")] = 600.0,
    base_odds: Annotated[float, typer.Option(help="good:bad odds at the base score")] = 50.0,
    monotone: Annotated[list[str] | None, typer.Option(
        help="gbm: COLUMN=1 (PD rises with it) or COLUMN=-1; repeatable")] = None,
    drop: Annotated[list[str] | None, typer.Option(help="column to leave out; repeatable")] = None,
    threads: Annotated[int, typer.Option(help="gbm: LightGBM threads")] = 1,
    as_json: JsonOpt = False,
) -> None:
    """Train a scorecard or gbm PD model on any table with a 0/1 target."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from creditdesk.risk.train import TrainOptions, n_steps, train

    options = TrainOptions(model=model, time_col=time_col, test_size=test_size,
                           cv_folds=cv_folds, pdo=pdo, base_score=base_score,
                           base_odds=base_odds, monotone=_parse_monotone(monotone or []),
                           drop=list(drop or []), num_threads=threads)
    options.validate()
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=_err, transient=True) as progress:
        task = progress.add_task(f"training {model}", total=n_steps(options))
        result = train(data, target, out, options,
                       on_step=lambda msg: progress.update(task, advance=1, description=msg))
    mt = result.metrics
    if as_json:
        _json({"out": str(result.out_dir), "files": result.files, **mt})
        return
    hold, cv = mt["holdout"], mt["cv"]
    table = Table(title=f"{model} on {data.name} ({mt['split']['kind']} hold-out)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("n", "bad_rate", "auc", "gini", "ks", "brier", "log_loss"):
        table.add_row(key, f"{hold[key]:.4f}" if isinstance(hold[key], float) else str(hold[key]))
    if cv:
        table.add_row(f"{len(cv['auc_folds'])}-fold CV AUC",
                      f"{cv['auc_mean']:.4f} ± {cv['auc_std']:.4f}")
    _out.print(table)
    _out.print(f"model folder: {result.out_dir} ({', '.join(result.files)})")


@app.command("score")
@_handle
def score_cmd(
    model: ModelOpt,
    data: DataOpt,
    out: Annotated[Path, typer.Option("--out", help="CSV or Parquet file to write")],
    policy: PolicyOpt = None,
    income_col: IncomeOpt = None,
    reasons: Annotated[int, typer.Option(help="reason codes per row (0 = none, faster)")] = 3,
    reason_method: Annotated[str, typer.Option(
        "--reason-method", help="gbm reasons: shap (exact TreeSHAP from per-tree tables) or "
        "saabas (path attributions, an approximation of SHAP, kept for comparison)")] = "shap",
    threads: Annotated[int | None, typer.Option(
        help="gbm reasons: threads (default: every core)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """PD, score, risk band, decision, price, limit and top-3 reason codes per row."""
    from creditdesk.risk.data import read_table
    from creditdesk.risk.policy import load_policy
    from creditdesk.risk.scoring import load_model, score_table, write_table

    with _err.status("scoring"):
        bundle = load_model(model)
        table = score_table(bundle, read_table(data), policy=load_policy(policy),
                            income_col=income_col, n_reasons=reasons,
                            reason_method=reason_method, num_threads=threads)
        write_table(table, out)
    summary: dict[str, Any] = {"out": str(out), "rows": len(table), "model_type": bundle.model_type,
               "mean_pd": float(table["pd"].mean()) if len(table) else None,
               "bands": {str(k): int(v) for k, v in table["risk_band"].value_counts()
                         .sort_index().items()},
               "decisions": {str(k): int(v) for k, v in table["decision"].value_counts().items()}}
    if as_json:
        _json(summary)
        return
    _out.print(f"scored {summary['rows']} rows with the {bundle.model_type} model -> {out}")
    _out.print("bands: " + ", ".join(f"{k} {v}" for k, v in summary["bands"].items()))


@app.command("monitor")
@_handle
def monitor_cmd(
    model: ModelOpt,
    baseline: Annotated[Path, typer.Option("--baseline", help="data the model was built on")],
    current: Annotated[Path, typer.Option("--current", help="recent data to compare")],
    out: Annotated[Path, typer.Option("--out", help="folder for monitor.json and monitor.html")
                   ] = Path("risk-monitor"),
    fail_on: Annotated[str | None, typer.Option(
        help="exit 1 when the status is at least this band (watch or shifted)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """PSI of the score and of every feature (<0.1 stable, 0.1-0.25 watch, >0.25 shifted)."""
    from creditdesk.risk.data import read_table
    from creditdesk.risk.report import monitor_report_html
    from creditdesk.risk.scoring import load_model, monitor_tables

    if fail_on not in (None, "watch", "shifted"):
        raise BadInputError(f"--fail-on must be watch or shifted; got {fail_on!r}",
                            field="fail_on", value=fail_on)
    with _err.status("measuring stability"):
        bundle = load_model(model)
        result = monitor_tables(bundle, read_table(baseline), read_table(current)).to_dict()
    out.mkdir(parents=True, exist_ok=True)
    (out / "monitor.json").write_text(json.dumps(result, indent=2, ensure_ascii=False),
                                      encoding="utf-8")
    (out / "monitor.html").write_text(monitor_report_html(result), encoding="utf-8")
    if as_json:
        _json(result)
    else:
        table = Table(title=f"population stability: {result['status']}")
        for col in ("variable", "psi", "band"):
            table.add_column(col, justify="right" if col == "psi" else "left")
        colour = {"stable": "green", "watch": "yellow", "shifted": "red"}
        for row in [result["score"], *result["features"]]:
            table.add_row(row["name"], f"{row['psi']:.4f}",
                          f"[{colour[row['band']]}]{row['band']}[/]")
        _out.print(table)
        _out.print(f"written: {out / 'monitor.json'}, {out / 'monitor.html'}")
    order = {"stable": 0, "watch": 1, "shifted": 2}
    if fail_on and order[result["status"]] >= order[fail_on]:
        raise typer.Exit(1)


@app.command("cutoff")
@_handle
def cutoff_cmd(
    model: ModelOpt,
    data: DataOpt,
    policy: PolicyOpt = None,
    income_col: IncomeOpt = None,
    n_cutoffs: Annotated[int, typer.Option(help="number of cut-offs (approval steps)")] = 10,
    as_json: JsonOpt = False,
) -> None:
    """Approval rate, expected bad rate and expected profit for each cut-off."""
    from creditdesk.risk.data import read_table
    from creditdesk.risk.policy import load_policy
    from creditdesk.risk.scoring import cutoff_analysis, load_model

    if not 1 <= n_cutoffs <= 100:
        raise BadInputError(f"--n-cutoffs must be between 1 and 100; got {n_cutoffs}",
                            field="n_cutoffs", value=n_cutoffs)
    with _err.status("scoring cut-offs"):
        rows = cutoff_analysis(load_model(model), read_table(data),
                               policy=load_policy(policy), income_col=income_col,
                               n_cutoffs=n_cutoffs)
    if as_json:
        _json(rows)
        return
    table = Table(title="cut-off analysis (approve scores >= cut-off)")
    cols = ["min_score", "max_pd", "approval_rate", "expected_bad_rate"]
    if "observed_bad_rate" in rows[0]:
        cols.append("observed_bad_rate")
    cols.append("expected_profit")
    for c in cols:
        table.add_column(c.replace("_", " "), justify="right")
    for r in rows:
        cells = [f"{r['min_score']:.0f}", f"{r['max_pd']:.4f}", f"{r['approval_rate']:.0%}",
                 f"{r['expected_bad_rate']:.2%}"]
        if "observed_bad_rate" in r:
            cells.append(f"{r['observed_bad_rate']:.2%}")
        cells.append(f"{r['expected_profit']:,.0f}")
        table.add_row(*cells, style="bold green" if r["best"] else None)
    _out.print(table)
    _out.print("bold row: highest expected profit")


@app.command("policy")
@_handle
def policy_cmd(
    file: Annotated[Path | None, typer.Argument(help="policy TOML to check; omit to print the "
                                                "default policy")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate a decision policy, or print the default one to start from."""
    from creditdesk.risk.policy import DEFAULT_POLICY_TOML, load_policy

    if file is None and not as_json:
        sys.stdout.write(DEFAULT_POLICY_TOML)
        return
    policy = load_policy(file)
    if as_json:
        _json(policy.model_dump(mode="json"))
        return
    _out.print(f"{file}: valid, {len(policy.bands)} bands")


@app.command("refresh")
@_handle
def refresh_cmd(
    model: ModelOpt,
    as_of: Annotated[str, typer.Option("--as-of", help="a closed business date YYYY-MM-DD")],
    store: Annotated[str | None, typer.Option("--store", help="store URL")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Behaviour scores of every performing account as of a closed date (risk.refresh)."""
    from datetime import date

    from creditdesk.config import settings
    from creditdesk.risk.refresh import refresh_scores
    from creditdesk.store import open_store

    try:
        when = date.fromisoformat(as_of)
    except ValueError as exc:
        raise BadInputError(f"--as-of must be a date YYYY-MM-DD; got {as_of!r}", field="as_of",
                            value=as_of) from exc
    with _err.status("scoring the books"):
        scores = refresh_scores(open_store(store or settings().store), model, when)
    mean = scores["pd"].mean() if scores.height else 0.0
    summary = {"as_of": when.isoformat(), "accounts": scores.height,
               "mean_pd": round(float(mean), 6) if isinstance(mean, int | float) else 0.0,
               "bands": scores.group_by("band").len().sort("band").to_dicts()}
    if as_json:
        _json(summary)
    else:
        _out.print(f"scored {summary['accounts']} accounts as of {summary['as_of']}; "
                   f"mean PD {summary['mean_pd']:.4f}; stored in behaviour_scores")
