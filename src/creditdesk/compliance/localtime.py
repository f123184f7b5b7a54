"""Local wall-clock arithmetic that stays right across daylight-saving changes.

Contact windows are written in the customer's wall-clock time ("not before 08:00"),
while history is a list of instants. Converting a wall time to an instant is where
time-zone code usually goes wrong: on a spring-forward day a wall time may not exist,
on a fall-back day it may exist twice. These helpers define the answer once:

* a wall time that exists twice maps to its first occurrence at or after the bound;
* a wall time in a gap maps to the instant the clocks jump, which is the first
  instant whose wall clock reads at or past it.

All instants are integer microseconds since the Unix epoch (UTC).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from creditdesk.compliance.model import to_us

__all__ = ["day_bounds", "first_at_wall", "from_us", "local_of"]

_ONE_DAY = timedelta(days=1)


# 1970-01-01 00:00 as a naive wall time carrying each zone: adding microseconds to it is
# plain wall arithmetic, giving the UTC wall clock of the instant, which the zone's
# ``fromutc`` then converts. About twice as fast as ``astimezone`` from UTC, which the
# next-allowed search pays once per blocked check.
_EPOCH_IN: dict[ZoneInfo, datetime] = {}


def from_us(us: int, tz: ZoneInfo) -> datetime:
    """The aware datetime, in ``tz``, of an instant given in epoch microseconds.

    >>> from_us(0, ZoneInfo("Asia/Shanghai")).isoformat()
    '1970-01-01T08:00:00+08:00'
    >>> ny = ZoneInfo("America/New_York")  # the repeated hour: fold tells them apart
    >>> [from_us(u, ny).fold for u in (1793509200000000, 1793512800000000)]
    [0, 1]
    """
    epoch = _EPOCH_IN.get(tz)
    if epoch is None:
        if len(_EPOCH_IN) >= 1024:  # zones are few, unless built with ZoneInfo.no_cache
            _EPOCH_IN.clear()
        epoch = _EPOCH_IN[tz] = datetime(1970, 1, 1, tzinfo=tz)
    return tz.fromutc(epoch + timedelta(microseconds=us))


local_of = from_us
"""Alias of :func:`from_us` named for what the caller wants: the local wall clock."""


def _wall(us: int, tz: ZoneInfo) -> datetime:
    return local_of(us, tz).replace(tzinfo=None)


def first_at_wall(tz: ZoneInfo, day: date, wall: time, not_before: int | None = None) -> int:
    """Earliest instant (>= ``not_before``) at which the wall clock in ``tz`` reads ``day wall``.

    If that wall time is skipped by a spring-forward change, the answer is the instant
    of the jump (the first moment the clock reads later than ``wall``).

    >>> ny = ZoneInfo("America/New_York")
    >>> from_us(first_at_wall(ny, date(2026, 3, 8), time(2, 30)), ny).isoformat()
    '2026-03-08T03:00:00-04:00'
    >>> from_us(first_at_wall(ny, date(2026, 11, 1), time(1, 30)), ny).isoformat()
    '2026-11-01T01:30:00-04:00'
    >>> u = first_at_wall(ny, date(2026, 11, 1), time(1, 30))
    >>> from_us(first_at_wall(ny, date(2026, 11, 1), time(1, 30), u + 1), ny).isoformat()
    '2026-11-01T01:30:00-05:00'
    """
    for us in _occurrences(tz, day, wall):
        if not_before is None or us >= not_before:
            return us
    # Only reached when every occurrence is before not_before: the caller asked for
    # a time already passed, which the checker never does.
    raise ValueError(f"{day} {wall} in {tz.key} has no occurrence at or after the bound")


@lru_cache(maxsize=16384)
def _occurrences(tz: ZoneInfo, day: date, wall: time) -> tuple[int, ...]:
    """Instants, in order, at which the wall clock reads ``day wall`` (or the jump over it)."""
    target = datetime.combine(day, wall)
    found = sorted({us for fold in (0, 1)
                    if _wall(us := to_us(target.replace(tzinfo=tz, fold=fold)), tz) == target})
    return tuple(found) if found else (_gap_end(tz, target),)


def _gap_end(tz: ZoneInfo, target: datetime) -> int:
    """The instant the clocks jump over ``target`` (a nonexistent wall time)."""
    # fold=1 maps a gap time with the offset after the jump (an instant before it);
    # fold=0 with the offset before (an instant after it). Bisect between them.
    lo = to_us(target.replace(tzinfo=tz, fold=1))
    hi = to_us(target.replace(tzinfo=tz, fold=0))
    lo, hi = min(lo, hi), max(lo, hi)
    # Invariant: wall(lo) < target <= wall(hi). Offsets are whole seconds.
    lo_s, hi_s = lo // 1_000_000, -(-hi // 1_000_000)
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if _wall(mid * 1_000_000, tz) >= target:
            hi_s = mid
        else:
            lo_s = mid
    return hi_s * 1_000_000


@lru_cache(maxsize=8192)
def day_bounds(tz: ZoneInfo, day: date) -> tuple[int, int]:
    """``[start, end)`` instants of the local calendar day ``day`` in ``tz``.

    Memoised: a planner checks many contacts on the same few days. A day is 23 or 25
    hours long when the clocks change, and may start at 01:00 where the change is
    at midnight.

    >>> s, e = day_bounds(ZoneInfo("America/New_York"), date(2026, 3, 8))
    >>> (e - s) / 3_600_000_000
    23.0
    >>> s, e = day_bounds(ZoneInfo("Asia/Beirut"), date(2026, 3, 29))
    >>> from_us(s, ZoneInfo("Asia/Beirut")).isoformat()
    '2026-03-29T01:00:00+03:00'
    """
    return (first_at_wall(tz, day, time(0)), first_at_wall(tz, day + _ONE_DAY, time(0)))
