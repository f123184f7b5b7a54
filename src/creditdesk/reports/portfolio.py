"""Portfolio analytics from the books: balances, bucket mix, roll rates, vintage curves.

Read-only on ``account_day``, ``accounts`` and ``closed_dates``. Each figure is one
portable ``SELECT`` through :meth:`Store.query` (``?`` parameters, ``CAST``,
``CASE``, ``GROUP BY``, a ``VALUES`` list: nothing engine-specific), so the same code
runs on DuckDB and on PostgreSQL; the arithmetic that SQL dialects spell differently
(months between two dates, shares) is done in Python by the pure functions below,
which the unit tests check on hand-computed examples.

Speed on a large book: the balances and the bucket mix read only the sampled dates
(:func:`sample_dates`: the first closed date, every month end, the last date), the
roll rates the month-end rows once (each account's next month end by a window
function), and the vintage curves one grouped pass over the rows at 30+ DPD.

Amounts are ``int`` minor units (fen, cents); shares are ``float`` in [0, 1].

Definitions
-----------
* **Balance** of an account on a date: principal + interest + fee + penalty owed.
  A charged-off account owes nothing on the books; in the bucket mix it is shown
  in ``CO`` at the amount charged off less what has been recovered since.
* **Bucket mix**: per date, accounts and balance per bucket (M0..M6, CO), and each
  bucket's share of the date's accounts and balance. Every account with a row that
  date counts (charged-off ones in CO).
* **Roll rates**: for each pair of consecutive month ends, the bucket of each account
  at the first and at the second (accounts present at both); counts summed over the
  pairs and each row divided by its total (so a row's shares sum to 1).
* **Vintage curves**: accounts grouped by opening month; at each sampled date from the
  end of the opening month on, the share of the vintage ever 30+ (and 60+) DPD by
  then. ``months_on_book`` is 1 at the end of the opening month. Vintages opened
  before the first closed date are left out (their early history is not in the books).

>>> sample_dates([date(2026, 1, 30), date(2026, 1, 31), date(2026, 2, 1)], min_points=1)
[datetime.date(2026, 1, 30), datetime.date(2026, 1, 31), datetime.date(2026, 2, 1)]
>>> months_on_book(date(2026, 1, 20), date(2026, 3, 31))
3
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import pairwise
from typing import Any

import polars as pl

from creditdesk.store.base import Store

__all__ = [
    "BAD_DPD",
    "BUCKETS",
    "COMPONENTS",
    "Portfolio",
    "balances_over_time",
    "bucket_mix",
    "closed_dates",
    "month_ends",
    "months_on_book",
    "portfolio",
    "roll_matrix",
    "roll_pairs",
    "sample_dates",
    "vintage_curves",
]

#: DESIGN.md delinquency buckets in order: current, 1-30 ... 151-180 DPD, charged off
BUCKETS: tuple[str, ...] = ("M0", "M1", "M2", "M3", "M4", "M5", "M6", "CO")
#: the balance components of ``account_day``
COMPONENTS: tuple[str, ...] = ("principal", "interest", "fee", "penalty")
#: the vintage curves' "bad" thresholds (ever this many days past due)
BAD_DPD: tuple[int, ...] = (30, 60)


# --------------------------------------------------------------------------- pure helpers

def month_ends(dates: Iterable[date]) -> list[date]:
    """The calendar month ends among ``dates``, in order.

    >>> month_ends([date(2026, 2, 27), date(2026, 2, 28), date(2026, 3, 31)])
    [datetime.date(2026, 2, 28), datetime.date(2026, 3, 31)]
    """
    return sorted({d for d in dates if (d + timedelta(days=1)).day == 1})


def sample_dates(dates: Sequence[date], *, min_points: int = 8) -> list[date]:
    """The dates the time series are drawn at: the first date, every month end, the last.

    A short book (fewer than ``min_points`` such dates) gets evenly spaced dates
    instead, first and last included, so a six-week book still draws a curve.

    >>> ds = [date(2026, 1, 1) + timedelta(days=i) for i in range(70)]
    >>> [d.isoformat() for d in sample_dates(ds, min_points=3)]
    ['2026-01-01', '2026-01-31', '2026-02-28', '2026-03-11']
    >>> len(sample_dates(ds, min_points=8))  # eight evenly spaced, and the month ends
    9
    """
    if min_points < 1:
        raise ValueError(f"min_points must be at least 1; got {min_points}")
    ordered = sorted(set(dates))
    if not ordered:
        return []
    picked = sorted({ordered[0], ordered[-1], *month_ends(ordered)})
    if len(picked) >= min_points or len(ordered) <= len(picked):
        return picked
    n = min(min_points, len(ordered))
    step = (len(ordered) - 1) / (n - 1) if n > 1 else 0
    return sorted({ordered[round(i * step)] for i in range(n)} | set(picked))


def months_on_book(opened: date, at: date) -> int:
    """Months on book at ``at`` of an account opened on ``opened``: 1 in the opening month.

    >>> months_on_book(date(2026, 1, 31), date(2026, 1, 31)), \
months_on_book(date(2025, 12, 1), date(2026, 2, 1))
    (1, 3)
    """
    return (at.year - opened.year) * 12 + at.month - opened.month + 1


def _month_start(d: date) -> date:
    return d.replace(day=1)


def _month_end(d: date) -> date:
    nxt = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
    return nxt - timedelta(days=1)


def roll_pairs(dates: Sequence[date]) -> list[tuple[date, date]]:
    """Consecutive month ends among the closed ``dates``, as (from, to) pairs.

    Two month ends are a pair only when they are a calendar month apart.

    >>> roll_pairs([date(2026, 1, 31), date(2026, 2, 28), date(2026, 4, 30)])
    [(datetime.date(2026, 1, 31), datetime.date(2026, 2, 28))]
    """
    ends = month_ends(dates)
    return [(a, b) for a, b in pairwise(ends)
            if months_on_book(a, b) == 2]


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _bucket_order(names: Iterable[str]) -> list[str]:
    seen = set(names)
    return [b for b in BUCKETS if b in seen] + sorted(seen - set(BUCKETS))


def balances_over_time(rows: pl.DataFrame) -> list[dict[str, Any]]:
    """Balances per date and product from rows of ``business_date, product, accounts,
    principal, interest, fee, penalty`` (one row per date and product); each output row
    adds ``total`` (sum of the four components). Ordered by date, then product.

    >>> f = pl.DataFrame({"business_date": [date(2026, 1, 31)] * 2,
    ...                   "product": ["revolving", "cash_loan"], "accounts": [2, 1],
    ...                   "principal": [1000, 500], "interest": [10, 5], "fee": [0, 0],
    ...                   "penalty": [1, 0]})
    >>> [(r["product"], r["total"]) for r in balances_over_time(f)]
    [('cash_loan', 505), ('revolving', 1011)]
    """
    if rows.is_empty():
        return []
    out = []
    for r in rows.sort("business_date", "product").iter_rows(named=True):
        rec = {"business_date": r["business_date"], "product": str(r["product"]),
               "accounts": int(r["accounts"])}
        rec.update({c: int(r[c] or 0) for c in COMPONENTS})
        rec["total"] = sum(rec[c] for c in COMPONENTS)
        out.append(rec)
    return out


def bucket_mix(rows: pl.DataFrame) -> list[dict[str, Any]]:
    """Per date: accounts and balance per bucket and each bucket's shares of both.

    ``rows``: ``business_date, bucket, accounts, balance``. Each output row has
    ``business_date, accounts, balance`` (totals) and ``by_bucket``: one entry per
    bucket in DESIGN order (buckets absent that date are zero), with
    ``accounts, balance, account_share, balance_share``. Shares of a date sum to 1.

    >>> f = pl.DataFrame({"business_date": [date(2026, 1, 31)] * 3,
    ...                   "bucket": ["M1", "M0", "CO"], "accounts": [1, 3, 1],
    ...                   "balance": [300, 600, 100]})
    >>> row = bucket_mix(f)[0]
    >>> row["accounts"], row["balance"], row["by_bucket"]["M0"]["account_share"]
    (5, 1000, 0.6)
    >>> row["by_bucket"]["M1"]["balance_share"], row["by_bucket"]["M2"]["accounts"]
    (0.3, 0)
    """
    if rows.is_empty():
        return []
    seen = {str(b) for b in rows.get_column("bucket").to_list()}
    names = list(BUCKETS) + sorted(seen - set(BUCKETS))
    by_date: dict[date, dict[str, tuple[int, int]]] = {}
    for d, b, n, bal in rows.select("business_date", "bucket", "accounts", "balance").iter_rows():
        cell = by_date.setdefault(d, {})
        n0, b0 = cell.get(str(b), (0, 0))
        cell[str(b)] = (n0 + int(n), b0 + int(bal or 0))
    out = []
    for d in sorted(by_date):
        cell = by_date[d]
        total_n = sum(n for n, _ in cell.values())
        total_b = sum(b for _, b in cell.values())
        out.append({
            "business_date": d, "accounts": total_n, "balance": total_b,
            "by_bucket": {b: {"accounts": cell.get(b, (0, 0))[0],
                              "balance": cell.get(b, (0, 0))[1],
                              "account_share": _share(cell.get(b, (0, 0))[0], total_n),
                              "balance_share": _share(cell.get(b, (0, 0))[1], total_b)}
                          for b in names},
        })
    return out


def roll_matrix(rows: pl.DataFrame) -> dict[str, Any]:
    """The roll-rate matrix from rows of ``from_bucket, to_bucket, accounts``.

    Returns ``buckets`` (DESIGN order, those seen on either side), ``counts[i][j]``
    (accounts in ``buckets[i]`` at a month end and in ``buckets[j]`` at the next),
    ``shares[i][j]`` (the count over row ``i``'s total; ``None`` for a row with no
    accounts: unknown, not zero) and ``roll_forward`` (``"M1->M2"``: the share of a
    bucket one bucket worse a month later; ``None`` when the bucket was empty).

    >>> f = pl.DataFrame({"from_bucket": ["M0", "M0", "M1", "M1"],
    ...                   "to_bucket": ["M0", "M1", "M0", "M2"], "accounts": [9, 1, 1, 3]})
    >>> m = roll_matrix(f)
    >>> m["buckets"], m["counts"][1], m["shares"][1], m["shares"][2]
    (['M0', 'M1', 'M2'], [1, 0, 3], [0.25, 0.0, 0.75], [None, None, None])
    >>> m["roll_forward"]["M0->M1"], m["roll_forward"]["M1->M2"], m["roll_forward"]["M2->M3"]
    (0.1, 0.75, None)
    """
    if rows.is_empty():
        return {"buckets": [], "counts": [], "shares": [], "roll_forward": {}}
    pairs: dict[tuple[str, str], int] = {}
    for a, b, n in rows.select("from_bucket", "to_bucket", "accounts").iter_rows():
        key = (str(a), str(b))
        pairs[key] = pairs.get(key, 0) + int(n)
    buckets = _bucket_order([a for a, _ in pairs] + [b for _, b in pairs])
    counts = [[pairs.get((a, b), 0) for b in buckets] for a in buckets]
    shares: list[list[float | None]] = []
    for row in counts:
        total = sum(row)
        shares.append([n / total if total else None for n in row])
    forward: dict[str, float | None] = {}
    for a, b in pairwise(BUCKETS):
        total = sum(pairs.get((a, x), 0) for x in buckets)
        forward[f"{a}->{b}"] = pairs.get((a, b), 0) / total if total else None
    return {"buckets": buckets, "counts": counts, "shares": shares, "roll_forward": forward}


def vintage_curves(rows: pl.DataFrame, points: Sequence[date], *,
                   first_date: date | None = None) -> list[dict[str, Any]]:
    """Vintage curves from account-level rows of ``opened, first_30, first_60, accounts``.

    ``first_30``/``first_60``: the first date the account was 30+ / 60+ DPD (null if
    never); ``accounts``: how many accounts share that row (the SQL groups them).
    ``points``: the dates to evaluate at; a vintage (opening month ``YYYY-MM``) is
    evaluated at each point on or after the end of its opening month. Accounts opened
    before ``first_date`` are left out. Output rows: ``vintage, at, months_on_book,
    accounts, dpd30, dpd60, share30, share60`` (``dpdN``: accounts ever N+ DPD by
    ``at``), ordered by vintage then date.

    >>> f = pl.DataFrame({"opened": [date(2026, 1, 5), date(2026, 1, 20), date(2026, 1, 9)],
    ...                   "first_30": [date(2026, 2, 20), None, date(2026, 3, 5)],
    ...                   "first_60": [date(2026, 3, 22), None, None],
    ...                   "accounts": [1, 2, 1]})
    >>> pts = [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)]
    >>> [(r["months_on_book"], r["dpd30"], r["share30"], r["share60"])
    ...  for r in vintage_curves(f, pts)]
    [(1, 0, 0.0, 0.0), (2, 1, 0.25, 0.0), (3, 2, 0.5, 0.25)]
    """
    if rows.is_empty() or not points:
        return []
    frame = rows
    if first_date is not None:
        frame = frame.filter(pl.col("opened") >= first_date)
    groups: dict[date, list[tuple[date | None, date | None, int]]] = {}
    for opened, f30, f60, n in frame.select("opened", "first_30", "first_60",
                                            "accounts").iter_rows():
        groups.setdefault(_month_start(opened), []).append((f30, f60, int(n)))
    out = []
    for start in sorted(groups):
        members = groups[start]
        total = sum(n for _, _, n in members)
        end = _month_end(start)
        for at in sorted(set(points)):
            if at < end:
                continue
            bad30 = sum(n for f30, _, n in members if f30 is not None and f30 <= at)
            bad60 = sum(n for _, f60, n in members if f60 is not None and f60 <= at)
            out.append({"vintage": f"{start.year:04d}-{start.month:02d}", "at": at,
                        "months_on_book": months_on_book(start, at), "accounts": total,
                        "dpd30": bad30, "dpd60": bad60, "share30": _share(bad30, total),
                        "share60": _share(bad60, total)})
    return out


# --------------------------------------------------------------------------- SQL (portable)

def _date_list(dates: Sequence[date]) -> str:
    return ", ".join("CAST(? AS DATE)" for _ in dates)


def closed_dates(store: Store) -> list[date]:
    """The closed business dates, in order."""
    got = store.query("SELECT business_date FROM closed_dates ORDER BY business_date")
    return [d for d in got.get_column("business_date").to_list() if isinstance(d, date)]


def _balances_rows(store: Store, dates: Sequence[date]) -> pl.DataFrame:
    sums = ", ".join(f"CAST(sum({c}) AS BIGINT) AS {c}" for c in COMPONENTS)
    return store.query(
        f"SELECT business_date, product, count(*) AS accounts, {sums} FROM account_day "
        f"WHERE business_date IN ({_date_list(dates)}) GROUP BY business_date, product "
        "ORDER BY business_date, product", list(dates))


def _bucket_rows(store: Store, dates: Sequence[date]) -> pl.DataFrame:
    owed = " + ".join(COMPONENTS)
    return store.query(
        "SELECT business_date, bucket, count(*) AS accounts, CAST(sum(CASE WHEN bucket = 'CO' "
        f"THEN chargeoff_amount - recovered_total ELSE {owed} END) AS BIGINT) AS balance "
        f"FROM account_day WHERE business_date IN ({_date_list(dates)}) "
        "GROUP BY business_date, bucket ORDER BY business_date, bucket", list(dates))


def _roll_rows(store: Store, pairs: Sequence[tuple[date, date]]) -> pl.DataFrame:
    """Accounts by (bucket at one month end, bucket at the next), over every pair: one scan
    of the month-end rows, each account's next month end by ``lead`` (standard SQL),
    kept only where the two dates are one of ``pairs`` (present at both)."""
    if not pairs:
        return pl.DataFrame(schema={"from_bucket": pl.String, "to_bucket": pl.String,
                                    "accounts": pl.Int64})
    ends = sorted({d for pair in pairs for d in pair})
    window = "OVER (PARTITION BY account_id ORDER BY business_date)"
    values = ", ".join("(CAST(? AS DATE), CAST(? AS DATE))" for _ in pairs)
    got = store.query(
        "WITH m AS (SELECT account_id, business_date, bucket FROM account_day "
        f"WHERE business_date IN ({_date_list(ends)})), "
        f"s AS (SELECT business_date AS d0, bucket AS b0, lead(business_date) {window} AS d1, "
        f"lead(bucket) {window} AS b1 FROM m) "
        "SELECT s.b0 AS from_bucket, s.b1 AS to_bucket, count(*) AS accounts FROM s "
        f"JOIN (VALUES {values}) AS p(d0, d1) ON s.d0 = p.d0 AND s.d1 = p.d1 "
        "GROUP BY s.b0, s.b1 ORDER BY s.b0, s.b1",
        [*ends, *(d for pair in pairs for d in pair)])
    return got.with_columns(pl.col("accounts").cast(pl.Int64))


def _vintage_rows(store: Store, first: date, last: date) -> pl.DataFrame:
    low, high = BAD_DPD
    return store.query(
        "SELECT a.opened, b.first_30, b.first_60, count(*) AS accounts FROM accounts a "
        "LEFT JOIN (SELECT account_id, min(business_date) AS first_30, "
        f"min(CASE WHEN dpd >= {int(high)} THEN business_date END) AS first_60 "
        f"FROM account_day WHERE dpd >= {int(low)} GROUP BY account_id) b "
        "ON b.account_id = a.account_id WHERE a.opened >= ? AND a.opened <= ? "
        "GROUP BY a.opened, b.first_30, b.first_60 ORDER BY a.opened", [first, last])


@dataclass(frozen=True)
class Portfolio:
    """The portfolio page's figures as of the last closed date (``as_of``)."""

    as_of: date | None
    dates: list[date] = field(default_factory=list)
    balances: list[dict[str, Any]] = field(default_factory=list)
    buckets: list[dict[str, Any]] = field(default_factory=list)
    rolls: dict[str, Any] = field(default_factory=dict)
    roll_pairs: list[tuple[date, date]] = field(default_factory=list)
    vintages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.as_of is None

    def latest_balances(self) -> dict[str, int]:
        """Totals by component (and ``total``, ``accounts``) on the last sampled date."""
        rows = [r for r in self.balances if r["business_date"] == self.as_of]
        keys = ("accounts", *COMPONENTS, "total")
        return {k: sum(int(r[k]) for r in rows) for k in keys}


def portfolio(store: Store, *, min_points: int = 8) -> Portfolio:
    """Every figure of the portfolio page, from the books (an empty book: ``as_of`` None)."""
    if not store.has_table("closed_dates") or not store.has_table("account_day"):
        return Portfolio(None)
    closed = closed_dates(store)
    if not closed:
        return Portfolio(None)
    points = sample_dates(closed, min_points=min_points)
    pairs = roll_pairs(closed)
    vintage_points = sorted(set(month_ends(closed)) | {closed[-1]})
    return Portfolio(
        as_of=closed[-1], dates=points,
        balances=balances_over_time(_balances_rows(store, points)),
        buckets=bucket_mix(_bucket_rows(store, points)),
        rolls=roll_matrix(_roll_rows(store, pairs)), roll_pairs=pairs,
        vintages=vintage_curves(_vintage_rows(store, closed[0], closed[-1]), vintage_points,
                                first_date=closed[0]),
    )
