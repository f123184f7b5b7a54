"""A row of the ``contacts`` table as the contact rules count it — one reading for all.

Why one module: the planner (``collect plan``) and the workbench's "may I contact now?"
both rebuild a debtor's recent history from the same table, and they must count it the
same way, or the planner could propose a call the workbench then refuses (or the other
way round). Before this module the two readings differed on a call that reached a wrong
party: the planner counted it as unanswered, the workbench as a connected call to a
third party, which is what it was.
"""

from __future__ import annotations

from datetime import datetime

from creditdesk.compliance import ContactEvent

__all__ = ["CHECKER_CHANNEL", "contact_event"]

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
