"""Rendering the console's pages: the Jinja2 environment, the navigation, headers, errors.

* One Jinja2 environment over ``creditdesk/web/templates`` with autoescaping **on** for
  every template (a customer's name or an agent's note can never become markup), and
  the display filters (``money``, ``pct``, ``local``) of
  :mod:`creditdesk.web.console.formatting`.
* :func:`render` adds what every page needs (the user, their navigation, the session's
  CSRF token for forms, the currency symbol) and the response headers: ``no-store``
  (pages carry personal data), a Content-Security-Policy that allows scripts only from
  this server (no inline script: figure data travels in ``application/json`` blocks),
  ``nosniff``, no framing, no referrer to other sites.
* :class:`PageError` is a page's own 403/404/422 answer, drawn with ``error.html``
  and the navigation, so a user who follows a stale link stays in the console.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from creditdesk.web.console.formatting import (
    currency_of,
    format_local,
    format_money,
    format_pct,
)
from creditdesk.web.deps import CSRF_FIELD, optional_session
from creditdesk.web.sessions import Session
from creditdesk.web.users import User

__all__ = ["CSP", "STATIC_DIR", "TEMPLATES", "TEMPLATE_DIR", "PageError", "json_block",
           "nav_for", "on_page_error", "render", "security_headers"]

WEB_DIR = Path(__file__).resolve().parent.parent
TEMPLATE_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"

#: scripts and styles from this server only; plotly.js sets inline styles on its SVG
#: (``style-src 'unsafe-inline'``), nothing else is relaxed
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class PageError(Exception):
    """A console page's refusal: ``status`` (403, 404, 409, 422), a title and a message."""

    def __init__(self, status: int, title: str, message: str) -> None:
        self.status = status
        self.title = title
        self.message = message
        super().__init__(message)


@jinja2.pass_context
def _money(ctx: Any, minor: int | None) -> str:
    return format_money(minor, ctx.get("currency", "¥"))


def _num(value: int | None) -> str:
    return "—" if value is None else f"{int(value):,}"


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["money"] = _money
    env.filters["pct"] = format_pct
    env.filters["local"] = format_local
    env.filters["num"] = _num
    env.globals["csrf_field"] = CSRF_FIELD
    return env


TEMPLATES = Jinja2Templates(env=_env())


def json_block(value: Any) -> Markup:
    """JSON text safe inside ``<script type="application/json">``: ``<``, ``>``, ``&`` and the
    two JavaScript line separators escaped as ``\\uXXXX`` (valid JSON, no way out of
    the element).

    >>> str(json_block({"a": "</script><b>"}))
    '{"a": "\\\\u003c/script\\\\u003e\\\\u003cb\\\\u003e"}'
    """
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return Markup(text)  # escaped above for a JSON script block


def nav_for(user: User | None) -> list[dict[str, str]]:
    """The pages ``user``'s role may open, in menu order.

    >>> [n["href"] for n in nav_for(User("amy", "collections_agent"))]
    ['/queue']
    >>> [n["href"] for n in nav_for(User("al", "auditor"))]
    ['/portfolio', '/queue', '/cases', '/lab', '/audit', '/users']
    """
    if user is None:
        return []
    items = []
    for href, label, perms in (
            ("/portfolio", "Portfolio", ("view_portfolio",)),
            ("/queue", "Queue", ("view_own_cases", "view_cases_all")),
            ("/cases", "All cases", ("view_cases_all",)),
            ("/lab", "Strategy lab", ("view_strategies",)),
            ("/audit", "Audit log", ("read_audit",)),
            ("/users", "Users", ("view_users",))):
        if any(user.can(p) for p in perms):
            items.append({"href": href, "label": label})
    return items


def security_headers(response: HTMLResponse) -> HTMLResponse:
    """The console pages' response headers (see the module docstring)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _profile(request: Request) -> str:
    ctx = getattr(request.app.state, "ctx", None)
    return str(getattr(getattr(ctx, "config", None), "profile", "CN"))


def render(request: Request, session: Session | None, template: str,
           context: dict[str, Any] | None = None, *, status: int = 200) -> HTMLResponse:
    """The page ``template`` for the signed-in ``session`` (None: signed out)."""
    user = session.user if session else None
    path = request.url.path
    nav = [{**n, "current": "page" if path == n["href"] or path.startswith(n["href"] + "/")
            else ""} for n in nav_for(user)]
    full = {"user": user, "nav": nav, "csrf_token": session.csrf_token if session else "",
            "currency": currency_of(_profile(request)), "profile": _profile(request),
            **(context or {})}
    response = TEMPLATES.TemplateResponse(request, template, full, status_code=status)
    return security_headers(response)


async def on_page_error(request: Request, exc: Exception) -> HTMLResponse:
    """Exception handler for :class:`PageError`: ``error.html`` with the navigation."""
    assert isinstance(exc, PageError)
    session = await optional_session(request)
    return render(request, session, "error.html",
                  {"title": exc.title, "message": exc.message, "status": exc.status},
                  status=exc.status)
