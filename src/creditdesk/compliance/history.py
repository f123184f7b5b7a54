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
and :meth:`History.since` return a new one. They carry the memo over instead of
starting it empty: an event later than every other is appended to each memoised list
it belongs to (a new list; the others are shared, since no one changes a memo list),
and dropping the events before an instant drops the same prefix of each list. A
running history, extended after each allowed contact and trimmed to the rules' longest
window, so costs a few list copies per contact rather than a re-sort and a re-scan.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from itertools import pairwise
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
        """A new history with ``event`` included (for planners placing several contacts).

        The same as ``History((*self, event))``; when ``event`` is not before the latest
        event (a running history's usual case) it goes last, as the stable sort would
        put it, and the memo is carried over rather than rebuilt.

        >>> from datetime import datetime
        >>> e = lambda ts, **kw: ContactEvent(datetime.fromisoformat(ts), "voice",
        ...                                   number="100", **kw)
        >>> h = History([e("2026-03-01T10:00:00Z", connected=True)])
        >>> ok = frozenset({h[0].flags})
        >>> h.matching(ok) == [h.us[0]]
        True
        >>> h2 = h.added(e("2026-03-02T10:00:00Z", connected=True))
        >>> h2.matching(ok) == h2.us, len(h.matching(ok))
        (True, 1)
        """
        return self.extended((event,))

    def extended(self, events: Sequence[ContactEvent]) -> History:
        """``History((*self, *events))``, with the memo carried over (see :meth:`added`).

        For a day's contacts added at once: each memo list grows once, not once per
        event. Events earlier than the latest (or than one before them) make a fresh sort.

        >>> from datetime import datetime
        >>> e = lambda ts: ContactEvent(datetime.fromisoformat(ts), "voice", number="100")
        >>> h = History([e("2026-03-01T10:00:00Z")])
        >>> later = [e("2026-03-02T10:00:00Z"), e("2026-03-02T11:00:00Z")]
        >>> [ev.ts.hour for ev in h.extended(later)], len(h.extended([])), len(h)
        ([10, 10, 11], 1, 1)
        """
        if not events:
            return self
        new_us = list(map(_instant, events))
        us = self.us
        if ((us and new_us[0] < us[-1])
                or (len(new_us) > 1 and any(a > b for a, b in pairwise(new_us)))):
            return History((*self.events, *events))
        new = History.__new__(History)
        new.events = (*self.events, *events)
        new.us = [*us, *new_us]
        new._flags = None if self._flags is None else (*self._flags, *[e.flags for e in events])
        new._numbers = (None if self._numbers is None
                        else (*self._numbers, *[e.number for e in events]))
        index: dict[object, list[int]] = {}
        for key, found in self._index.items():
            if type(key) is tuple:  # (accepted, number): see matching_number
                accepted, number = key
                more = [e.us for e in events if e.flags in accepted and e.number == number]
            else:
                more = [e.us for e in events if e.flags in key]  # type: ignore[operator]
            index[key] = [*found, *more] if more else found
        new._index = index
        return new

    def since(self, lower: int) -> History:
        """The events at or after instant ``lower``: ``History(e for e in self if e.us >= lower)``.

        ``self`` when none is before ``lower``; otherwise a new history whose memo is
        the old one without the dropped events (the first ones of each list).

        >>> from datetime import datetime
        >>> e = lambda ts: ContactEvent(datetime.fromisoformat(ts), "voice", number="100")
        >>> h = History([e("2026-03-01T10:00:00Z"), e("2026-03-03T10:00:00Z")])
        >>> [ev.ts.day for ev in h.since(h.us[1])], h.since(h.us[0]) is h, len(h.since(h.us[1] + 1))
        ([3], True, 0)
        """
        us = self.us
        if not us or us[0] >= lower:
            return self
        k = bisect_left(us, lower)
        new = History.__new__(History)
        new.events = self.events[k:]
        new.us = us[k:]
        new._flags = None if self._flags is None else self._flags[k:]
        new._numbers = None if self._numbers is None else self._numbers[k:]
        new._index = {key: found[bisect_left(found, lower):]
                      for key, found in self._index.items()}
        return new

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
