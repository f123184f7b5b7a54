"""``create_app``: the FastAPI application for one store.

Routers: the session and users (:mod:`creditdesk.web.auth_routes`), the audit log, the
JSON API (``/api/...``, described at ``/openapi.json``), and the console pages. Domain
errors become HTTP answers only here (:mod:`creditdesk.web.errors_map`).

>>> import tempfile
>>> from fastapi.testclient import TestClient
>>> app = create_app(WebConfig(store_url=f"duckdb:///{tempfile.mkdtemp()}/b.duckdb"))
>>> with TestClient(app) as client:
...     client.get("/api/health").json()["status"]
'ok'
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request

from creditdesk import __version__
from creditdesk.web.context import Context, WebConfig

__all__ = ["create_app"]


def create_app(config: WebConfig) -> FastAPI:
    """The app: API, console, security, with one :class:`Context` for ``config``."""
    from creditdesk.risk.decisions_log import ensure_decisions_table
    from creditdesk.risk.realtime import load_scorer
    from creditdesk.web.api import books, cases, compliance, decisions
    from creditdesk.web.auth_routes import audit_router, auth_router, users_router
    from creditdesk.web.console import install_console
    from creditdesk.web.deps import install_security
    from creditdesk.web.errors_map import install_error_handlers
    from creditdesk.web.indexes import ensure_console_indexes
    from creditdesk.web.security import ensure_web_tables

    ctx = Context(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = ctx.store()
        ensure_web_tables(store)
        ensure_console_indexes(store)
        # the decision model and its table before the first request, then the heap that
        # lives as long as the app moved out of the collector's way: a full collection of
        # it paused every request for ~110 ms (benchmarks/bench_web.py)
        app.state.decision_scorer = load_scorer(config.decision_model)
        ensure_decisions_table(store)
        app.state.decisions_table_ready = True
        gc.collect()
        gc.freeze()
        yield
        ctx.close()

    app = FastAPI(title="creditdesk", version=__version__, lifespan=lifespan,
                  description="Consumer-credit books, decisions and compliant collections. "
                  "Amounts are integers of minor units (fen, cents).")
    app.state.ctx = ctx
    install_error_handlers(app)
    install_security(app)
    for router in (auth_router, users_router, audit_router, books.router, decisions.router,
                   cases.router, compliance.router):
        app.include_router(router)
    install_console(app)

    @app.get("/api/health", tags=["meta"])
    def health(request: Request) -> dict[str, Any]:
        """Liveness and the store's last closed date."""
        last = ctx.store().last_closed()
        return {"status": "ok", "version": __version__, "store": ctx.store().dialect,
                "last_closed": last.isoformat() if last else None}

    return app
