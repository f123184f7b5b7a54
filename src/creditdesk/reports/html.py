"""Page, chart and table helpers shared by every self-contained HTML report.

Why inline plotly.js: reports are opened on locked-down machines and archived
(model validation, the demo's output folder); a page that fetches its charting
library from a CDN shows nothing offline and may change after the fact. So
every page embeds ``plotly.offline.get_plotlyjs()`` once, in the head, and
each chart is a ``div`` drawn by that one copy. No external CSS or fonts
either: the style below uses the system font stack.

>>> body = html_table([{"name": "<b>", "n": 1.5}], left=("name",))
>>> "&lt;b&gt;" in body, "1.5000" in body
(True, True)
>>> page("t", body, charts=False).startswith("<!DOCTYPE html>")
True
"""

from __future__ import annotations

import html
from typing import Any

__all__ = ["STYLE", "chart_div", "format_cell", "html_table", "page"]

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.25rem .6rem;text-align:right}
th{background:#f3f3f3} td.l,th.l{text-align:left}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:1rem}
"""


def page(title: str, body: str, *, charts: bool = True, extra_style: str = "") -> str:
    """A complete HTML page: the title escaped, ``body`` as given (already HTML).

    With ``charts`` the plotly.js bundle of the installed plotly package is
    inlined once in the head; without, the page carries no script at all.
    """
    from plotly.offline import get_plotlyjs

    script = f"<script type=\"text/javascript\">{get_plotlyjs()}</script>" if charts else ""
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}{extra_style}</style>{script}"
            f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>\n")


def chart_div(fig: Any) -> str:
    """A plotly figure as a ``div`` and its drawing script, relying on the page's plotly.js."""
    return str(fig.to_html(full_html=False, include_plotlyjs=False,
                           config={"displaylogo": False, "responsive": True}))


def format_cell(value: Any) -> str:
    """A table cell: floats to four decimals, everything else as escaped text."""
    if isinstance(value, float):
        return f"{value:.4f}"
    return html.escape(str(value))


def html_table(rows: list[dict[str, Any]], left: tuple[str, ...] = ()) -> str:
    """Rows of dicts as a table; the first row's keys are the columns, ``left`` left-aligned."""
    if not rows:
        return "<p>none</p>"
    cols = list(rows[0])
    head = "".join(f"<th class=\"{'l' if c in left else ''}\">{html.escape(c)}</th>"
                   for c in cols)
    body = "".join("<tr>" + "".join(f"<td class=\"{'l' if c in left else ''}\">"
                                    f"{format_cell(r.get(c))}</td>" for c in cols) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
