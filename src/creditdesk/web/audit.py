"""The console's audit log: every view of a customer and every action, hash-chained.

Each row carries ``prev_hash`` (the previous row's ``row_hash``) and ``row_hash``, the
SHA-256 of ``prev_hash`` and the row's own fields in a fixed text form. A row changed,
inserted or deleted outside the app breaks the chain at that row, and
:func:`verify_audit_chain` names it. Deleting the newest rows leaves a shorter but
valid chain: export :func:`audit_head` somewhere else now and then (a daily e-mail, a
ticket) to anchor it.

The app appends only: there is no function here, and no route, that updates or
deletes a row. On PostgreSQL a trigger refuses ``UPDATE``, ``DELETE`` and
``TRUNCATE`` on the table as well (see ``creditdesk.web.security.ensure_web_tables``).

Sequence numbers: two writers must not take the same ``seq``. ``seq`` is the primary
key, so a clash can never be stored; to avoid the clash itself, PostgreSQL takes a
transaction-scoped advisory lock before reading the head, and DuckDB (one process
per file) serialises appends with a lock per file in this process.

>>> import tempfile
>>> from creditdesk.store import open_store
>>> from creditdesk.web.security import ensure_web_tables
>>> with tempfile.TemporaryDirectory() as d:
...     store = open_store(f"duckdb:///{d}/b.duckdb"); ensure_web_tables(store)
...     audit(store, None, "login_failed", "user", "li.wei", {}, "10.0.0.7")
...     verify_audit_chain(store)
1
(True, None)
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime
from typing import Any

import polars as pl

from creditdesk.errors import BadInputError
from creditdesk.web.users import User

__all__ = ["AUDIT_SCHEMA", "GENESIS_HASH", "audit", "audit_head", "count_recent", "read_audit",
           "row_hash", "verify_audit_chain"]

_TS = pl.Datetime("us", "UTC")
AUDIT_SCHEMA: dict[str, Any] = {
    "seq": pl.Int64, "logged_at": _TS, "username": pl.String, "role": pl.String,
    "action": pl.String, "subject_type": pl.String, "subject_id": pl.String,
    "detail": pl.String, "client": pl.String, "prev_hash": pl.String, "row_hash": pl.String,
}
_COLS = list(AUDIT_SCHEMA)
#: the ``prev_hash`` of the first row
GENESIS_HASH = "0" * 64
#: the PostgreSQL advisory lock key serialising appends (any constant bigint of ours)
_PG_LOCK_KEY = 7_305_011_874
_SECRET_KEYS = ("password", "secret", "token")
_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()
_BATCH = 10_000


def _ts_text(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_hash(prev_hash: str, seq: int, at: datetime, username: str | None, role: str | None,
             action: str, subject_type: str | None, subject_id: str | None, detail: str,
             client: str | None) -> str:
    """SHA-256 (hex) of the previous hash and one row's fields, in a fixed JSON form.

    >>> len(row_hash(GENESIS_HASH, 1, datetime(2026, 1, 1, tzinfo=UTC), None, None,
    ...              "login_failed", "user", "li.wei", "{}", None))
    64
    """
    body = json.dumps([prev_hash, seq, _ts_text(at), username, role, action, subject_type,
                       subject_id, detail, client], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def _check_detail(detail: dict[str, Any]) -> str:
    for key in detail:
        if any(s in str(key).lower() for s in _SECRET_KEYS):
            raise BadInputError(f"audit detail must not carry secrets; got key {key!r}",
                                field="detail", value=key)
    return json.dumps(detail, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=str)


def _lock_for(store: Any) -> threading.Lock:
    key = str(getattr(store, "location", id(store)))
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.Lock())


def audit(store: Any, user: User | None, action: str, subject_type: str | None,
          subject_id: str | None, detail: dict[str, Any] | None = None,
          client: str | None = None) -> int:
    """Append one audit row and return its ``seq``.

    ``user`` is who acted (None before sign-in, e.g. ``login_failed``, where
    ``subject_id`` names the username tried). ``detail`` is stored as sorted JSON; a
    key that looks like a secret (password, token) is refused, so a careless caller
    cannot put one on file. Inside an outer ``store.transaction()`` the row commits
    or rolls back with the caller's own writes.
    """
    if not action:
        raise BadInputError("audit action must not be empty", field="action", value=action)
    detail_text = _check_detail(detail or {})
    username = user.username if user else None
    role = user.role if user else None
    subject_id = None if subject_id is None else str(subject_id)
    at = datetime.now(UTC)
    postgres = getattr(store, "dialect", "") == "postgres"
    lock = None if postgres else _lock_for(store)
    if lock:
        lock.acquire()
    try:
        with store.transaction():
            if postgres:
                store.execute(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
            head = store.execute("SELECT seq, row_hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            seq = int(head[0][0]) + 1 if head else 1
            prev = str(head[0][1]) if head else GENESIS_HASH
            digest = row_hash(prev, seq, at, username, role, action, subject_type, subject_id,
                              detail_text, client)
            store.execute(f"INSERT INTO audit_log ({', '.join(_COLS)}) "
                          f"VALUES ({', '.join('?' for _ in _COLS)})",
                          [seq, at, username, role, action, subject_type, subject_id,
                           detail_text, client, prev, digest])
    finally:
        if lock:
            lock.release()
    return seq


def audit_head(store: Any) -> tuple[int, str]:
    """``(seq, row_hash)`` of the newest row (``(0, GENESIS_HASH)`` when empty): keep a copy
    outside the store to detect the newest rows being deleted."""
    head = store.execute("SELECT seq, row_hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    return (int(head[0][0]), str(head[0][1])) if head else (0, GENESIS_HASH)


def read_audit(store: Any, *, username: str | None = None, subject_id: str | None = None,
               since: datetime | None = None, limit: int = 200, action: str | None = None,
               subject_type: str | None = None) -> list[dict[str, Any]]:
    """The newest audit rows first, filtered; ``detail`` decoded to a dict.

    >>> import tempfile
    >>> from creditdesk.store import open_store
    >>> from creditdesk.web.security import ensure_web_tables
    >>> with tempfile.TemporaryDirectory() as d:
    ...     store = open_store(f"duckdb:///{d}/b.duckdb"); ensure_web_tables(store)
    ...     _ = audit(store, None, "login_failed", "user", "li.wei", {"why": "x"}, None)
    ...     [(r["seq"], r["action"], r["detail"]) for r in read_audit(store)]
    [(1, 'login_failed', {'why': 'x'})]
    """
    if not 1 <= limit <= 10_000:
        raise BadInputError(f"limit must be between 1 and 10000; got {limit}", field="limit",
                            value=limit)
    where: list[str] = []
    params: list[object] = []
    for col, value in (("username", username), ("subject_id", subject_id), ("action", action),
                       ("subject_type", subject_type)):
        if value is not None:
            where.append(f"{col} = ?")
            params.append(value)
    if since is not None:
        where.append("logged_at >= ?")
        params.append(since if since.tzinfo else since.replace(tzinfo=UTC))
    sql = (f"SELECT {', '.join(_COLS)} FROM audit_log"
           + (f" WHERE {' AND '.join(where)}" if where else "")
           + f" ORDER BY seq DESC LIMIT {int(limit)}")
    out = []
    for row in store.execute(sql, params):
        rec = dict(zip(_COLS, row, strict=True))
        rec["detail"] = json.loads(str(rec["detail"])) if rec["detail"] else {}
        if isinstance(rec["logged_at"], datetime):
            rec["logged_at"] = rec["logged_at"].astimezone(UTC)
        out.append(rec)
    return out


def count_recent(store: Any, action: str, since: datetime, *, subject_id: str | None = None,
                 client: str | None = None) -> int:
    """How many ``action`` rows since ``since`` (for the failed-login throttle)."""
    sql = "SELECT count(*) FROM audit_log WHERE action = ? AND logged_at >= ?"
    params: list[object] = [action, since]
    if subject_id is not None:
        sql += " AND subject_id = ?"
        params.append(subject_id)
    if client is not None:
        sql += " AND client = ?"
        params.append(client)
    return int(store.execute(sql, params)[0][0])


def verify_audit_chain(store: Any) -> tuple[bool, int | None]:
    """``(True, None)`` if every row's hashes and sequence hold, else ``(False, first bad seq)``.

    Reads the log in batches of 10,000 rows, oldest first. A row edited in place
    fails its own ``row_hash``; a row deleted or inserted breaks the next row's
    ``prev_hash`` or the sequence.
    """
    prev, expected = GENESIS_HASH, 1
    while True:
        rows = store.execute(f"SELECT {', '.join(_COLS)} FROM audit_log WHERE seq >= ? "
                             f"ORDER BY seq LIMIT {_BATCH}", [expected])
        for row in rows:
            r = dict(zip(_COLS, row, strict=True))
            seq = int(r["seq"])
            if seq != expected or r["prev_hash"] != prev:
                return False, expected if seq > expected else seq
            at = r["logged_at"]
            if not isinstance(at, datetime):
                return False, seq
            digest = row_hash(prev, seq, at, r["username"], r["role"], str(r["action"]),
                              r["subject_type"], r["subject_id"], str(r["detail"]), r["client"])
            if digest != r["row_hash"]:
                return False, seq
            prev, expected = digest, seq + 1
        if len(rows) < _BATCH:
            break
    # a row with a seq below 1 cannot come from the app
    low = store.execute("SELECT min(seq) FROM audit_log WHERE seq < 1")
    if low and low[0][0] is not None:
        return False, int(low[0][0])
    return True, None
