"""The server-rendered console: Jinja2 pages over the same domain functions as the API.

:func:`install_console` adds to the app:

* ``GET /static/plotly.min.js`` — the plotly.js file shipped inside the installed
  ``plotly`` Python package (``plotly/package_data/plotly.min.js``), served from there
  (not copied into this repository, no CDN: the console works offline), cacheable for
  a year (the pages ask for it with the plotly version in the query string, so an
  upgrade is fetched anew);
* ``/static/...`` — the console's stylesheet and script (``creditdesk/web/static``);
* the pages: ``/`` (each role's first page), ``/portfolio``, ``/queue``, ``/cases``,
  ``/cases/{case_id}`` and its forms, ``/customers/{customer_id}/reveal``, ``/lab``,
  ``/audit``, ``/users`` (see ``docs/console.md`` for who sees what);
* the handler that draws a page's own refusals (:class:`~creditdesk.web.console.render.PageError`)
  with ``error.html``.

The sign-in page and ``POST /logout`` are the security module's
(:mod:`creditdesk.web.auth_routes`).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from creditdesk.web.console.render import STATIC_DIR, TEMPLATES, PageError, on_page_error

__all__ = ["install_console", "plotly_js_path", "plotly_version"]

#: a year: the URL carries the plotly version, so a new version is a new URL
_PLOTLY_CACHE = "public, max-age=31536000, immutable"


@lru_cache(maxsize=1)
def plotly_js_path() -> Path:
    """The plotly.js bundle inside the installed plotly package."""
    path = Path(str(resources.files("plotly").joinpath("package_data", "plotly.min.js")))
    if not path.is_file():  # pragma: no cover - a broken plotly install
        raise FileNotFoundError(f"plotly.js not found in the plotly package at {path}")
    return path


@lru_cache(maxsize=1)
def plotly_version() -> str:
    """The installed plotly package's version (cache-busting query of the script URL)."""
    import plotly

    return str(plotly.__version__)


def install_console(app: FastAPI) -> None:
    """Mount the static files and the page routers on ``app``."""
    from creditdesk.web.console import pages_admin, pages_cases, pages_lab, pages_portfolio

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js(request: Request) -> Response:
        return FileResponse(plotly_js_path(), media_type="text/javascript",
                            headers={"Cache-Control": _PLOTLY_CACHE,
                                     "X-Content-Type-Options": "nosniff"})

    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    for module in (pages_portfolio, pages_cases, pages_lab, pages_admin):
        app.include_router(module.router)
    app.add_exception_handler(PageError, on_page_error)
    TEMPLATES.env.globals["plotly_version"] = plotly_version()
