"""A debtor's contact history, prepared once so that each check reads it cheaply.

The frequency rules ask questions like "how many connected calls since 00:00 local"
or "the latest conversation in the last 168 hours". Over an unsorted list each
question is a Python-level scan of every event. A :class:`History` keeps the events
sorted by time with parallel columns (instants and flag bit-sets), so a window is
found by bisection and counted by a C-level ``map`` over just the events inside it.
Build one per debtor and reuse it for every contact proposed for that debtor;
:func:`~creditdesk.compliance.check` also accepts a plain list and prepares it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from operator import le
from typing import overload

from creditdesk.compliance.model import ContactEvent

__all__ = ["History"]


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

    __slots__ = ("events", "flags", "numbers", "us")

    def __init__(self, events: Iterable[ContactEvent] = ()) -> None:
        evs = list(events)
        us = [e.us for e in evs]
        if not all(map(le, us, islice(us, 1, None))):  # feeds usually arrive in order
            order = sorted(range(len(us)), key=us.__getitem__)
            evs = [evs[i] for i in order]
            us = [us[i] for i in order]
        self.events: tuple[ContactEvent, ...] = tuple(evs)
        self.us: list[int] = us
        self.flags: tuple[int, ...] = tuple([e.flags for e in evs])
        self.numbers: tuple[str | None, ...] = tuple([e.number for e in evs])

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
