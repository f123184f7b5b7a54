"""The audit trail: every decision, allowed or blocked, appended to ``compliance_audit``.

A regulator's first question after a complaint is "why was this call allowed?". The
answer must be on file for every contact: the decision, the rule, the profile name
and version that decided it, and the request exactly as the checker saw it. The
table is append-only; :class:`AuditLog` has no update or delete, and a decision is
never re-recorded in place.

Writes go through an Ibis backend connection passed in, so the same code serves the
embedded DuckDB store, PostgreSQL and Spark.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import pyarrow as pa
from ibis.common.exceptions import TableNotFound

from creditdesk.compliance.model import Blocked, Decision, ProposedContact
from creditdesk.compliance.profiles import Profile
from creditdesk.errors import StoreError

__all__ = ["AUDIT_SCHEMA", "AUDIT_TABLE", "AuditEntry", "AuditLog"]

AUDIT_TABLE = "compliance_audit"
_TS = dt.Timestamp(timezone="UTC", scale=6)
AUDIT_SCHEMA = ibis.schema({
    "decision_id": dt.String(nullable=False),
    "decided_at": _TS,
    "profile": dt.String(nullable=False),
    "profile_version": dt.String(nullable=False),
    "customer_ref": dt.String(),
    "case_ref": dt.String(),
    "proposed_at": _TS,
    "channel": dt.String(nullable=False),
    "party": dt.String(nullable=False),
    "robot": dt.Boolean(),
    "allowed": dt.Boolean(nullable=False),
    "rule": dt.String(),
    "reason": dt.String(),
    "next_allowed_at": _TS,
    "request": dt.String(nullable=False),
})
_ARROW = pa.schema([
    pa.field(name, pa.timestamp("us", tz="UTC") if typ.is_timestamp()
             else pa.bool_() if typ.is_boolean() else pa.string(), nullable=typ.nullable)
    for name, typ in AUDIT_SCHEMA.items()
])


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AuditEntry:
    """One decision to record: what was proposed, under which profile, and the answer."""

    profile: Profile
    proposed: ProposedContact
    decision: Decision
    request: Mapping[str, Any] | None = None
    customer_ref: str | None = None
    case_ref: str | None = None


def _request_json(entry: AuditEntry) -> str:
    if entry.request is not None:
        payload: Mapping[str, Any] = entry.request
    else:
        p = entry.proposed
        payload = {"proposed": {"ts": p.ts.isoformat(), "channel": p.channel, "party": p.party,
                                "number": p.number, "template": p.template, "robot": p.robot,
                                "opt_out": p.opt_out}}
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str)


class AuditLog:
    """Append-only log of checker decisions in one table of an Ibis backend.

    >>> import ibis
    >>> from datetime import datetime
    >>> from creditdesk.compliance import ProposedContact, CustomerState, check, load_profile
    >>> log = AuditLog(ibis.duckdb.connect())          # in-memory for the example
    >>> cn = load_profile("CN")
    >>> p = ProposedContact(datetime.fromisoformat("2026-03-02T22:00:00+08:00"), "visit")
    >>> _ = log.record(AuditEntry(cn, p, check(p, CustomerState("Asia/Shanghai"), [], cn)))
    >>> row = log.table().execute().iloc[0]
    >>> row["rule"], bool(row["allowed"]), row["profile_version"]
    ('cn.quiet_hours', False, '2026.1')
    """

    def __init__(self, con: Any, table: str = AUDIT_TABLE,
                 clock: Callable[[], datetime] = _utcnow) -> None:
        self._con = con
        self._name = table
        self._clock = clock
        self._ensure_table()

    def _ensure_table(self) -> None:
        try:
            existing = self._con.table(self._name).schema()
        except TableNotFound:
            try:
                self._con.create_table(self._name, schema=AUDIT_SCHEMA)
            except Exception as exc:  # backend-specific failures all mean "unusable store"
                raise StoreError(f"cannot create audit table {self._name!r}: {exc}") from exc
            return
        missing = [n for n in AUDIT_SCHEMA.names if n not in existing.names]
        if missing:
            raise StoreError(f"audit table {self._name!r} lacks columns: {', '.join(missing)}")

    def table(self) -> ibis.Table:
        """The audit table as an Ibis expression, for reports and reviews."""
        return self._con.table(self._name)

    def record(self, entry: AuditEntry) -> str:
        """Append one decision; return its ``decision_id``."""
        return self.record_many([entry])[0]

    def record_many(self, entries: Iterable[AuditEntry]) -> list[str]:
        """Append many decisions in one insert (a planner's batch); return their ids.

        All rows carry the same ``decided_at`` (one clock reading per batch).
        """
        now = self._clock().astimezone(UTC)
        rows: list[dict[str, Any]] = []
        for e in entries:
            d = e.decision
            blocked = isinstance(d, Blocked)
            nxt = d.next_allowed_at if isinstance(d, Blocked) else None
            rows.append({
                "decision_id": str(uuid.uuid4()),
                "decided_at": now,
                "profile": e.profile.name,
                "profile_version": e.profile.version,
                "customer_ref": e.customer_ref,
                "case_ref": e.case_ref,
                "proposed_at": e.proposed.ts.astimezone(UTC),
                "channel": e.proposed.channel,
                "party": e.proposed.party,
                "robot": e.proposed.robot,
                "allowed": not blocked,
                "rule": d.rule_id if isinstance(d, Blocked) else None,
                "reason": d.reason if isinstance(d, Blocked) else None,
                "next_allowed_at": nxt.astimezone(UTC) if nxt is not None else None,
                "request": _request_json(e),
            })
        if not rows:
            return []
        batch = pa.Table.from_pylist(rows, schema=_ARROW)
        try:
            self._con.insert(self._name, batch)
        except Exception as exc:
            raise StoreError(f"cannot write to audit table {self._name!r}: {exc}") from exc
        return [r["decision_id"] for r in rows]
