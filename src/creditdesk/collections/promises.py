"""Promises to pay: kept, partly kept, broken — judged from the books, not from the agent's notes.

A promise (from a contact: the debtor says "I will pay X by date P") is judged once the
books are closed through P (on the planning day after it) from what the books show was
paid on the account from the day it was made through P: ``kept`` when that covers the
promised amount, ``partly_kept`` when something but less was paid, ``broken`` when
nothing was; before that it is ``open``. A broken promise is the strategy's cue to follow
up (``follow_up`` steps, escalation after ``escalate_after_broken_promises``; see
:mod:`creditdesk.collections.strategy`).

:func:`sql_promise_status` is a pure query builder over ``promises`` and
``account_day`` (repayments are ``paid_today``, or ``recovered_today`` once charged
off); :func:`promise_status` runs it on a DuckDB connection.

>>> import duckdb
>>> con = duckdb.connect()
>>> _ = con.execute('''CREATE TABLE promises AS SELECT * FROM (VALUES
...   (DATE '2026-03-01', 'A', 'agent', DATE '2026-03-03', 100),
...   (DATE '2026-03-01', 'B', 'agent', DATE '2026-03-03', 100),
...   (DATE '2026-03-01', 'C', 'robot', DATE '2026-03-03', 100),
...   (DATE '2026-03-04', 'D', 'robot', DATE '2026-03-09', 100),
...   (DATE '2026-03-04', 'E', 'robot', DATE '2026-03-05', 100))
...   t(business_date, account_id, channel, promise_date, amount)''')
>>> _ = con.execute('''CREATE TABLE account_day AS SELECT * FROM (VALUES
...   (DATE '2026-03-02', 'A', 100, 0), (DATE '2026-03-03', 'B', 40, 0),
...   (DATE '2026-03-05', 'C', 100, 0))
...   t(business_date, account_id, paid_today, recovered_today)''')
>>> promise_status(con, date(2026, 3, 5)).select("account_id", "status", "paid").rows()
[('A', 'kept', 100), ('B', 'partly_kept', 40), ('C', 'broken', 0), ('D', 'open', 0), ('E', 'broken', 0)]
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

__all__ = ["PROMISE_STATUSES", "promise_status", "sql_promise_status"]

PROMISE_STATUSES = ("open", "kept", "partly_kept", "broken")


def sql_promise_status() -> str:
    """Each promise with ``paid`` (from the day made through the promise date) and ``status``.

    One parameter: the as-of date, the last closed date. A promise is judged once the
    books are closed through its promise date (every payment of that day is in), i.e.
    from the first planning day after it.
    """
    return """
        WITH pays AS (SELECT account_id, business_date, paid_today + recovered_today AS paid
                      FROM account_day WHERE paid_today > 0 OR recovered_today > 0),
        judged AS (
          SELECT p.business_date, p.account_id, p.channel, p.promise_date, p.amount,
                 coalesce((SELECT sum(a.paid) FROM pays a WHERE a.account_id = p.account_id
                           AND a.business_date BETWEEN p.business_date AND p.promise_date),
                          0)::BIGINT AS paid
          FROM promises p WHERE p.business_date <= $as_of)
        SELECT *, CASE WHEN $as_of < promise_date THEN 'open'
                       WHEN paid >= amount THEN 'kept'
                       WHEN paid > 0 THEN 'partly_kept'
                       ELSE 'broken' END AS status
        FROM judged ORDER BY business_date, account_id"""


def promise_status(con: Any, as_of: date) -> pl.DataFrame:
    """Run :func:`sql_promise_status` on a DuckDB connection (or a store with ``con``)."""
    con = getattr(con, "con", con)
    out = pl.from_arrow(con.sql(sql_promise_status(), params={"as_of": as_of}).to_arrow_table())
    assert isinstance(out, pl.DataFrame)
    return out
