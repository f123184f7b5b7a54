"""The console's charts: plotly figures built in Python, drawn in the browser by plotly.js.

Each function returns a figure's JSON (data and layout) for a ``<script
type="application/json">`` block; ``static/console.js`` draws every such block with
the plotly.js file the server ships from the installed ``plotly`` package (no CDN).

Money on an axis is in major units (``minor / 100``): the position of a bar is a
picture, not a figure of record. The hover text of every money point is the exact
amount, formatted from the integer minor units.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from creditdesk.reports.portfolio import BUCKETS, Portfolio
from creditdesk.web.console.formatting import MINOR_DIGITS, format_money, format_pct

__all__ = ["BUCKET_COLOURS", "MONEY_METRICS", "arm_metric_figure", "balances_figure",
           "bucket_mix_figure", "ci_bounds", "figure_dict", "metric_figure", "metric_label",
           "roll_figure", "vintage_figure"]

#: one colour per bucket, from current (green) to charged off (dark grey); distinct
#: in lightness too, for readers who do not tell red from green
BUCKET_COLOURS: dict[str, str] = {
    "M0": "#1b7837", "M1": "#7fbc41", "M2": "#e6c229", "M3": "#f18f01", "M4": "#d7301f",
    "M5": "#a50f15", "M6": "#6a1b9a", "CO": "#3c3c3c",
}
#: the strategy lab's figures that are amounts of minor units
MONEY_METRICS = ("cost_to_collect", "net_recovery")
_SCALE = 10**MINOR_DIGITS
_FONT = {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 13,
         "color": "#1d2430"}


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "template": "none",  # plotly.py's default template would add ~6 kB to every figure
        "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}},
        "font": _FONT, "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff",
        "margin": {"t": 48, "r": 16, "b": 48, "l": 64}, "height": 340,
        "legend": {"orientation": "h", "y": -0.18},
        "xaxis": {"gridcolor": "#e4e7ec", "linecolor": "#98a2b3"},
        "yaxis": {"gridcolor": "#e4e7ec", "linecolor": "#98a2b3", "zerolinecolor": "#98a2b3"},
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(layout.get(key), dict):
            layout[key] = {**layout[key], **value}
        else:
            layout[key] = value
    return layout


def _figure(data: list[Any], layout: dict[str, Any]) -> str:
    import plotly.graph_objects as go

    fig = go.Figure(data=data, layout=layout)
    return str(fig.to_json())


def _major(minor: int) -> float:
    """Minor units as a plotting coordinate (display only)."""
    return minor / _SCALE


def balances_figure(p: Portfolio, symbol: str = "¥") -> str:
    """Balance owed by product over time (stacked areas)."""
    import plotly.graph_objects as go

    products = sorted({r["product"] for r in p.balances})
    data = []
    for product in products:
        rows = [r for r in p.balances if r["product"] == product]
        data.append(go.Scatter(
            x=[r["business_date"].isoformat() for r in rows],
            y=[_major(r["total"]) for r in rows], name=product.replace("_", " "),
            mode="lines+markers", stackgroup="balance",
            text=[f"{format_money(r['total'], symbol)} owed on {r['accounts']:,} accounts"
                  for r in rows],
            hovertemplate="%{x}: %{text}<extra>%{fullData.name}</extra>"))
    return _figure(data, _layout(f"Balance owed by product ({symbol}, principal + interest + "
                                 "fee + penalty)", yaxis={"tickformat": ",.0f"}))


def bucket_mix_figure(p: Portfolio, measure: str = "balance") -> str:
    """Each bucket's share of the balance (``measure="balance"``) or of the accounts, per date."""
    import plotly.graph_objects as go

    if measure not in ("balance", "accounts"):
        raise ValueError(f"measure must be balance or accounts; got {measure!r}")
    share = "balance_share" if measure == "balance" else "account_share"
    x = [m["business_date"].isoformat() for m in p.buckets]
    data = []
    for b in BUCKETS:
        ys = [m["by_bucket"].get(b, {}).get(share, 0.0) for m in p.buckets]
        if not any(ys):
            continue
        data.append(go.Bar(x=x, y=ys, name=b, marker={"color": BUCKET_COLOURS[b]},
                           text=[format_pct(y) for y in ys], textposition="none",
                           hovertemplate="%{x} " + b + ": %{text}<extra></extra>"))
    title = ("Bucket mix by balance" if measure == "balance"
             else "Bucket mix by number of accounts")
    # one evenly spaced bar per sampled date (the dates are month ends, not a daily axis)
    return _figure(data, _layout(title, barmode="stack", bargap=0.25,
                                 xaxis={"type": "category", "tickangle": -40,
                                        "automargin": True},
                                 yaxis={"tickformat": ".0%", "range": [0, 1]},
                                 legend={"orientation": "v", "x": 1.02, "y": 1,
                                         "traceorder": "reversed",
                                         "title": {"text": "bucket"}}))


def roll_figure(p: Portfolio) -> str:
    """Roll-rate heat map: share of each bucket's accounts in each bucket a month later."""
    import plotly.graph_objects as go

    r = p.rolls
    buckets = r.get("buckets", [])
    text = [[format_pct(v) if v is not None else "" for v in row] for row in r.get("shares", [])]
    custom = r.get("counts", [])
    data = [go.Heatmap(z=r.get("shares", []), x=buckets, y=buckets, text=text,
                       texttemplate="%{text}", customdata=custom, colorscale="Reds",
                       zmin=0, zmax=1, colorbar={"tickformat": ".0%"},
                       hovertemplate="%{y} → %{x}: %{text} (%{customdata:,} accounts)"
                                     "<extra></extra>")]
    return _figure(data, _layout("Roll rates, month end to month end",
                                 xaxis={"title": {"text": "bucket a month later"},
                                        "side": "top", "type": "category"},
                                 yaxis={"title": {"text": "bucket at month end"},
                                        "autorange": "reversed", "type": "category"},
                                 margin={"t": 90}, height=380))


def vintage_figure(p: Portfolio, dpd: int = 30) -> str:
    """Vintage curves: share of each opening month's accounts ever ``dpd``+ DPD by months on book."""
    import plotly.graph_objects as go

    if dpd not in (30, 60):
        raise ValueError(f"dpd must be 30 or 60; got {dpd}")
    key = f"share{dpd}"
    data = []
    for vintage in sorted({v["vintage"] for v in p.vintages}):
        rows = [v for v in p.vintages if v["vintage"] == vintage]
        data.append(go.Scatter(
            x=[v["months_on_book"] for v in rows], y=[v[key] for v in rows], name=vintage,
            mode="lines+markers",
            text=[f"{v[f'dpd{dpd}']:,} of {v['accounts']:,} accounts ({format_pct(v[key])})"
                  for v in rows],
            hovertemplate="month %{x}: %{text}<extra>%{fullData.name}</extra>"))
    return _figure(data, _layout(f"Vintage curves: share ever {dpd}+ days past due",
                                 xaxis={"title": {"text": "months on book"}, "dtick": 1},
                                 yaxis={"tickformat": ".0%", "rangemode": "tozero"},
                                 legend={"orientation": "v", "x": 1.02, "y": 1,
                                         "title": {"text": "opened"}}))


def ci_bounds(summary: Mapping[str, Any]) -> tuple[Any, Any]:
    """``(low, high)`` of a summary's ``ci95`` (missing parts None)."""
    got = list(summary.get("ci95") or [])
    return (got[0] if got else None), (got[1] if len(got) > 1 else None)


def _interval(summary: Mapping[str, Any] | None, scale: float) -> tuple[float | None, float,
                                                                         float]:
    if not summary or summary.get("mean") is None:
        return None, 0.0, 0.0
    mean = float(summary["mean"]) * scale
    lo, hi = ci_bounds(summary)
    up = 0.0 if hi is None else max(0.0, float(hi) * scale - mean)
    down = 0.0 if lo is None else max(0.0, mean - float(lo) * scale)
    return mean, up, down


def metric_label(metric: str, symbol: str = "¥") -> str:
    """A metric's name for people, with its unit."""
    unit = f" ({symbol})" if metric in MONEY_METRICS else ""
    return metric.replace("_", " ").replace("m1 m2", "M1→M2") + unit


def metric_figure(strategies: Mapping[str, Mapping[str, Any]], metric: str,
                  symbol: str = "¥") -> str:
    """One bar per strategy: the mean over seeds, the 95 % interval as the error bar."""
    import plotly.graph_objects as go

    scale = 1 / _SCALE if metric in MONEY_METRICS else 1.0
    names = list(strategies)
    means, ups, downs = [], [], []
    for name in names:
        m, up, down = _interval(strategies[name].get(metric), scale)
        means.append(m)
        ups.append(up)
        downs.append(down)
    data = [go.Bar(x=names, y=means, marker={"color": "#2f5d8a"},
                   error_y={"type": "data", "array": ups, "arrayminus": downs,
                            "color": "#1d2430", "thickness": 1.5},
                   hovertemplate="%{x}: %{y:,.4g}<extra></extra>")]
    return _figure(data, _layout(metric_label(metric, symbol), height=300, showlegend=False))


def arm_metric_figure(arms: Mapping[str, Mapping[str, Mapping[str, Any]]], metric: str,
                      symbol: str = "¥") -> str:
    """Per champion / challenger arm: one bar group per strategy, one bar per arm."""
    import plotly.graph_objects as go

    scale = 1 / _SCALE if metric in MONEY_METRICS else 1.0
    arm_names: list[str] = []
    for by_arm in arms.values():
        arm_names += [a for a in by_arm if a not in arm_names]
    data = []
    for arm in arm_names:
        xs, means, ups, downs = [], [], [], []
        for strategy, by_arm in arms.items():
            if arm not in by_arm:
                continue
            m, up, down = _interval(by_arm[arm].get(metric), scale)
            xs.append(strategy)
            means.append(m)
            ups.append(up)
            downs.append(down)
        data.append(go.Bar(x=xs, y=means, name=arm,
                           error_y={"type": "data", "array": ups, "arrayminus": downs,
                                    "thickness": 1.5},
                           hovertemplate="%{x} · " + arm + ": %{y:,.4g}<extra></extra>"))
    return _figure(data, _layout(metric_label(metric, symbol) + " by arm", height=300,
                                 barmode="group"))


def figure_dict(text: str) -> dict[str, Any]:
    """A figure's JSON text back as a dict (tests)."""
    out = json.loads(text)
    assert isinstance(out, dict)
    return out
