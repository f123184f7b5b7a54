"""``GET /lab``: the strategy comparison the server was started with (``--results``).

Per comparison file: each strategy's figures as the mean over seeds with the 95 %
interval, the stated targets checked, one bar chart per figure with the interval as
error bars, and the same per champion / challenger arm when the file has arms. No
results loaded, or a file that is not a comparison: a clear empty state, not an error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from creditdesk.errors import CreditdeskError
from creditdesk.web.api.compliance import load_results
from creditdesk.web.console import charts
from creditdesk.web.console.common import ctx_of, need
from creditdesk.web.console.formatting import currency_of, format_money
from creditdesk.web.console.render import json_block, render
from creditdesk.web.deps import current_session
from creditdesk.web.sessions import Session

__all__ = ["METRIC_ORDER", "format_summary", "router"]

router = APIRouter(include_in_schema=False)

#: the figures of ``simulate compare``, in report order (the lab shows any others after)
METRIC_ORDER = ("recovery_rate", "roll_rate_m1_m2", "contacts_per_delinquent_account",
                "contacts_per_10000_recovered", "complaints_per_1000_delinquent",
                "cost_to_collect", "net_recovery", "violations")


def _one(metric: str, value: Any, symbol: str) -> str:
    if value is None:
        return "n/a"
    if metric in charts.MONEY_METRICS:
        return format_money(round(value), symbol)  # a mean of minor units, shown to the fen
    return f"{float(value):,.4g}"


def format_summary(metric: str, summary: Mapping[str, Any] | None, symbol: str = "¥") -> str:
    """``mean [low, high]`` of one figure (money as currency).

    >>> format_summary("recovery_rate", {"mean": 0.41234, "ci95": [0.4, 0.425], "n": 3})
    '0.4123 [0.4, 0.425]'
    >>> format_summary("net_recovery", {"mean": 123456.4, "ci95": [None, None]})
    '¥1,234.56 [n/a, n/a]'
    """
    if not summary:
        return "n/a"
    lo, hi = charts.ci_bounds(summary)
    return (f"{_one(metric, summary.get('mean'), symbol)} "
            f"[{_one(metric, lo, symbol)}, {_one(metric, hi, symbol)}]")


def _metrics(strategies: Mapping[str, Mapping[str, Any]]) -> list[str]:
    seen: list[str] = []
    for figs in strategies.values():
        seen += [m for m in figs if m not in seen and isinstance(figs[m], Mapping)]
    return [m for m in METRIC_ORDER if m in seen] + [m for m in seen if m not in METRIC_ORDER]


def _run_view(run: Mapping[str, Any], index: int, symbol: str) -> dict[str, Any] | None:
    from creditdesk.reports.compare_report import strategy_targets

    strategies = run.get("strategies")
    if not isinstance(strategies, Mapping) or not strategies:
        return None
    metrics = _metrics(strategies)
    rows = [{"metric": m, "label": charts.metric_label(m, symbol),
             "cells": [format_summary(m, strategies[s].get(m), symbol) for s in strategies]}
            for m in metrics]
    arms = run.get("arms") if isinstance(run.get("arms"), Mapping) else {}
    arm_rows = [{"strategy": s, "arm": a,
                 "cells": [format_summary(m, figs.get(m), symbol) for m in metrics]}
                for s, by_arm in (arms or {}).items() for a, figs in by_arm.items()]
    multi_arm = any(len(by_arm) > 1 for by_arm in (arms or {}).values())
    try:
        targets = strategy_targets({"strategies": strategies})
    except (KeyError, TypeError):
        targets = []
    return {
        "id": f"run{index}", "file": run.get("file"), "strategies": list(strategies),
        "customers": run.get("customers"), "days": run.get("days"), "seeds": run.get("seeds"),
        "scenario": run.get("scenario"), "rows": rows, "metrics": metrics, "targets": targets,
        "charts": [{"metric": m, "label": charts.metric_label(m, symbol),
                    "figure": json_block(charts.metric_figure(strategies, m, symbol))}
                   for m in metrics],
        "arm_rows": arm_rows,
        "arm_charts": [{"metric": m, "label": charts.metric_label(m, symbol) + " by arm",
                        "figure": json_block(charts.arm_metric_figure(arms or {}, m, symbol))}
                       for m in metrics] if multi_arm else [],
    }


@router.get("/lab", response_class=HTMLResponse)
def lab_page(request: Request, session: Annotated[Session, Depends(current_session)]
             ) -> Response:
    """The strategy lab (risk analysts, supervisors, auditors)."""
    need(session.user, "view_strategies")
    config = ctx_of(request).config
    symbol = currency_of(config.profile)
    runs: list[dict[str, Any]] = []
    problem = None
    try:
        loaded = load_results(config.results)
    except CreditdeskError as exc:
        problem = str(exc)
        loaded = {"runs": []}
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        problem = f"the comparison file could not be read: {exc}"
        loaded = {"runs": []}
    for i, run in enumerate(loaded.get("runs", [])):
        view = _run_view(run, i, symbol) if isinstance(run, Mapping) else None
        if view is None:
            name = run.get("file", "a file") if isinstance(run, Mapping) else "a file"
            problem = problem or f"{name} is not a strategy comparison (no 'strategies')"
            continue
        runs.append(view)
    return render(request, session, "lab.html", {"runs": runs, "problem": problem})
