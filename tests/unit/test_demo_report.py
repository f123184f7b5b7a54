"""The demo's offline HTML report: sections, charts, offline page, empty frames, roll rates."""

from __future__ import annotations

import doctest
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from plotly.offline import get_plotlyjs

from creditdesk.errors import BadInputError
from creditdesk.reports import demo_report, html
from creditdesk.reports.demo_report import (
    NO_DATA,
    DemoReportData,
    demo_report_html,
    roll_rate_matrix,
    write_demo_report,
)

D1, D2 = date(2026, 1, 1), date(2026, 1, 2)
SECTIONS = ("Headline figures", "Bucket mix over time", "Balance by bucket", "Roll rates",
            "Vintage curves", "Collection funnel", "Contacts per day", "Complaints per day")
CHARTS = 7  # every section but the headline table draws one chart
EMPTY = pl.DataFrame()


def _data(**override: object) -> DemoReportData:
    frames: dict[str, object] = {
        "kpis": {"customers": 1200, "accounts": 1500, "days": 2, "receivable": 123456789,
                 "delinquency_rate": 0.0825, "recovery_rate": 0.41, "contacts": 830,
                 "complaints_per_1000": 2.5, "contacts_blocked": 17, "rule_violations": 0,
                 "note": "<script>alert(1)</script>",
                 "bucket_mix": [{"bucket": "M0", "accounts": 1}],  # nested: skipped
                 "roll_30d": {"M0": 1}},
        "bucket_daily": pl.DataFrame({
            "business_date": [D1, D1, D1, D2, D2, D2],
            "bucket": ["M0", "M1", "CO", "M0", "M1", "CO"],
            "accounts": [90, 8, 2, 88, 9, 3],
            "balance": [900_000, 120_050, 40_000, 880_000, 130_000, 60_000]}),
        "roll_rates": pl.DataFrame({
            "from_bucket": ["M0", "M0", "M1", "M1", "M1", "M2"],
            "to_bucket": ["M0", "M1", "M0", "M1", "M2", "M3"],
            "accounts": [95, 5, 3, 4, 1, 2]}),
        "vintage": pl.DataFrame({
            "vintage": ["2025-11", "2025-11", "2025-12"], "months_on_book": [1, 2, 1],
            "accounts": [500, 500, 700], "bad_rate": [0.01, 0.03, 0.015]}),
        "funnel": pl.DataFrame({
            "stage": ["delinquent", "contacted", "right-party contact", "promise",
                      "promise kept", "cured"],
            "count": [120, 100, 60, 30, 20, 18]}),
        "contacts_daily": pl.DataFrame({
            "business_date": [D1, D1, D2, D2], "channel": ["sms", "agent", "sms", "robot"],
            "attempts": [50, 20, 40, 30], "connected": [0, 12, 0, 10], "blocked": [1, 3, 0, 2]}),
        "complaints_daily": pl.DataFrame({"business_date": [D1, D2], "complaints": [1, 0]}),
    }
    frames.update(override)
    return DemoReportData(**frames)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def full_page() -> str:
    return demo_report_html(_data())


def _figures(page: str) -> list[dict[str, Any]]:
    """The data of every chart, parsed from the Plotly.newPlot(id, data, layout, config) calls."""
    figures = []
    decoder = json.JSONDecoder()
    for m in re.finditer(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*", page):
        traces, _ = decoder.raw_decode(page, m.end())
        figures.append({"data": traces})
    return figures


def test_docstring_examples_run() -> None:
    for module in (demo_report, html):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__


def test_every_section_and_one_chart_div_each(full_page: str) -> None:
    for title in SECTIONS:
        assert f"<h2>{title}</h2>" in full_page
    assert full_page.count("class=\"plotly-graph-div\"") == CHARTS
    assert len(_figures(full_page)) == CHARTS
    assert NO_DATA not in full_page


def test_page_is_offline_with_plotly_inlined_once(full_page: str) -> None:
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*[\"']?(https?:)?//",
                         full_page, flags=re.IGNORECASE)
    assert "@import" not in full_page and "fonts.googleapis" not in full_page
    assert full_page.count(get_plotlyjs()) == 1
    assert full_page.count("<script type=\"text/javascript\">/**\n* plotly.js v") == 1


def test_kpis_labelled_money_in_yuan_and_text_escaped(full_page: str) -> None:
    kpis = full_page[full_page.index("Headline figures"):full_page.index("Bucket mix over time")]
    assert "Receivable (yuan)</th><td>1,234,567.89</td>" in kpis
    assert "Customers</th><td>1,200</td>" in kpis
    assert "Delinquency rate</th><td>8.25 %</td>" in kpis
    assert "Complaints per 1,000 delinquent accounts</th><td>2.50</td>" in kpis
    assert "Contacts blocked by the rules</th><td>17</td>" in kpis
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in kpis and "<script>alert" not in full_page
    assert "Bucket mix</th>" not in kpis and "Roll 30d" not in kpis


def test_balance_chart_in_yuan(full_page: str) -> None:
    balance = next(f for f in _figures(full_page)
                   if any(t.get("stackgroup") == "balance" for t in f["data"]))
    m1 = next(t for t in balance["data"] if t["name"] == "M1")
    assert m1["y"] == [1200.5, 1300.0]
    assert "Balance by bucket (yuan)" in full_page


def test_bucket_mix_is_a_share_of_accounts_in_bucket_order(full_page: str) -> None:
    mix = next(f for f in _figures(full_page)
               if any(t.get("stackgroup") == "mix" for t in f["data"]))
    traces = mix["data"]
    assert [t["name"] for t in traces] == ["M0", "M1", "CO"]
    assert traces[0]["y"] == [0.9, 0.88]


def test_roll_rate_heat_map_holds_the_hand_computed_rates(full_page: str) -> None:
    # from M1: 3 cured to M0, 4 stayed, 1 rolled to M2 -> 3/8, 4/8, 1/8; M3 was never a "from"
    buckets, matrix = roll_rate_matrix(_data().roll_rates)
    assert buckets == ["M0", "M1", "M2", "M3"]
    assert matrix[1] == [0.375, 0.5, 0.125, 0.0]
    assert matrix[0] == [0.95, 0.05, 0.0, 0.0]
    assert matrix[3] == [None, None, None, None]
    heat = next(f for f in _figures(full_page)
                if f["data"][0].get("type") == "heatmap")
    trace = heat["data"][0]
    assert trace["z"][1] == [0.375, 0.5, 0.125, 0.0]
    assert trace["z"][2] == [0.0, 0.0, 0.0, 1.0]
    assert trace["text"][1][0] == "37.5%"
    assert "[0.375,0.5,0.125,0.0]" in full_page.replace(" ", "")


def test_funnel_contacts_and_vintage_charts(full_page: str) -> None:
    figures = _figures(full_page)
    funnel = next(f for f in figures if f["data"][0].get("type") == "funnel")
    assert funnel["data"][0]["x"] == [120, 100, 60, 30, 20, 18]
    assert funnel["data"][0]["y"][0] == "delinquent"
    contacts = next(f for f in figures if f["data"][0].get("type") == "bar")
    names = [t["name"] for t in contacts["data"]]
    assert names[:3] == ["agent attempts", "robot attempts", "sms attempts"]
    blocked = next(t for t in contacts["data"] if t["name"].startswith("blocked"))
    assert blocked["y"] == [4, 2]
    vintage = next(f for f in figures if f["data"][0].get("name") == "2025-11")
    assert [t["name"] for t in vintage["data"]] == ["2025-11", "2025-12"]
    assert "connect rate" in full_page and "60.0%" in full_page  # agent: 12 of 20


@pytest.mark.parametrize("frame", ["roll_rates", "vintage", "funnel", "contacts_daily",
                                   "complaints_daily"])
def test_an_empty_frame_shows_the_no_data_note(frame: str) -> None:
    page = demo_report_html(_data(**{frame: EMPTY}))
    assert page.count(NO_DATA) == 1
    assert page.count("class=\"plotly-graph-div\"") == CHARTS - 1


def test_empty_bucket_frame_with_columns_leaves_both_bucket_charts_empty() -> None:
    empty = pl.DataFrame(schema={"business_date": pl.Date, "bucket": pl.String,
                                 "accounts": pl.Int64, "balance": pl.Int64})
    page = demo_report_html(_data(bucket_daily=empty, kpis={}))
    assert page.count(NO_DATA) == 3  # bucket mix, balance, headline figures
    assert page.count("class=\"plotly-graph-div\"") == CHARTS - 2


def test_missing_column_is_refused_naming_it() -> None:
    with pytest.raises(BadInputError, match="balance") as err:
        _data(bucket_daily=pl.DataFrame({"business_date": [D1], "bucket": ["M0"],
                                         "accounts": [1]}))
    assert err.value.field == "bucket_daily"


def test_write_demo_report(tmp_path: Path) -> None:
    out = write_demo_report(tmp_path / "out" / "report.html", _data(funnel=EMPTY))
    text = out.read_text(encoding="utf-8")
    assert out == tmp_path / "out" / "report.html"
    assert "<h2>Collection funnel</h2>" in text and NO_DATA in text
    with pytest.raises(BadInputError) as err:
        write_demo_report(tmp_path, _data())
    assert err.value.field == "path"
