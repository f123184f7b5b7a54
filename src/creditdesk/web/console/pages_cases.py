"""The collector's pages: the queue, the case list, the case page and its three forms.

* ``GET /queue`` — an agent's own open cases in the planner's order for the open
  business date (:func:`creditdesk.collections.queue.agent_queue`); who sees every case
  (supervisor, auditor) picks the agent with ``?agent=``.
* ``GET /cases`` — every case, filtered (supervisors and auditors).
* ``GET /cases/{case_id}`` — the customer 360 (:func:`creditdesk.web.casefile.case_file`),
  the live "may I contact now?" answer, and the forms. Another agent's case, or one
  that does not exist, is the same 404 page.
* ``POST /cases/{case_id}/outcome`` — record a call's outcome
  (:func:`~creditdesk.collections.casework.record_outcome`);
  ``POST /cases/{case_id}/plan`` — offer an arrangement
  (:func:`~creditdesk.collections.arrangements.offer`);
  ``POST /customers/{customer_id}/reveal`` — one personal-data field in clear, for a
  stated reason (:func:`~creditdesk.customers.pii.reveal_pii`).

Every form carries the session's CSRF token and every POST route checks it
(:func:`creditdesk.web.deps.csrf_protect`) before anything runs. A success redirects
back to the case page (post/redirect/get); a refusal (the contact rules block the call,
the policy refuses the arrangement, a field is wrong) draws the case page again with
the reason in a banner and the form as typed, and changes nothing. Every view and every
action, refused ones included, is audited.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from creditdesk.collections.arrangements import (
    KINDS,
    ArrangementRefused,
    default_arrangement_policy,
    offer,
)
from creditdesk.collections.casework import (
    OUTCOMES,
    ContactBlocked,
    Outcome,
    case_row,
    may_contact,
    record_outcome,
)
from creditdesk.collections.queue import agent_queue, list_cases
from creditdesk.customers.pii import PII_FIELDS, reveal_pii
from creditdesk.errors import BadInputError, NotFoundError
from creditdesk.store.base import Store
from creditdesk.web.casefile import case_file
from creditdesk.web.console.common import ctx_of, need, not_found
from creditdesk.web.console.formatting import (
    format_local,
    parse_amount,
    parse_day,
    parse_int,
)
from creditdesk.web.console.render import PageError, render
from creditdesk.web.deps import (
    audit_request,
    check_case_access,
    client_of,
    csrf_protect,
    current_session,
)
from creditdesk.web.scope import agent_of, check_case_visible
from creditdesk.web.sessions import Session
from creditdesk.web.users import USERNAME_PATTERN, User

__all__ = ["OUTCOME_LABELS", "PLAN_LABELS", "router"]

router = APIRouter(include_in_schema=False)

OUTCOME_LABELS: dict[str, str] = {
    "connected": "Connected: spoke to the customer",
    "no_answer": "No answer",
    "promise": "Promise to pay",
    "dispute": "Dispute (puts the customer on hold)",
    "hardship": "Hardship claim (puts the customer on hold)",
    "wrong_party": "Wrong party answered",
}
PLAN_LABELS: dict[str, str] = {
    "hardship_plan": "Hardship plan: re-amortise the past-due amount",
    "payment_holiday": "Payment holiday: move due dates later",
    "settlement": "Settlement: a lump sum, the rest written off",
}
_FIELD_LABELS = {"name": "Name", "phone": "Phone", "id_number": "ID number"}
#: messages after a successful post (the redirect carries only the key)
_DONE = {
    "outcome": "Outcome recorded.",
    "plan": "Arrangement offered: it is posted with the end of day of the open business date.",
}
_MAX_NOTE = 500
_SHOWN = 60


def _case_user(session: Session) -> User:
    user = session.user
    if not (user.can("view_cases_all") or user.can("view_own_cases")):
        raise not_found()
    return user


def _visible(store: Store, user: User, case_id: str) -> None:
    try:
        check_case_visible(store, user, case_id)
        case_row(store, case_id)
    except NotFoundError:
        raise not_found() from None


def _next_date(store: Store) -> date | None:
    last = store.last_closed()
    return last + timedelta(days=1) if last else None


def _timezones(store: Store, customer_ids: list[str]) -> dict[str, str]:
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    got = store.query(f"SELECT customer_id, timezone FROM customers WHERE customer_id IN "
                      f"({', '.join('?' for _ in ids)})", list(ids))
    return {str(c): str(t) for c, t in got.iter_rows()}


# --------------------------------------------------------------------------- lists

@router.get("/queue", response_class=HTMLResponse)
def queue_page(request: Request, session: Annotated[Session, Depends(current_session)],
               agent: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    """The agent's queue in the planner's order (supervisors, auditors: any agent's)."""
    user = session.user
    need(user, "view_own_cases", "view_cases_all")
    store = ctx_of(request).store()
    agents: list[str] = []
    if user.can("view_cases_all"):
        if store.has_table("case_assignments"):
            agents = [str(a) for a in store.query(
                "SELECT DISTINCT agent_id FROM case_assignments ORDER BY agent_id"
            ).get_column("agent_id").to_list()]
        who = agent or (user.username if user.can("view_own_cases") else None)
        if who is not None and not USERNAME_PATTERN.fullmatch(who):
            raise PageError(422, "Not a username", "agent must be a username such as agent.amy")
    else:
        who = user.username
    d = _next_date(store)
    rows = agent_queue(store, who, d) if who else []
    zones = _timezones(store, [r["customer_id"] for r in rows])
    for r in rows:
        r["timezone"] = zones.get(r["customer_id"])
        r["planned_local"] = (format_local(r["planned_at"], r["timezone"])
                              if r.get("planned_at") else None)
    return render(request, session, "queue.html",
                  {"rows": rows, "agent": who, "agents": agents, "business_date": d,
                   "own": who == user.username})


@router.get("/cases", response_class=HTMLResponse)
def cases_page(request: Request, session: Annotated[Session, Depends(current_session)],
               status: Annotated[str, Query(max_length=10)] = "open",
               queue: Annotated[str, Query(max_length=20)] = "",
               page: Annotated[int, Query(ge=1, le=10_000)] = 1) -> Response:
    """Every case (supervisors and auditors), largest overdue first, 100 a page."""
    user = session.user
    need(user, "view_cases_all")
    if status not in ("open", "closed", "all"):
        raise PageError(422, "Bad filter", f"status must be open, closed or all; got {status!r}")
    if queue not in ("", "reminders", "robot", "agents"):
        raise PageError(422, "Bad filter", f"queue must be reminders, robot or agents; "
                                           f"got {queue!r}")
    store = ctx_of(request).store()
    rows = list_cases(store, status=None if status == "all" else status, queue=queue or None,
                      limit=101, offset=(page - 1) * 100)
    return render(request, session, "cases.html",
                  {"rows": rows[:100], "more": len(rows) > 100, "page": page, "status": status,
                   "queue": queue})


# --------------------------------------------------------------------------- the case page

def _case_context(request: Request, session: Session, case_id: str,
                  agent: tuple[str | None] | None = None) -> dict[str, Any]:
    ctx = ctx_of(request)
    store = ctx.store()
    now = ctx.config.now()
    last = store.last_closed()
    cf = case_file(store, case_id, now=now, last_closed=last, agent=agent)
    case = cf["case"]
    customer = cf["customer"]
    tz = customer.get("timezone")
    answer = may_contact(store, case_id, "agent", at=now, profile=ctx.config.profile,
                         case=case, customer=customer, holds=cf["holds"])
    account = cf["account"]
    promises = list(cf.get("promises") or [])  # those of the open date come as open
    contacts = sorted(cf.get("contacts") or [], key=lambda c: str(c.get("contact_ts")),
                      reverse=True)
    txns = list(reversed(account.get("transactions") or []))
    policy = default_arrangement_policy()
    user = session.user
    return {
        "case": case, "cf": cf, "account": account, "customer": customer,
        "contact": customer.get("contact") or {}, "tz": tz, "answer": answer,
        "answer_next": format_local(answer.get("next_allowed_at"), tz),
        "now_local": format_local(now, tz), "holds": cf.get("holds") or [],
        "promises": promises, "contacts": contacts, "contacts_shown": _SHOWN,
        "transactions": txns[:_SHOWN], "transactions_total": len(txns),
        "statements": list(reversed(account.get("statements") or [])),
        "plans": account.get("plans") or [], "arrangements": account.get("arrangements") or [],
        "other_accounts": cf.get("other_accounts") or [], "agent": cf.get("agent"),
        "planned": cf.get("plan") or [], "events": cf.get("events") or [],
        "business_date": last + timedelta(days=1) if last else None, "last_closed": last,
        "outcomes": OUTCOME_LABELS, "plan_kinds": PLAN_LABELS, "policy": policy,
        "pii_fields": _FIELD_LABELS,
        "can_record": user.can("record_outcome") and case.get("status") == "open",
        "can_offer": user.can("offer_plan") and case.get("status") == "open",
        "can_approve": user.can("approve_plan"), "can_reveal": user.can("reveal_pii"),
        "done": _DONE.get(request.query_params.get("done", "")),
    }


def _case_page(request: Request, session: Session, case_id: str, *, status: int = 200,
               error: str | None = None, error_field: str | None = None,
               form: dict[str, Any] | None = None, revealed: dict[str, str] | None = None,
               agent: tuple[str | None] | None = None) -> Response:
    context = _case_context(request, session, case_id, agent)
    audit_request(request, session.user, "view_case", "case", case_id,
                  {"customer_id": context["case"]["customer_id"]})
    context.update({"error": error, "error_field": error_field, "form": form or {},
                    "revealed": revealed or {}})
    if error:
        context["done"] = None
    return render(request, session, "case.html", context, status=status)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, case_id: str,
              session: Annotated[Session, Depends(current_session)]) -> Response:
    """The case page (404 for a case the user may not see)."""
    user = _case_user(session)
    store = ctx_of(request).store()
    try:
        agent = agent_of(store, case_id)
        check_case_access(user, agent)
        return _case_page(request, session, case_id, agent=(agent,))
    except NotFoundError:  # an unknown case and another agent's case look the same
        raise not_found() from None


def _back(case_id: str, done: str, anchor: str) -> RedirectResponse:
    from urllib.parse import quote

    return RedirectResponse(f"/cases/{quote(case_id, safe='')}?done={done}#{anchor}",
                            status_code=303)


@router.post("/cases/{case_id}/outcome", response_class=HTMLResponse)
def outcome_submit(request: Request, case_id: str,
                   session: Annotated[Session | None, Depends(csrf_protect)],
                   outcome: Annotated[str, Form(max_length=32)] = "",
                   promise_date: Annotated[str, Form(max_length=32)] = "",
                   promise_amount: Annotated[str, Form(max_length=32)] = "",
                   note: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """Record a call's outcome; blocked or invalid: the case page with the reason (409/422)."""
    assert session is not None  # POST: csrf_protect demands a live session
    user = _case_user(session)
    ctx = ctx_of(request)
    store = ctx.store()
    _visible(store, user, case_id)
    need(user, "record_outcome")
    form = {"outcome": outcome, "promise_date": promise_date, "promise_amount": promise_amount,
            "note": note}
    try:
        if outcome not in OUTCOMES:
            raise BadInputError(f"outcome must be one of {', '.join(OUTCOMES)}; got {outcome!r}",
                                field="outcome", value=outcome)
        if len(note) > _MAX_NOTE:
            raise BadInputError(f"note must be at most {_MAX_NOTE} characters; got {len(note)}",
                                field="note", value=len(note))
        when = amount = None
        if outcome == "promise":
            when = parse_day(promise_date, field="promise_date")
            amount = parse_amount(promise_amount, field="promise_amount")
        elif promise_date.strip() or promise_amount.strip():
            raise BadInputError("promise date and amount go with the outcome 'Promise to pay'; "
                                f"got outcome {outcome!r}", field="outcome", value=outcome)
        got = record_outcome(store, case_id, Outcome(outcome, "agent", when, amount, note.strip()),
                             user=user.username, at=ctx.config.now(), profile=ctx.config.profile)
    except ContactBlocked as exc:
        answer = exc.answer
        audit_request(request, user, "record_outcome_blocked", "case", case_id,
                      {"outcome": outcome, "rule": answer.get("rule"),
                       "next_allowed_at": answer.get("next_allowed_at")})
        return _case_page(request, session, case_id, status=409, form=form,
                          error=f"Not recorded: the contact rules do not allow a call now "
                                f"(rule {answer.get('rule')}: {answer.get('reason')}).")
    except BadInputError as exc:
        return _case_page(request, session, case_id, status=422, form=form,
                          error=f"Not recorded: {exc}", error_field=exc.field)
    audit_request(request, user, "record_outcome", "case", case_id,
                  {"outcome": outcome, "channel": "agent",
                   "promise_date": when.isoformat() if when else None,
                   "promise_amount": amount, "note": note.strip(), "hold": got.get("hold")})
    return _back(case_id, "outcome", "contacts")


@router.post("/cases/{case_id}/plan", response_class=HTMLResponse)
def plan_submit(request: Request, case_id: str,
                session: Annotated[Session | None, Depends(csrf_protect)],
                kind: Annotated[str, Form(max_length=32)] = "",
                terms: Annotated[str, Form(max_length=16)] = "",
                months: Annotated[str, Form(max_length=16)] = "",
                amount: Annotated[str, Form(max_length=32)] = "",
                approve: Annotated[str, Form(max_length=8)] = "") -> Response:
    """Offer a hardship plan, payment holiday or settlement; a refusal names the policy rule."""
    assert session is not None
    user = _case_user(session)
    store = ctx_of(request).store()
    _visible(store, user, case_id)
    need(user, "offer_plan")
    form = {"kind": kind, "terms": terms, "months": months, "amount": amount}
    policy = default_arrangement_policy()
    n_terms: int | None = None
    minor: int | None = None
    try:
        if kind not in KINDS:
            raise BadInputError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}",
                                field="kind", value=kind)
        if kind == "hardship_plan":
            h = policy.hardship_plan
            n_terms = parse_int(terms, field="terms", low=h.min_terms, high=h.max_terms)
        elif kind == "payment_holiday":
            p = policy.payment_holiday
            n_terms = parse_int(months, field="months", low=p.min_months, high=p.max_months)
        else:
            minor = parse_amount(amount, field="amount", required=False)
        d = _next_date(store)
        if d is None:
            raise BadInputError("no business date is closed yet", field="case_id", value=case_id)
        approved_by = user.username if approve == "yes" and user.can("approve_plan") else None
        account_id = str(case_row(store, case_id)["account_id"])
        ext = offer(store, account_id, kind, d, terms=n_terms, amount=minor,
                    approved_by=approved_by)
    except ArrangementRefused as exc:
        audit_request(request, user, "offer_plan_refused", "case", case_id,
                      {"kind": kind, "terms": n_terms, "amount": minor, "rule": exc.rule})
        return _case_page(request, session, case_id, status=422, form=form,
                          error=f"Refused by the arrangements policy: {exc}")
    except BadInputError as exc:
        return _case_page(request, session, case_id, status=422, form=form,
                          error=f"Not offered: {exc}", error_field=exc.field)
    audit_request(request, user, "offer_plan", "case", case_id,
                  {"kind": kind, "terms": n_terms, "amount": minor, "external_id": ext,
                   "approved_by": approved_by, "business_date": d.isoformat()})
    return _back(case_id, "plan", "arrangements")


@router.post("/customers/{customer_id}/reveal", response_class=HTMLResponse)
def reveal_submit(request: Request, customer_id: str,
                  session: Annotated[Session | None, Depends(csrf_protect)],
                  case_id: Annotated[str, Form(max_length=64)] = "",
                  field: Annotated[str, Form(max_length=32)] = "",
                  reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """One field of the customer's contact data in clear, with a reason; audited.

    Reached from a case page: the case must be one the user may see and be this
    customer's. The answer is the case page with that one value shown (not cached).
    """
    assert session is not None
    user = _case_user(session)
    store = ctx_of(request).store()
    _visible(store, user, case_id)
    if str(case_row(store, case_id)["customer_id"]) != customer_id:
        raise not_found("customer")
    need(user, "reveal_pii")
    form = {"field": field, "reason": reason}
    try:
        if field not in PII_FIELDS:
            raise BadInputError(f"field must be one of {', '.join(PII_FIELDS)}; got {field!r}",
                                field="field", value=field)
        value = reveal_pii(store, user, customer_id, field, reason, client_of(request))
    except BadInputError as exc:
        return _case_page(request, session, case_id, status=422, form=form,
                          error=f"Not revealed: {exc}", error_field=exc.field)
    except NotFoundError:
        return _case_page(request, session, case_id, status=404, form=form,
                          error="Not revealed: no contact data is on file for this customer.")
    return _case_page(request, session, case_id, revealed={field: value})
