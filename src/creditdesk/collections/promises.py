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
off), in standard SQL with one ``?`` parameter, so it runs on DuckDB and PostgreSQL
alike; :func:`promise_status` runs it on a store (or a bare DuckDB connection).

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


def sql_promise_status(one_account: bool = False) -> str:
    """Each promise with ``paid`` (from the day made through the promise date) and ``status``.

    One ``?`` parameter: the as-of date, the last closed date (and two more, the
    account id twice, with ``one_account``: one account's promises and repayment
    days). A promise is judged once the books are closed through its promise date
    (every payment of that day is in), i.e. from the first planning day after it.

    Set-based, not a subquery per promise: each distinct (account, made, promise date)
    window is joined to the account's repayment days once and summed, which both
    engines run as a hash join on ``account_id`` (PostgreSQL would otherwise scan
    ``account_day`` once per promise: it has no index there).
    """
    account = " AND p.account_id = ?" if one_account else ""
    pay_account = " AND account_id = ?" if one_account else ""
    return f"""
        WITH cutoff AS (SELECT CAST(? AS DATE) AS as_of),
        made AS (SELECT p.business_date, p.account_id, p.channel, p.promise_date, p.amount,
                        x.as_of
                 FROM promises p CROSS JOIN cutoff x WHERE p.business_date <= x.as_of{account}),
        spans AS (SELECT DISTINCT account_id, business_date, promise_date FROM made),
        pays AS (SELECT account_id, business_date, paid_today + recovered_today AS paid
                 FROM account_day WHERE (paid_today > 0 OR recovered_today > 0){pay_account}),
        paid AS (SELECT s.account_id, s.business_date, s.promise_date, sum(a.paid) AS paid
                 FROM spans s JOIN pays a ON a.account_id = s.account_id
                  AND a.business_date BETWEEN s.business_date AND s.promise_date
                 GROUP BY s.account_id, s.business_date, s.promise_date),
        judged AS (
          SELECT m.business_date, m.account_id, m.channel, m.promise_date, m.amount, m.as_of,
                 CAST(coalesce(d.paid, 0) AS BIGINT) AS paid
          FROM made m LEFT JOIN paid d ON d.account_id = m.account_id
           AND d.business_date = m.business_date AND d.promise_date = m.promise_date)
        SELECT business_date, account_id, channel, promise_date, amount, paid,
               CASE WHEN as_of < promise_date THEN 'open'
                    WHEN paid >= amount THEN 'kept'
                    WHEN paid > 0 THEN 'partly_kept'
                    ELSE 'broken' END AS status
        FROM judged ORDER BY business_date, account_id"""


def promise_status(source: Any, as_of: date, account_id: str | None = None) -> pl.DataFrame:
    """Run :func:`sql_promise_status` on a store (DuckDB or PostgreSQL) or a DuckDB connection.

    ``account_id``: that account's promises only.

    Rows come in (date made, account) order, accounts compared byte by byte (as
    DuckDB does; a PostgreSQL database's collation may order text otherwise).
    """
    from creditdesk.store.base import Store

    sql = sql_promise_status(one_account=account_id is not None)
    params: list[object] = [as_of] if account_id is None else [as_of, account_id, account_id]
    if isinstance(source, Store):
        out = source.query(sql, params)
    else:
        con = getattr(source, "con", source)
        got = pl.from_arrow(con.sql(sql, params=params).to_arrow_table())
        assert isinstance(got, pl.DataFrame)
        out = got
    return out.sort("business_date", "account_id", maintain_order=True)
