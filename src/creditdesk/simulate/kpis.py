"""The demo's figures: ``kpis.json`` and the report's frames, aggregated inside the store.

Why here and why SQL: ``creditdesk demo`` ends by showing whether the book and the
collection strategy behaved — balances, bucket mix, roll and recovery rates, how many
contacts went out, how many the rules stopped, how many customers complained, and an
audit that no contact broke the jurisdiction's hard limits. At 100,000 customers x 180
days ``account_day`` holds 20+ million rows, so nothing here pulls it into Python:
every figure is one DuckDB query over ``store.con`` whose answer is a few hundred rows
at most (the twin's tables live only on DuckDB, see :mod:`creditdesk.simulate.tables`).

Layout: ``sql_*`` functions are pure query builders (they return SQL text, nothing
runs); :func:`run_query` is the one runner; the section functions (:func:`bucket_shares`,
:func:`roll_rates`, :func:`recovery`, :func:`rule_violations`, ...) run a builder and
shape the small answer; :func:`demo_kpis` and :func:`demo_report_data` assemble them.
Every section takes a store *or* a bare DuckDB connection, so tests can hand-build the
few tables a section reads. Definitions of every figure: ``docs/simulate-kpis.md``.

Money stays int64 fen as in the books; rates are floats rounded to 4 places, ``None``
when their denominator is zero (unknown, not zero).

>>> import duckdb
>>> con = duckdb.connect()
>>> _ = con.execute('''CREATE TABLE account_day AS SELECT * FROM (VALUES
...   (DATE '2026-01-01', 'A', 'open', 0, 0, 0), (DATE '2026-01-02', 'A', 'open', 1, 100, 0),
...   (DATE '2026-01-03', 'A', 'open', 2, 40, 60), (DATE '2026-01-04', 'A', 'open', 0, 0, 40))
...   t(business_date, account_id, status, dpd, overdue_amount, paid_today)''')
>>> r = recovery(con)
>>> r["arrears_arisen"], r["arrears_collected"], r["recovery_rate"], r["cure_rate"]
(100, 100, 1.0, 1.0)
"""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise
from typing import Any

import duckdb
import numpy as np
import polars as pl

from creditdesk.errors import StoreError
from creditdesk.reports.demo_report import BUCKETS, DemoReportData
from creditdesk.simulate.targets import (
    STATES,
    TransitionTable,
    max_abs_gap,
    merged_gap,
    taiwan_transitions,
)
from creditdesk.store.base import Store

__all__ = [
    "CN_LIMITS",
    "bucket_shares",
    "closed_dates",
    "contact_figures",
    "demo_kpis",
    "demo_report_data",
    "funnel",
    "month_ends",
    "promise_figures",
    "recovery",
    "roll_rates",
    "rule_violations",
    "run_query",
    "sql_arrears_by_account",
    "sql_balances_last",
    "sql_bucket_daily",
    "sql_contacts",
    "sql_funnel",
    "sql_month_end_rolls",
    "sql_promises",
    "sql_recovery",
    "sql_rule_audit",
    "sql_status_transitions",
    "sql_vintage",
    "status_transitions",
    "vintage_curves",
]

Source = Store | duckdb.DuckDBPyConnection
"""A store with a DuckDB connection (``.con``) or a bare DuckDB connection."""

CN_LIMITS: dict[str, int] = {
    "quiet_from_hour": 22,        # no voice contact from 22:00 ...
    "quiet_until_hour": 8,        # ... until 08:00 customer local time
    "connected_voice_per_day": 3,  # connected voice calls (AI voice included) per debtor per day
    "unanswered_voice_per_day": 6,  # unanswered voice attempts per number per day
    "complaint_hold_days": 14,    # a complaint holds contact for the next 14 days
}
"""The CN profile's hard limits as the audit restates them (DESIGN.md, compliance/profiles/cn.toml).

Deliberately a second, independent statement: the audit must not share code with the
checker it audits. The twin gives every customer one phone number, so "per number" is
"per customer".
"""

VOICE = ("robot", "agent")
REACHED = ("connected", "read")  # right-party contact on voice, read receipt on messages
BAD_DPD = 30  # "30+ DPD", the vintage curves' bad definition
_ARREARS = ("M1", "M2", "M3", "M4", "M5", "M6")


# --------------------------------------------------------------------------- running

def _con(source: Source) -> duckdb.DuckDBPyConnection:
    con = getattr(source, "con", source)
    if not isinstance(con, duckdb.DuckDBPyConnection):
        raise StoreError("the demo figures are computed in DuckDB; got "
                         f"{type(source).__name__} without a DuckDB connection")
    return con


def run_query(source: Source, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
    """Run one builder's SQL on the source's DuckDB connection; the (small) answer as Polars."""
    con = _con(source)
    rel = con.sql(sql, params=params) if params else con.sql(sql)
    return rel.pl()


def _rate(num: float, den: float) -> float | None:
    """``num / den`` rounded to 4 places; ``None`` when ``den`` is 0 (unknown, not zero).

    >>> _rate(1, 3), _rate(5, 0)
    (0.3333, None)
    """
    return round(float(num) / float(den), 4) if den else None


def _int(value: Any) -> int:
    return 0 if value is None else int(value)


# --------------------------------------------------------------------------- builders

def sql_bucket_daily() -> str:
    """Accounts and balance (principal + interest + fee + penalty, fen) by date and bucket."""
    return """
        SELECT business_date, bucket, count(*)::BIGINT AS accounts,
               sum(principal + interest + fee + penalty)::BIGINT AS balance
        FROM account_day GROUP BY ALL ORDER BY business_date, bucket"""


def sql_balances_last() -> str:
    """Balances by product on the last date of ``account_day``."""
    return """
        SELECT product, count(*)::BIGINT AS accounts,
               sum(principal)::BIGINT AS principal, sum(interest)::BIGINT AS interest,
               sum(fee)::BIGINT AS fee, sum(penalty)::BIGINT AS penalty,
               count(*) FILTER (WHERE status = 'charged_off')::BIGINT AS charged_off_accounts,
               sum(chargeoff_amount)::BIGINT AS charged_off_amount,
               sum(recovered_total)::BIGINT AS recovered_after_chargeoff
        FROM account_day WHERE business_date = (SELECT max(business_date) FROM account_day)
        GROUP BY product ORDER BY product"""


def _dates_sql(dates: list[date]) -> str:
    """A SQL list of date literals (``NULL`` when empty, which matches nothing).

    >>> _dates_sql([date(2026, 1, 31), date(2026, 2, 28)])
    "DATE '2026-01-31', DATE '2026-02-28'"
    """
    return ", ".join(f"DATE '{d.isoformat()}'" for d in dates) or "NULL"


def month_ends(dates: list[date]) -> list[date]:
    """The calendar month ends among ``dates``, in order.

    >>> month_ends([date(2026, 1, 30), date(2026, 1, 31), date(2026, 2, 28)])
    [datetime.date(2026, 1, 31), datetime.date(2026, 2, 28)]
    """
    return sorted(d for d in dates if (d + timedelta(days=1)).day == 1)


def sql_month_end_rolls(dates: list[date]) -> str:
    """Bucket at each month end -> bucket at the next month end, accounts present at both.

    ``dates`` are the closed dates; a pair is the last days of two consecutive calendar
    months, both closed (a gap in the dates breaks the pair). The month ends go in as
    literals so the scan reads only their rows (the table is appended by date, so its
    row groups' min/max statistics skip the rest).
    """
    ends = month_ends(dates)
    pairs = [(a, b) for a, b in pairwise(ends) if b == _next_month_end(a)]
    keep = sorted({d for pair in pairs for d in pair})
    values = ", ".join(f"(DATE '{a.isoformat()}', DATE '{b.isoformat()}')" for a, b in pairs)
    if not values:
        values = "(NULL::DATE, NULL::DATE)"
    return f"""
        WITH pairs(d0, d1) AS (VALUES {values}),
        snap AS (SELECT business_date, account_id, bucket FROM account_day
                 WHERE business_date IN ({_dates_sql(keep)}))
        SELECT p.d0 AS from_date, p.d1 AS to_date, a.bucket AS from_bucket,
               b.bucket AS to_bucket, count(*)::BIGINT AS accounts
        FROM pairs p
        JOIN snap a ON a.business_date = p.d0
        JOIN snap b ON b.business_date = p.d1 AND b.account_id = a.account_id
        GROUP BY ALL ORDER BY ALL"""


def _next_month_end(d: date) -> date:
    first = d + timedelta(days=1)
    nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def _arrears_cte() -> str:
    """``flows``: the account-days that can move arrears, with the day before's arrears.

    Read in one pass over numeric columns (no join on the big table): days in arrears
    (DPD > 0, overdue > 0, or charged off) and days with a payment. A day outside that
    set had no arrears and no payment, so it neither raises nor collects arrears; a
    row whose previous row is not the day before follows such a day: its previous
    overdue and DPD are 0. A run of arrears days that ends before the last date, on
    an open account, is a cure: the next day the account was open, at 0 DPD and
    nothing overdue (a charged-off account stays in the set, so it is never a cure).
    """
    return """
        last_ AS (SELECT max(business_date) AS d FROM account_day),
        moves AS (SELECT account_id, business_date, status, dpd, overdue_amount, paid_today,
                         dpd > 0 OR overdue_amount > 0 OR status = 'charged_off' AS in_arrears
                  FROM account_day
                  WHERE dpd > 0 OR overdue_amount > 0 OR status = 'charged_off' OR paid_today > 0),
        prev AS (SELECT *,
                    CASE WHEN lag(business_date) OVER w = business_date - 1
                         THEN lag(overdue_amount) OVER w ELSE 0 END AS prev_overdue,
                    CASE WHEN lag(business_date) OVER w = business_date - 1
                         THEN lag(dpd) OVER w ELSE 0 END AS prev_dpd,
                    coalesce(lead(business_date) OVER w = business_date + 1
                             AND lead(in_arrears) OVER w, FALSE) AS arrears_tomorrow
                 FROM moves WINDOW w AS (PARTITION BY account_id ORDER BY business_date)),
        flows AS (SELECT *, least(paid_today, prev_overdue) AS collected,
                     greatest(overdue_amount - prev_overdue + least(paid_today, prev_overdue), 0)
                         AS arisen,
                     in_arrears AND dpd BETWEEN 1 AND 30 AND prev_dpd = 0 AS entry,
                     in_arrears AND status = 'open' AND NOT arrears_tomorrow
                         AND business_date < (SELECT d FROM last_) AS cure
                  FROM prev)"""


def sql_arrears_by_account() -> str:
    """Per account ever in arrears: delinquent?, entered M1, cured after, collected, arisen (fen)."""
    return f"""
        WITH {_arrears_cte()}
        SELECT account_id,
               bool_or(dpd > 0) AS delinquent,
               bool_or(entry) AS entered_m1,
               coalesce(max(business_date) FILTER (WHERE cure)
                        >= min(business_date) FILTER (WHERE entry), FALSE) AS cured,
               sum(collected)::BIGINT AS collected, sum(arisen)::BIGINT AS arisen
        FROM flows GROUP BY account_id
        HAVING bool_or(in_arrears)"""


def sql_recovery() -> str:
    """Totals of :func:`sql_arrears_by_account`, plus the arrears still open at the last date."""
    return f"""
        WITH acc AS ({sql_arrears_by_account()})
        SELECT count(*) FILTER (WHERE delinquent)::BIGINT AS delinquent_accounts,
               count(*) FILTER (WHERE entered_m1)::BIGINT AS entered_m1,
               count(*) FILTER (WHERE entered_m1 AND cured)::BIGINT AS cured,
               sum(collected)::BIGINT AS collected, sum(arisen)::BIGINT AS arisen,
               (SELECT sum(overdue_amount) FROM account_day WHERE business_date =
                   (SELECT max(business_date) FROM account_day))::BIGINT AS outstanding
        FROM acc"""


def sql_promises() -> str:
    """Each promise with ``kept``: a payment posted on the account from the day made to the promise date.

    A payment is ``paid_today`` (or ``recovered_today`` once charged off) on the
    account's ``account_day`` row; any amount counts. Payment days are filtered first
    (numeric columns) so only they meet the promises.
    """
    return """
        WITH pays AS (SELECT account_id, business_date FROM account_day
                      WHERE paid_today > 0 OR recovered_today > 0)
        SELECT p.business_date, p.account_id, p.channel, p.promise_date, p.amount,
               EXISTS (SELECT 1 FROM pays a WHERE a.account_id = p.account_id
                       AND a.business_date BETWEEN p.business_date AND p.promise_date) AS kept
        FROM promises p"""


def sql_contacts() -> str:
    """Contacts proposed / made / blocked / reached / with a promise, by channel and purpose."""
    reached = ", ".join(f"'{o}'" for o in REACHED)
    return f"""
        SELECT channel, purpose, count(*)::BIGINT AS proposed,
               count(*) FILTER (WHERE allowed)::BIGINT AS made,
               count(*) FILTER (WHERE NOT allowed)::BIGINT AS blocked,
               count(*) FILTER (WHERE allowed AND outcome IN ({reached}))::BIGINT AS reached,
               count(*) FILTER (WHERE promise)::BIGINT AS promises
        FROM contacts GROUP BY ALL ORDER BY ALL"""


def sql_rule_audit(limits: dict[str, int] | None = None) -> str:
    """Contacts made (``allowed``) that break the CN hard limits, counted straight from the tables.

    One row: ``quiet_hours`` (voice contacts at or after 22:00 or before 08:00 in the
    customer's time zone), ``connected_voice_per_day`` and ``unanswered_voice_per_day``
    (the contacts beyond the cap on a customer's local day: a fourth connected call
    counts 1), ``complaint_hold`` (contacts on a business date 1-14 days after one of
    the customer's complaints: the twin draws a day's complaints after its contacts).
    """
    lim = {**CN_LIMITS, **(limits or {})}
    voice = ", ".join(f"'{c}'" for c in VOICE)
    return f"""
        WITH made AS (
            SELECT c.business_date, c.customer_id, c.channel, c.outcome,
                   timezone(cu.timezone, c.contact_ts) AS local_ts
            FROM contacts c JOIN customers cu ON cu.customer_id = c.customer_id
            WHERE c.allowed),
        voice AS (SELECT * FROM made WHERE channel IN ({voice})),
        per_day AS (
            SELECT customer_id, CAST(local_ts AS DATE) AS local_day,
                   count(*) FILTER (WHERE outcome = 'connected') AS connected,
                   count(*) FILTER (WHERE outcome <> 'connected') AS unanswered
            FROM voice GROUP BY ALL)
        SELECT
            (SELECT count(*) FROM voice WHERE hour(local_ts) >= {lim['quiet_from_hour']:d}
                OR hour(local_ts) < {lim['quiet_until_hour']:d})::BIGINT AS quiet_hours,
            (SELECT coalesce(sum(greatest(connected - {lim['connected_voice_per_day']:d}, 0)), 0)
                FROM per_day)::BIGINT AS connected_voice_per_day,
            (SELECT coalesce(sum(greatest(unanswered - {lim['unanswered_voice_per_day']:d}, 0)), 0)
                FROM per_day)::BIGINT AS unanswered_voice_per_day,
            (SELECT count(*) FROM made m WHERE EXISTS (
                SELECT 1 FROM complaints k WHERE k.customer_id = m.customer_id
                AND k.business_date < m.business_date
                AND k.business_date >= m.business_date - {lim['complaint_hold_days']:d}))::BIGINT
                AS complaint_hold"""


def sql_status_transitions() -> str:
    """Revolving accounts' consecutive monthly decisions: status at k -> status at k+1, counts."""
    return """
        WITH seq AS (SELECT status, lead(status) OVER (
                        PARTITION BY account_id ORDER BY business_date) AS next_status
                     FROM sim_status WHERE product = 'revolving')
        SELECT status, next_status, count(*)::BIGINT AS n
        FROM seq WHERE next_status IS NOT NULL GROUP BY ALL ORDER BY ALL"""


def sql_vintage(dates: list[date], bad_dpd: int = BAD_DPD) -> str:
    """Vintage curves: share of each opening month's accounts ever ``bad_dpd``+ DPD by each month end.

    ``dates`` are the closed dates. Points are their month ends plus the last date (a
    partial month when it is not a month end); months_on_book 1 is the end of the
    opening month. The denominator is the whole vintage at every point, so a curve
    never falls. Vintages opened before the first date are left out: their early
    history is not in the books.
    """
    points = sorted(set(month_ends(dates)) | ({max(dates)} if dates else set()))
    first = f"DATE '{min(dates).isoformat()}'" if dates else "NULL"
    return f"""
        WITH points(d) AS (SELECT unnest([{_dates_sql(points)}]::DATE[])),
        acc AS (SELECT account_id, strftime(opened, '%Y-%m') AS vintage,
                       CAST(date_trunc('month', opened) AS DATE) AS vstart
                FROM accounts WHERE opened >= {first}),
        bad AS (SELECT account_id, min(business_date) AS first_bad FROM account_day
                WHERE dpd >= {bad_dpd:d} GROUP BY account_id)
        SELECT a.vintage, (datediff('month', a.vstart, p.d) + 1)::INTEGER AS months_on_book,
               count(*)::BIGINT AS accounts,
               count(*) FILTER (WHERE b.first_bad <= p.d)::BIGINT AS bad,
               count(*) FILTER (WHERE b.first_bad <= p.d) / count(*) AS bad_rate
        FROM acc a LEFT JOIN bad b ON b.account_id = a.account_id
        JOIN points p ON p.d >= last_day(a.vstart)
        GROUP BY ALL ORDER BY ALL"""


def sql_funnel() -> str:
    """The collection funnel, each stage a subset of the one before (distinct accounts)."""
    reached = ", ".join(f"'{o}'" for o in REACHED)
    return f"""
        WITH acc AS ({sql_arrears_by_account()}),
        coll AS (SELECT account_id, bool_or(allowed) AS contacted,
                        bool_or(allowed AND outcome IN ({reached})) AS reached
                 FROM contacts WHERE purpose = 'collection' GROUP BY account_id),
        prom AS (SELECT account_id, bool_or(kept) AS kept FROM ({sql_promises()})
                 GROUP BY account_id),
        f AS (SELECT coalesce(c.contacted, FALSE) AS s1,
                     coalesce(c.contacted AND c.reached, FALSE) AS s2,
                     coalesce(c.contacted AND c.reached AND p.account_id IS NOT NULL, FALSE) AS s3,
                     coalesce(c.contacted AND c.reached AND p.kept, FALSE) AS s4,
                     a.cured
              FROM acc a LEFT JOIN coll c ON c.account_id = a.account_id
              LEFT JOIN prom p ON p.account_id = a.account_id
              WHERE a.delinquent)
        SELECT count(*)::BIGINT AS delinquent, count(*) FILTER (WHERE s1)::BIGINT AS contacted,
               count(*) FILTER (WHERE s2)::BIGINT AS reached,
               count(*) FILTER (WHERE s3)::BIGINT AS promised,
               count(*) FILTER (WHERE s4)::BIGINT AS kept,
               count(*) FILTER (WHERE s4 AND cured)::BIGINT AS cured
        FROM f"""


# --------------------------------------------------------------------------- sections

def _weekly(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows of every 7th date from the first, plus the last date."""
    dates = frame.get_column("business_date")
    first, last = dates.min(), dates.max()
    return frame.filter(((pl.col("business_date") - pl.lit(first)).dt.total_days() % 7 == 0)
                        | (pl.col("business_date") == pl.lit(last)))


def bucket_shares(bucket_daily: pl.DataFrame, *, weekly: bool = True) -> list[dict[str, Any]]:
    """Share of accounts in each bucket (M0..M6, CO) per date; each point's shares sum to 1.

    The denominator is every account with a row that date (charged-off ones included,
    in CO). ``weekly`` keeps every 7th date from the first and the last date, to keep
    ``kpis.json`` small; the report draws every date.

    >>> f = pl.DataFrame({"business_date": [date(2026, 1, 1)] * 2, "bucket": ["M0", "M1"],
    ...                   "accounts": [3, 1], "balance": [0, 0]})
    >>> bucket_shares(f)
    [{'date': '2026-01-01', 'M0': 0.75, 'M1': 0.25, 'M2': 0.0, 'M3': 0.0, 'M4': 0.0, 'M5': 0.0, \
'M6': 0.0, 'CO': 0.0}]
    """
    if bucket_daily.is_empty():
        return []
    frame = _weekly(bucket_daily) if weekly else bucket_daily
    totals = frame.group_by("business_date").agg(pl.col("accounts").sum().alias("_t"))
    counts = {(d, b): n for d, b, n in frame.select("business_date", "bucket", "accounts")
              .iter_rows()}
    out = []
    for d, total in totals.sort("business_date").iter_rows():
        shares = {b: round(counts.get((d, b), 0) / total, 4) for b in BUCKETS}
        out.append({"date": d.isoformat(), **shares})
    return out


def closed_dates(source: Source) -> list[date]:
    """The distinct business dates of ``account_day``, in order."""
    frame = run_query(source, "SELECT DISTINCT business_date FROM account_day ORDER BY 1")
    return list(frame.get_column("business_date"))


def roll_rates(source: Source, dates: list[date] | None = None) -> dict[str, Any]:
    """Month-over-month roll rates between buckets, from month-end snapshots.

    ``counts[from][to]``: accounts in ``from`` at a month end and in ``to`` at the next,
    summed over the run's pairs of consecutive month ends; ``shares`` divides each row
    by its total (so a row sums to 1). ``roll_forward["M1->M2"]`` is the classic roll
    rate: the share of a bucket's accounts one bucket worse a month later (M6 -> CO).
    ``frame`` is the long form the report's heat map draws.
    """
    frame = run_query(source, sql_month_end_rolls(
        closed_dates(source) if dates is None else dates))
    long = frame.group_by("from_bucket", "to_bucket").agg(pl.col("accounts").sum())
    counts: dict[str, dict[str, int]] = {}
    for a, b, n in long.sort("from_bucket", "to_bucket").iter_rows():
        counts.setdefault(str(a), {})[str(b)] = int(n)
    order = [b for b in BUCKETS if b in counts] + sorted(set(counts) - set(BUCKETS))
    counts = {a: counts[a] for a in order}
    shares = {a: {b: round(n / sum(row.values()), 4) for b, n in row.items()}
              for a, row in counts.items()}
    forward = {f"{a}->{b}": (_rate(counts[a].get(b, 0), sum(counts[a].values()))
                             if a in counts else None)
               for a, b in pairwise(BUCKETS)}
    pairs = frame.select("from_date", "to_date").unique().sort("from_date")
    return {"month_end_pairs": [[a.isoformat(), b.isoformat()] for a, b in pairs.iter_rows()],
            "counts": counts, "shares": shares, "roll_forward": forward,
            "frame": long.select("from_bucket", "to_bucket", "accounts")}


def recovery(source: Source) -> dict[str, Any]:
    """Recovery and cure, from the day-to-day movement of each account's arrears.

    For every account-day, with ``prev`` the overdue amount the day before (0 if not
    in arrears): ``collected = min(paid_today, prev)`` is money paid while in arrears,
    up to the arrears; ``arisen = max(overdue - prev + collected, 0)`` is the arrears
    that arose that day (missed dues and penalties). ``recovery_rate = collected /
    arisen`` over the run. By construction arisen = collected + arrears still
    overdue at the last date + arrears cleared without a payment (charged off or
    restructured), the last reported as ``arrears_cleared_otherwise``.

    ``cure_rate``: of the accounts that entered M1 in the run (a day at 1-30 DPD after
    a day at 0 DPD), the share back at 0 DPD, still open, on some later date.
    ``delinquent_accounts``: accounts with any day at DPD > 0.
    """
    row = run_query(source, sql_recovery()).row(0, named=True)
    arisen, collected, outstanding = (_int(row[k]) for k in ("arisen", "collected", "outstanding"))
    return {
        "delinquent_accounts": _int(row["delinquent_accounts"]),
        "arrears_arisen": arisen, "arrears_collected": collected,
        "arrears_outstanding": outstanding,
        "arrears_cleared_otherwise": arisen - collected - outstanding,
        "recovery_rate": _rate(collected, arisen),
        "entered_m1": _int(row["entered_m1"]), "cured": _int(row["cured"]),
        "cure_rate": _rate(_int(row["cured"]), _int(row["entered_m1"])),
    }


def contact_figures(source: Source) -> dict[str, Any]:
    """Contacts by channel and by channel x purpose, and the contacts blocked, by rule.

    ``proposed``: every contact the policy proposed (a row of ``contacts``);
    ``made``: those the checker allowed; ``blocked`` = proposed - made; ``reached``:
    made and connected (voice) or read (messages); ``promises``: made with a promise.
    """
    frame = run_query(source, sql_contacts())
    cols = ("proposed", "made", "blocked", "reached", "promises")
    by_channel = frame.group_by("channel").agg(pl.col(cols).sum()).sort("channel")
    rules = run_query(source, """SELECT coalesce(rule, 'unknown') AS rule, count(*)::BIGINT AS n
                                 FROM contacts WHERE NOT allowed GROUP BY 1 ORDER BY 2 DESC, 1""")
    return {
        "contacts": int(frame["made"].sum()), "contacts_proposed": int(frame["proposed"].sum()),
        "contacts_blocked": int(frame["blocked"].sum()),
        "contacts_by_channel": {r["channel"]: {c: int(r[c]) for c in cols}
                                for r in by_channel.iter_rows(named=True)},
        "contacts_by_channel_purpose": [{k: (int(v) if k in cols else v) for k, v in r.items()}
                                        for r in frame.iter_rows(named=True)],
        "contacts_blocked_by_rule": {r: int(n) for r, n in rules.iter_rows()},
    }


def promise_figures(source: Source) -> dict[str, Any]:
    """Promises made, kept (see :func:`sql_promises`) and the kept rate."""
    row = run_query(source, f"SELECT count(*)::BIGINT AS made, count(*) FILTER (WHERE kept)::BIGINT "
                            f"AS kept FROM ({sql_promises()})").row(0, named=True)
    made, kept = _int(row["made"]), _int(row["kept"])
    return {"promises_made": made, "promises_kept": kept, "promise_kept_rate": _rate(kept, made)}


def rule_violations(source: Source, limits: dict[str, int] | None = None) -> dict[str, int]:
    """The independent audit of :func:`sql_rule_audit`: each count, and ``total``. All should be 0."""
    row = run_query(source, sql_rule_audit(limits)).row(0, named=True)
    counts = {k: _int(v) for k, v in row.items()}
    return {**counts, "total": sum(counts.values())}


def status_transitions(source: Source) -> dict[str, Any]:
    """The simulated monthly repayment-status transition matrix beside the Taiwan one.

    States are those of :data:`creditdesk.simulate.targets.STATES`; only revolving
    accounts' consecutive decisions count (Taiwan's holders are card holders).
    ``max_abs_gap`` is the largest cell difference of the row-share matrices and
    where it is; ``None`` when no row is known on both sides. ``max_abs_gap_merged``
    is the same with late_1 and late_2 merged, the view the calibration fits (the
    Taiwan data almost never codes a first late month as 1; see targets.MERGE).
    """
    frame = run_query(source, sql_status_transitions())
    counts = np.zeros((len(STATES), len(STATES)), dtype=np.int64)
    for s, t, n in frame.iter_rows():
        counts[int(s), int(t)] += int(n)
    sim = TransitionTable.from_counts(counts)
    real = taiwan_transitions()
    gap: dict[str, Any] | None = None
    merged: dict[str, Any] | None = None
    if counts.any():
        g, frm, to = max_abs_gap(real, sim)
        gap = {"gap": round(g, 4), "from": frm, "to": to}
        mg, mfrm, mto = merged_gap(real.counts, counts)
        merged = {"gap": round(mg, 4), "from": mfrm, "to": mto}

    def rounded(table: TransitionTable) -> dict[str, dict[str, float | None]]:
        probs: dict[str, dict[str, float | None]] = table.to_dict()["probabilities"]
        return {a: {b: (None if p is None else round(p, 4)) for b, p in row.items()}
                for a, row in probs.items()}

    return {"states": list(STATES), "counts": sim.to_dict()["counts"], "total": int(counts.sum()),
            "probabilities": rounded(sim), "taiwan_probabilities": rounded(real),
            "max_abs_gap": gap, "max_abs_gap_merged": merged}


def vintage_curves(source: Source, dates: list[date] | None = None) -> pl.DataFrame:
    """vintage, months_on_book, accounts, bad, bad_rate (see :func:`sql_vintage`)."""
    return run_query(source, sql_vintage(closed_dates(source) if dates is None else dates))


def funnel(source: Source) -> pl.DataFrame:
    """stage, count: delinquent accounts -> contacted -> reached -> promise -> kept -> cured.

    Each stage is the accounts of the one before that also: had a collection contact
    made; were reached by one (connected, or the message read); made a promise; kept
    one; and cured (back to 0 DPD, open, after entering M1).
    """
    row = run_query(source, sql_funnel()).row(0, named=True)
    names = {"delinquent": "delinquent accounts", "contacted": "contacted",
             "reached": "right-party contact / read", "promised": "promise to pay",
             "kept": "promise kept", "cured": "cured"}
    return pl.DataFrame({"stage": list(names.values()),
                         "count": [_int(row[k]) for k in names]},
                        schema={"stage": pl.String, "count": pl.Int64})


# --------------------------------------------------------------------------- assembly

def _dates_of(bucket_daily: pl.DataFrame) -> list[date]:
    return sorted(bucket_daily.get_column("business_date").unique())


def demo_kpis(store: Source, *, seed: int, days: int, customers: int,
              seconds: float | None = None) -> dict[str, Any]:
    """Every figure of ``kpis.json``: JSON-ready (ints in fen, rates to 4 places, ISO dates).

    Top-level scalars are the headline (the report's table); nested keys hold the
    detail. ``customers``/``accounts`` are counted in the store; ``run`` records the
    arguments the demo was run with. Definitions: module docstrings and
    ``docs/simulate-kpis.md``.
    """
    n_customers = _int(run_query(store, "SELECT count(*) AS n FROM customers").item())
    by_product = run_query(store, "SELECT product, count(*)::BIGINT AS n FROM accounts "
                                  "GROUP BY 1 ORDER BY 1")
    daily = run_query(store, sql_bucket_daily())
    balances = run_query(store, sql_balances_last())
    comps = ("principal", "interest", "fee", "penalty")
    bal_by_product = {r["product"]: {**{c: _int(r[c]) for c in comps},
                                     "receivable": sum(_int(r[c]) for c in comps)}
                      for r in balances.iter_rows(named=True)}
    totals = {c: sum(v[c] for v in bal_by_product.values()) for c in (*comps, "receivable")}
    dates = _dates_of(daily)
    at_last = daily.filter(pl.col("business_date") == dates[-1]) if dates else daily
    in_arrears = int(at_last.filter(pl.col("bucket").is_in(_ARREARS))["accounts"].sum())
    rec = recovery(store)
    contacts = contact_figures(store)
    complaints = _int(run_query(store, "SELECT count(*) AS n FROM complaints").item())
    audit = rule_violations(store)
    rolls = roll_rates(store, dates)
    rolls.pop("frame")
    return {
        "customers": n_customers,
        "accounts": int(by_product["n"].sum()),
        "days": days,
        "first_date": dates[0].isoformat() if dates else None,
        "as_of": dates[-1].isoformat() if dates else None,
        "days_closed": len(dates),
        "receivable": totals["receivable"],
        "delinquency_rate": _rate(in_arrears, int(at_last["accounts"].sum())),
        "delinquent_accounts": rec["delinquent_accounts"],
        "recovery_rate": rec["recovery_rate"],
        "cure_rate": rec["cure_rate"],
        "charged_off_accounts": _int(balances["charged_off_accounts"].sum()),
        "charged_off_amount": _int(balances["charged_off_amount"].sum()),
        "recovered_after_chargeoff": _int(balances["recovered_after_chargeoff"].sum()),
        "contacts": contacts["contacts"],
        "contacts_blocked": contacts["contacts_blocked"],
        "complaints": complaints,
        "complaints_per_1000_delinquent": (round(1000 * complaints / rec["delinquent_accounts"], 4)
                                           if rec["delinquent_accounts"] else None),
        **promise_figures(store),
        "rule_violations": audit["total"],
        "seed": seed,
        "seconds": None if seconds is None else round(seconds, 1),
        "run": {"seed": seed, "days": days, "customers": customers, "seconds": seconds},
        "accounts_by_product": {p: int(n) for p, n in by_product.iter_rows()},
        "balances": {**totals, "by_product": bal_by_product},
        "bucket_shares": bucket_shares(daily),
        "roll_rates": rolls,
        "recovery": rec,
        **{k: v for k, v in contacts.items() if k not in ("contacts", "contacts_blocked")},
        "rule_violations_by_rule": {k: v for k, v in audit.items() if k != "total"},
        "status_transitions": status_transitions(store),
    }


def demo_report_data(store: Source, kpis: dict[str, Any]) -> DemoReportData:
    """The frames :mod:`creditdesk.reports.demo_report` draws, aggregated in the store."""
    daily = run_query(store, sql_bucket_daily())
    dates = _dates_of(daily)
    contacts_daily = run_query(store, """
        SELECT business_date, channel, count(*) FILTER (WHERE allowed)::BIGINT AS attempts,
               count(*) FILTER (WHERE allowed AND outcome IN ('connected', 'read'))::BIGINT
                   AS connected,
               count(*) FILTER (WHERE NOT allowed)::BIGINT AS blocked
        FROM contacts GROUP BY ALL ORDER BY ALL""")
    counted = run_query(store, "SELECT business_date, count(*)::BIGINT AS complaints "
                               "FROM complaints GROUP BY 1")
    every_day = daily.select("business_date").unique()
    complaints_daily = (every_day.join(counted, on="business_date", how="full", coalesce=True)
                        .with_columns(pl.col("complaints").fill_null(0)).sort("business_date"))
    return DemoReportData(
        kpis=kpis, bucket_daily=daily, roll_rates=roll_rates(store, dates)["frame"],
        vintage=vintage_curves(store, dates), funnel=funnel(store), contacts_daily=contacts_daily,
        complaints_daily=complaints_daily)
