"""Cases, the agent's queue, "may I contact now?", outcomes, promises, holds, plans.

Each route parses, checks who may see the case (:mod:`creditdesk.web.scope`: another
agent's case is a 404), calls one domain function, audits, and formats.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from creditdesk.collections.assignment import reassign
from creditdesk.collections.casework import Outcome, may_contact, record_outcome
from creditdesk.collections.casework import release_hold as release
from creditdesk.collections.queue import agent_queue, list_cases
from creditdesk.errors import BadInputError
from creditdesk.web.api.common import MAX_AMOUNT, ctx_of, jsonable, next_business_date
from creditdesk.web.audit import audit
from creditdesk.web.casefile import case_file
from creditdesk.web.deps import client_of, csrf_protect, current_user, require
from creditdesk.web.scope import check_case_visible, check_customer_visible, visible_agent
from creditdesk.web.users import User

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["cases"])
CaseUser = Annotated[User, Depends(current_user)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OutcomeIn(_Body):
    """A contact the collector made and what came of it."""

    outcome: Literal["connected", "no_answer", "promise", "dispute", "hardship", "wrong_party"]
    channel: Literal["agent", "sms", "push", "email"] = "agent"
    promise_date: date | None = None
    promise_amount: StrictInt | None = Field(default=None, gt=0, le=MAX_AMOUNT,
                                             description="minor units (fen, cents)")
    note: str = Field(default="", max_length=500)


class PlanIn(_Body):
    """A repayment arrangement offered on the case's account, within policy."""

    kind: Literal["hardship_plan", "payment_holiday", "settlement"]
    terms: StrictInt | None = Field(default=None, ge=1, le=36)
    amount: StrictInt | None = Field(default=None, gt=0, le=MAX_AMOUNT,
                                     description="minor units")
    approved_by: str | None = Field(default=None, max_length=64)


class AssignIn(_Body):
    agent_id: str = Field(min_length=1, max_length=64)


@router.get("/cases")
def cases(request: Request, user: CaseUser,
          status: Literal["open", "closed"] | None = "open",
          queue: Literal["reminders", "robot", "agents"] | None = None,
          limit: Annotated[int, Query(ge=1, le=1000)] = 100,
          offset: Annotated[int, Query(ge=0, le=100_000_000)] = 0) -> list[dict[str, Any]]:
    """Cases you may see (an agent: their own), largest overdue first."""
    if not (user.can("view_cases_all") or user.can("view_own_cases")):
        return []
    store = ctx_of(request).store()
    return jsonable(list_cases(store, agent=visible_agent(user), status=status, queue=queue,
                               limit=limit, offset=offset))


@router.get("/queue")
def queue(request: Request, user: Annotated[User, Depends(require("view_own_cases"))],
          agent: str | None = None,
          limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> dict[str, Any]:
    """An agent's open cases in the planner's order for the next business date."""
    who = visible_agent(user) or agent or user.username
    store = ctx_of(request).store()
    d = next_business_date(store)
    return {"agent": who, "business_date": d.isoformat() if d else None,
            "cases": jsonable(agent_queue(store, who, d, limit=limit))}


@router.get("/cases/{case_id}")
def case(request: Request, case_id: str, user: CaseUser) -> dict[str, Any]:
    """The case file: case, account, customer (masked), contacts, promises, holds, plan."""
    ctx = ctx_of(request)
    store = ctx.store()
    check_case_visible(store, user, case_id)
    out = case_file(store, case_id, now=ctx.config.now())
    audit(store, user, "view_case", "case", case_id,
          {"customer_id": out["case"]["customer_id"]}, client_of(request))
    return jsonable(out)


@router.get("/cases/{case_id}/may-contact")
def may_contact_now(request: Request, case_id: str, user: CaseUser,
                    channel: Literal["agent", "robot", "sms", "push", "email"] = "agent"
                    ) -> dict[str, Any]:
    """The contact-rules checker's answer for contacting the debtor now."""
    ctx = ctx_of(request)
    store = ctx.store()
    check_case_visible(store, user, case_id)
    return jsonable(may_contact(store, case_id, channel, at=ctx.config.now(),
                                profile=ctx.config.profile))


@router.post("/cases/{case_id}/outcomes", status_code=201,
             dependencies=[Depends(csrf_protect)])
def outcome(request: Request, case_id: str, body: OutcomeIn,
            user: Annotated[User, Depends(require("record_outcome"))]) -> dict[str, Any]:
    """Record a contact's outcome; refused (409, with the rule) if the rules block it now."""
    ctx = ctx_of(request)
    store = ctx.store()
    check_case_visible(store, user, case_id)
    got = record_outcome(store, case_id, Outcome(**body.model_dump()), user=user.username,
                         at=ctx.config.now(), profile=ctx.config.profile)
    audit(store, user, "record_outcome", "case", case_id, body.model_dump(mode="json"),
          client_of(request))
    return got


@router.post("/cases/{case_id}/plans", status_code=201, dependencies=[Depends(csrf_protect)])
def plan(request: Request, case_id: str, body: PlanIn,
         user: Annotated[User, Depends(require("offer_plan"))]) -> dict[str, Any]:
    """Offer a hardship plan, payment holiday or settlement within the arrangements policy."""
    from creditdesk.collections.arrangements import offer
    from creditdesk.collections.casework import case_row

    store = ctx_of(request).store()
    check_case_visible(store, user, case_id)
    row = case_row(store, case_id)
    d = next_business_date(store)
    if d is None:
        raise BadInputError("no business date is closed yet", field="case_id", value=case_id)
    ext = offer(store, row["account_id"], body.kind, d, terms=body.terms, amount=body.amount,
                approved_by=body.approved_by)
    audit(store, user, "offer_plan", "case", case_id,
          {**body.model_dump(mode="json"), "external_id": ext},
          client_of(request))
    return {"external_id": ext, "account_id": row["account_id"], "business_date": d.isoformat(),
            "kind": body.kind}


@router.post("/cases/{case_id}/assign", dependencies=[Depends(csrf_protect)])
def assign(request: Request, case_id: str, body: AssignIn,
           user: Annotated[User, Depends(require("reassign_case"))]) -> dict[str, Any]:
    """A supervisor moves the case to another active collector."""
    store = ctx_of(request).store()
    d = next_business_date(store) or ctx_of(request).config.now().date()
    reassign(store, case_id, body.agent_id, d, by=user.username)
    audit(store, user, "reassign_case", "case", case_id, {"agent_id": body.agent_id},
          client_of(request))
    return {"case_id": case_id, "agent_id": body.agent_id}


@router.post("/customers/{customer_id}/holds/{hold}/release",
             dependencies=[Depends(csrf_protect)])
def release_hold(request: Request, customer_id: str, hold: str,
                 user: Annotated[User, Depends(require("release_hold"))]) -> dict[str, Any]:
    """Release a dispute or hardship-review hold (a supervisor's decision)."""
    ctx = ctx_of(request)
    store = ctx.store()
    n = release(store, customer_id, hold, user=user.username, at=ctx.config.now())
    audit(store, user, "release_hold", "customer", customer_id, {"hold": hold},
          client_of(request))
    return {"customer_id": customer_id, "hold": hold, "released": n,
            "at": ctx.config.now().isoformat()}


class RevealIn(_Body):
    field: Literal["name", "phone", "id_number"]
    reason: str = Field(min_length=3, max_length=200)


@router.post("/customers/{customer_id}/reveal", dependencies=[Depends(csrf_protect)])
def reveal(request: Request, customer_id: str, body: RevealIn,
           user: Annotated[User, Depends(require("reveal_pii"))]) -> dict[str, Any]:
    """One personal-data field in clear, for a stated reason; the reveal is audited."""
    from creditdesk.customers.pii import reveal_pii

    store = ctx_of(request).store()
    check_customer_visible(store, user, customer_id)
    value = reveal_pii(store, user, customer_id, body.field, body.reason, client_of(request))
    return {"customer_id": customer_id, "field": body.field, "value": value}
