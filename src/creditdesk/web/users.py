"""Users, roles and what each role may do; password hashing and authentication.

The permission table is data (:data:`PERMISSIONS`), so a review of "who can do
what" reads one dictionary, and the docs print it (docs/console-security.md). Roles
follow the separation of duties a lender's auditors expect: the admin runs the
system but reads neither cases nor the audit log; the auditor reads everything and
changes nothing; agents work only their own cases.

Passwords are hashed with Argon2id (argon2-cffi's ``PasswordHasher`` defaults,
RFC 9106's low-memory profile); a hash made with older parameters is replaced at
the next successful login. No function here returns, logs or puts a password into
an error message. Store I/O uses portable SQL with ``?`` placeholders only, so the
same code runs on DuckDB and PostgreSQL; this module does not import FastAPI, so
the domain packages (e.g. :mod:`creditdesk.customers.pii`) may use it.

>>> allowed("collections_agent", "record_outcome"), allowed("auditor", "record_outcome")
(True, False)
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import polars as pl
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from creditdesk.errors import BadInputError
from creditdesk.web.errors import AuthError

__all__ = [
    "MIN_PASSWORD", "PERMISSIONS", "ROLES", "USERNAME_PATTERN", "USERS_SCHEMA", "User",
    "add_user", "allowed", "authenticate", "check_password_policy", "check_username",
    "get_user", "hash_password", "list_users", "permissions_of", "verify_password",
]

ROLES: tuple[str, ...] = ("admin", "risk_analyst", "collections_agent", "supervisor", "auditor")

#: permission -> the roles that hold it. Case scope ("own" vs "all") is a permission;
#: an agent's reveal of PII is further limited to the cases it can see (the caller checks
#: :func:`creditdesk.web.deps.check_case_access` first).
PERMISSIONS: dict[str, frozenset[str]] = {
    "view_portfolio": frozenset({"admin", "risk_analyst", "supervisor", "auditor"}),
    "view_cases_all": frozenset({"supervisor", "auditor"}),
    "view_own_cases": frozenset({"collections_agent", "supervisor"}),
    "record_outcome": frozenset({"collections_agent", "supervisor"}),
    "offer_plan": frozenset({"collections_agent", "supervisor"}),
    "approve_plan": frozenset({"supervisor"}),
    "reassign_case": frozenset({"supervisor"}),
    "release_hold": frozenset({"supervisor"}),
    "reveal_pii": frozenset({"collections_agent", "supervisor", "auditor"}),
    "post_transaction": frozenset({"admin"}),
    "run_eod": frozenset({"admin"}),
    "decide": frozenset({"risk_analyst"}),
    "view_strategies": frozenset({"risk_analyst", "supervisor", "auditor"}),
    "edit_strategies": frozenset({"risk_analyst"}),
    "read_audit": frozenset({"auditor"}),
    "view_users": frozenset({"admin", "auditor"}),
    "manage_users": frozenset({"admin"}),
}

USERNAME_PATTERN = re.compile(r"^[a-z][a-z0-9_.-]{2,31}$")
MIN_PASSWORD = 12
#: longer input is refused before hashing (Argon2 pre-hashes any length, but a megabyte
#: password is an attack, not a password)
MAX_PASSWORD = 1024
_MAX_DISPLAY = 100

_TS = pl.Datetime("us", "UTC")
USERS_SCHEMA: dict[str, Any] = {
    "username": pl.String, "role": pl.String, "password_hash": pl.String,
    "display_name": pl.String, "active": pl.Boolean, "created_at": _TS,
}
_USER_COLS = "username, role, display_name, active, created_at"

_HASHER = PasswordHasher()


@dataclass(frozen=True)
class User:
    """A console user as the app sees it: never carries the password hash."""

    username: str
    role: str
    display_name: str | None = None
    active: bool = True
    created_at: datetime | None = None

    def can(self, permission: str) -> bool:
        """Whether this user's role holds ``permission`` (an inactive user holds none)."""
        return self.active and allowed(self.role, permission)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields (``created_at`` as ISO 8601)."""
        return {"username": self.username, "role": self.role,
                "display_name": self.display_name, "active": self.active,
                "created_at": self.created_at.isoformat() if self.created_at else None}


def allowed(role: str, permission: str) -> bool:
    """Whether ``role`` holds ``permission``; an unknown role holds nothing.

    An unknown permission is a programming error (a typo would deny everyone
    silently), so it raises ``KeyError`` naming it.

    >>> allowed("supervisor", "view_cases_all"), allowed("collections_agent", "view_cases_all")
    (True, False)
    >>> allowed("nobody", "read_audit")
    False
    """
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}; known: {', '.join(PERMISSIONS)}")
    return role in PERMISSIONS[permission]


def permissions_of(role: str) -> list[str]:
    """The permissions a role holds, in table order (for ``GET /api/session`` and the docs).

    >>> permissions_of("auditor")[:3]
    ['view_portfolio', 'view_cases_all', 'reveal_pii']
    """
    return [p for p, roles in PERMISSIONS.items() if role in roles]


def hash_password(password: str) -> str:
    """An Argon2id hash (PHC string: algorithm, parameters, salt and digest together).

    >>> h = hash_password("correct horse battery")
    >>> h.startswith("$argon2id$"), verify_password(h, "correct horse battery")
    (True, True)
    """
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; a malformed hash is a mismatch.

    >>> verify_password(hash_password("correct horse battery"), "wrong horse battery")
    False
    """
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # verified against when the username is unknown, so both answers cost one Argon2 run
    return _HASHER.hash(secrets.token_urlsafe(16))


def check_username(username: str) -> str:
    """``username`` if it matches :data:`USERNAME_PATTERN`, else ``BadInputError`` naming it.

    >>> check_username("li.wei")
    'li.wei'
    >>> check_username("Li Wei")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    creditdesk.errors.BadInputError: username must be 3-32 characters ...; got 'Li Wei'
    """
    if not isinstance(username, str) or not USERNAME_PATTERN.fullmatch(username):
        raise BadInputError("username must be 3-32 characters of a-z, 0-9, '_', '.', '-', "
                            f"starting with a letter; got {username!r}", field="username",
                            value=username)
    return username


def check_password_policy(password: str) -> None:
    """Refuse a password shorter than 12 or longer than 1024 characters (NIST SP 800-63B:
    length, no composition rules). The message gives the length, never the password.

    >>> check_password_policy("short")
    Traceback (most recent call last):
    ...
    creditdesk.errors.BadInputError: password must be at least 12 characters long; got 5 characters
    """
    if not isinstance(password, str):
        raise BadInputError("password must be a string", field="password")
    if len(password) < MIN_PASSWORD:
        raise BadInputError(f"password must be at least {MIN_PASSWORD} characters long; "
                            f"got {len(password)} characters", field="password")
    if len(password) > MAX_PASSWORD:
        raise BadInputError(f"password must be at most {MAX_PASSWORD} characters long; "
                            f"got {len(password)} characters", field="password")


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise BadInputError(f"role must be one of {', '.join(ROLES)}; got {role!r}",
                            field="role", value=role)
    return role


def _user(row: tuple[Any, ...]) -> User:
    username, role, display_name, active, created_at = row[:5]
    return User(str(username), str(role), None if display_name is None else str(display_name),
                bool(active), created_at if isinstance(created_at, datetime) else None)


def add_user(store: Any, username: str, role: str, password: str,
             display_name: str | None = None) -> User:
    """Create an active user; the password is stored only as its Argon2id hash.

    Validates the username pattern, the role and the password length; a taken
    username is refused too (``BadInputError`` naming the field and value). Call
    :func:`creditdesk.web.security.ensure_web_tables` once before.

    >>> import tempfile
    >>> from creditdesk.store import open_store
    >>> from creditdesk.web.security import ensure_web_tables
    >>> with tempfile.TemporaryDirectory() as d:
    ...     store = open_store(f"duckdb:///{d}/b.duckdb"); ensure_web_tables(store)
    ...     add_user(store, "li.wei", "auditor", "a long passphrase").role
    'auditor'
    """
    check_username(username)
    _check_role(role)
    check_password_policy(password)
    if display_name is not None:
        display_name = display_name.strip() or None
        if display_name is not None and len(display_name) > _MAX_DISPLAY:
            raise BadInputError(f"display_name must be at most {_MAX_DISPLAY} characters; "
                                f"got {len(display_name)}", field="display_name",
                                value=display_name)
    password_hash = hash_password(password)
    created = datetime.now(UTC)
    with store.transaction():
        if store.execute("SELECT 1 FROM users WHERE username = ?", [username]):
            raise BadInputError(f"username {username!r} is taken", field="username",
                                value=username)
        store.execute("INSERT INTO users (username, role, password_hash, display_name, active, "
                      "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                      [username, role, password_hash, display_name, True, created])
    return User(username, role, display_name, True, created)


def get_user(store: Any, username: str) -> User | None:
    """The user named ``username``, or None."""
    rows = store.execute(f"SELECT {_USER_COLS} FROM users WHERE username = ?", [username])
    return _user(rows[0]) if rows else None


def list_users(store: Any) -> list[User]:
    """Every user, by username."""
    return [_user(r) for r in store.execute(f"SELECT {_USER_COLS} FROM users ORDER BY username")]


def authenticate(store: Any, username: str, password: str) -> User:
    """The active user whose password verifies, else ``AuthError`` (one message for all cases).

    An unknown username is verified against a dummy hash, so it takes as long as a
    wrong password and the answer does not tell which usernames exist. A hash made
    with older Argon2 parameters is replaced by a fresh one.

    >>> import tempfile
    >>> from creditdesk.store import open_store
    >>> from creditdesk.web.security import ensure_web_tables
    >>> with tempfile.TemporaryDirectory() as d:
    ...     store = open_store(f"duckdb:///{d}/b.duckdb"); ensure_web_tables(store)
    ...     _ = add_user(store, "li.wei", "auditor", "a long passphrase")
    ...     authenticate(store, "li.wei", "a long passphrase").username
    'li.wei'
    """
    rows = []
    if isinstance(username, str) and USERNAME_PATTERN.fullmatch(username):
        rows = store.execute(f"SELECT {_USER_COLS}, password_hash FROM users WHERE username = ?",
                             [username])
    if not isinstance(password, str) or len(password) > MAX_PASSWORD:
        password = ""
    if not rows:
        verify_password(_dummy_hash(), password)
        raise AuthError("bad username or password")
    user, stored = _user(rows[0]), str(rows[0][5])
    if not verify_password(stored, password) or not user.active:
        raise AuthError("bad username or password")
    if _HASHER.check_needs_rehash(stored):
        store.execute("UPDATE users SET password_hash = ? WHERE username = ?",
                      [hash_password(password), username])
    return user
