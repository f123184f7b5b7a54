"""Small helpers the API routers share: the context, JSON-ready values, the business date."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi import Request

from creditdesk.store.base import Store
from creditdesk.web.context import Context

__all__ = ["ctx_of", "jsonable", "next_business_date"]


def ctx_of(request: Request) -> Context:
    ctx = request.app.state.ctx
    assert isinstance(ctx, Context)
    return ctx


def next_business_date(store: Store) -> date | None:
    """The open business date: the day after the last closed one."""
    last = store.last_closed()
    return last + timedelta(days=1) if last else None


def jsonable(value: Any) -> Any:
    """Dates and timestamps as ISO strings, Decimals as strings, recursively."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    return value
