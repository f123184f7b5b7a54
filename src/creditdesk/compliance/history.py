"""A debtor's contact history, prepared once so that each check reads it cheaply.

The frequency rules ask questions like "how many connected calls since 00:00 local"
or "the latest conversation in the last 168 hours". Over an unsorted list each
question is a Python-level scan of every event. A :class:`History` keeps the events
sorted by time, and memoises, per kind of event a rule counts (a set of accepted
flag values, optionally one number), the sorted instants of just those events. After
the first check on a history every count is one bisection and every "latest such
event" one index, with no per-event work at all: a planner checks many candidate
contacts against one debtor's history, so the index pays for itself from the second.
Build one per debtor and reuse it for every contact proposed for that debtor;
:func:`~creditdesk.compliance.check` also accepts a plain list and prepares it.

The memo needs no invalidation because a History never changes: :meth:`History.added`
returns a new one with an empty memo.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from operator import attrgetter
from typing import overload

from creditdesk.compliance.model import ContactEvent

__all__ = ["History"]

_instant = attrgetter("us")


class History(Sequence[ContactEvent]):
    """Immutable, time-ordered contact events with columns for fast windowed counts.

    >>> from datetime import datetime
    >>> e = lambda ts, **kw: ContactEvent(datetime.fromisoformat(ts), "voice", number="100", **kw)
    >>> h = History([e("2026-03-02T10:00:00+08:00"), e("2026-03-01T10:00:00+08:00")])
    >>> [ev.ts.day for ev in h]
    [1, 2]
    >>> len(h.added(e("2026-03-03T09:00:00+08:00")))
    3
    """

    __slots__ = ("_flags", "_index", "_numbers", "events", "us")

    def __init__(self, events: Iterable[ContactEvent] = ()) -> None:
        # A stable C-level sort: linear on a feed already in time order, and no slower
        # than testing for order first when it is not.
        evs = sorted(events, key=_instant)
        us = list(map(_instant, evs))
        self.events: tuple[ContactEvent, ...] = tuple(evs)
        self.us: list[int] = us
        self._flags: tuple[int, ...] | None = None
        self._numbers: tuple[str | None, ...] | None = None
        self._index: dict[object, list[int]] = {}

    @property
    def flags(self) -> tuple[int, ...]:
        """Flag bit-set of each event, in time order (built on first use)."""
        if self._flags is None:
            self._flags = tuple([e.flags for e in self.events])
        return self._flags

    @property
    def numbers(self) -> tuple[str | None, ...]:
        """Canonical number (or address) of each event, in time order (built on first use)."""
        if self._numbers is None:
            self._numbers = tuple([e.number for e in self.events])
        return self._numbers

    def matching(self, accepted: frozenset[int]) -> list[int]:
        """Instants, oldest first, of the events whose flags are in ``accepted`` (memoised).

        Callers must not modify the list: it is the memo itself.

        >>> from datetime import datetime
        >>> e = lambda ts, **kw: ContactEvent(datetime.fromisoformat(ts), "voice",
        ...                                   number="100", **kw)
        >>> h = History([e("2026-03-02T10:00:00Z", connected=True), e("2026-03-01T10:00:00Z")])
        >>> len(h.matching(frozenset({h[1].flags}))), h.matching(frozenset()) == []
        (1, True)
        """
        found = self._index.get(accepted)
        if found is None:
            found = self._index[accepted] = [e.us for e in self.events if e.flags in accepted]
        return found

    def matching_number(self, accepted: frozenset[int], number: str | None) -> list[int]:
        """As :meth:`matching`, restricted to events to ``number`` (canonical form)."""
        key = (accepted, number)
        found = self._index.get(key)
        if found is None:
            found = self._index[key] = [e.us for e in self.events
                                        if e.flags in accepted and e.number == number]
        return found

    @classmethod
    def of(cls, events: Iterable[ContactEvent]) -> History:
        """``events`` itself if it is already a History, else a new one."""
        return events if isinstance(events, History) else cls(events)

    def added(self, event: ContactEvent) -> History:
        """A new history with ``event`` included (for planners placing several contacts)."""
        return History((*self.events, event))

    @property
    def last_us(self) -> int | None:
        """Instant of the latest event, or ``None`` for an empty history."""
        return self.us[-1] if self.us else None

    def start_after(self, lower: int) -> int:
        """Index of the first event strictly after instant ``lower``."""
        return bisect_right(self.us, lower)

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[ContactEvent]:
        return iter(self.events)

    @overload
    def __getitem__(self, i: int) -> ContactEvent: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[ContactEvent]: ...

    def __getitem__(self, i: int | slice) -> ContactEvent | Sequence[ContactEvent]:
        return self.events[i]

    def __repr__(self) -> str:
        return f"History({list(self.events)!r})"
