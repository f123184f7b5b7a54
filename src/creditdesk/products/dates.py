"""Calendar rules of the products: month arithmetic, bill dates and due dates.

Kept apart from the calculators because both the catalogue (a product knows
the due date of its bills) and the schedules need them, and neither should
import the other.
"""

from __future__ import annotations

import calendar
from datetime import date

import numpy as np

__all__ = ["MonthGrid", "add_months", "add_months_array", "due_date_for", "next_bill_date"]


def add_months(d: date, n: int) -> date:
    """The same day of the month ``n`` months later, clipped to the month's end.

    Instalments fall due on the loan's start day each month; a loan started on
    the 31st falls due on the last day of shorter months (and goes back to the
    31st when the month allows it, because every term counts from ``start``,
    never from the previous due date).

    >>> add_months(date(2024, 1, 31), 1)
    datetime.date(2024, 2, 29)
    >>> add_months(date(2024, 1, 31), 2)
    datetime.date(2024, 3, 31)
    >>> add_months(date(2024, 3, 15), -3)
    datetime.date(2023, 12, 15)
    """
    months = d.year * 12 + (d.month - 1) + n
    year, month0 = divmod(months, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(d.day, last))


def add_months_array(start: np.ndarray, n: np.ndarray | int) -> np.ndarray:
    """:func:`add_months` over a ``datetime64[D]`` array (``n`` scalar or per row).

    >>> add_months_array(np.array(["2024-01-31"], dtype="datetime64[D]"), 1)
    array(['2024-02-29'], dtype='datetime64[D]')
    """
    return MonthGrid(start).add(n)


class MonthGrid:
    """Month arithmetic for many start dates, with the calendar work done once.

    Converting ``datetime64`` days to months is the slow part, so the start
    dates are decomposed once into (month index, day of month) and each
    :meth:`add` is then integer arithmetic plus a lookup in a small table of
    month starts.
    """

    def __init__(self, start: np.ndarray) -> None:
        start = np.asarray(start, dtype="datetime64[D]")
        month = start.astype("datetime64[M]")
        self._day0 = (start - month.astype("datetime64[D]")).astype(np.int64)  # day - 1
        self._month = month.astype(np.int64)  # months since 1970-01
        self._lo = int(self._month.min()) if self._month.size else 0
        self._table_hi = self._lo - 1
        self._first = np.empty(0, dtype=np.int64)

    def _month_starts(self, hi: int) -> np.ndarray:
        """Days since 1970-01-01 of the first day of months ``lo .. hi + 1``."""
        if hi > self._table_hi:
            months = np.arange(self._lo, hi + 2, dtype=np.int64).astype("datetime64[M]")
            self._first = months.astype("datetime64[D]").astype(np.int64)
            self._table_hi = hi
        return self._first

    def add_days(self, n: np.ndarray | int) -> np.ndarray:
        """Like :meth:`add`, as int64 days since 1970-01-01 (what a Date column stores)."""
        target = self._month + np.asarray(n, dtype=np.int64)
        if target.size == 0:
            return target
        if int(target.min()) < self._lo:  # months before the first start: rebuild lower
            self._lo = int(target.min())
            self._table_hi = self._lo - 1
        first = self._month_starts(int(target.max()))
        offset = target - self._lo
        start_of = first[offset]
        days_in_month = first[offset + 1] - start_of
        return start_of + np.minimum(self._day0, days_in_month - 1)

    def add(self, n: np.ndarray | int) -> np.ndarray:
        """Each start date plus ``n`` months (clipped to month end), as ``datetime64[D]``."""
        return self.add_days(n).astype("datetime64[D]")


def due_date_for(bill_date: date, due_day: int) -> date:
    """The due date of a bill: the first date after ``bill_date`` whose day is ``due_day``.

    Bill day 1 and due day 10 give the 10th of the same month; bill day 25 and
    due day 5 give the 5th of the next month. ``due_day`` is at most 28 so every
    month has it.

    >>> due_date_for(date(2024, 3, 1), 10)
    datetime.date(2024, 3, 10)
    >>> due_date_for(date(2024, 12, 25), 5)
    datetime.date(2025, 1, 5)
    """
    if not 1 <= due_day <= 28:
        raise ValueError(f"due_day must be between 1 and 28; got {due_day}")
    if bill_date.day < due_day:
        return bill_date.replace(day=due_day)
    return add_months(bill_date.replace(day=due_day), 1)


def next_bill_date(after: date, bill_day: int) -> date:
    """The first bill date strictly after ``after`` for a cycle billed on ``bill_day``.

    >>> next_bill_date(date(2024, 3, 1), 1)
    datetime.date(2024, 4, 1)
    >>> next_bill_date(date(2024, 3, 20), 25)
    datetime.date(2024, 3, 25)
    """
    if not 1 <= bill_day <= 28:
        raise ValueError(f"bill_day must be between 1 and 28; got {bill_day}")
    if after.day < bill_day:
        return after.replace(day=bill_day)
    return add_months(after.replace(day=bill_day), 1)
