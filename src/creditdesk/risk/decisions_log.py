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
needs a new id, and a decision is never silently replaced. The application is scored
first (bad input is refused before anything is written), then inserted with
``INSERT ... ON CONFLICT (application_id) DO NOTHING RETURNING application_id`` (DuckDB and
PostgreSQL alike): an id that was taken, by an earlier request or one racing this one in
another thread or process, is read back and compared. On DuckDB, where one process owns
the file, a lock per file also serialises the writers of this process.

Under load, :class:`DecisionRecorder` commits the decisions of concurrent requests in
groups (one statement, one commit), so the disk's commit time is paid once per group
rather than once per decision; each request still gets its answer only once its row is
committed.

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
import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl

from creditdesk.errors import BadInputError, NotFoundError, StoreError
from creditdesk.risk.realtime import RealtimeScorer

__all__ = ["DECISIONS_KEYS", "DECISIONS_SCHEMA", "DecisionConflict", "DecisionRecorder",
           "Recorded",
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
_INSERT_HEAD = f"INSERT INTO decisions ({', '.join(_COLS)})"
_ROW = f"({', '.join('?' * len(_COLS))})"
_INSERT_TAIL = "ON CONFLICT (application_id) DO NOTHING RETURNING application_id"
_CHUNK = 500  # rows per statement (PostgreSQL takes at most 65,535 parameters)
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


@dataclass
class _Pending:
    """One decision on its way to the table, and what became of it."""

    row: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    result: Recorded | None = None
    error: BaseException | None = None


def _pending(scorer: RealtimeScorer, application_id: str, features: Mapping[str, Any],
             income: int | None, username: str, at: datetime) -> _Pending:
    """Validate and score (raises :class:`BadInputError` before anything is written)."""
    application_id = _check_id(application_id)
    result = scorer.decide(features, income)
    text, digest = canonical_inputs(scorer, features, income)
    return _Pending({
        "application_id": application_id, "decided_at": at.astimezone(UTC),
        "username": username, "model_hash": scorer.model_hash, "model_type": scorer.model_type,
        "pd": result["pd"], "score": result["score"], "band": result["band"],
        "decision": result["decision"], "credit_limit_minor": result["limit"],
        "daily_rate": result["daily_rate"],
        "reasons": json.dumps(result["reasons"], separators=(",", ":")),
        "income_minor": income, "features": text, "inputs_hash": digest})


def _settle(item: _Pending, existing: dict[str, Any] | None) -> None:
    app = item.row["application_id"]
    if existing is None:  # cannot happen: the insert found the id taken
        item.error = AssertionError(f"decision {app!r} neither inserted nor found")
    elif existing["inputs_hash"] != item.row["inputs_hash"]:
        item.error = DecisionConflict(
            f"application {app!r} was already decided on {_iso(existing['decided_at'])} "
            "with other features or income; a decision is never replaced: send the same "
            "inputs to read it again, or decide a new application under a new id",
            field="application_id", value=app)
    else:
        item.result = Recorded(_answer(existing), created=False)


def _write(store: Any, items: list[_Pending]) -> None:
    """Insert a batch in one statement per ``_CHUNK`` rows (one commit each), then settle
    every item: created, the same decision already on record, or a conflict."""
    firsts: dict[str, _Pending] = {}
    for it in items:
        firsts.setdefault(it.row["application_id"], it)
    fresh = list(firsts.values())
    inserted: set[str] = set()
    for lo in range(0, len(fresh), _CHUNK):
        part = fresh[lo:lo + _CHUNK]
        values = ", ".join([_ROW] * len(part))
        params = [it.row[c] for it in part for c in _COLS]
        try:  # the usual case, new ids: a plain insert (DuckDB's ON CONFLICT costs 2x)
            store.execute(f"{_INSERT_HEAD} VALUES {values}", params)
            inserted.update(it.row["application_id"] for it in part)
        except Exception:  # an id taken (or a real fault: the statement below raises it)
            got = store.execute(f"{_INSERT_HEAD} VALUES {values} {_INSERT_TAIL}", params)
            inserted.update(str(r[0]) for r in got)
    rest = [it for it in items
            if not (it.row["application_id"] in inserted and firsts[it.row["application_id"]]
                    is it)]
    existing: dict[str, dict[str, Any]] = {}
    ids = sorted({it.row["application_id"] for it in rest})
    for lo in range(0, len(ids), _CHUNK):
        part = ids[lo:lo + _CHUNK]
        sql = (f"SELECT {', '.join(_COLS)} FROM decisions WHERE application_id IN "
               f"({', '.join('?' * len(part))})")
        for r in store.execute(sql, part):
            existing[str(r[0])] = dict(zip(_COLS, r, strict=True))
    for it in items:
        if it in rest:
            _settle(it, existing.get(it.row["application_id"]))
        else:
            it.result = Recorded(_answer(it.row), created=True)


def _write_locked(store: Any, items: list[_Pending]) -> None:
    lock = _lock(store)
    if lock is None:
        _write(store, items)
        return
    with lock:
        _write(store, items)


def _outcome(item: _Pending) -> Recorded:
    if item.error is not None:
        raise item.error
    assert item.result is not None
    return item.result


def record_decision(store: Any, scorer: RealtimeScorer, application_id: str,
                    features: Mapping[str, Any], income: int | None, *, username: str,
                    at: datetime) -> Recorded:
    """Decide one application and record it, once (see the module docstring).

    Bad input raises :class:`BadInputError` naming the field and nothing is written;
    an id already decided with other inputs raises :class:`DecisionConflict`. Call
    :func:`ensure_decisions_table` once before. For many concurrent requests use a
    :class:`DecisionRecorder`, which commits them in groups.
    """
    item = _pending(scorer, application_id, features, income, username, at)
    _write_locked(store, [item])
    return _outcome(item)


class DecisionRecorder:
    """Decide and record from many threads, committing the decisions in groups.

    Why: a commit waits for the disk (an ``fsync``, 4-20 ms on a shared virtual disk),
    and at a few hundred decisions a second one commit per decision queues them behind
    each other. Here each request scores its application in its own thread, then hands
    the row to one writer thread, which inserts everything waiting in one statement and
    one commit, and wakes each request with its own outcome (created, already on record,
    or a conflict). Nothing is answered before its row is committed, so an answered
    decision is always on record; a quiet server commits each decision on its own, a
    busy one in groups, so the commits keep up with the arrivals.

    ``store`` gives the writer thread its store (called in that thread: a per-thread
    store such as ``Context.store`` fits). One recorder per app and process; on
    PostgreSQL with several processes, ``ON CONFLICT`` keeps one row per id.

    >>> import tempfile
    >>> from creditdesk.risk.realtime import load_scorer
    >>> from creditdesk.store import open_store
    >>> d = tempfile.mkdtemp(); store = open_store(f"duckdb:///{d}/b.duckdb")
    >>> ensure_decisions_table(store)
    >>> recorder = DecisionRecorder(load_scorer(), lambda: store)
    >>> row = dict.fromkeys(recorder.scorer.features, 0)
    >>> at = datetime(2026, 3, 1, tzinfo=UTC)
    >>> recorder.decide("a-1", row, None, username="ana", at=at).created
    True
    >>> recorder.decide("a-1", row, None, username="ana", at=at).created
    False
    >>> recorder.close(); store.close()
    """

    def __init__(self, scorer: RealtimeScorer, store: Callable[[], Any], *,
                 max_batch: int = 1000, timeout: float = 30.0) -> None:
        self.scorer = scorer
        self._store = store
        self._max_batch = max_batch
        self._timeout = timeout
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()
        self.batches = 0  # groups committed (for monitoring and tests)

    def decide(self, application_id: str, features: Mapping[str, Any], income: int | None,
               *, username: str, at: datetime) -> Recorded:
        """:func:`record_decision`, through the writer thread."""
        item = _pending(self.scorer, application_id, features, income, username, at)
        self._ensure_writer()
        self._queue.put(item)
        if not item.done.wait(self._timeout):
            raise StoreError(f"the decision of {item.row['application_id']!r} was not "
                             f"recorded within {self._timeout:g} s; the store is not keeping "
                             "up (retry with the same application_id: it is idempotent)")
        return _outcome(item)

    def _ensure_writer(self) -> None:
        if self._thread is None:
            with self._start:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, daemon=True,
                                                    name="decisions-writer")
                    self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            try:
                _write_locked(self._store(), batch)
                self.batches += 1
            except BaseException as exc:  # every waiting request learns of it
                for it in batch:
                    if it.result is None and it.error is None:
                        it.error = exc
            finally:
                for it in batch:
                    it.done.set()
            if stop:
                return

    def close(self) -> None:
        """Let the writer finish what is queued, then stop it."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=self._timeout)
            self._thread = None


def get_decision(store: Any, application_id: str) -> dict[str, Any]:
    """The recorded decision of ``application_id`` (as first answered), else
    :class:`NotFoundError`."""
    row = _read(store, _check_id(application_id))
    if row is None:
        raise NotFoundError(f"no decision recorded for application {application_id!r}")
    return _answer(row)
