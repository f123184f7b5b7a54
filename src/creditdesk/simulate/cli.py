"""``creditdesk simulate``: the digital twin's commands (parse, call one function, format)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from creditdesk.cli_support import handle_errors, out_console, print_json

app = typer.Typer(no_args_is_help=True, help="The digital twin: calibration against real data.")


@app.command("calibrate")
@handle_errors
def calibrate_cmd(
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="folder holding debt_recovery/bank_data.csv (default "
        "$CREDITDESK_DATA_DIR or ../shared/data)"),
    write: bool = typer.Option(False, "--write", help="store the fitted values as the shipped "
                               "calibration (simulate/calibrated.json)"),
    daily: int = typer.Option(0, "--daily-check", min=0, help="also run the whole daily cycle "
                              "on this many customers for 240 days and measure its transitions"),
    json_out: bool = typer.Option(False, "--json", help="print the full report as JSON"),
) -> None:
    """Fit the twin to the Taiwan status transitions and the debt-recovery RDD; show the gaps."""
    from creditdesk.simulate.calibrate import calibrate, default_calibration_file
    from creditdesk.simulate.params import SimParams

    report = calibrate(SimParams(), data_dir=data_dir,
                       write=default_calibration_file() if write else None,
                       daily_customers=daily)
    if json_out:
        print_json(report)
        return
    tr = report["transitions_merged"]
    t = Table(title="monthly status transitions, real / simulated (late_1 and late_2 merged)")
    t.add_column("from")
    for s in tr["states"]:
        t.add_column(s, justify="right")
    for a in tr["states"]:
        t.add_row(a, *[f"{tr['real'][a][b]:.3f} / {tr['simulated'][a][b]:.3f}"
                       for b in tr["states"]])
    out_console.print(t)
    g5 = report["transitions"]["max_abs_gap"]
    out_console.print(f"largest gap, merged: {tr['max_abs_gap']['gap']:.4f}; 5 states: "
                      f"{g5['gap']:.4f} ({g5['from']} -> {g5['to']})")
    if "daily_cycle" in report:
        dc = report["daily_cycle"]
        out_console.print(f"whole daily cycle ({dc['customers']} customers, {dc['days']} days): "
                          f"largest gap merged {dc['max_abs_gap_merged']}, 5 states "
                          f"{dc['max_abs_gap']}")
    eff = report["recovery_effect"]
    out_console.print(f"recovery jump at 1000: real {eff['real']['common_slope_jump']:.1f} "
                      f"(se {eff['real']['common_slope_se']:.1f}), simulated "
                      f"{eff['simulated']['common_slope_jump']:.1f} "
                      f"(se {eff['simulated']['common_slope_se']:.1f})")


@app.command("compare")
@handle_errors
def compare_cmd(
    strategies: str = typer.Option("frequent,bucket_rules,optimized", "--strategies",
                                   help="comma-separated built-in names or YAML files"),
    customers: int = typer.Option(5_000, "--customers", help="customers per run"),
    days: int = typer.Option(120, "--days", help="business dates per run (at least 31)"),
    seeds: int = typer.Option(3, "--seeds", help="runs per strategy (seeds 1..K)"),
    scenario: str = typer.Option("baseline", "--scenario"),
    out: Path = typer.Option(Path("creditdesk-compare"), "--out",
                             help="folder for compare.json and report.html"),
    json_out: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Run the digital twin once per strategy and seed; compare recovery, contacts, complaints."""
    import json

    from rich.progress import Progress

    from creditdesk.reports.compare_report import strategy_targets, write_compare_report
    from creditdesk.simulate.compare import METRICS, compare_strategies

    names = [s.strip() for s in strategies.split(",") if s.strip()]
    with Progress(console=out_console, transient=True) as bar:
        task = bar.add_task("twin runs", total=len(names) * seeds)

        def step(name: str, seed: int, done: int, total: int) -> None:
            bar.update(task, completed=done, description=f"{name} seed {seed}")

        result = compare_strategies(names, customers=customers, days=days, seeds=seeds,
                                    scenario=scenario, on_run=step)
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    report = write_compare_report(out / "report.html", result)
    if json_out:
        print_json({"strategies": result["strategies"], "arms": result["arms"],
                    "targets": strategy_targets(result), "report": str(report)})
        return
    t = Table(title=f"strategies in the twin: {customers:,} customers, {days} days, {seeds} seeds "
                    "(mean [95 % interval])")
    t.add_column("figure")
    for n in result["strategies"]:
        t.add_column(n, justify="right")
    for m in METRICS:
        cells = []
        for n in result["strategies"]:
            s = result["strategies"][n][m]
            lo, hi = s["ci95"]
            f = (lambda x: "n/a" if x is None else f"{x:,.4g}")  # noqa: E731
            cells.append(f"{f(s['mean'])} [{f(lo)}, {f(hi)}]")
        t.add_row(m, *cells)
    out_console.print(t)
    for tg in strategy_targets(result):
        out_console.print(f"{tg['target']}: {'n/a' if tg['holds'] is None else tg['holds']}")
    out_console.print(f"report: {report}")
