"""Pieces the contact gate's loop and batch paths share (see ``gate_fast``, ``gate_batch``).

A call's history rules in the checker's order, a number's memoised normalisation, and
contacts or events copied from a constructor-built prototype with another number.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Generic, TypeVar

from creditdesk.compliance import ContactEvent, ProposedContact
from creditdesk.compliance.checker import _plans
from creditdesk.compliance.model import _address
from creditdesk.compliance.profiles import Profile
from creditdesk.compliance.rules import _Cap, _Wait

__all__ = ["CallRules", "Prototype", "made_event", "normalised"]

_T = TypeVar("_T", ProposedContact, ContactEvent)


class CallRules:
    """The timed rules the checker runs on a call to one party, in its order.

    ``position`` maps a timed rule's id to its place; ``counted`` lists the places and
    evaluators of the rules that read the history (caps and waits), which the gate's
    loop (``gate_fast._blocks``) and batch (``gate_batch``) count on the history's memo.
    ``exact`` is false when a rule that reads the history is of another class: then
    every call to that party goes through the checker.
    """

    __slots__ = ("counted", "exact", "position")

    def __init__(self, profile: Profile, party: str) -> None:
        timed = _plans(profile)["voice", party].timed
        self.position = {r.id: k for k, r in enumerate(timed)}
        self.counted: list[tuple[int, _Cap | _Wait]] = [
            (k, r) for k, r in enumerate(timed) if isinstance(r, _Cap | _Wait)]
        self.exact = all(isinstance(r, _Cap | _Wait) or not r.uses_history for r in timed)


@lru_cache(maxsize=1 << 17)
def normalised(channel: str, number: str | None) -> str | None:
    """The model's own check and normalisation of a number, memoised across dates.

    Pure, so a memo is safe; a bad number raises and is not memoised, so it raises
    again every time, as the constructor would. The same customers' numbers come back
    every day, and normalising one costs about as much as the rest of its contact.
    """
    return _address(channel, number, "number")


class Prototype(Generic[_T]):
    """A constructor-built contact or event, and its copies with other numbers.

    A copy sets each slot through the slot's own setter (the frozen class refuses
    ``setattr``), from values read once here: every field but the number is the
    prototype's, which is what the constructor would compute from the same arguments.
    """

    __slots__ = ("cls", "fill", "obj", "put_number")

    def __init__(self, obj: _T) -> None:
        cls = type(obj)
        self.obj: _T = obj
        self.cls: type[_T] = cls
        self.fill = [(cls.__dict__[name].__set__, getattr(obj, name))
                     for name in cls.__slots__ if name != "number"]
        self.put_number = cls.__dict__["number"].__set__

    def with_number(self, number: str | None) -> _T:
        """The prototype with ``number`` (normalised): what the constructor would build."""
        if self.obj.number == number:
            return self.obj
        new = object.__new__(self.cls)
        for put, value in self.fill:
            put(new, value)
        self.put_number(new, number)
        return new


def made_event(ts: datetime, channel: str, party: str, number: str | None, connected: bool,
               robot: bool) -> ContactEvent:
    """The event the gate logs for a contact made: a message, or a call whose answer is
    ``connected`` (an answered call is a conversation with whoever answered)."""
    if channel != "voice":
        return ContactEvent(ts, channel, party=party, number=number)
    return ContactEvent(ts, "voice", party=party, number=number, connected=connected,
                        conversation=connected, robot=robot)
