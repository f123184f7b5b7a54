"""Self-contained HTML reports: training validation, points table, stability.

Why inline plotly.js: reports are opened on locked-down machines and archived
for model validation; a page that fetches its charting library from a CDN
shows nothing offline and may change after the fact. So every page embeds
``plotly.offline.get_plotlyjs()`` once and the charts as ``div``s (the page,
chart and table helpers live in :mod:`creditdesk.reports.html`).

>>> import numpy as np
>>> page = training_report_html({"model_type": "gbm", "holdout": {}}, np.array([0, 1]),
...                             np.array([0.2, 0.7]), np.array([600.0, 550.0]))
>>> "<script src=" in page, page.startswith("<!DOCTYPE html>")
(False, True)
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

from creditdesk.reports.html import chart_div, html_table, page

__all__ = ["monitor_report_html", "points_table_html", "training_report_html"]

# the PSI bands' colours; the rest of the style is the shared one
_BAND_STYLE = ".stable{color:#17803d}.watch{color:#b7791f}.shifted{color:#c53030;font-weight:bold}"


def _page(title: str, body: str, *, charts: bool = True) -> str:
    return page(title, body, charts=charts, extra_style=_BAND_STYLE)


def _charts(y: np.ndarray, pd_: np.ndarray, score: np.ndarray) -> list[str]:
    import plotly.graph_objects as go
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, pd_)
    step = max(len(fpr) // 2000, 1)
    roc = go.Figure([go.Scatter(x=fpr[::step], y=tpr[::step], name="model"),
                     go.Scatter(x=[0, 1], y=[0, 1], name="random", line={"dash": "dot"})])
    roc.update_layout(title="ROC curve (hold-out)", xaxis_title="false positive rate",
                      yaxis_title="true positive rate")
    order = np.argsort(-pd_)
    share = np.arange(1, len(y) + 1) / len(y)
    cum_bad = np.cumsum(y[order]) / max(y.sum(), 1)
    cum_good = np.cumsum(1 - y[order]) / max((1 - y).sum(), 1)
    ks_i = int(np.argmax(cum_bad - cum_good))
    idx = np.unique(np.linspace(0, len(y) - 1, min(len(y), 1000)).astype(int))
    ks = go.Figure([go.Scatter(x=share[idx], y=cum_bad[idx], name="bads"),
                    go.Scatter(x=share[idx], y=cum_good[idx], name="goods")])
    ks.add_vline(x=share[ks_i], line_dash="dot",
                 annotation_text=f"KS {cum_bad[ks_i] - cum_good[ks_i]:.3f}")
    ks.update_layout(title="KS: cumulative share, riskiest first",
                     xaxis_title="share of population", yaxis_title="cumulative share")
    groups = np.array_split(np.argsort(pd_, kind="stable"), 10)
    mean_pd = [float(pd_[g].mean()) for g in groups if len(g)]
    bad = [float(y[g].mean()) for g in groups if len(g)]
    top = max([*mean_pd, *bad, 0.01])
    cal = go.Figure([go.Scatter(x=mean_pd, y=bad, mode="markers+lines", name="deciles"),
                     go.Scatter(x=[0, top], y=[0, top], name="perfect", line={"dash": "dot"})])
    cal.update_layout(title="Calibration by decile", xaxis_title="mean predicted PD",
                      yaxis_title="observed bad rate")
    dist = go.Figure([go.Histogram(x=score[y == 0], name="goods", opacity=0.6, nbinsx=40,
                                   histnorm="probability"),
                      go.Histogram(x=score[y == 1], name="bads", opacity=0.6, nbinsx=40,
                                   histnorm="probability")])
    dist.update_layout(title="Score distribution", barmode="overlay", xaxis_title="score",
                       yaxis_title="share")
    return [chart_div(f) for f in (roc, ks, cal, dist)]


def training_report_html(metrics: dict[str, Any], y: np.ndarray, pd_: np.ndarray,
                         score: np.ndarray) -> str:
    """The validation report of a training run, hold-out charts included."""
    hold = metrics.get("holdout", {})
    summary = [{"metric": k, "value": hold[k]} for k in
               ("n", "bad_rate", "mean_pd", "auc", "gini", "ks", "brier", "log_loss")
               if k in hold]
    cv = metrics.get("cv")
    if cv:
        summary.append({"metric": f"{len(cv['auc_folds'])}-fold CV AUC",
                        "value": f"{cv['auc_mean']:.4f} ± {cv['auc_std']:.4f}"})
    iv = [{"feature": k, "iv": v} for k, v in
          sorted(metrics.get("iv", {}).items(), key=lambda kv: -kv[1])]
    dropped = [{"column": k, "reason": v} for k, v in metrics.get("dropped", {}).items()]
    charts = _charts(np.asarray(y, dtype=float), np.asarray(pd_, dtype=float),
                     np.asarray(score, dtype=float)) if len(np.unique(y)) == 2 else []
    body = (f"<p>Model type <b>{html.escape(str(metrics.get('model_type')))}</b>, target "
            f"<b>{html.escape(str(metrics.get('target')))}</b>, split "
            f"<b>{html.escape(str(metrics.get('split', {}).get('kind')))}</b>.</p>"
            "<h2>Hold-out performance</h2>" + html_table(summary, left=("metric",)) +
            "<div class=\"grid\">" + "".join(f"<div>{c}</div>" for c in charts) + "</div>"
            "<h2>Calibration by decile</h2>" + html_table(hold.get("calibration", [])) +
            "<h2>Information value per feature</h2>" + html_table(iv, left=("feature",)) +
            "<h2>Columns not used</h2>" + html_table(dropped, left=("column", "reason")))
    return _page("creditdesk risk model report", body)


def points_table_html(table: pd.DataFrame) -> str:
    """The scorecard's points table as a page (no charts needed)."""
    rows: list[dict[str, Any]] = [{str(k): v for k, v in r.items()}
                                  for r in table.to_dict(orient="records")]
    return _page("creditdesk scorecard points table",
                 html_table(rows, left=("feature", "bin")), charts=False)


def monitor_report_html(result: dict[str, Any]) -> str:
    """The stability report: PSI of the score and of each feature, with bands."""
    import plotly.graph_objects as go

    feats = result["features"]
    colours = {"stable": "#17803d", "watch": "#b7791f", "shifted": "#c53030"}
    bar = go.Figure([go.Bar(x=[f["name"] for f in feats], y=[f["psi"] for f in feats],
                            marker_color=[colours[f["band"]] for f in feats])])
    bar.add_hline(y=0.1, line_dash="dot")
    bar.add_hline(y=0.25, line_dash="dot")
    bar.update_layout(title="PSI per feature", yaxis_title="PSI")
    s = result["score"]
    dist = go.Figure([go.Bar(x=s["bins"], y=s["expected"], name="baseline"),
                      go.Bar(x=s["bins"], y=s["actual"], name="current")])
    dist.update_layout(title=f"Score distribution by baseline decile (PSI {s['psi']:.4f})",
                       barmode="group", yaxis_title="share")
    rows = [{"variable": "score", "psi": s["psi"], "band": s["band"]}] + \
        [{"variable": f["name"], "psi": f["psi"], "band": f["band"]} for f in feats]
    table = html_table(rows, left=("variable", "band")).replace(
        "<td class=\"l\">stable", "<td class=\"l stable\">stable").replace(
        "<td class=\"l\">watch", "<td class=\"l watch\">watch").replace(
        "<td class=\"l\">shifted", "<td class=\"l shifted\">shifted")
    body = (f"<p>Status: <b class=\"{result['status']}\">{result['status']}</b> — baseline "
            f"{result['n_baseline']} rows, current {result['n_current']} rows. Bands: below 0.1 "
            "stable, 0.1-0.25 watch, above 0.25 shifted.</p>" + table +
            f"<div class=\"grid\"><div>{chart_div(dist)}</div><div>{chart_div(bar)}</div></div>")
    return _page("creditdesk population stability report", body)
