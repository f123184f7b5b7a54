"""A synthetic book: customers, accounts and transactions drawn from simple behaviours.

Not the digital twin (that is ``creditdesk.simulate``): a seeded generator of
plausible activity — purchases, repayments by payer type (in full, minimum,
late, never), cash loans repaid on schedule or not, some instalment
conversions, a few payment holidays and settlements — used by the sample
``demo``, the end-of-day benchmark and the parity and property tests.
Deterministic for a given seed.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from creditdesk.products.schedules import schedule_frame

__all__ = ["synthetic_book"]

PAYER_TYPES = ("full", "minimum", "late", "never")
PAYER_SHARES = (0.6, 0.22, 0.12, 0.06)


def synthetic_book(n_accounts: int, start: date, days: int, *, seed: int = 7,
                   loan_share: float = 0.3, arrangements: bool = True
                   ) -> dict[str, pl.DataFrame]:
    """Typed frames ``customers, accounts, transactions`` covering ``days`` from ``start``.

    ``arrangements``: add payment holidays (about 1 % of the accounts) and
    settlements (about a fifth of the accounts that never pay) after the other
    transactions, from their own random stream, so the rest of the book is the
    same either way. (Hardship plans need the exact past-due total of the day,
    which only the books know: ``collections.arrangements.offer`` computes it.)

    >>> book = synthetic_book(20, date(2026, 1, 1), 40, seed=1)
    >>> sorted(book), book["accounts"].height
    (['accounts', 'customers', 'transactions'], 20)
    """
    rng = np.random.default_rng(seed)
    ids = np.array([f"A{i:08d}" for i in range(n_accounts)])
    is_loan = rng.random(n_accounts) < loan_share
    limit = (rng.integers(20, 200, n_accounts) * 10_000).astype(np.int64)  # 2,000-20,000 yuan
    payer = rng.choice(len(PAYER_TYPES), size=n_accounts, p=PAYER_SHARES)
    customers = pl.DataFrame({
        "customer_id": [f"C{i:08d}" for i in range(n_accounts)],
        "timezone": rng.choice(["Asia/Shanghai", "Asia/Urumqi"], n_accounts, p=[0.95, 0.05]),
        "city_tier": rng.integers(1, 5, n_accounts).astype(np.int32),
    })
    accounts = pl.DataFrame({
        "account_id": ids,
        "customer_id": customers["customer_id"],
        "product": np.where(is_loan, "cash_loan", "revolving"),
        "credit_limit": limit,
        "opened": [start] * n_accounts,
    })
    txns = [_revolving(rng, ids[~is_loan], limit[~is_loan], payer[~is_loan], start, days),
            _loans(rng, ids[is_loan], limit[is_loan], payer[is_loan], start, days)]
    t = pl.concat([x for x in txns if x.height]).sort("business_date", "account_id", "type")
    t = t.with_columns(pl.format("S{}-{}", pl.lit(seed), pl.int_range(pl.len())).alias(
        "external_id"))
    if arrangements:
        extra = _arrangements(np.random.default_rng([seed, 17]), ids, limit, payer, start,
                              days, seed)
        if extra.height:
            t = pl.concat([t, extra.select(t.columns)], how="vertical_relaxed")
    return {"customers": customers, "accounts": accounts, "transactions": t}


def _arrangements(rng: np.random.Generator, ids: np.ndarray, limit: np.ndarray,
                  payer: np.ndarray, start: date, days: int, seed: int) -> pl.DataFrame:
    """Payment holidays of 1-3 months, and settlements of accounts that never pay at about
    15 % of the limit (above the balance now and then: then nothing is written off)."""
    n = len(ids)
    schema = {"account_id": pl.String, "business_date": pl.Date, "type": pl.String,
              "amount": pl.Int64, "terms": pl.Int32}
    if days < 10 or n == 0:
        return pl.DataFrame(schema=schema)
    never = payer == PAYER_TYPES.index("never")
    holiday = (rng.random(n) < 0.01) & ~never
    settle = never & (rng.random(n) < 0.2)
    h, s = np.nonzero(holiday)[0], np.nonzero(settle)[0]
    h_day = rng.integers(days // 3, days, len(h))
    s_day = rng.integers(days // 2, days, len(s))
    rows = pl.DataFrame({
        "account_id": np.concatenate([ids[h], ids[s]]),
        "business_date": [start + timedelta(days=int(x)) for x in [*h_day, *s_day]],
        "type": ["payment_holiday"] * len(h) + ["settlement"] * len(s),
        "amount": np.concatenate([np.zeros(len(h), np.int64),
                                  (limit[s] * 15 // 100).astype(np.int64)]),
        "terms": np.concatenate([rng.integers(1, 4, len(h)), np.zeros(len(s), np.int64)]),
    }, schema=schema)
    return rows.with_columns(
        pl.when(pl.col("type") == "settlement").then(None).otherwise(pl.col("terms"))
        .alias("terms"),
        pl.lit(None, pl.String).alias("method"), pl.lit(None, pl.String).alias("daily_rate"),
        pl.format("S{}-arr-{}", pl.lit(seed), pl.int_range(pl.len())).alias("external_id"))


def _days(start: date, days: int) -> list[date]:
    return [start + timedelta(days=i) for i in range(days)]


def _revolving(rng: np.random.Generator, ids: np.ndarray, limit: np.ndarray,
               payer: np.ndarray, start: date, days: int) -> pl.DataFrame:
    n = len(ids)
    cal = _days(start, days)
    rows_acct: list[str] = []
    rows_day: list[date] = []
    rows_type: list[str] = []
    rows_amt: list[int] = []
    rows_terms: list[int | None] = []
    # purchases: about one every 8 days, a few percent of the limit, one day at most a quarter
    buys = rng.random((n, days)) < 0.12
    amt = np.minimum((rng.lognormal(0, 0.8, (n, days)) * limit[:, None] * 0.03).astype(np.int64),
                     limit[:, None] // 4) + 100
    cycle_spend: dict[tuple[int, int, int], int] = {}
    for di, d in enumerate(cal):
        hit = np.nonzero(buys[:, di])[0]
        rows_acct += ids[hit].tolist()
        rows_day += [d] * len(hit)
        rows_type += ["purchase"] * len(hit)
        rows_amt += amt[hit, di].tolist()
        rows_terms += [None] * len(hit)
        for i in hit.tolist():  # the bill on the 1st of next month covers this month's spend
            key = (int(i), d.year, d.month)
            cycle_spend[key] = cycle_spend.get(key, 0) + int(amt[i, di])
    # some convert a big purchase into instalments a few days later
    conv = rng.random(n) < 0.05
    for i in np.nonzero(conv)[0].tolist():
        di = int(rng.integers(0, max(1, days - 5)))
        rows_acct.append(ids[i]); rows_day.append(cal[di])  # noqa: E702
        rows_type.append("purchase"); rows_amt.append(int(limit[i] // 5))  # noqa: E702
        rows_terms.append(None)
        rows_acct.append(ids[i]); rows_day.append(cal[di])  # noqa: E702
        rows_type.append("instalment_conversion"); rows_amt.append(int(limit[i] // 5))  # noqa: E702
        rows_terms.append(int(rng.choice([3, 6, 12])))
    # repayments around the due date (10th) of each bill (1st)
    for (acct, year, month), spend in cycle_spend.items():
        i = acct
        bill = _next_first(date(year, month, 1))
        kind = PAYER_TYPES[payer[i]]
        if kind == "never":
            continue
        due = bill + timedelta(days=9)
        if kind == "full":
            when, amount = due - timedelta(days=int(rng.integers(0, 6))), spend
        elif kind == "minimum":
            # the minimum plus a margin for the interest it carries
            when, amount = due - timedelta(days=int(rng.integers(0, 3))), spend // 8 + 500
        else:
            when, amount = due + timedelta(days=int(rng.integers(3, 45))), spend
        if when < start + timedelta(days=days):
            rows_acct.append(ids[i]); rows_day.append(when)  # noqa: E702
            rows_type.append("repayment"); rows_amt.append(int(amount))  # noqa: E702
            rows_terms.append(None)
    return pl.DataFrame({"account_id": rows_acct, "business_date": rows_day, "type": rows_type,
                         "amount": rows_amt, "terms": rows_terms},
                        schema={"account_id": pl.String, "business_date": pl.Date,
                                "type": pl.String, "amount": pl.Int64, "terms": pl.Int32}
                        ).with_columns(pl.lit(None, pl.String).alias("method"),
                                       pl.lit(None, pl.String).alias("daily_rate"))


def _next_first(month_start: date) -> date:
    return date(month_start.year + (month_start.month // 12), month_start.month % 12 + 1, 1)


def _loans(rng: np.random.Generator, ids: np.ndarray, limit: np.ndarray, payer: np.ndarray,
           start: date, days: int) -> pl.DataFrame:
    n = len(ids)
    if n == 0:
        return pl.DataFrame()
    draw_day = rng.integers(0, max(1, days // 3), n)
    amount = (limit * rng.uniform(0.3, 1.0, n)).astype(np.int64) // 100 * 100
    terms = rng.choice([3, 6, 12], n).astype(np.int32)
    method = rng.choice(["equal_instalment", "equal_principal", "interest_first"], n,
                        p=[0.6, 0.25, 0.15])
    rate_bp = rng.integers(2, 7, n)  # 0.02 % .. 0.06 % a day
    rate = np.array([f"0.000{r}" for r in rate_bp])
    starts = [start + timedelta(days=int(x)) for x in draw_day]
    plans = pl.DataFrame({"plan_id": ids, "principal": amount, "terms": terms,
                          "daily_rate_scaled": rate_bp.astype(np.int64) * 100_000,
                          "method": method, "start": starts})
    sched = schedule_frame(plans)
    kinds = pl.DataFrame({"plan_id": ids, "_payer": [PAYER_TYPES[p] for p in payer]})
    pay = sched.join(kinds, on="plan_id").filter(pl.col("_payer") != "never")
    late = rng.integers(3, 40, pay.height)
    pay = pay.with_columns(
        pl.when(pl.col("_payer") == "late").then(
            pl.col("due_date") + pl.duration(days=pl.lit(pl.Series(late))))
        .otherwise(pl.col("due_date")).alias("business_date"),
        pl.when(pl.col("_payer") == "minimum").then(pl.col("total") // 2)
        .otherwise(pl.col("total")).alias("amount"))
    pay = pay.filter(pl.col("business_date") < start + timedelta(days=days))
    draws = pl.DataFrame({"account_id": ids, "business_date": starts, "type": "cash_loan",
                          "amount": amount, "terms": terms, "method": method, "daily_rate": rate})
    reps = pay.select(pl.col("plan_id").alias("account_id"), "business_date",
                      pl.lit("repayment").alias("type"), "amount",
                      pl.lit(None, pl.Int32).alias("terms"), pl.lit(None, pl.String).alias("method"),
                      pl.lit(None, pl.String).alias("daily_rate"))
    return pl.concat([draws.with_columns(pl.col("terms").cast(pl.Int32)), reps],
                     how="vertical_relaxed")
