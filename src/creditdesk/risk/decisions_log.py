"""The record of real-time credit decisions: one row per application, written once.

Why a table of its own: a lender must be able to say later what it decided for an
application, when, by whom, with which model and why (adverse-action notices, model
risk reviews, complaints). Each row keeps the answer (PD, score, band, decision, limit,
daily rate, reason codes), the model's hash and type, the user, and the inputs the
model read, so the decision can be reproduced with the same model folder.

Idempotency: ``application_id`` is the primary key. Asking again for an application
already decided returns the first decision unchanged and writes nothing, so a client
may retry a request whose answer it never received. Asking again with *different*
inputs (features or income) is refused (:class:`DecisionConflict`): a new application
needs a new id, and a decision is never silently replaced. Two requests racing for one
id cannot both write: the insert is ``INSERT ... ON CONFLICT DO NOTHING`` (DuckDB and
PostgreSQL alike), and the loser reads the winner's row; on DuckDB, where one process
owns the file, a lock per file also serialises the check and the insert.

The inputs are compared in a canonical form: the model's features only (columns the
model ignores are neither compared nor stored), numbers as floats (``2`` equals
``2.0``), a NaN as null.

>>> import tempfile
>>> from datetime import UTC, datetime
>>> from creditdesk.datasets import taiwan_credit_default
>>> from creditdesk.risk.realtime import load_scorer
>>> from creditdesk.store import open_store
>>> scorer = load_scorer()
>>> row = taiwan_credit_default().drop(columns=["class"]).iloc[2].to_dict()
>>> at = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
>>> with tempfile.TemporaryDirectory() as d:
...     store = open_store(f"duckdb:///{d}/b.duckdb"); ensure_decisions_table(store)
...     first = record_decision(store, scorer, "app-1", row, 2_500_000, username="ana", at=at)
...     again = record_decision(store, scorer, "app-1", row, 2_500_000, username="bo", at=at)
...     store.close()
>>> first.created, again.created, again.answer == first.answer
(True, False, True)
>>> first.answer["decision"], first.answer["limit"], first.answer["decided_by"]
('approve', 4500000, 'ana')
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl

from creditdesk.errors import BadInputError, NotFoundError
from creditdesk.risk.realtime import RealtimeScorer

__all__ = ["DECISIONS_KEYS", "DECISIONS_SCHEMA", "DecisionConflict", "Recorded",
           "canonical_inputs", "ensure_decisions_table", "get_decision", "record_decision"]

_TS = pl.Datetime("us", "UTC")
#: the ``decisions`` table, ``{column: polars type}`` for ``Store.ensure_tables``
DECISIONS_SCHEMA: dict[str, Any] = {
    "application_id": pl.String, "decided_at": _TS, "username": pl.String,
    "model_hash": pl.String, "model_type": pl.String, "pd": pl.Float64, "score": pl.Int64,
    "band": pl.String, "decision": pl.String, "credit_limit_minor": pl.Int64,
    "daily_rate": pl.String, "reasons": pl.String, "income_minor": pl.Int64,
    "features": pl.String, "inputs_hash": pl.String,
}
DECISIONS_KEYS: dict[str, tuple[str, ...]] = {"decisions": ("application_id",)}
_COLS = list(DECISIONS_SCHEMA)
_INSERT = (f"INSERT INTO decisions ({', '.join(_COLS)}) VALUES ({', '.join('?' * len(_COLS))}) "
           "ON CONFLICT (application_id) DO NOTHING RETURNING application_id")
_SELECT = f"SELECT {', '.join(_COLS)} FROM decisions WHERE application_id = ?"
MAX_ID = 128

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


class DecisionConflict(BadInputError):
    """An application id already decided with other inputs; the first decision stands."""


@dataclass(frozen=True)
class Recorded:
    """A decision as answered: ``created`` is False when it was already on record."""

    answer: dict[str, Any]
    created: bool


def ensure_decisions_table(store: Any) -> None:
    """Create the ``decisions`` table if missing (DuckDB or PostgreSQL); safe at every start."""
    store.ensure_tables({"decisions": DECISIONS_SCHEMA}, keys=DECISIONS_KEYS)


def _check_id(application_id: Any) -> str:
    if not isinstance(application_id, str) or not application_id.strip() \
            or len(application_id) > MAX_ID:
        raise BadInputError(f"application_id must be a non-empty string of at most {MAX_ID} "
                            f"characters; got {application_id!r}", field="application_id",
                            value=application_id)
    return application_id


def _plain(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        x = float(value)
        return None if math.isnan(x) else x
    return value


def canonical_inputs(scorer: RealtimeScorer, features: Mapping[str, Any],
                     income: int | None) -> tuple[str, str]:
    """The model's inputs as canonical JSON, and its SHA-256 (hex).

    >>> from creditdesk.risk.realtime import load_scorer
    >>> scorer = load_scorer()
    >>> ints = dict.fromkeys(scorer.features, 0)
    >>> floats = {**dict.fromkeys(scorer.features, 0.0), "ID": 9}  # ID: not a model input
    >>> canonical_inputs(scorer, ints, 5)[1] == canonical_inputs(scorer, floats, 5)[1]
    True
    """
    body = {"features": {f: _plain(features.get(f)) for f in sorted(scorer.features)},
            "income": income}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)
    return text, hashlib.sha256(text.encode()).hexdigest()


def _iso(at: Any) -> str:
    assert isinstance(at, datetime)
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _answer(row: Mapping[str, Any]) -> dict[str, Any]:
    limit = row["credit_limit_minor"]
    return {"application_id": row["application_id"], "decided_at": _iso(row["decided_at"]),
            "decided_by": row["username"], "pd": float(row["pd"]), "score": int(row["score"]),
            "band": row["band"], "decision": row["decision"],
            "limit": None if limit is None else int(limit), "daily_rate": row["daily_rate"],
            "reasons": json.loads(row["reasons"]),
            "model": {"hash": row["model_hash"], "type": row["model_type"]}}


def _read(store: Any, application_id: str) -> dict[str, Any] | None:
    rows = store.execute(_SELECT, [application_id])
    return dict(zip(_COLS, rows[0], strict=True)) if rows else None


def _lock(store: Any) -> threading.Lock | None:
    """DuckDB: one lock per file in this process (the file has no other writer process)."""
    if getattr(store, "dialect", "") != "duckdb":
        return None
    key = str(getattr(store, "location", id(store)))
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.Lock())


def _same_or_conflict(row: dict[str, Any], inputs_hash: str, application_id: str) -> Recorded:
    if row["inputs_hash"] != inputs_hash:
        raise DecisionConflict(
            f"application {application_id!r} was already decided on {_iso(row['decided_at'])} "
            "with other features or income; a decision is never replaced: send the same "
            "inputs to read it again, or decide a new application under a new id",
            field="application_id", value=application_id)
    return Recorded(_answer(row), created=False)


def record_decision(store: Any, scorer: RealtimeScorer, application_id: str,
                    features: Mapping[str, Any], income: int | None, *, username: str,
                    at: datetime) -> Recorded:
    """Decide one application and record it, once (see the module docstring).

    Bad input raises :class:`BadInputError` naming the field and nothing is written;
    an id already decided with other inputs raises :class:`DecisionConflict`. Call
    :func:`ensure_decisions_table` once before.
    """
    application_id = _check_id(application_id)
    lock = _lock(store)
    if lock is not None:
        with lock:
            return _record(store, scorer, application_id, features, income, username, at)
    return _record(store, scorer, application_id, features, income, username, at)


def _record(store: Any, scorer: RealtimeScorer, application_id: str,
            features: Mapping[str, Any], income: int | None, username: str,
            at: datetime) -> Recorded:
    existing = _read(store, application_id)
    if existing is None:
        result = scorer.decide(features, income)  # validates: raises before any write
    text, digest = canonical_inputs(scorer, features, income)
    if existing is not None:
        return _same_or_conflict(existing, digest, application_id)
    row = {"application_id": application_id, "decided_at": at.astimezone(UTC),
           "username": username, "model_hash": scorer.model_hash,
           "model_type": scorer.model_type, "pd": result["pd"], "score": result["score"],
           "band": result["band"], "decision": result["decision"],
           "credit_limit_minor": result["limit"], "daily_rate": result["daily_rate"],
           "reasons": json.dumps(result["reasons"], separators=(",", ":")),
           "income_minor": income, "features": text, "inputs_hash": digest}
    if store.execute(_INSERT, [row[c] for c in _COLS]):
        return Recorded(_answer(row), created=True)
    raced = _read(store, application_id)  # another writer won the race for this id
    assert raced is not None
    return _same_or_conflict(raced, digest, application_id)


def get_decision(store: Any, application_id: str) -> dict[str, Any]:
    """The recorded decision of ``application_id`` (as first answered), else
    :class:`NotFoundError`."""
    row = _read(store, _check_id(application_id))
    if row is None:
        raise NotFoundError(f"no decision recorded for application {application_id!r}")
    return _answer(row)
