"""The books over HTTP: accounts, posting transactions, end of day.

Posting goes through the same validated, all-or-nothing load as ``creditdesk load``:
amounts are positive integers of minor units, a transaction dated on a closed date is
refused, and an ``external_id`` seen before is skipped (answered as a duplicate), so a
client that retries after a timeout never posts twice.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from creditdesk.ledger.account import account_view
from creditdesk.web.api.common import MAX_AMOUNT, ctx_of, jsonable
from creditdesk.web.audit import audit
from creditdesk.web.deps import client_of, csrf_protect, current_user, require
from creditdesk.web.scope import check_account_visible
from creditdesk.web.users import User

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["books"])

class TransactionIn(BaseModel):
    """One transaction to post at the end of its business date."""

    model_config = ConfigDict(extra="forbid")
    external_id: str = Field(min_length=1, max_length=128,
                             description="the caller's unique id; a repeat is skipped")
    account_id: str = Field(min_length=1, max_length=64)
    business_date: date
    type: str = Field(min_length=1, max_length=32)
    amount: StrictInt = Field(gt=0, le=MAX_AMOUNT,
                              description="minor units (fen, cents), at most 10^15")
    terms: StrictInt | None = Field(default=None, ge=1, le=120)
    method: str | None = Field(default=None, max_length=32)
    daily_rate: str | None = Field(default=None, max_length=16,
                                   description="decimal string, cash loans")


class PostIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    transactions: list[TransactionIn] = Field(min_length=1, max_length=10_000)


class EodIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    through: date


@router.get("/accounts")
def accounts(request: Request, user: Annotated[User, Depends(require("view_portfolio"))],
             customer_id: str | None = None,
             limit: Annotated[int, Query(ge=1, le=1000)] = 100,
             offset: Annotated[int, Query(ge=0, le=100_000_000)] = 0) -> list[dict[str, Any]]:
    """Accounts, optionally of one customer, in id order."""
    store = ctx_of(request).store()
    where, params = ("customer_id = ?", [customer_id]) if customer_id else ("1 = 1", [])
    got = store.query(f"SELECT account_id, customer_id, product, credit_limit, opened, bill_day, "
                      f"due_day FROM accounts WHERE {where} ORDER BY account_id "
                      f"LIMIT {int(limit)} OFFSET {int(offset)}", list(params))
    return jsonable(got.to_dicts())


@router.get("/accounts/{account_id}")
def account(request: Request, account_id: str,
            user: Annotated[User, Depends(current_user)]) -> dict[str, Any]:
    """One account as of the last closed date (an agent: only through their cases)."""
    store = ctx_of(request).store()
    check_account_visible(store, user, account_id)
    view = account_view(store, account_id)
    audit(store, user, "view_account", "account", account_id,
          {"customer_id": view["customer_id"]}, client_of(request))
    return jsonable(view)


@router.post("/transactions", status_code=201, dependencies=[Depends(csrf_protect)])
def post_transactions(request: Request, body: PostIn,
                      user: Annotated[User, Depends(require("post_transaction"))]
                      ) -> dict[str, Any]:
    """Validate and load transactions, all or nothing; repeats of an external_id are skipped."""
    from creditdesk.config import settings
    from creditdesk.ledger.ingest import as_text, load_frames
    from creditdesk.products import load_catalogue

    store = ctx_of(request).store()
    rows = [t.model_dump() for t in body.transactions]
    frame = pl.DataFrame(rows, schema={"external_id": pl.String, "account_id": pl.String,
                                       "business_date": pl.Date, "type": pl.String,
                                       "amount": pl.Int64, "terms": pl.Int32,
                                       "method": pl.String, "daily_rate": pl.String})
    report = load_frames(store, load_catalogue(settings().catalogue),
                         transactions=as_text(frame), load_id=f"api:{user.username}")
    audit(store, user, "post_transactions", "transactions", None,
          {"external_ids": [r["external_id"] for r in rows][:100], "count": len(rows),
           "posted": report.transactions}, client_of(request))
    return {"posted": report.transactions, "duplicates_skipped": report.duplicates_skipped}


@router.post("/eod", status_code=202, dependencies=[Depends(csrf_protect)])
def start_eod(request: Request, body: EodIn,
              user: Annotated[User, Depends(require("run_eod"))]) -> dict[str, Any]:
    """Start closing every business date up to ``through``; poll ``GET /api/eod/{job_id}``."""
    from creditdesk.config import settings
    from creditdesk.ledger.params import ledger_params
    from creditdesk.products import load_catalogue

    ctx = ctx_of(request)
    job = ctx.jobs_runner.start_eod(body.through,
                                    ledger_params(load_catalogue(settings().catalogue)),
                                    user=user.username)
    audit(ctx.store(), user, "start_eod", "eod", job.job_id,
          {"through": body.through.isoformat()}, client_of(request))
    return job.as_dict()


@router.get("/eod")
def eod_state(request: Request, user: Annotated[User, Depends(current_user)]
              ) -> dict[str, Any]:
    """The last closed business date and the jobs this server ran."""
    ctx = ctx_of(request)
    last = ctx.store().last_closed()
    return {"last_closed": last.isoformat() if last else None,
            "jobs": [j.as_dict() for j in ctx.jobs_runner.jobs.values()]}


@router.get("/eod/{job_id}")
def eod_job(request: Request, job_id: str,
            user: Annotated[User, Depends(current_user)]) -> dict[str, Any]:
    """One end-of-day job's status: running, done or failed, dates closed so far."""
    from creditdesk.errors import NotFoundError

    job = ctx_of(request).jobs_runner.get(job_id)
    if job is None:
        raise NotFoundError(f"job_id {job_id!r} not found")
    return job.as_dict()

