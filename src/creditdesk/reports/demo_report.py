"""The offline HTML report of ``creditdesk demo``: what happened to the book, day by day.

Why this page: the demo is the first thing a new user runs, and what it must
show is whether the collection strategy worked — how the book moved between
delinquency buckets, how fast accounts rolled forward, how each month's
vintage went bad, how many delinquent customers the contacts turned into
payers, how hard customers were contacted and how often they complained. One
file, written next to ``kpis.json`` and the store, opened with a double
click: it works offline (plotly.js inlined once, no CDN, no external CSS or
fonts, see :mod:`creditdesk.reports.html`), so it can be mailed or archived
and still render years later.

Money comes in minor units (fen, as the books keep it) and is shown in yuan
(divided by 100), always labelled. Any frame may be empty: its section then
says "no data" instead of failing. The caller builds the frames (the demo
driver from its store); this module only draws them.

>>> import polars as pl
>>> empty = pl.DataFrame()
>>> data = DemoReportData(kpis={"customers": 3, "receivable": 12345}, bucket_daily=empty,
...                       roll_rates=empty, vintage=empty, funnel=empty,
...                       contacts_daily=empty, complaints_daily=empty)
>>> page = demo_report_html(data)
>>> "123.45" in page, page.count(NO_DATA), "<script src=" in page
(True, 7, False)
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from creditdesk.errors import BadInputError
from creditdesk.reports.html import chart_div, html_table, page

__all__ = ["BUCKETS", "NO_DATA", "DemoReportData", "demo_report_html", "roll_rate_matrix",
           "write_demo_report"]

BUCKETS: tuple[str, ...] = ("M0", "M1", "M2", "M3", "M4", "M5", "M6", "CO")
"""DESIGN.md delinquency buckets in order: current, 1-30 ... 151-180 DPD, charged off."""

NO_DATA = "No data for this section in this run."
_NOTE = f"<p class=\"note\">{NO_DATA}</p>"

TITLE = "creditdesk demo report"

# the columns each frame must have when it is not empty
_COLUMNS: dict[str, tuple[str, ...]] = {
    "bucket_daily": ("business_date", "bucket", "accounts", "balance"),
    "roll_rates": ("from_bucket", "to_bucket", "accounts"),
    "vintage": ("vintage", "months_on_book", "accounts", "bad_rate"),
    "funnel": ("stage", "count"),
    "contacts_daily": ("business_date", "channel", "attempts", "connected", "blocked"),
    "complaints_daily": ("business_date", "complaints"),
}

# headline labels of the known KPI keys; other scalar keys get their name, humanised
_LABELS: dict[str, str] = {
    "customers": "Customers",
    "accounts": "Accounts",
    "days": "Days run",
    "as_of": "As of",
    "receivable": "Receivable",
    "receivable_total": "Receivable",
    "delinquency_rate": "Delinquency rate",
    "delinquent_accounts": "Delinquent accounts",
    "recovery_rate": "Recovery rate",
    "contacts": "Contacts",
    "complaints": "Complaints",
    "complaints_per_1000": "Complaints per 1,000 delinquent accounts",
    "complaints_per_1000_delinquent": "Complaints per 1,000 delinquent accounts",
    "contacts_blocked": "Contacts blocked by the rules",
    "rule_violations": "Rule violations",
    "seed": "Seed",
    "seconds": "Run time (seconds)",
}

# key fragments that mark an amount of money (int64 minor units, as in the books)
_MONEY_WORDS = ("receivable", "balance", "amount", "posted", "recovered", "collected",
                "principal", "interest", "penalty", "_minor")


@dataclass(frozen=True)
class DemoReportData:
    """What the demo report draws; see the module docstring for each frame's columns.

    ``kpis``: headline figures (scalar values are shown, nested ones skipped).
    ``bucket_daily``: business_date, bucket, accounts, balance (minor units).
    ``roll_rates``: from_bucket, to_bucket, accounts (month over month).
    ``vintage``: vintage ('YYYY-MM'), months_on_book, accounts, bad_rate (0-1).
    ``funnel``: stage, count, in funnel order.
    ``contacts_daily``: business_date, channel, attempts, connected, blocked.
    ``complaints_daily``: business_date, complaints.

    A non-empty frame that lacks a column is refused at construction, naming it.
    """

    kpis: Mapping[str, object]
    bucket_daily: pl.DataFrame
    roll_rates: pl.DataFrame
    vintage: pl.DataFrame
    funnel: pl.DataFrame
    contacts_daily: pl.DataFrame
    complaints_daily: pl.DataFrame

    def __post_init__(self) -> None:
        if not isinstance(self.kpis, Mapping):
            raise BadInputError("kpis must be a mapping of name to value", field="kpis",
                                value=type(self.kpis).__name__)
        for name, columns in _COLUMNS.items():
            frame = getattr(self, name)
            if not isinstance(frame, pl.DataFrame):
                raise BadInputError(f"{name} must be a polars DataFrame", field=name,
                                    value=type(frame).__name__)
            missing = [c for c in columns if c not in frame.columns]
            if frame.height and missing:
                raise BadInputError(f"{name} lacks column(s) {', '.join(missing)}", field=name,
                                    value=missing)


def _label(key: str) -> str:
    base = _LABELS.get(key) or key.replace("_", " ").strip().capitalize()
    return f"{base} (yuan)" if _is_money(key) else base


def _is_money(key: str) -> bool:
    return any(word in key for word in _MONEY_WORDS)


def _kpi_value(key: str, value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float) and _is_money(key):
        return f"{value / 100:,.2f}"
    if isinstance(value, float) and "rate" in key and 0.0 <= value <= 1.0:
        return f"{value * 100:.2f} %"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def _kpi_table(kpis: Mapping[str, object]) -> str:
    rows = [(k, v) for k, v in kpis.items()
            if v is None or isinstance(v, str | int | float | bool | date | datetime)]
    if not rows:
        return _NOTE
    body = "".join(f"<tr><th class=\"l\">{html.escape(_label(str(k)))}</th>"
                   f"<td>{html.escape(_kpi_value(str(k), v))}</td></tr>" for k, v in rows)
    return f"<table class=\"kpis\"><tbody>{body}</tbody></table>"


def _bucket_order(values: list[str]) -> list[str]:
    """Known buckets in DESIGN order, then any other label, sorted."""
    present = set(values)
    return [b for b in BUCKETS if b in present] + sorted(present - set(BUCKETS))


def _figure(**layout: Any) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.update_layout(margin={"t": 40, "r": 20, "b": 40, "l": 60}, legend={"traceorder": "normal"},
                      **layout)
    return fig


def _bucket_charts(frame: pl.DataFrame) -> tuple[Any, Any]:
    import plotly.graph_objects as go

    daily = (frame.group_by("business_date", "bucket")
             .agg(pl.col("accounts").sum(), pl.col("balance").sum())
             .with_columns((pl.col("accounts") / pl.col("accounts").sum().over("business_date"))
                           .fill_nan(0.0).alias("share"))
             .sort("business_date"))
    mix = _figure(title="Share of accounts by bucket", yaxis={"tickformat": ".0%",
                                                              "title": "share of accounts"},
                  xaxis_title="business date")
    balance = _figure(title="Balance by bucket (yuan)", yaxis_title="balance (yuan)",
                      xaxis_title="business date")
    for bucket in _bucket_order(daily["bucket"].cast(pl.String).to_list()):
        part = daily.filter(pl.col("bucket") == bucket)
        dates = part["business_date"].to_list()
        mix.add_trace(go.Scatter(x=dates, y=part["share"].to_list(), name=bucket,
                                 stackgroup="mix", mode="lines"))
        balance.add_trace(go.Scatter(x=dates, y=(part["balance"] / 100).to_list(), name=bucket,
                                     stackgroup="balance", mode="lines"))
    return mix, balance


def roll_rate_matrix(roll_rates: pl.DataFrame) -> tuple[list[str], list[list[float | None]]]:
    """Row-normalised roll rates: ``matrix[i][j]`` = share of ``from[i]`` accounts now in ``to[j]``.

    Buckets in DESIGN order (M0..M6, CO), those present on either side; a row
    with no accounts is ``None`` (unknown, not zero).

    >>> frame = pl.DataFrame({"from_bucket": ["M0", "M0", "M1"], "to_bucket": ["M0", "M1", "M2"],
    ...                       "accounts": [9, 1, 4]})
    >>> roll_rate_matrix(frame)
    (['M0', 'M1', 'M2'], [[0.9, 0.1, 0.0], [0.0, 0.0, 1.0], [None, None, None]])
    """
    buckets = _bucket_order(roll_rates["from_bucket"].cast(pl.String).to_list()
                            + roll_rates["to_bucket"].cast(pl.String).to_list())
    counts = {(str(a), str(b)): 0 for a in buckets for b in buckets}
    for a, b, n in roll_rates.select("from_bucket", "to_bucket", "accounts").iter_rows():
        counts[(str(a), str(b))] += int(n)
    matrix: list[list[float | None]] = []
    for a in buckets:
        total = sum(counts[(a, b)] for b in buckets)
        matrix.append([counts[(a, b)] / total if total else None for b in buckets])
    return buckets, matrix


def _roll_chart(frame: pl.DataFrame) -> Any:
    import plotly.graph_objects as go

    buckets, matrix = roll_rate_matrix(frame)
    text = [["" if v is None else f"{v:.1%}" for v in row] for row in matrix]
    fig = _figure(title="Month-over-month roll rates (share of the row's accounts)",
                  xaxis={"title": "to bucket", "side": "top"},
                  yaxis={"title": "from bucket", "autorange": "reversed"})
    fig.add_trace(go.Heatmap(z=matrix, x=buckets, y=buckets, text=text, texttemplate="%{text}",
                             colorscale="Reds", zmin=0.0, zmax=1.0,
                             hovertemplate="%{y} → %{x}: %{text}<extra></extra>"))
    return fig


def _vintage_chart(frame: pl.DataFrame) -> Any:
    import plotly.graph_objects as go

    fig = _figure(title="Vintage curves: share ever 30+ DPD by months on book",
                  xaxis_title="months on book", yaxis={"tickformat": ".0%", "title": "bad rate"})
    data = frame.with_columns(pl.col("vintage").cast(pl.String)).sort("vintage", "months_on_book")
    for vintage in data["vintage"].unique(maintain_order=True).to_list():
        part = data.filter(pl.col("vintage") == vintage)
        fig.add_trace(go.Scatter(x=part["months_on_book"].to_list(), y=part["bad_rate"].to_list(),
                                 name=str(vintage), mode="lines+markers",
                                 customdata=part["accounts"].to_list(),
                                 hovertemplate=(f"{html.escape(str(vintage))}, month %{{x}}: "
                                                "%{y:.2%} of %{customdata} accounts<extra></extra>")))
    return fig


def _funnel_chart(frame: pl.DataFrame) -> Any:
    import plotly.graph_objects as go

    fig = _figure(title="Collection funnel")
    fig.add_trace(go.Funnel(y=frame["stage"].cast(pl.String).to_list(),
                            x=frame["count"].to_list(), textinfo="value+percent initial"))
    return fig


def _contacts_chart(frame: pl.DataFrame) -> Any:
    import plotly.graph_objects as go

    data = (frame.with_columns(pl.col("channel").cast(pl.String))
            .group_by("business_date", "channel")
            .agg(pl.col("attempts", "connected", "blocked").sum()).sort("business_date"))
    fig = _figure(title="Contact attempts per channel per day", barmode="stack",
                  xaxis_title="business date", yaxis_title="contacts")
    for channel in sorted(data["channel"].unique().to_list()):
        part = data.filter(pl.col("channel") == channel)
        fig.add_trace(go.Bar(x=part["business_date"].to_list(), y=part["attempts"].to_list(),
                             name=f"{channel} attempts"))
    totals = data.group_by("business_date").agg(pl.col("blocked", "connected").sum()) \
        .sort("business_date")
    fig.add_trace(go.Scatter(x=totals["business_date"].to_list(), y=totals["blocked"].to_list(),
                             name="blocked by the rules (all channels)", mode="lines+markers",
                             line={"color": "#c53030", "width": 2}))
    fig.add_trace(go.Scatter(x=totals["business_date"].to_list(), y=totals["connected"].to_list(),
                             name="connected (all channels)", mode="lines",
                             line={"color": "#222", "dash": "dot"}))
    return fig


def _contacts_table(frame: pl.DataFrame) -> str:
    by = (frame.with_columns(pl.col("channel").cast(pl.String)).group_by("channel")
          .agg(pl.col("attempts", "connected", "blocked").sum()).sort("channel"))
    rows = [{"channel": r["channel"], "attempts": f"{int(r['attempts']):,}",
             "connected": f"{int(r['connected']):,}",
             "connect rate": (f"{r['connected'] / r['attempts']:.1%}" if r["attempts"] else "n/a"),
             "blocked": f"{int(r['blocked']):,}"} for r in by.iter_rows(named=True)]
    return html_table(rows, left=("channel",))


def _complaints_chart(frame: pl.DataFrame) -> Any:
    import plotly.graph_objects as go

    data = frame.group_by("business_date").agg(pl.col("complaints").sum()).sort("business_date")
    fig = _figure(title="Complaints per day", xaxis_title="business date",
                  yaxis_title="complaints")
    fig.add_trace(go.Scatter(x=data["business_date"].to_list(), y=data["complaints"].to_list(),
                             name="complaints", mode="lines+markers"))
    return fig


def _section(title: str, why: str, content: str) -> str:
    return (f"<section><h2>{html.escape(title)}</h2><p class=\"why\">{html.escape(why)}</p>"
            f"{content}</section>")


def _chart(fig: Any) -> str:
    return _NOTE if fig is None else f"<div class=\"chart\">{chart_div(fig)}</div>"


def _chart_or_note(frame: pl.DataFrame, build: Any) -> str:
    return _NOTE if frame.is_empty() else _chart(build(frame))


_EXTRA_STYLE = """
section{margin:2rem 0} .why{color:#555;max-width:60rem} .note{color:#888;font-style:italic}
table.kpis th{font-weight:normal}
"""


def demo_report_html(data: DemoReportData) -> str:
    """The whole report as one self-contained HTML page (a string)."""
    bucket_charts = (None, None) if data.bucket_daily.is_empty() else _bucket_charts(
        data.bucket_daily)

    contacts = _chart_or_note(data.contacts_daily, _contacts_chart)
    if not data.contacts_daily.is_empty():
        contacts += _contacts_table(data.contacts_daily)
    sections = [
        _section("Headline figures", "The run's key figures; money in yuan.",
                 _kpi_table(data.kpis)),
        _section("Bucket mix over time", "Share of accounts in each delinquency bucket "
                 "(M0 current, M1 1-30 DPD ... M6 151-180, CO charged off), day by day.",
                 _chart(bucket_charts[0])),
        _section("Balance by bucket", "What the book is owed in each bucket, in yuan.",
                 _chart(bucket_charts[1])),
        _section("Roll rates", "Of the accounts in a bucket a month ago, the share in each "
                 "bucket now: forward rolls above the diagonal, cures below.",
                 _chart_or_note(data.roll_rates, _roll_chart)),
        _section("Vintage curves", "Each month's new accounts: the share ever 30+ days past due "
                 "by months on book. Later vintages above earlier ones mean worse lending.",
                 _chart_or_note(data.vintage, _vintage_chart)),
        _section("Collection funnel", "From delinquent accounts to cures: where collection "
                 "effort is lost.", _chart_or_note(data.funnel, _funnel_chart)),
        _section("Contacts per day", "Attempts per channel, the ones the contact rules blocked, "
                 "and the ones that connected.", contacts),
        _section("Complaints per day", "Complaints received; contact pressure shows here first.",
                 _chart_or_note(data.complaints_daily, _complaints_chart)),
    ]
    return page(TITLE, "".join(sections), extra_style=_EXTRA_STYLE)


def write_demo_report(path: Path, data: DemoReportData) -> Path:
    """Write the report to ``path`` (UTF-8), creating its folder; returns the path.

    >>> import tempfile
    >>> empty = pl.DataFrame()
    >>> data = DemoReportData({}, empty, empty, empty, empty, empty, empty)
    >>> out = write_demo_report(Path(tempfile.mkdtemp()) / "demo" / "report.html", data)
    >>> out.name, out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    ('report.html', True)
    """
    target = Path(path)
    if target.is_dir():
        raise BadInputError(f"{target} is a folder; give the report's file name", field="path",
                            value=str(target))
    text = demo_report_html(data)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise BadInputError(f"cannot write the report to {target}: {exc.strerror or exc}",
                            field="path", value=str(target)) from exc
    return target
