"""A row of the ``contacts`` table as the contact rules count it — one reading for all.

Why one module: the planner (``collect plan``) and the workbench's "may I contact now?"
both rebuild a debtor's recent history from the same table, and they must count it the
same way, or the planner could propose a call the workbench then refuses (or the other
way round). Before this module the two readings differed on a call that reached a wrong
party: the planner counted it as unanswered, the workbench as a connected call to a
third party, which is what it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import polars as pl

from creditdesk.compliance import ContactEvent

__all__ = ["CHECKER_CHANNEL", "contact_event", "debtor_lines", "surrogate_line"]

#: the console's channels as the checker names them (agent and robot are both calls)
CHECKER_CHANNEL = {"agent": "voice", "robot": "voice", "sms": "sms", "push": "push",
                   "email": "email"}
#: outcomes of a call in which the debtor spoke with us
_CONVERSATION = frozenset({"connected", "promise", "dispute", "hardship"})


def contact_event(ts: datetime, channel: str, outcome: str | None,
                  number: str | None) -> ContactEvent:
    """The checker's event for one contact made (``allowed``) on ``channel`` with ``outcome``.

    A call (agent or robot) is connected when someone answered: the debtor (a
    conversation), or a wrong party (a third-party contact, no conversation with the
    debtor); ``no_answer`` and the like are attempts on ``number``. A message is a
    message whatever its outcome (``sent``, ``read``).

    >>> from datetime import UTC
    >>> at = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    >>> e = contact_event(at, "agent", "wrong_party", "+8613800000000")
    >>> e.connected, e.conversation, e.party
    (True, False, 'third_party')
    >>> contact_event(at, "robot", "no_answer", "+8613800000000").connected
    False
    >>> contact_event(at, "sms", "read", None).channel
    'sms'
    """
    checker = CHECKER_CHANNEL.get(channel, channel)
    if checker != "voice":
        return ContactEvent(ts, checker)
    talked = outcome in _CONVERSATION
    wrong = outcome == "wrong_party"
    return ContactEvent(ts, "voice", number=number, connected=talked or wrong,
                        conversation=talked, robot=channel == "robot",
                        party="third_party" if wrong else "debtor")


def surrogate_line(customer_id: str) -> str:
    """A stable stand-in number for a debtor whose number is not on file.

    The per-number caps then count per debtor, as they do when each debtor has one
    number. Built from the id's digits, so the planner and the workbench give the same
    debtor the same line.

    >>> surrogate_line("C000123")
    '+0000000000123'
    """
    return "+0" + "".join(ch for ch in customer_id if ch.isdigit()).rjust(12, "0")[-12:]


def debtor_lines(store: Any, customer_ids: Iterable[str]) -> dict[str, str]:
    """Each debtor's primary line for the per-number caps: the number in the PII table
    (``customers.pii``), else :func:`surrogate_line`. One reading for the planner and
    the workbench, so a call one allows the other counts against the same number."""
    wanted = list(dict.fromkeys(customer_ids))
    out = {c: surrogate_line(c) for c in wanted}
    if not wanted or not store.has_table("customer_pii"):
        return out
    if len(wanted) <= 50:
        sql = ("SELECT customer_id, phone FROM customer_pii WHERE phone IS NOT NULL AND phone <> ''"
               f" AND customer_id IN ({', '.join('?' * len(wanted))})")
        rows = store.query(sql, wanted)
    else:  # a day's plan: one pass over the table
        rows = store.query("SELECT customer_id, phone FROM customer_pii "
                           "WHERE phone IS NOT NULL AND phone <> ''")
        rows = rows.filter(pl.col("customer_id").is_in(wanted))
    out.update(zip(rows.get_column("customer_id").to_list(),
                   rows.get_column("phone").to_list(), strict=True))
    return out
