"""The strategy comparison report: every figure per strategy, mean and 95 % interval over seeds.

One self-contained page (plotly.js inlined, works offline): a table of the figures,
the issue's targets for ``optimized`` checked against ``frequent`` and ``bucket_rules``
when they were run, the repayment arrangements each strategy offered (offers made,
accepted, declined, refused by the policy; plans and settlements in the books), and one
bar chart per figure with the interval as error bars.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from creditdesk.reports.html import chart_div, html_table, page

__all__ = ["compare_report_html", "strategy_targets", "write_compare_report"]

TITLE = "creditdesk — collection strategies compared in the digital twin"
_MONEY = ("cost_to_collect", "net_recovery", "arrears_restructured", "plan_repaid",
          "settlement_paid", "settlement_written_off")
_COUNTS = ("offers_made", "offers_reached", "offers_accepted", "offers_declined",
           "offers_refused_by_policy", "offers_blocked", "hardship_plans",
           "plans_back_in_arrears", "settlements")


def _mean(result: dict[str, Any], name: str, metric: str) -> float | None:
    s = result["strategies"].get(name, {}).get(metric)
    return None if s is None else s["mean"]


def strategy_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The stated targets for ``optimized``, each with the measured ratio and whether it holds.

    >>> r = {"strategies": {"frequent": {"recovery_rate": {"mean": .5},
    ...      "contacts_per_delinquent_account": {"mean": 10}, "complaints_per_1000_delinquent":
    ...      {"mean": 10}}, "optimized": {"recovery_rate": {"mean": .6},
    ...      "contacts_per_delinquent_account": {"mean": 3}, "complaints_per_1000_delinquent":
    ...      {"mean": 2}, "violations": {"mean": 0}}}}
    >>> [t["holds"] for t in strategy_targets(r)]
    [True, True, True, True]
    """
    out: list[dict[str, Any]] = []

    def ratio(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None or b == 0 else a / b

    if "optimized" in result["strategies"] and "frequent" in result["strategies"]:
        for target, metric, bound, above in (
                ("recovery >= frequent", "recovery_rate", 1.0, True),
                ("contacts <= 40 % of frequent", "contacts_per_delinquent_account", 0.4, False),
                ("complaints <= 30 % of frequent", "complaints_per_1000_delinquent", 0.3, False)):
            r = ratio(_mean(result, "optimized", metric), _mean(result, "frequent", metric))
            out.append({"target": target, "ratio": r,
                        "holds": None if r is None else (r >= bound if above else r <= bound)})
    if "optimized" in result["strategies"] and "bucket_rules" in result["strategies"]:
        r = ratio(_mean(result, "optimized", "net_recovery"),
                  _mean(result, "bucket_rules", "net_recovery"))
        out.append({"target": "net recovery >= 1.05 x bucket_rules", "ratio": r,
                    "holds": None if r is None else r >= 1.05})
    for name in result["strategies"]:
        v = _mean(result, name, "violations")
        if v is not None:
            out.append({"target": f"{name}: zero rule violations", "ratio": v,
                        "holds": v == 0})
    return out


def _fmt(metric: str, s: dict[str, Any]) -> str:
    def one(x: float | None) -> str:
        if x is None:
            return "n/a"
        if metric in _MONEY:
            return f"{x / 100:,.0f}"
        return f"{x:,.1f}" if metric in _COUNTS else f"{x:,.4f}"
    lo, hi = s["ci95"]
    return f"{one(s['mean'])} [{one(lo)}, {one(hi)}]"


def _chart(result: dict[str, Any], metric: str) -> str:
    import plotly.graph_objects as go

    names = list(result["strategies"])
    scale = 0.01 if metric in _MONEY else 1.0
    means, err_hi, err_lo = [], [], []
    for n in names:
        s = result["strategies"][n][metric]
        m = s["mean"]
        means.append(None if m is None else m * scale)
        lo, hi = s["ci95"]
        err_hi.append(0 if hi is None or m is None else (hi - m) * scale)
        err_lo.append(0 if lo is None or m is None else (m - lo) * scale)
    fig = go.Figure(go.Bar(x=names, y=means, error_y={"type": "data", "array": err_hi,
                                                      "arrayminus": err_lo}))
    unit = " (yuan)" if metric in _MONEY else ""
    fig.update_layout(title=metric.replace("_", " ") + unit, height=320,
                      margin={"t": 40, "r": 20, "b": 40, "l": 60})
    return chart_div(fig)


def compare_report_html(result: dict[str, Any]) -> str:
    """The report page for a :func:`creditdesk.simulate.compare.compare_strategies` result."""
    from creditdesk.simulate.compare import METRICS, OFFER_FIGURES

    rows = [{"figure": m, **{n: _fmt(m, result["strategies"][n][m])
                             for n in result["strategies"]}} for m in METRICS]
    offer_rows = [{"figure": m, **{n: _fmt(m, result["strategies"][n][m])
                                   for n in result["strategies"]
                                   if m in result["strategies"][n]}}
                  for m in OFFER_FIGURES]
    targets = [{"target": t["target"],
                "measured": "n/a" if t["ratio"] is None else f"{t['ratio']:.3f}",
                "holds": {True: "yes", False: "NO", None: "n/a"}[t["holds"]]}
               for t in strategy_targets(result)]
    intro = (f"<p>{result['customers']:,} customers, {result['days']} days, seeds "
             f"{', '.join(map(str, result['seeds']))}, scenario {html.escape(result['scenario'])}"
             ". Mean over seeds with the 95 % interval; money in yuan.</p>")
    charts = "".join(f"<div>{_chart(result, m)}</div>" for m in METRICS)
    arm_rows = [{"strategy": n, "arm": a, **{m: _fmt(m, figs[m]) for m in METRICS}}
                for n, arms in result.get("arms", {}).items() for a, figs in arms.items()]
    body = (intro + "<h2>Figures</h2>" + html_table(rows, left=("figure",))
            + "<h2>Targets</h2>" + html_table(targets, left=("target",))
            + "<h2>Repayment arrangements offered</h2><p>Offers made (their contact passed "
            "the checker), reached, accepted, declined; refused by the arrangements policy "
            "(no contact made); hardship plans and settlements posted, the arrears "
            "restructured and what was repaid on the plans by the last date (yuan). The "
            "recovery rate counts restructured arrears as cleared without a payment.</p>"
            + html_table(offer_rows, left=("figure",))
            + "<h2>By champion / challenger arm</h2>"
            + html_table(arm_rows, left=("strategy", "arm"))
            + f"<h2>Charts</h2><div class=\"grid\">{charts}</div>")
    return page(TITLE, body)


def write_compare_report(path: Path, result: dict[str, Any]) -> Path:
    """Write the page to ``path``, creating its folder; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(compare_report_html(result), encoding="utf-8")
    return path
