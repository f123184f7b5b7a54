"""The twin's population: customers and accounts drawn to match the Taiwan credit data.

Why resample rows instead of drawing each attribute from its own distribution: the
joint distribution is what matters to a lender (low limits go with young, less
educated, higher-utilisation, riskier customers), and resampling whole rows of a real
data set keeps every dependency, including ones nobody thought to model. Continuous
values get a little noise so no simulated customer is a copy of a real one.

Each simulated customer also carries a *risk index*: the standardised logit of a
logistic model, fitted on the Taiwan rows, of "ever late in six months" given the
attributes (limit, age, education, marital status, sex, utilisation, payment ratio).
The calibrated monthly repayment model reads this index; city tiers shift it (the
down-market expansion), and an unobserved random effect adds the heterogeneity the
attributes do not explain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import numpy as np
import polars as pl

from creditdesk.errors import BadInputError
from creditdesk.simulate.params import SimParams

__all__ = ["Population", "draw_population", "taiwan_profiles"]

REGIONS = ("east", "north", "south", "central", "northeast", "southwest", "northwest")
REGION_SHARES = (0.30, 0.12, 0.16, 0.16, 0.07, 0.12, 0.07)
INCOME_BANDS = ("<3k", "3k-6k", "6k-10k", "10k-20k", ">20k")
_TERMS = np.array([3, 6, 9, 12])
_TERM_SHARES = (0.2, 0.3, 0.2, 0.3)
_METHODS = np.array(["equal_instalment", "equal_principal", "interest_first"])
_METHOD_SHARES = (0.7, 0.2, 0.1)
_RATES = np.array(["0.0002", "0.0003", "0.0004", "0.0005", "0.0006"])


@dataclass(frozen=True)
class Population:
    """Frames for ``creditdesk load`` plus the per-account traits the behaviour reads.

    ``traits`` has one row per account in index order (``idx`` 0..n-1): account_id,
    customer_id, product, credit_limit, opened, risk (the index including tier shift
    and random effect), spend_daily_mean (minor units), timezone, phone.
    """

    customers: pl.DataFrame
    accounts: pl.DataFrame
    drawdowns: pl.DataFrame
    traits: pl.DataFrame


@lru_cache(maxsize=1)
def taiwan_profiles() -> pl.DataFrame:
    """The Taiwan rows as the attributes the twin resamples, with each row's risk index.

    >>> t = taiwan_profiles()
    >>> t.height, round(float(t["risk"].mean()), 6)
    (30000, 0.0)
    """
    from sklearn.linear_model import LogisticRegression

    from creditdesk.datasets import taiwan_credit_default

    raw = taiwan_credit_default()
    pay = raw[["PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6"]].to_numpy()
    bills = raw[[f"BILL_AMT{i}" for i in range(1, 7)]].to_numpy().clip(0, None)
    pays = raw[[f"PAY_AMT{i}" for i in range(1, 7)]].to_numpy()
    limit = raw["LIMIT_BAL"].to_numpy().astype(float)
    util = np.clip(bills.mean(1) / limit, 0.0, 1.2)
    spend = np.clip(pays.mean(1) / limit, 0.002, 0.6)
    pay_ratio = np.clip(pays.sum(1) / np.maximum(bills.sum(1), 1.0), 0.0, 2.0)
    edu = raw["EDUCATION"].to_numpy()
    mar = raw["MARRIAGE"].to_numpy()
    x = np.column_stack([np.log(limit), raw["AGE"].to_numpy(), edu == 1, edu == 2, edu == 3,
                         mar == 1, raw["SEX"].to_numpy() == 1, util, pay_ratio])
    late = (pay >= 1).any(axis=1).astype(int)
    mu, sd = x.mean(0), x.std(0)
    model = LogisticRegression(max_iter=1000).fit((x - mu) / sd, late)
    logit = model.decision_function((x - mu) / sd)
    risk = (logit - logit.mean()) / logit.std()
    return pl.DataFrame({
        "limit": limit, "age": raw["AGE"].to_numpy(), "education": edu, "marriage": mar,
        "sex": raw["SEX"].to_numpy(), "util": util, "spend_ratio": spend, "risk": risk,
        "pay_6": pay[:, 5], "pay_0": pay[:, 0],
    })


def draw_population(n_customers: int, start: date, days: int, params: SimParams,
                    seed: int) -> Population:
    """Draw ``n_customers`` customers, their revolving accounts and some cash loans.

    Every customer has a revolving (Huabei-like) account; ``params.loan_share`` of them
    also take a cash loan on the day they open. The customers there on day 0 are a
    seasoned book taken over with nothing owed: their accounts (the revolving line and
    the cash-loan line, Jiebei-like, on which the loan is drawn on day 0) were opened
    ``params.seasoning_months`` before ``start``; the twin's books start at ``start``.
    Later customers are new. Deterministic for a seed.

    >>> from creditdesk.simulate.params import SimParams
    >>> pop = draw_population(50, date(2026, 1, 1), 30, SimParams(), seed=1)
    >>> pop.customers.height, pop.accounts.height == pop.traits.height
    (50, True)
    """
    if n_customers < 1:
        raise BadInputError(f"customers must be at least 1; got {n_customers}",
                            field="customers", value=n_customers)
    rng = np.random.default_rng([seed, 1])
    prof = taiwan_profiles()
    rows = rng.integers(0, prof.height, n_customers)
    p = {c: prof.get_column(c).to_numpy()[rows] for c in prof.columns}
    n = n_customers
    cid = np.array([f"C{i:08d}" for i in range(n)])
    tier = rng.choice(4, size=n, p=params.tier_mix) + 1
    region = rng.choice(len(REGIONS), size=n, p=REGION_SHARES)
    west = (np.array(REGIONS)[region] == "northwest") & (rng.random(n) < params.far_west_share
                                                            / REGION_SHARES[-1])
    tz = np.where(west, "Asia/Urumqi", "Asia/Shanghai")
    yuan = p["limit"] * params.limit_scale * np.exp(rng.normal(0, params.limit_jitter, n))
    limit = np.maximum(np.round(yuan / 100) * 100, 500).astype(np.int64) * 100  # fen
    income = limit / 100 / 2.0  # monthly income in yuan, about half the limit
    band = np.digitize(income, [3000, 6000, 10000, 20000])
    age = np.clip(p["age"] + rng.integers(-1, 2, n), 18, 80)
    risk = (p["risk"] + np.array(params.tier_risk_shift)[tier - 1]
            + rng.normal(0, params.risk_sigma, n))
    opened_off = np.where(rng.random(n) < params.opening_spread, 0,
                          rng.integers(0, max(days // 2, 1), n))
    opened = [start + timedelta(days=int(o)) for o in opened_off]
    phone = np.array([f"+86139{i:08d}" for i in range(n)])
    customers = pl.DataFrame({
        "customer_id": cid, "timezone": tz, "region": np.array(REGIONS)[region],
        "city_tier": tier.astype(np.int32), "birth_year": (start.year - age).astype(np.int32),
        "income_band": np.array(INCOME_BANDS)[band], "language": ["zh"] * n,
    })
    spend_daily = (p["spend_ratio"] * limit / 30.0).astype(np.int64)
    rev = pl.DataFrame({
        "account_id": [f"R{i:08d}" for i in range(n)], "customer_id": cid,
        "product": ["revolving"] * n, "credit_limit": limit, "opened": opened,
        "risk": risk, "spend_daily_mean": spend_daily, "timezone": tz, "phone": phone,
        "daily_rate": pl.Series([None] * n, dtype=pl.String),
    })
    has_loan = rng.random(n) < params.loan_share
    li = np.nonzero(has_loan)[0]
    lo, hi = params.loan_limit_share
    principal = (np.round(limit[li] * rng.uniform(lo, hi, len(li)) / 10_000) * 10_000).astype(
        np.int64)
    principal = np.maximum(principal, 50_000)
    band_idx = np.clip(np.searchsorted([-0.8, -0.2, 0.4, 1.0], risk[li]), 0, 4)
    loans = pl.DataFrame({
        "account_id": [f"L{i:08d}" for i in li], "customer_id": cid[li],
        "product": ["cash_loan"] * len(li), "credit_limit": principal,
        "opened": [opened[i] for i in li], "risk": risk[li], "spend_daily_mean": np.zeros(
            len(li), np.int64), "timezone": tz[li], "phone": phone[li],
        "daily_rate": _RATES[band_idx],
    })
    drawdowns = pl.DataFrame({
        "account_id": loans["account_id"], "business_date": loans["opened"],
        "type": ["cash_loan"] * len(li), "amount": principal,
        "terms": _TERMS[rng.choice(4, size=len(li), p=_TERM_SHARES)].astype(np.int32),
        "method": _METHODS[rng.choice(3, size=len(li), p=_METHOD_SHARES)],
        "daily_rate": loans["daily_rate"],
    })
    # the customers there on day 0 are a seasoned book: their accounts (the revolving
    # line and the cash-loan line a loan is drawn on) were opened before the start;
    # their loans are drawn on day 0. Drawn last, so every other draw of a seed is what
    # it was before seasoning.
    s_lo, s_hi = params.seasoning_months
    book_age = rng.integers(30 * s_lo, 30 * s_hi + 1, n)
    seasoned = [start - timedelta(days=int(a)) if o == 0 and a > 0 else d
                for o, a, d in zip(opened_off.tolist(), book_age.tolist(), opened, strict=True)]
    rev = rev.with_columns(pl.Series("opened", seasoned, dtype=pl.Date))
    loans = loans.with_columns(pl.Series("opened", [seasoned[i] for i in li], dtype=pl.Date))
    traits = pl.concat([rev, loans]).with_row_index("idx")
    accounts = traits.select("account_id", "customer_id", "product", "credit_limit", "opened")
    return Population(customers, accounts, drawdowns, traits)
