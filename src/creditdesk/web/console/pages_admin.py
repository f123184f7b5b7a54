"""``GET /audit`` (auditors: the audit log, filtered, and a check of its hash chain) and
``GET /users`` (admins and auditors: who may sign in, with which role).

Reading the audit log is itself audited, as through the API. There is no page that
changes an audit row; users are added with ``creditdesk user add`` or ``POST /api/users``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from creditdesk.errors import BadInputError
from creditdesk.web.audit import audit_head, read_audit, verify_audit_chain
from creditdesk.web.console.common import ctx_of, need
from creditdesk.web.console.formatting import parse_day
from creditdesk.web.console.render import PageError, render
from creditdesk.web.deps import audit_request, current_session
from creditdesk.web.sessions import Session
from creditdesk.web.users import PERMISSIONS, ROLES, list_users, permissions_of

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, session: Annotated[Session, Depends(current_session)],
               username: Annotated[str, Query(max_length=64)] = "",
               action: Annotated[str, Query(max_length=64)] = "",
               subject_id: Annotated[str, Query(max_length=128)] = "",
               since: Annotated[str, Query(max_length=10)] = "",
               limit: Annotated[int, Query(ge=1, le=1000)] = 200,
               verify: Annotated[bool, Query()] = False) -> Response:
    """The newest audit rows first, filtered by user, action, subject and date."""
    user = session.user
    need(user, "read_audit")
    store = ctx_of(request).store()
    try:
        day = parse_day(since, field="since", required=False)
    except BadInputError as exc:
        raise PageError(422, "Bad filter", str(exc)) from None
    start = datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None
    rows = read_audit(store, username=username or None, action=action or None,
                      subject_id=subject_id or None, since=start, limit=limit)
    for r in rows:
        r["detail_text"] = json.dumps(r["detail"], ensure_ascii=False, sort_keys=True)
    filters = {k: v for k, v in (("username", username), ("action", action),
                                 ("subject_id", subject_id), ("since", since)) if v}
    chain: dict[str, Any] | None = None
    if verify:
        ok, bad = verify_audit_chain(store)
        seq, digest = audit_head(store)
        chain = {"ok": ok, "first_bad_seq": bad, "head_seq": seq, "head_hash": digest}
        audit_request(request, user, "verify_audit", "audit_log", None,
                      {"ok": ok, "first_bad_seq": bad})
    audit_request(request, user, "read_audit", "audit_log", None,
                  {"filters": filters, "rows": len(rows), "page": "console"})
    return render(request, session, "audit.html",
                  {"rows": rows, "filters": {"username": username, "action": action,
                                             "subject_id": subject_id, "since": since},
                   "limit": limit, "chain": chain})


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request,
               session: Annotated[Session, Depends(current_session)]) -> Response:
    """Every console user and the permissions of each role."""
    need(session.user, "view_users")
    users = list_users(ctx_of(request).store())
    return render(request, session, "users.html",
                  {"users": users, "roles": ROLES, "permissions": list(PERMISSIONS),
                   "held": {r: set(permissions_of(r)) for r in ROLES}})
