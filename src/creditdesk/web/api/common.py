"""Small helpers the API routers share: the context, JSON-ready values, the business date."""

from __future__ import annotations

import math
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


#: the largest amount an API body may carry, in minor units (10^15: ten trillion yuan);
#: the books sum amounts in 64-bit integers, which this keeps far from overflow (an amount
#: beyond 2^63 was a 500, found by the API fuzz test)
MAX_AMOUNT = 10**15


def jsonable(value: Any) -> Any:
    """Dates and timestamps as ISO strings, Decimals as strings, recursively; NaN and
    infinities (not JSON) as null. (Error bodies echo a bad input's value as text
    instead: ``creditdesk.web.errors_map``.)

    >>> jsonable({"d": date(2026, 3, 2), "x": [float("nan"), float("inf"), 1.5]})
    {'d': '2026-03-02', 'x': [None, None, 1.5]}
    """
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):  # not JSON
        return None
    return value
