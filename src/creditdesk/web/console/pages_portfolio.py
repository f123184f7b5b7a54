"""``GET /`` (each role's first page) and ``GET /portfolio``: balances, bucket mix, roll
rates and vintage curves (:mod:`creditdesk.reports.portfolio`), charts and tables.

The figures change only when a business date is closed, so they are kept in memory
per store and last closed date (a few entries): the second view of the day costs
nothing even on a large book.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from creditdesk.reports.portfolio import BUCKETS, Portfolio, portfolio
from creditdesk.web.console import charts
from creditdesk.web.console.common import ctx_of, need
from creditdesk.web.console.render import json_block, nav_for, render
from creditdesk.web.deps import current_session
from creditdesk.web.sessions import Session

__all__ = ["cached_portfolio", "router"]

router = APIRouter(include_in_schema=False)

_CACHE: OrderedDict[tuple[str, date | None], Portfolio] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 4


def cached_portfolio(request: Request) -> Portfolio:
    """The portfolio figures of the app's store as of its last closed date (memoised)."""
    ctx = ctx_of(request)
    store = ctx.store()
    key = (ctx.config.store_url, store.last_closed())
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    figures = portfolio(store)
    with _CACHE_LOCK:
        _CACHE[key] = figures
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return figures


@router.get("/", include_in_schema=False)
def home(session: Annotated[Session, Depends(current_session)]) -> Response:
    """Each role's first page: agents their queue, everyone else the first page they may see."""
    user = session.user
    if user.can("view_own_cases") and not user.can("view_cases_all"):
        return RedirectResponse("/queue", status_code=303)
    pages = nav_for(user)
    return RedirectResponse(pages[0]["href"] if pages else "/login", status_code=303)


@router.get("/portfolio", response_class=HTMLResponse)
def portfolio_page(request: Request,
                   session: Annotated[Session, Depends(current_session)]) -> Response:
    """The portfolio page (risk analysts, supervisors, auditors, admins)."""
    need(session.user, "view_portfolio")
    p = cached_portfolio(request)
    symbol = render_symbol(request)
    figures = {}
    if not p.empty:
        figures = {
            "balances": json_block(charts.balances_figure(p, symbol)),
            "mix_balance": json_block(charts.bucket_mix_figure(p, "balance")),
            "mix_accounts": json_block(charts.bucket_mix_figure(p, "accounts")),
            "rolls": json_block(charts.roll_figure(p)) if p.rolls.get("buckets") else None,
            "vintage30": json_block(charts.vintage_figure(p, 30)) if p.vintages else None,
            "vintage60": json_block(charts.vintage_figure(p, 60)) if p.vintages else None,
        }
    latest_mix = p.buckets[-1] if p.buckets else None
    vintage_last = {}
    for v in p.vintages:  # each vintage's latest point
        vintage_last[v["vintage"]] = v
    return render(request, session, "portfolio.html", {
        "p": p, "latest": p.latest_balances(), "figures": figures, "latest_mix": latest_mix,
        "buckets": BUCKETS, "vintage_last": [vintage_last[k] for k in sorted(vintage_last)],
        "products": sorted({r["product"] for r in p.balances}),
        "balances_latest": [r for r in p.balances if r["business_date"] == p.as_of],
    })


def render_symbol(request: Request) -> str:
    """The currency symbol of the app's contact-rules profile."""
    from creditdesk.web.console.formatting import currency_of

    return currency_of(ctx_of(request).config.profile)
