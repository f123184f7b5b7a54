"""The end-of-day runner: read the state, run the kernel, write one date atomically.

``run_eod(store, through)`` closes every business date after the last closed
one up to ``through``, in order. Each date is one transaction on the store:
a crash mid-date leaves the books as of the previous date, and running again
produces exactly what an uninterrupted run would have. Closing a date that is
already closed does nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl

from creditdesk.errors import BadInputError
from creditdesk.ledger.kernel import DayInput, DayOutput, close_day, schedules_needed
from creditdesk.ledger.params import LedgerParams
from creditdesk.ledger.schema import PER_DATE_TABLES, STATE_TABLES, empty
from creditdesk.store.base import Store

__all__ = ["EodReport", "first_business_date", "read_day_input", "run_eod", "write_day"]

#: test hook: pause in the middle of writing this date (used to kill -9 a real run)
PAUSE_ENV = "CREDITDESK_TEST_PAUSE_MID_DATE"


@dataclass(frozen=True)
class EodReport:
    first: date | None
    last: date | None
    dates_closed: int
    seconds: float


def first_business_date(store: Store) -> date | None:
    """Where a new book starts: the earliest account opening or transaction date."""
    a = store.scalar("SELECT min(opened) FROM accounts")
    t = store.scalar("SELECT min(business_date) FROM transactions")
    dates = [x for x in (a, t) if isinstance(x, date)]
    return min(dates) if dates else None


def read_day_input(store: Store, d: date) -> DayInput:
    """The state after the previous date plus the date's events.

    A store that closed the previous date itself may still hold that state in memory
    (``kept_state``, the DuckDB store); it is then not read back from the file.
    """
    kept = getattr(store, "kept_state", None)
    state = kept(d - timedelta(days=1)) if kept else None
    if state is None:
        state = {"account_day": store.read("account_day", "business_date = ?",
                                           [d - timedelta(days=1)]),
                 "dues": store.read("dues"), "plan_state": store.read("plan_state")}
    txns = store.read("transactions", "business_date = ?", [d])
    holiday = schedules_needed(txns)
    schedules = (store.read("instalments", f"bill_date >= ? AND account_id IN "
                            f"({', '.join('?' * len(holiday))})", [d, *holiday])
                 if holiday else empty("instalments"))
    return DayInput(
        business_date=d,
        accounts=store.read("accounts", "opened <= ?", [d]),
        prev=state["account_day"],
        dues=state["dues"],
        plan_state=state["plan_state"],
        billing=store.read("instalments", "bill_date = ?", [d]),
        txns=txns,
        schedules=schedules,
    )


def write_day(store: Store, d: date, out: DayOutput) -> None:
    """All of a date's output, then the closed marker, in one transaction."""
    pause = os.environ.get(PAUSE_ENV)
    with store.transaction(business_date=d):
        for t in PER_DATE_TABLES:
            store.append(t, getattr(out, t))
            if pause == d.isoformat() and t == "account_day":
                Path(os.environ.get(PAUSE_ENV + "_FILE", "pause.flag")).write_text(d.isoformat())
                time.sleep(600)
        for t in STATE_TABLES:
            store.replace_state(t, getattr(out, t))
        store.append("closed_dates", pl.DataFrame(
            {"business_date": [d], "closed_at": [datetime.now(UTC)]}))
    keep = getattr(store, "keep_state", None)
    if keep:  # committed: the next date may start from this state without reading it back
        keep(d, {t: getattr(out, t) for t in ("account_day", "dues", "plan_state")})


def close_in_process(store: Store, d: date, params: LedgerParams) -> None:
    """Close one date with the kernel in this process (the DuckDB path)."""
    write_day(store, d, close_day(read_day_input(store, d), params))


def run_eod(store: Store, through: date, params: LedgerParams,
            on_date: Callable[[date, int, int], None] | None = None, *,
            first: date | None = None) -> EodReport:
    """Close every date after the last closed one up to ``through``.

    ``on_date(date, index, total)`` is called after each date (progress bars).
    ``first``: where a new book starts (nothing closed yet) when it is not the
    earliest opening or transaction date: the cut-over date of a book whose
    accounts were opened before it (a seasoned book taken over with nothing owed);
    a transaction dated before it is refused. Ignored once a date is closed.
    """
    last = store.last_closed()
    start = last + timedelta(days=1) if last else first_business_date(store)
    if last is None and first is not None and start is not None:
        t = store.scalar("SELECT min(business_date) FROM transactions")
        if isinstance(t, date) and t < first:
            raise BadInputError(f"first must be on or before the earliest transaction date "
                                f"{t}; got {first}", field="first", value=first)
        start = first
    t0 = time.perf_counter()
    if start is None or start > through:
        if last is not None and through < last:
            pass  # closing a closed date is a no-op
        return EodReport(None, None, 0, time.perf_counter() - t0)
    total = (through - start).days + 1
    if total > 3660:
        raise BadInputError(f"through must be within 10 years of the next date {start}; "
                            f"got {through}", field="through", value=through)
    store.close_dates(start, through, params, on_date)
    return EodReport(start, through, total, time.perf_counter() - t0)
