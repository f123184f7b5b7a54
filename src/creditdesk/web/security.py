"""The console's security core in one import: roles and permissions, users and passwords,
sessions, the audit log, and the tables they live in.

The parts live in :mod:`creditdesk.web.users`, :mod:`creditdesk.web.sessions` and
:mod:`creditdesk.web.audit` (store I/O, no FastAPI); the FastAPI dependencies are in
:mod:`creditdesk.web.deps` and the routes in :mod:`creditdesk.web.auth_routes`. This
module adds :data:`WEB_TABLES` and :func:`ensure_web_tables` and re-exports the rest.

>>> import tempfile
>>> from creditdesk.store import open_store
>>> with tempfile.TemporaryDirectory() as d:
...     store = open_store(f"duckdb:///{d}/b.duckdb")
...     ensure_web_tables(store); ensure_web_tables(store)  # idempotent
...     sorted(WEB_TABLES)
['audit_log', 'sessions', 'users']
"""

from __future__ import annotations

from typing import Any

from creditdesk.web.audit import (
    AUDIT_SCHEMA,
    GENESIS_HASH,
    audit,
    audit_head,
    read_audit,
    row_hash,
    verify_audit_chain,
)
from creditdesk.web.errors import (
    AuthError,
    CsrfError,
    ForbiddenError,
    LoginRequired,
    TooManyAttempts,
)
from creditdesk.web.sessions import (
    SESSION_TTL,
    SESSIONS_SCHEMA,
    Session,
    check_login_throttle,
    create_session,
    end_session,
    session_user,
    token_hash,
)
from creditdesk.web.users import (
    PERMISSIONS,
    ROLES,
    USERS_SCHEMA,
    User,
    add_user,
    allowed,
    authenticate,
    check_password_policy,
    check_username,
    get_user,
    hash_password,
    list_users,
    permissions_of,
    verify_password,
)

__all__ = [
    "GENESIS_HASH", "PERMISSIONS", "ROLES", "SESSION_TTL", "WEB_KEYS", "WEB_TABLES", "AuthError",
    "CsrfError", "ForbiddenError", "LoginRequired", "Session", "TooManyAttempts", "User",
    "add_user", "allowed", "audit", "audit_head", "authenticate", "check_login_throttle",
    "check_password_policy", "check_username", "create_session", "end_session",
    "ensure_web_tables", "get_user", "hash_password", "list_users", "permissions_of",
    "read_audit", "row_hash", "session_user", "token_hash", "verify_audit_chain",
    "verify_password",
]

#: the console's tables, ``{name: {column: polars type}}`` for ``Store.ensure_tables``
WEB_TABLES: dict[str, dict[str, Any]] = {
    "users": USERS_SCHEMA,
    "sessions": SESSIONS_SCHEMA,
    "audit_log": AUDIT_SCHEMA,
}
WEB_KEYS: dict[str, tuple[str, ...]] = {
    "users": ("username",), "sessions": ("token_hash",), "audit_log": ("seq",),
}

#: PostgreSQL: refuse any change to an audit row, from the app or from a SQL session (only
#: the table's owner dropping the trigger gets past it; the hash chain still shows that).
#: No ``%`` or ``?`` in these statements: the store passes them through its placeholder
#: translation untouched.
_PG_IMMUTABLE = (
    "CREATE OR REPLACE FUNCTION creditdesk_audit_log_append_only() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION USING MESSAGE = "
    "'audit_log is append-only: ' || TG_OP || ' refused'; END $$",
    "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION creditdesk_audit_log_append_only()",
    "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION creditdesk_audit_log_append_only()",
)


_PG_TRIGGER_LOCK = 7_305_011_875


def ensure_web_tables(store: Any) -> None:
    """Create ``users``, ``sessions`` and ``audit_log`` if missing (and, on PostgreSQL, the
    trigger that makes ``audit_log`` append-only). Safe to call at every start."""
    with store.transaction():
        store.ensure_tables(WEB_TABLES, keys=WEB_KEYS)
        if getattr(store, "dialect", "") == "postgres":
            # several workers start at once: one installs, the others find it installed
            store.execute(f"SELECT pg_advisory_xact_lock({_PG_TRIGGER_LOCK})")
            have = store.execute("SELECT count(*) FROM pg_trigger WHERE tgrelid = "
                                 "'audit_log'::regclass AND tgname IN "
                                 "('audit_log_append_only', 'audit_log_no_truncate')")
            if int(have[0][0]) < 2:
                for sql in _PG_IMMUTABLE:
                    store.execute(sql)
