"""``creditdesk demo``: the digital twin runs the daily cycle on a new book, end to end.

The first thing a new user runs, so it must show the whole loop on realistic data
without any set-up: a population drawn from the Taiwan credit data, a revolving and
cash-loan book on the embedded DuckDB store, borrowers who spend and repay (or not),
the end-of-day batch, reminders and collection contacts through the contact-rules
checker, complaints. It leaves three things in ``out``: ``kpis.json``, an offline
``report.html`` and the store itself (``creditdesk.duckdb``).

Every parameter is checked before any work starts: a bad one costs nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from creditdesk.customers.synthetic import write_synthetic_pii
from creditdesk.errors import BadInputError
from creditdesk.simulate.params import SCENARIOS, load_params
from creditdesk.store import open_store

__all__ = ["NO_MODEL", "DemoResult", "check_demo_args", "run_demo"]

STORE_FILE = "creditdesk.duckdb"
NO_MODEL = Path("none")
"""Pass as ``behaviour_model`` to run the demo without the behaviour score."""
MAX_CUSTOMERS = 10_000_000
MAX_DAYS = 3660


@dataclass(frozen=True)
class DemoResult:
    """Where the demo wrote its outputs, and its figures."""

    out: Path
    store_url: str
    kpis: dict[str, Any]
    report: Path


def check_demo_args(customers: int, days: int, scenario: str, out: Path,
                    behaviour_model: Path | None = None) -> Path:
    """Refuse impossible parameters before any work; returns the resolved output folder.

    >>> check_demo_args(0, 10, "baseline", Path("x"))
    Traceback (most recent call last):
    ...
    creditdesk.errors.BadInputError: customers must be between 1 and 10000000; got 0
    """
    if not 1 <= customers <= MAX_CUSTOMERS:
        raise BadInputError(f"customers must be between 1 and {MAX_CUSTOMERS}; got {customers}",
                            field="customers", value=customers)
    if not 1 <= days <= MAX_DAYS:
        raise BadInputError(f"days must be between 1 and {MAX_DAYS}; got {days}", field="days",
                            value=days)
    if scenario not in SCENARIOS:
        raise BadInputError(f"scenario must be one of {', '.join(SCENARIOS)}; got {scenario!r}",
                            field="scenario", value=scenario)
    if behaviour_model is not None and behaviour_model != NO_MODEL and not (
            behaviour_model / "manifest.json").is_file():
        raise BadInputError(f"behaviour_model must be a folder written by creditdesk risk train; "
                            f"got {str(behaviour_model)!r}", field="behaviour_model",
                            value=str(behaviour_model))
    out = out.expanduser().resolve()
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".creditdesk-write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise BadInputError(f"out must be a folder that can be written; got {str(out)!r} "
                            f"({exc.strerror or exc})", field="out", value=str(out)) from exc
    return out


def run_demo(out: Path, *, customers: int = 50_000, days: int = 120, seed: int = 7,
             scenario: str = "baseline", start: date = date(2026, 1, 1),
             behaviour_model: Path | None = None,
             on_day: Callable[[date, int, int], None] | None = None) -> DemoResult:
    """Build the twin's book in ``out``, run ``days`` dates, write the figures and report.

    ``behaviour_model``: the behaviour score refreshed at each month end (default: the
    model shipped in the package, trained on a longer twin run); pass a folder of
    your own, or use :data:`NO_MODEL` to run without it.
    """
    from creditdesk.reports.demo_report import write_demo_report
    from creditdesk.risk.refresh import BEHAVIOUR_MODEL
    from creditdesk.simulate.driver import run_twin
    from creditdesk.simulate.kpis import demo_kpis, demo_report_data

    out = check_demo_args(customers, days, scenario, out, behaviour_model)
    params = load_params(scenario=scenario)
    db = out / STORE_FILE
    for p in (db, db.with_suffix(".duckdb.wal")):
        p.unlink(missing_ok=True)
    url = f"duckdb:///{db}"
    store = open_store(url)
    try:
        t0 = time.perf_counter()
        model = BEHAVIOUR_MODEL if behaviour_model is None else behaviour_model
        run = run_twin(store, customers=customers, days=days, seed=seed, params=params,
                       start=start, on_day=on_day,
                       behaviour_model=None if model == NO_MODEL else model)
        seconds = time.perf_counter() - t0
        write_synthetic_pii(store)  # the console shows it, masked
        kpis = demo_kpis(store, seed=seed, days=days, customers=customers, seconds=seconds)
        kpis["scenario"] = scenario
        kpis["store"] = url
        kpis["seconds_by_stage"] = {k: round(v, 2) for k, v in run.seconds_by_stage.items()}
        report = write_demo_report(out / "report.html", demo_report_data(store, kpis))
    finally:
        store.close()
    (out / "kpis.json").write_text(json.dumps(kpis, indent=2, default=str) + "\n")
    return DemoResult(out, url, kpis, report)

