"""The JSON form of a check: parse a request, format a decision.

The format is documented in ``docs/compliance.md``. Parsing is strict: an unknown
key is an error (a misspelt ``"hlods"`` must not silently mean "no holds"), every
error names the field path and the value, and nothing is checked or written until
the whole request is valid.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from creditdesk.compliance.errors import ComplianceInputError
from creditdesk.compliance.history import History
from creditdesk.compliance.model import (
    Blocked,
    ContactEvent,
    CustomerState,
    Decision,
    ProposedContact,
)

__all__ = ["CheckRequest", "decision_to_dict", "parse_request", "parse_request_json"]

T = TypeVar("T")

_TOP = {"customer", "history", "proposed", "customer_ref", "case_ref"}
_CUSTOMER = {"timezone", "holds", "restricted_media", "debtor_reachable",
             "third_party_objected", "objected_numbers", "consents"}
_EVENT = {"ts", "channel", "party", "number", "connected", "conversation", "robot"}
_PROPOSED = {"ts", "channel", "party", "number", "template", "robot", "opt_out"}


@dataclass(frozen=True)
class CheckRequest:
    """A parsed, validated request: what :func:`~creditdesk.compliance.check` needs, plus refs."""

    proposed: ProposedContact
    customer: CustomerState
    history: History
    customer_ref: str | None = None
    case_ref: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


def _object(value: object, where: str, keys: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ComplianceInputError.for_field(where or "request", value, "must be a JSON object")
    unknown = sorted(set(value) - keys)
    if unknown:
        name = f"{where}.{unknown[0]}" if where else unknown[0]
        raise ComplianceInputError.for_field(
            name, value[unknown[0]], f"unknown field (known: {', '.join(sorted(keys))})")
    return value


def _ts(value: object, where: str) -> datetime:
    if not isinstance(value, str):
        raise ComplianceInputError.for_field(where, value, "must be an ISO 8601 timestamp string")
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise ComplianceInputError.for_field(where, value, "is not an ISO 8601 timestamp") from None
    if ts.tzinfo is None:
        raise ComplianceInputError.for_field(where, value,
                                             "needs a UTC offset, e.g. +08:00 or Z")
    return ts


def _build(prefix: str, make: Callable[[], T], row: int | None = None) -> T:
    try:
        return make()
    except ComplianceInputError as exc:
        raise exc.with_prefix(prefix, row) from None


def _ref(value: object, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ComplianceInputError.for_field(where, value, "must be a string")


def _event(fields: Mapping[str, Any], ts: datetime) -> ContactEvent:
    return ContactEvent(**{**fields, "ts": ts})


def parse_request(data: object) -> CheckRequest:
    """Validate a decoded JSON request and build the checker's inputs.

    >>> r = parse_request({"customer": {"timezone": "Asia/Shanghai"},
    ...     "proposed": {"ts": "2026-03-02T21:59:59+08:00", "channel": "sms",
    ...                  "number": "13800138000"}})
    >>> r.proposed.channel, len(r.history)
    ('sms', 0)
    >>> try:
    ...     parse_request({"customer": {"timezone": "UTC", "hlods": []}, "proposed": {}})
    ... except ComplianceInputError as exc:
    ...     print(exc)
    customer.hlods: unknown field (known: consents, debtor_reachable, holds, objected_numbers, restricted_media, third_party_objected, timezone) (got [])
    """  # noqa: E501
    top = _object(data, "", _TOP)
    for key in ("customer", "proposed"):
        if key not in top:
            raise ComplianceInputError.for_field(key, None, "is required")
    cust = _object(top["customer"], "customer", _CUSTOMER)
    if "timezone" not in cust:
        raise ComplianceInputError.for_field("customer.timezone", None, "is required")
    customer = _build("customer.", lambda: CustomerState(**cust))

    prop = _object(top["proposed"], "proposed", _PROPOSED)
    for key in ("ts", "channel"):
        if key not in prop:
            raise ComplianceInputError.for_field(f"proposed.{key}", None, "is required")
    pts = _ts(prop["ts"], "proposed.ts")
    proposed = _build("proposed.", lambda: ProposedContact(**{**prop, "ts": pts}))

    raw_history = top.get("history", [])
    if not isinstance(raw_history, list):
        raise ComplianceInputError.for_field("history", raw_history, "must be a JSON list")
    events = []
    for i, item in enumerate(raw_history):
        where = f"history[{i}]"
        ev = _object(item, where, _EVENT)
        for key in ("ts", "channel"):
            if key not in ev:
                raise ComplianceInputError.for_field(f"{where}.{key}", None, "is required", row=i)
        ets = _ts(ev["ts"], f"{where}.ts")
        if ets > pts:
            raise ComplianceInputError.for_field(
                f"{where}.ts", ev["ts"],
                "is after the proposed contact; history holds contacts already made", row=i)
        events.append(_build(f"{where}.", partial(_event, ev, ets), row=i))
    return CheckRequest(proposed, customer, History(events),
                        _ref(top.get("customer_ref"), "customer_ref"),
                        _ref(top.get("case_ref"), "case_ref"), top)


def parse_request_json(text: str) -> CheckRequest:
    """Parse a request from JSON text (the CLI's stdin).

    >>> try:
    ...     parse_request_json("{not json")
    ... except ComplianceInputError as exc:
    ...     print(exc.field)
    request
    """
    if not text.strip():
        raise ComplianceInputError.for_field("request", text, "is empty; expected a JSON object")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise ComplianceInputError.for_field(
            "request", shown, f"is not valid JSON ({exc.msg} at line {exc.lineno} "
            f"column {exc.colno})") from None
    return parse_request(data)


def decision_to_dict(decision: Decision) -> dict[str, Any]:
    """The JSON answer: ``allowed``, ``rule``, ``reason``, ``next_allowed_at`` (ISO or null).

    >>> from creditdesk.compliance.model import Allowed
    >>> decision_to_dict(Allowed())
    {'allowed': True, 'rule': None, 'reason': None, 'next_allowed_at': None}
    """
    if isinstance(decision, Blocked):
        nxt = decision.next_allowed_at
        return {"allowed": False, "rule": decision.rule_id, "reason": decision.reason,
                "next_allowed_at": nxt.isoformat() if nxt is not None else None}
    return {"allowed": True, "rule": None, "reason": None, "next_allowed_at": None}
