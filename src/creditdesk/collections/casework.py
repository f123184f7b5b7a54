"""A collector's work on one case: "may I contact now?", recording what happened, holds.

The workbench (web console and API) calls these; they read and write the store through
its portable methods, so they run on DuckDB and PostgreSQL alike.

* :func:`may_contact` asks the one compliance checker about a contact *now* (or at a
  given instant), with the debtor's last eight days of contacts, their holds and
  consents, and answers the blocking rule and the next allowed time.
* :func:`record_outcome` writes a contact the collector made (and a promise to pay, a
  dispute or a hardship claim) — only if the checker allowed that contact at that
  instant, so the workbench cannot be used to log a call the rules forbid. A dispute or
  a hardship claim sets a hold, which stops every contact (and the planner) until a
  supervisor releases it.

Outcomes are the words agents use: ``connected``, ``no_answer``, ``promise``,
``dispute``, ``hardship``, ``wrong_party``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl

from creditdesk.collections.contact_events import CHECKER_CHANNEL, contact_event, debtor_lines
from creditdesk.compliance import ContactEvent, CustomerState, ProposedContact, check, load_profile
from creditdesk.compliance.request import decision_to_dict
from creditdesk.errors import BadInputError, CreditdeskError, NotFoundError
from creditdesk.simulate.tables import SIM_TABLES
from creditdesk.store.base import Store

__all__ = ["HOLDS", "OUTCOMES", "ContactBlocked", "Outcome", "active_holds", "case_row",
           "ensure_casework_tables", "may_contact", "record_outcome", "release_hold"]

OUTCOMES = ("connected", "no_answer", "promise", "dispute", "hardship", "wrong_party")
#: the hold an outcome sets (the checker's hold names)
_OUTCOME_HOLD = {"dispute": "dispute", "hardship": "hardship_review"}
_TS = pl.Datetime("us", "UTC")
HOLDS: dict[str, Any] = {
    "customer_id": pl.String, "account_id": pl.String, "hold": pl.String, "reason": pl.String,
    "set_at": _TS, "set_by": pl.String, "released_at": _TS, "released_by": pl.String,
}
#: channel of the collector's own contacts in ``contacts`` (the twin's word for a human call)
_AGENT_CHANNEL = "agent"
#: the checker's channel for each ``contacts`` channel
_CHECKER_CHANNEL = CHECKER_CHANNEL
#: complaints put a debtor on hold for this many days (as in collect plan)
_COMPLAINT_HOLD_DAYS = 14


class ContactBlocked(CreditdeskError):
    """The checker does not allow the contact now; carries its answer."""

    exit_code = 5

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        nxt = answer.get("next_allowed_at") or "only after a change of state"
        super().__init__(f"contact blocked by rule {answer.get('rule')}: "
                         f"{answer.get('reason')} (next allowed: {nxt})")


@dataclass(frozen=True)
class Outcome:
    """What a collector records after a contact attempt."""

    outcome: str
    channel: str = _AGENT_CHANNEL
    promise_date: date | None = None
    promise_amount: int | None = None
    note: str = ""

    def validate(self, business_date: date) -> None:
        """Refuse anything the books could not hold, naming the field."""
        if self.outcome not in OUTCOMES:
            raise BadInputError(f"outcome must be one of {', '.join(OUTCOMES)}; "
                                f"got {self.outcome!r}", field="outcome", value=self.outcome)
        if self.channel not in _CHECKER_CHANNEL:
            raise BadInputError(f"channel must be one of {', '.join(_CHECKER_CHANNEL)}; "
                                f"got {self.channel!r}", field="channel", value=self.channel)
        if self.outcome != "promise":
            if self.promise_date is not None or self.promise_amount is not None:
                raise BadInputError("promise_date and promise_amount go with outcome "
                                    f"'promise'; got outcome {self.outcome!r}",
                                    field="outcome", value=self.outcome)
            return
        amt = self.promise_amount
        if not isinstance(amt, int) or isinstance(amt, bool) or amt <= 0:
            raise BadInputError("promise_amount must be a positive integer of minor units; "
                                f"got {amt!r}", field="promise_amount", value=amt)
        if self.promise_date is None or self.promise_date < business_date:
            raise BadInputError(f"promise_date must be on or after the business date "
                                f"{business_date.isoformat()}; got {self.promise_date!r}",
                                field="promise_date", value=self.promise_date)
        if self.promise_date > business_date + timedelta(days=31):
            raise BadInputError("promise_date must be within 31 days of the business date; "
                                f"got {self.promise_date.isoformat()}",
                                field="promise_date", value=self.promise_date.isoformat())


def ensure_casework_tables(store: Store) -> None:
    """The holds table and the twin's contact/promise tables (the same history)."""
    store.ensure_tables({"holds": HOLDS, "contacts": SIM_TABLES["contacts"],
                         "promises": SIM_TABLES["promises"]})


def case_row(store: Store, case_id: str) -> dict[str, Any]:
    """The case's row, or :class:`NotFoundError`."""
    if not store.has_table("cases"):
        raise NotFoundError(f"case_id {case_id!r} not found")
    got = store.query("SELECT * FROM cases WHERE case_id = ?", [case_id])
    if got.height == 0:
        raise NotFoundError(f"case_id {case_id!r} not found")
    return got.row(0, named=True)


def active_holds(store: Store, customer_id: str, at: datetime) -> list[dict[str, Any]]:
    """Holds set and not released on the customer, plus a recent complaint's review hold."""
    out: list[dict[str, Any]] = []
    if store.has_table("holds"):
        out = store.query("SELECT * FROM holds WHERE customer_id = ? AND released_at IS NULL "
                          "ORDER BY set_at", [customer_id]).to_dicts()
    if store.has_table("complaints"):
        since = at.date() - timedelta(days=_COMPLAINT_HOLD_DAYS)
        got = store.query("SELECT max(business_date) AS d FROM complaints "
                          "WHERE customer_id = ? AND business_date > ?", [customer_id, since])
        if got.height and got.item(0, 0) is not None:
            out.append({"customer_id": customer_id, "account_id": None,
                        "hold": "complaint_review", "reason": "complaint on "
                        f"{got.item(0, 0).isoformat()}", "set_at": None, "set_by": "system",
                        "released_at": None, "released_by": None})
    return out


def _customer(store: Store, customer_id: str) -> dict[str, Any]:
    got = store.read("customers", "customer_id = ?", [customer_id], few=True)
    if got.height == 0:
        raise NotFoundError(f"customer_id {customer_id!r} is not in the books")
    return got.row(0, named=True)


def _history(store: Store, customer_id: str, at: datetime, number: str) -> list[ContactEvent]:
    if not store.has_table("contacts"):
        return []
    rows = store.query("SELECT contact_ts, channel, outcome FROM contacts WHERE customer_id = ? "
                       "AND allowed AND contact_ts >= ? AND contact_ts <= ? ORDER BY contact_ts",
                       [customer_id, at - timedelta(days=8), at])
    return [contact_event(ts, ch, outcome, number) for ts, ch, outcome in rows.iter_rows()]


def may_contact(store: Store, case_id: str, channel: str, *, at: datetime | None = None,
                profile: str = "CN", party: str = "debtor",
                case: dict[str, Any] | None = None, customer: dict[str, Any] | None = None,
                holds: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The checker's answer for contacting the case's debtor on ``channel`` at ``at`` (now).

    Keys: ``allowed``, ``rule``, ``reason``, ``next_allowed_at`` (ISO, the customer's
    time zone; null when only a change of state would allow it), ``profile``, ``at``,
    ``holds``. A caller that has just read the case row, the customer row or the
    customer's :func:`active_holds` at ``at`` passes them (the case page does) instead of
    having them read again.
    """
    if channel not in _CHECKER_CHANNEL:
        raise BadInputError(f"channel must be one of {', '.join(_CHECKER_CHANNEL)}; "
                            f"got {channel!r}", field="channel", value=channel)
    at = at or datetime.now(UTC)
    if at.tzinfo is None:
        raise BadInputError("at must carry a time zone", field="at", value=at.isoformat())
    case = case if case is not None else case_row(store, case_id)
    cust = customer if customer is not None else _customer(store, case["customer_id"])
    holds = holds if holds is not None else active_holds(store, case["customer_id"], at)
    consents = [m for m in ("voice", "sms", "push", "email") if cust.get(f"consent_{m}")]
    who = CustomerState(cust["timezone"], holds=frozenset(h["hold"] for h in holds),
                        consents=frozenset(consents))
    number = debtor_lines(store, [case["customer_id"]])[case["customer_id"]]
    cch = _CHECKER_CHANNEL[channel]
    proposed = ProposedContact(at, cch, party=party,
                               number=number if cch in ("voice", "sms") else None,
                               robot=channel == "robot", opt_out=cch in ("sms", "email"))
    prof = load_profile(profile)
    answer = decision_to_dict(check(proposed, who, _history(store, case["customer_id"], at,
                                                            number), prof))
    answer.update(profile=prof.name, at=at.isoformat(), holds=holds)
    return answer


def record_outcome(store: Store, case_id: str, outcome: Outcome, *, user: str,
                   at: datetime | None = None, profile: str = "CN") -> dict[str, Any]:
    """Write one contact the collector made (if the checker allows it at ``at``).

    The contact goes to ``contacts`` (channel ``agent`` for a call), a promise to
    ``promises`` (judged later against the books by
    :mod:`~creditdesk.collections.promises`), a dispute or hardship claim sets a hold.
    All in one transaction; nothing is written when the input is bad or the contact
    is blocked (:class:`ContactBlocked`).
    """
    at = at or datetime.now(UTC)
    last = store.last_closed()
    if last is None:
        raise BadInputError("no business date is closed yet; close one with creditdesk eod",
                            field="case_id", value=case_id)
    business_date = last + timedelta(days=1)
    outcome.validate(business_date)
    case = case_row(store, case_id)
    if case["status"] != "open":
        raise BadInputError(f"case {case_id} is {case['status']}; outcomes go on open cases",
                            field="case_id", value=case_id)
    answer = may_contact(store, case_id, outcome.channel, at=at, profile=profile)
    if not answer["allowed"]:
        raise ContactBlocked(answer)
    ensure_casework_tables(store)
    is_call = _CHECKER_CHANNEL[outcome.channel] == "voice"
    stored_outcome = {"promise": "connected", "dispute": "connected",
                      "hardship": "connected"}.get(outcome.outcome, outcome.outcome)
    if not is_call and outcome.outcome in ("no_answer", "wrong_party"):
        raise BadInputError(f"outcome {outcome.outcome!r} is for calls; got channel "
                            f"{outcome.channel!r}", field="outcome", value=outcome.outcome)
    contact = pl.DataFrame({
        "business_date": [business_date], "contact_ts": [at], "customer_id": [case["customer_id"]],
        "account_id": [case["account_id"]], "purpose": ["collection"],
        "channel": [outcome.channel], "allowed": [True], "rule": [None],
        "outcome": [stored_outcome], "promise": [outcome.outcome == "promise"],
        "dpd": [case["dpd"]], "bucket": [case["bucket"]], "strategy": ["workbench"],
        "arm": [case["arm"]], "cost": [0], "assignee": [user],
    }, schema=SIM_TABLES["contacts"])
    with store.transaction():
        store.insert("contacts", contact)
        if outcome.outcome == "promise":
            store.insert("promises", pl.DataFrame({
                "business_date": [business_date], "account_id": [case["account_id"]],
                "channel": [outcome.channel], "promise_date": [outcome.promise_date],
                "amount": [outcome.promise_amount]}, schema=SIM_TABLES["promises"]))
        hold = _OUTCOME_HOLD.get(outcome.outcome)
        if hold:
            store.insert("holds", pl.DataFrame({
                "customer_id": [case["customer_id"]], "account_id": [case["account_id"]],
                "hold": [hold], "reason": [outcome.note or outcome.outcome], "set_at": [at],
                "set_by": [user], "released_at": [None], "released_by": [None]}, schema=HOLDS))
    return {"case_id": case_id, "business_date": business_date.isoformat(),
            "contact_ts": at.isoformat(), "outcome": outcome.outcome, "hold": hold}


def release_hold(store: Store, customer_id: str, hold: str, *, user: str,
                 at: datetime | None = None) -> int:
    """Release a customer's open hold of one kind; the number of holds released."""
    at = at or datetime.now(UTC)
    if not store.has_table("holds"):
        raise NotFoundError(f"no {hold!r} hold on customer {customer_id!r}")
    with store.transaction():
        n = store.query("SELECT count(*) AS n FROM holds WHERE customer_id = ? AND hold = ? "
                        "AND released_at IS NULL", [customer_id, hold]).item(0, 0)
        if not n:
            raise NotFoundError(f"no {hold!r} hold on customer {customer_id!r}")
        store.execute("UPDATE holds SET released_at = ?, released_by = ? WHERE customer_id = ? "
                      "AND hold = ? AND released_at IS NULL", [at, user, customer_id, hold])
    return int(n)
