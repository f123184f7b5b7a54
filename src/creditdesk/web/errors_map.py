"""Domain errors to HTTP answers, at the edge only.

Every answer names what was wrong: ``{"detail": message, "field": ..., "value": ...}``.
Bad input is a 422 (as FastAPI answers a body that fails validation), an unknown id a
404, a contact the rules forbid a 409 with the checker's answer, a store that cannot be
reached a 503.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from creditdesk.collections.casework import ContactBlocked
from creditdesk.errors import BadInputError, CreditdeskError, NotFoundError, StoreError
from creditdesk.risk.decisions_log import DecisionConflict
from creditdesk.web.jobs import JobConflict

__all__ = ["install_error_handlers", "status_of"]


def status_of(exc: CreditdeskError) -> int:
    """The HTTP status of a domain error."""
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, (ContactBlocked, JobConflict, DecisionConflict)):
        return 409
    if isinstance(exc, BadInputError):
        return 422
    if isinstance(exc, StoreError):
        return 503
    return 400


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # inf and nan are not JSON
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


async def _domain(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CreditdeskError)
    body: dict[str, Any] = {"detail": str(exc)}
    if isinstance(exc, BadInputError):
        body["field"], body["value"] = exc.field, _jsonable(exc.value)
    if isinstance(exc, ContactBlocked):
        body["check"] = {k: _jsonable(v) for k, v in exc.answer.items() if k != "holds"}
    return JSONResponse(body, status_code=status_of(exc))


def install_error_handlers(app: FastAPI) -> None:
    """Register the domain-error handler (the security module registers its own)."""
    app.add_exception_handler(CreditdeskError, _domain)
