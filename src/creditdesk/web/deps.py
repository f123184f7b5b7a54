"""FastAPI dependencies and handlers: who is asking, may they, and did they mean it (CSRF).

* :func:`current_session` / :func:`current_user` read the ``creditdesk_session`` cookie.
  Without a live session an API path (``/api/...``) answers 401 and a page redirects
  to ``/login?next=...`` (303).
* :func:`require` ("view_cases_all") answers 403 unless the user's role holds it.
* :func:`csrf_protect` guards every unsafe method (POST, PUT, PATCH, DELETE): the
  request must carry the session's CSRF token in the ``X-CSRF-Token`` header or the
  ``csrf_token`` form field (compared in constant time), else 403 and nothing runs.
* :func:`install_security` registers the handlers that turn the errors into answers.

The store comes from ``request.app.state.ctx.store()`` (the thread's store).

Cookies are ``HttpOnly`` (no script reads them), ``SameSite=Strict`` (no other site's
page, link or form makes the browser send them: the console handles personal data
and needs no cross-site entry; the cost is that a link followed from e-mail or chat
shows the sign-in page first), ``Path=/`` and ``Secure`` when served over HTTPS.
``SameSite`` is defence in depth; the CSRF token is the check.

>>> from fastapi import Depends, FastAPI
>>> app = FastAPI()
>>> install_security(app)
>>> @app.get("/api/portfolio")
... def portfolio(user: User = Depends(require("view_portfolio"))) -> dict:
...     return {"user": user.username}
"""

from __future__ import annotations

import hmac
import html
import math
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from creditdesk.errors import NotFoundError
from creditdesk.web.audit import audit
from creditdesk.web.errors import (
    AuthError,
    CsrfError,
    ForbiddenError,
    LoginRequired,
    TooManyAttempts,
)
from creditdesk.web.sessions import SESSION_TTL, Session, session_user
from creditdesk.web.users import PERMISSIONS, User

__all__ = [
    "COOKIE", "CSRF_FIELD", "CSRF_HEADER", "LOGIN_COOKIE", "SAFE_METHODS", "audit_request",
    "check_case_access", "clear_session_cookie", "client_of", "csrf_protect", "current_session",
    "current_user", "install_security", "optional_session", "redact_errors", "require",
    "safe_next", "secure_cookies", "set_session_cookie", "store_of",
]

COOKIE = "creditdesk_session"
#: the pre-session cookie that guards the sign-in form (double submit)
LOGIN_COOKIE = "creditdesk_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_STATE_KEY = "creditdesk_session"
_REDACT = ("password", "secret", "token")


def store_of(request: Request) -> Any:
    """The thread's store: ``request.app.state.ctx.store()``."""
    return request.app.state.ctx.store()


def client_of(request: Request) -> str | None:
    """The client's address as the server sees it (behind a proxy, run uvicorn with
    ``--proxy-headers`` and ``--forwarded-allow-ips`` so this is the real one)."""
    return request.client.host if request.client else None


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _read_session(request: Request) -> Session | None:
    return session_user(store_of(request), request.cookies.get(COOKIE))


async def _load_session(request: Request) -> Session | None:
    """The request's session: from the request (asked before), the worker's short-lived
    cache (no thread hop), else the store (in a worker thread)."""
    if hasattr(request.state, _STATE_KEY):
        cached: Session | None = getattr(request.state, _STATE_KEY)
        return cached
    token = request.cookies.get(COOKIE)
    sessions = request.app.state.ctx.sessions
    session = sessions.get(token)
    if session is None:
        session = await run_in_threadpool(_read_session, request)
        if session is not None and token:
            sessions.put(token, session)
    setattr(request.state, _STATE_KEY, session)
    return session


def _no_session(request: Request) -> Exception:
    if _is_api(request):
        return AuthError("sign in first: no valid session (POST /api/session)")
    path = request.url.path
    if request.url.query:
        path += "?" + request.url.query
    return LoginRequired(next_url=path if request.method == "GET" else "/")


async def optional_session(request: Request) -> Session | None:
    """The live session, or None (for pages that show something to everyone)."""
    return await _load_session(request)


async def current_session(request: Request) -> Session:
    """The live session (with its CSRF token for forms), else 401 / redirect to sign-in.

    The security dependencies are ``async``: run on the event loop they cost no hop to a
    worker thread (FastAPI runs a plain ``def`` dependency in one), and a cached session
    costs no store read either.
    """
    session = await _load_session(request)
    if session is None:
        raise _no_session(request)
    return session


async def current_user(request: Request) -> User:
    """The signed-in user, else 401 (API) or a redirect to ``/login?next=...`` (pages)."""
    return (await current_session(request)).user


def require(permission: str) -> Callable[..., Awaitable[User]]:
    """A dependency returning the signed-in user if their role holds ``permission``, else 403.

    The permission name is checked now, so a typo fails at import, not at request time.
    """
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}; known: {', '.join(PERMISSIONS)}")

    async def dependency(user: User = Depends(current_user)) -> User:
        if not user.can(permission):
            raise ForbiddenError(f"role {user.role!r} may not {permission}")
        return user

    dependency.__name__ = f"require_{permission}"
    return dependency


async def csrf_protect(request: Request) -> Session | None:
    """For unsafe methods: require a session and its CSRF token (header ``X-CSRF-Token`` or
    form field ``csrf_token``); safe methods pass untouched (returns None).

    Use as a route or router dependency; it runs before the handler, so a refused
    request changes nothing.
    """
    if request.method in SAFE_METHODS:
        return None
    session = await _load_session(request)
    if session is None:
        raise _no_session(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent:
        raise CsrfError(f"missing CSRF token: send the session's token in the {CSRF_HEADER} "
                        f"header or the {CSRF_FIELD} form field (GET /api/session gives it)")
    if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
        raise CsrfError("CSRF token does not match this session; reload the page "
                        "or GET /api/session for the current one")
    return session


def check_case_access(user: User, assigned_to: str | None) -> None:
    """Raise ``NotFoundError`` (404, not 403: an agent learns nothing about others' cases)
    unless the user may see every case or the case is assigned to them.

    >>> check_case_access(User("ann", "supervisor"), "bob")
    >>> check_case_access(User("ann", "collections_agent"), "bob")
    Traceback (most recent call last):
    ...
    creditdesk.errors.NotFoundError: no such case
    """
    if user.can("view_cases_all"):
        return
    if user.can("view_own_cases") and assigned_to == user.username:
        return
    raise NotFoundError("no such case")


def secure_cookies(request: Request) -> bool:
    """Whether to mark cookies ``Secure``: when the app is configured so
    (``app.state.secure_cookies`` or ``app.state.ctx.config.secure_cookies``) or the
    request came over HTTPS."""
    state = request.app.state
    setting = getattr(state, "secure_cookies", None)
    if setting is None:
        setting = getattr(getattr(getattr(state, "ctx", None), "config", None),
                          "secure_cookies", None)
    return bool(setting) or request.url.scheme == "https"


def set_session_cookie(response: Response, token: str, secure: bool,
                       max_age: int = int(SESSION_TTL.total_seconds())) -> None:
    """Set the session cookie: HttpOnly, SameSite=Strict, Path=/, Max-Age of the session."""
    response.set_cookie(COOKIE, token, max_age=max_age, path="/", secure=secure,
                        httponly=True, samesite="strict")


def clear_session_cookie(response: Response, secure: bool = False) -> None:
    """Tell the browser to drop the session cookie."""
    response.delete_cookie(COOKIE, path="/", secure=secure, httponly=True, samesite="strict")


def safe_next(value: str | None) -> str:
    """Where to go after sign-in: only a path on this site (no open redirect).

    >>> safe_next("/cases/7?tab=notes"), safe_next("//evil.example/"), safe_next("https://x")
    ('/cases/7?tab=notes', '/', '/')
    """
    if (not value or not value.startswith("/") or value.startswith(("//", "/\\"))
            or any(c in value for c in "\r\n\\")):
        return "/"
    return value


def audit_request(request: Request, user: User | None, action: str, subject_type: str | None,
                  subject_id: str | None, detail: dict[str, Any] | None = None) -> int:
    """:func:`creditdesk.web.audit.audit` with the request's store and client address."""
    return audit(store_of(request), user, action, subject_type, subject_id, detail,
                 client_of(request))


def redact_errors(errors: Any) -> Any:
    """Validation errors with any password-like value replaced by ``"***"``: FastAPI's 422
    echoes the input, and a sign-in form's input is a password.

    >>> redact_errors([{"loc": ["body", "password"], "input": "hunter2hunter2"}])
    [{'loc': ['body', 'password'], 'input': '***'}]
    >>> redact_errors([{"loc": ["body"], "input": "username=ann&password=hunter2hunter2"}])
    [{'loc': ['body'], 'input': '***'}]
    >>> redact_errors([{"loc": ["body", "income"], "input": float("inf")}])
    [{'loc': ['body', 'income'], 'input': 'inf'}]
    """
    def scrub(value: Any, secret: bool = False) -> Any:
        if secret:
            return "***"
        if isinstance(value, (str, bytes)):  # a raw body ("username=...&password=...")
            text = (value if isinstance(value, str) else value.decode(errors="replace")).lower()
            return "***" if any(s in text for s in _REDACT) else value
        if isinstance(value, dict):
            return {k: scrub(v, any(s in str(k).lower() for s in _REDACT))
                    for k, v in value.items()}
        if isinstance(value, list):
            return [scrub(v) for v in value]
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)  # JSON has no NaN or Infinity: echo it as text, not a 500
        return value

    out = []
    for err in errors:
        err = dict(err)
        loc = [str(p).lower() for p in err.get("loc", ())]
        secret = any(s in p for p in loc for s in _REDACT)
        if "input" in err:
            err["input"] = scrub(err["input"], secret)
        if secret and "ctx" in err:
            err.pop("ctx")
        out.append(err)
    return out


def _page(status: int, title: str, message: str) -> HTMLResponse:
    body = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title></head><body><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>"
            "<p><a href='/'>Back to the console</a></p></body></html>")
    return HTMLResponse(body, status_code=status)


def install_security(app: FastAPI) -> None:
    """Register the handlers: ``AuthError`` → 401 JSON, ``ForbiddenError`` (and CSRF) → 403
    (JSON under /api/, a short page elsewhere), ``LoginRequired`` → 303 to
    ``/login?next=...``, ``TooManyAttempts`` → 429 with ``Retry-After``, and request
    validation errors → 422 with password-like inputs redacted."""

    async def on_auth(request: Request, exc: Exception) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=401,
                            headers={"WWW-Authenticate": 'Cookie realm="creditdesk"'})

    async def on_forbidden(request: Request, exc: Exception) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": str(exc)}, status_code=403)
        return _page(403, "Not allowed", str(exc))

    async def on_login(request: Request, exc: Exception) -> Response:
        target = safe_next(exc.next_url if isinstance(exc, LoginRequired) else "/")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    async def on_throttle(request: Request, exc: Exception) -> Response:
        retry = exc.retry_after if isinstance(exc, TooManyAttempts) else 300
        headers = {"Retry-After": str(retry)}
        if _is_api(request):
            return JSONResponse({"detail": str(exc)}, status_code=429, headers=headers)
        resp = _page(429, "Too many attempts", str(exc))
        resp.headers.update(headers)
        return resp

    async def on_validation(request: Request, exc: Exception) -> Response:
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        return JSONResponse({"detail": jsonable_encoder(redact_errors(errors))},
                            status_code=422)

    app.add_exception_handler(AuthError, on_auth)
    app.add_exception_handler(ForbiddenError, on_forbidden)
    app.add_exception_handler(LoginRequired, on_login)
    app.add_exception_handler(TooManyAttempts, on_throttle)
    app.add_exception_handler(RequestValidationError, on_validation)
