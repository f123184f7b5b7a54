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
