"""Routes for signing in and out, reading the audit log, and managing users.

* ``auth_router``: ``POST/GET/DELETE /api/session`` (JSON) and the pages ``GET /login``,
  ``POST /login``, ``POST /logout``.
* ``audit_router``: ``GET /api/audit`` and ``GET /api/audit/verify`` (read_audit). There is
  no route that changes or deletes an audit row.
* ``users_router``: ``GET /api/users`` (view_users) and ``POST /api/users`` (manage_users).

The sign-in form has no session yet to carry a CSRF token, so ``GET /login`` sets a
random pre-session token in a ``SameSite=Strict`` HttpOnly cookie and in the form;
``POST /login`` wants both, equal (double submit). Another site can neither read the
cookie nor make the browser send it, so it cannot sign a victim into the attacker's
account (login CSRF). An Origin/Referer check was not chosen: proxies and privacy
settings strip those headers, and a missing header would have to be let through.
``POST /api/session`` takes JSON only: a cross-site form cannot send
``application/json`` without a CORS preflight, which the app does not grant.

Every sign-in, failed sign-in, sign-out, audit read and user change is audited.
Failed sign-ins are throttled (:func:`creditdesk.web.sessions.check_login_throttle`).

>>> from fastapi import FastAPI
>>> from creditdesk.web.deps import install_security
>>> app = FastAPI(); install_security(app)
>>> for r in (auth_router, audit_router, users_router): app.include_router(r)
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from creditdesk.errors import BadInputError
from creditdesk.web.audit import audit, audit_head, read_audit, verify_audit_chain
from creditdesk.web.deps import (
    COOKIE,
    LOGIN_COOKIE,
    audit_request,
    clear_session_cookie,
    client_of,
    csrf_protect,
    current_session,
    optional_session,
    require,
    safe_next,
    secure_cookies,
    set_session_cookie,
    store_of,
)
from creditdesk.web.errors import AuthError, TooManyAttempts
from creditdesk.web.sessions import (
    Session,
    check_login_throttle,
    create_session,
    end_session,
    session_user,
)
from creditdesk.web.users import (
    USERNAME_PATTERN,
    User,
    add_user,
    authenticate,
    get_user,
    list_users,
    permissions_of,
)

__all__ = ["LOGIN_HEADERS", "TEMPLATES", "audit_router", "auth_router", "sign_in", "users_router"]

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
_LOGIN_MAX_AGE = 3600
#: the sign-in page's headers: never cached, never framed (clickjacking a password form),
#: scripts and styles from this server only (plus the page's own <style>), posts only here
LOGIN_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; "
                               "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                               "object-src 'none'; base-uri 'none'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

auth_router = APIRouter(tags=["session"])
audit_router = APIRouter(prefix="/api/audit", tags=["audit"])
users_router = APIRouter(prefix="/api/users", tags=["users"])


class LoginBody(BaseModel):
    """``POST /api/session``: the credentials."""

    username: str = Field(description="the user's name", max_length=200)
    password: str = Field(description="the user's password (never stored, logged or echoed)")


class SessionOut(BaseModel):
    """Who is signed in, the CSRF token to send with unsafe requests, and what they may do."""

    username: str
    role: str
    display_name: str | None
    csrf_token: str
    expires_at: datetime
    permissions: list[str]


class NewUser(BaseModel):
    """``POST /api/users``: the new user's name, role, initial password and display name."""

    username: str = Field(description="3-32 characters of a-z, 0-9, '_', '.', '-'")
    role: str = Field(description="admin, risk_analyst, collections_agent, supervisor or "
                                  "auditor")
    password: str = Field(description="at least 12 characters")
    display_name: str | None = Field(default=None, description="shown in the console")


class UserOut(BaseModel):
    """A user as the API shows it (never the password hash)."""

    username: str
    role: str
    display_name: str | None
    active: bool
    created_at: datetime | None


def _session_out(user: User, csrf: str, expires_at: datetime) -> SessionOut:
    return SessionOut(username=user.username, role=user.role, display_name=user.display_name,
                      csrf_token=csrf, expires_at=expires_at,
                      permissions=permissions_of(user.role))


def sign_in(request: Request, username: str, password: str) -> tuple[Session, str]:
    """Throttle, authenticate and start a session: ``(session, token)``.

    Audits ``login`` or ``login_failed`` (the username tried, never the password;
    a username that cannot exist, perhaps a password typed in the wrong box, is
    recorded as ``(invalid)``). Ends the session the browser already had, so a
    planted session token is never promoted (session fixation).
    """
    store = store_of(request)
    client = client_of(request)
    tried = username if USERNAME_PATTERN.fullmatch(username or "") else "(invalid)"
    try:
        check_login_throttle(store, tried, client)
    except TooManyAttempts:
        audit(store, None, "login_throttled", "user", tried, {}, client)
        raise
    try:
        user = authenticate(store, username, password)
    except AuthError:
        audit(store, None, "login_failed", "user", tried, {"reason": "bad_credentials"}, client)
        raise
    end_session(store, request.cookies.get(COOKIE))
    request.app.state.ctx.sessions.forget(request.cookies.get(COOKIE))
    token, _csrf = create_session(store, user)
    session = session_user(store, token)
    if session is None:  # pragma: no cover - created a moment ago
        raise AuthError("the session could not be started")
    audit(store, user, "login", "user", user.username, {}, client)
    return session, token


# ---- JSON API -------------------------------------------------------------------------

@auth_router.post("/api/session", response_model=SessionOut,
                  responses={401: {"description": "bad username or password"},
                             429: {"description": "too many failed sign-ins"}})
def api_login(body: LoginBody, request: Request, response: Response) -> SessionOut:
    """Sign in: sets the session cookie and returns the CSRF token for unsafe requests."""
    session, token = sign_in(request, body.username, body.password)
    set_session_cookie(response, token, secure_cookies(request))
    return _session_out(session.user, session.csrf_token, session.expires_at)


@auth_router.get("/api/session", response_model=SessionOut,
                 responses={401: {"description": "not signed in"}})
def api_whoami(session: Session = Depends(current_session)) -> SessionOut:
    """The signed-in user, the session's CSRF token and the role's permissions."""
    return _session_out(session.user, session.csrf_token, session.expires_at)


@auth_router.delete("/api/session", status_code=204,
                    responses={401: {"description": "not signed in"},
                               403: {"description": "missing or wrong CSRF token"}})
def api_logout(request: Request, response: Response,
               session: Session | None = Depends(csrf_protect)) -> Response:
    """Sign out: the session is deleted and the cookie cleared."""
    assert session is not None  # DELETE is unsafe: csrf_protect demands a session
    end_session(store_of(request), request.cookies.get(COOKIE))
    request.app.state.ctx.sessions.forget(request.cookies.get(COOKIE))
    audit_request(request, session.user, "logout", "user", session.user.username)
    out = Response(status_code=204)
    clear_session_cookie(out, secure_cookies(request))
    return out


# ---- pages ------------------------------------------------------------------------------

def _login_page(request: Request, token: str, *, next_url: str, status: int = 200,
                error: str | None = None, username: str | None = None) -> HTMLResponse:
    resp = TEMPLATES.TemplateResponse(
        request, "login.html",
        {"csrf_token": token, "next": next_url, "error": error, "username": username},
        status_code=status)
    resp.set_cookie(LOGIN_COOKIE, token, max_age=_LOGIN_MAX_AGE, path="/login",
                    secure=secure_cookies(request), httponly=True, samesite="strict")
    resp.headers.update(LOGIN_HEADERS)
    return resp


def _login_token(request: Request) -> str:
    existing = request.cookies.get(LOGIN_COOKIE)
    if existing and 20 <= len(existing) <= 100:
        return existing  # keep it, so two open sign-in tabs both work
    return secrets.token_urlsafe(32)


@auth_router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_form(request: Request, next: str = "/",
               session: Session | None = Depends(optional_session)) -> Response:
    """The sign-in page (already signed in: straight on to ``next``)."""
    target = safe_next(next)
    if session is not None:
        return RedirectResponse(target, status_code=303)
    return _login_page(request, _login_token(request), next_url=target)


@auth_router.post("/login", response_class=HTMLResponse, include_in_schema=False)
def login_submit(request: Request, username: Annotated[str, Form()] = "",
                 password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/",
                 csrf_token: Annotated[str, Form()] = "") -> Response:
    """Check the pre-session token, then sign in and go on to ``next`` (303)."""
    target = safe_next(next)
    cookie = request.cookies.get(LOGIN_COOKIE) or ""
    if not cookie or not csrf_token or not hmac.compare_digest(cookie.encode(),
                                                                csrf_token.encode()):
        return _login_page(request, secrets.token_urlsafe(32), next_url=target, status=403,
                           error="The sign-in form expired. Please try again.")
    try:
        _session, token = sign_in(request, username, password)
    except TooManyAttempts as exc:
        page = _login_page(request, cookie, next_url=target, status=429, error=str(exc),
                           username=username)
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    except AuthError:
        return _login_page(request, cookie, next_url=target, status=401,
                           error="Wrong username or password.", username=username)
    resp = RedirectResponse(target, status_code=303)
    set_session_cookie(resp, token, secure_cookies(request))
    resp.delete_cookie(LOGIN_COOKIE, path="/login")
    return resp


@auth_router.post("/logout", include_in_schema=False)
def logout_submit(request: Request,
                  session: Session | None = Depends(csrf_protect)) -> Response:
    """Sign out from a page's form (carries ``csrf_token``); back to the sign-in page."""
    assert session is not None
    end_session(store_of(request), request.cookies.get(COOKIE))
    request.app.state.ctx.sessions.forget(request.cookies.get(COOKIE))
    audit_request(request, session.user, "logout", "user", session.user.username)
    resp = RedirectResponse("/login", status_code=303)
    clear_session_cookie(resp, secure_cookies(request))
    return resp


# ---- audit log (read only) --------------------------------------------------------------

@audit_router.get("", responses={403: {"description": "role may not read the audit log"}})
def api_read_audit(
    request: Request,
    user: User = Depends(require("read_audit")),
    username: str | None = Query(None, description="who acted"),
    subject_id: str | None = Query(None, description="the customer, case or user acted on"),
    action: str | None = Query(None, description="e.g. view_customer, reveal_pii, login_failed"),
    since: datetime | None = Query(None, description="from this time (ISO 8601; UTC if naive)"),
    limit: int = Query(200, ge=1, le=1000, description="newest rows first, at most this many"),
) -> list[dict[str, Any]]:
    """Audit rows, newest first. Reading the log is itself audited."""
    rows = read_audit(store_of(request), username=username, subject_id=subject_id,
                      since=since, limit=limit, action=action)
    filters = {k: v for k, v in (("username", username), ("subject_id", subject_id),
                                 ("action", action), ("since", since)) if v is not None}
    audit_request(request, user, "read_audit", "audit_log", None,
                  {"filters": filters, "rows": len(rows)})
    return rows


@audit_router.get("/verify", responses={403: {"description": "role may not read the audit log"}})
def api_verify_audit(request: Request,
                     user: User = Depends(require("read_audit"))) -> dict[str, Any]:
    """Check the hash chain: ``ok``, the first bad ``seq``, and the head to keep elsewhere."""
    store = store_of(request)
    ok, bad = verify_audit_chain(store)
    seq, digest = audit_head(store)
    audit_request(request, user, "verify_audit", "audit_log", None,
                  {"ok": ok, "first_bad_seq": bad})
    return {"ok": ok, "first_bad_seq": bad, "head_seq": seq, "head_hash": digest}


# ---- users ------------------------------------------------------------------------------

@users_router.get("", response_model=list[UserOut],
                  responses={403: {"description": "role may not list users"}})
def api_list_users(request: Request,
                   user: User = Depends(require("view_users"))) -> list[UserOut]:
    """Every console user (no password hashes)."""
    return [UserOut(**u.as_dict()) for u in list_users(store_of(request))]


@users_router.post("", response_model=UserOut, status_code=201,
                   dependencies=[Depends(csrf_protect)],
                   responses={403: {"description": "no CSRF token, or not an admin"},
                              409: {"description": "username taken"},
                              422: {"description": "a field is not acceptable"}})
def api_add_user(body: NewUser, request: Request,
                 user: User = Depends(require("manage_users"))) -> UserOut:
    """Create a user (admin). Audited as ``user_add`` with the role, never the password."""
    store = store_of(request)
    if get_user(store, body.username) is not None:
        raise HTTPException(409, detail=f"username {body.username!r} is taken")
    try:
        new = add_user(store, body.username, body.role, body.password, body.display_name)
    except BadInputError as exc:
        err: dict[str, Any] = {"loc": ["body", exc.field or "body"], "msg": str(exc),
                               "type": "value_error"}
        if exc.field != "password" and exc.value is not None:
            err["input"] = exc.value
        raise HTTPException(422, detail=[err]) from None
    audit_request(request, user, "user_add", "user", new.username,
                  {"role": new.role, "display_name": new.display_name})
    return UserOut(**new.as_dict())
