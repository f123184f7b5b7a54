"""Server-side sessions: the cookie holds a random token, the store only its SHA-256.

A stolen copy of the ``sessions`` table therefore yields no usable cookie. Each
session has its own CSRF token (the synchroniser-token pattern): pages put it in a
hidden form field, API clients send it as ``X-CSRF-Token``. A session lasts a fixed
time (8 hours by default, a working shift); sign-out deletes it. The user's role and
``active`` flag are read with every lookup, so a change takes effect at the next
request.

Failed sign-ins are throttled from the audit log itself (``login_failed`` rows), so
the limit holds across every worker process of a PostgreSQL deployment.

>>> import tempfile
>>> from creditdesk.store import open_store
>>> from creditdesk.web.security import add_user, ensure_web_tables
>>> with tempfile.TemporaryDirectory() as d:
...     store = open_store(f"duckdb:///{d}/b.duckdb"); ensure_web_tables(store)
...     user = add_user(store, "li.wei", "auditor", "a long passphrase")
...     token, csrf = create_session(store, user)
...     session_user(store, token).user.username, session_user(store, "forged") is None
('li.wei', True)
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from creditdesk.web.audit import count_recent
from creditdesk.web.errors import TooManyAttempts
from creditdesk.web.users import User

__all__ = [
    "FAILURE_WINDOW",
    "MAX_FAILURES_PER_CLIENT",
    "MAX_FAILURES_PER_USER",
    "SESSIONS_SCHEMA",
    "SESSION_TTL",
    "Session",
    "SessionCache",
    "check_login_throttle",
    "create_session",
    "end_session",
    "session_user",
    "token_hash",
]

SESSION_TTL = timedelta(hours=8)
#: failed sign-ins counted over this window ...
FAILURE_WINDOW = timedelta(minutes=5)
#: ... for one username from one client: a guesser is stopped without letting anyone
#: lock a colleague out from elsewhere
MAX_FAILURES_PER_USER = 10
#: ... from one client over all usernames (a password-spraying run); an office behind one
#: NAT address still has room
MAX_FAILURES_PER_CLIENT = 50

_TS = pl.Datetime("us", "UTC")
SESSIONS_SCHEMA: dict[str, Any] = {
    "token_hash": pl.String, "username": pl.String, "csrf_token": pl.String,
    "created_at": _TS, "expires_at": _TS,
}


@dataclass(frozen=True)
class Session:
    """A live session: who, its CSRF token, and when it ends."""

    token_hash: str
    user: User
    csrf_token: str
    created_at: datetime
    expires_at: datetime


def token_hash(token: str) -> str:
    """What the store keeps of a session token: its SHA-256, hex.

    The token has 256 random bits, so an unsalted fast hash is enough (there is
    nothing to guess); it only stops a read of the table from becoming a login.

    >>> token_hash("abc")[:16]
    'ba7816bf8f01cfea'
    """
    return hashlib.sha256(token.encode()).hexdigest()


def create_session(store: Any, user: User, ttl: timedelta = SESSION_TTL) -> tuple[str, str]:
    """Start a session for ``user``: returns ``(token, csrf_token)``; only the token's hash
    is stored. Expired sessions of everyone are swept out on the way."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with store.transaction():
        store.execute("DELETE FROM sessions WHERE expires_at <= ?", [now])
        store.execute("INSERT INTO sessions (token_hash, username, csrf_token, created_at, "
                      "expires_at) VALUES (?, ?, ?, ?, ?)",
                      [token_hash(token), user.username, csrf, now, now + ttl])
    return token, csrf


def session_user(store: Any, token: str | None) -> Session | None:
    """The live session for a cookie's ``token``: None if unknown, expired, or its user is
    gone or inactive."""
    if not token or len(token) > 200:
        return None
    rows = store.execute(
        "SELECT s.token_hash, s.csrf_token, s.created_at, s.expires_at, u.username, u.role, "
        "u.display_name, u.active, u.created_at FROM sessions s JOIN users u "
        "ON u.username = s.username WHERE s.token_hash = ?", [token_hash(token)])
    if not rows:
        return None
    th, csrf, created, expires, username, role, display, active, user_created = rows[0]
    if not isinstance(expires, datetime) or expires <= datetime.now(UTC) or not active:
        return None
    user = User(str(username), str(role), None if display is None else str(display),
                bool(active), user_created if isinstance(user_created, datetime) else None)
    assert isinstance(created, datetime)
    return Session(str(th), user, str(csrf), created, expires)


class SessionCache:
    """Sessions read from the store in the last ``ttl`` seconds, by token hash.

    Why: every request of a signed-in user needs its session; reading it costs a store
    round trip and a hop to a worker thread (measured: the largest single cost of a
    real-time decision besides the commit). A hit is answered on the event loop. What it
    costs: a session ended or a user deactivated *in another process* (another worker, or
    ``creditdesk user`` on the command line) keeps working here for at most ``ttl``
    seconds; in this process sign-out forgets the session at once and a user change
    clears the cache. Only live sessions are kept (an unknown token is never cached, so
    guessing cannot fill it), a session past its ``expires_at`` is never answered, and
    the cache holds at most ``size`` entries.

    >>> from datetime import datetime, timedelta, UTC
    >>> now = datetime.now(UTC)
    >>> s = Session("h", User("ann", "supervisor"), "csrf", now, now + timedelta(hours=1))
    >>> cache = SessionCache(ttl=2.0)
    >>> cache.put("tok", s); cache.get("tok") is s, cache.get("other")
    (True, None)
    >>> cache.forget("tok"); cache.get("tok") is None
    True
    """

    def __init__(self, ttl: float = 2.0, size: int = 10_000) -> None:
        self.ttl = float(ttl)
        self.size = int(size)
        self._entries: dict[str, tuple[float, Session]] = {}

    def get(self, token: str | None) -> Session | None:
        """The cached live session of ``token``, or None (ask the store)."""
        if not token or self.ttl <= 0:
            return None
        hit = self._entries.get(token_hash(token))
        if hit is None:
            return None
        read_at, session = hit
        if time.monotonic() - read_at > self.ttl or session.expires_at <= datetime.now(UTC):
            self._entries.pop(session.token_hash, None)
            return None
        return session

    def put(self, token: str, session: Session) -> None:
        """Remember a live session just read from the store."""
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.size:
            self._entries.clear()
        self._entries[token_hash(token)] = (time.monotonic(), session)

    def forget(self, token: str | None) -> None:
        """Drop ``token``'s session (signed out)."""
        if token:
            self._entries.pop(token_hash(token), None)

    def clear(self) -> None:
        """Drop every session (a user was changed)."""
        self._entries.clear()


def end_session(store: Any, token: str | None) -> None:
    """Delete the session of ``token`` (nothing happens if there is none)."""
    if token:
        store.execute("DELETE FROM sessions WHERE token_hash = ?", [token_hash(token)])


def check_login_throttle(store: Any, username: str, client: str | None) -> None:
    """Raise ``TooManyAttempts`` when recent ``login_failed`` rows for this username from this
    client, or from this client at all, reach the limits above."""
    since = datetime.now(UTC) - FAILURE_WINDOW
    retry = int(FAILURE_WINDOW.total_seconds())
    if count_recent(store, "login_failed", since, subject_id=username,
                    client=client) >= MAX_FAILURES_PER_USER:
        raise TooManyAttempts("too many failed sign-ins for this username; try again in "
                              f"{retry // 60} minutes", retry_after=retry)
    if client is not None and count_recent(store, "login_failed", since,
                                           client=client) >= MAX_FAILURES_PER_CLIENT:
        raise TooManyAttempts("too many failed sign-ins from this address; try again in "
                              f"{retry // 60} minutes", retry_after=retry)
