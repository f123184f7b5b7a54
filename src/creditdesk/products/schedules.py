"""Repayment schedules: cash loans and instalment conversions, scalar and vectorised.

Pure functions, no I/O. Every amount is an ``int`` of minor units (fen). The
rounding rules (see ``docs/products.md``):

* the monthly rate is ``r = daily_rate x days_per_month``, exact in Decimal;
* each term's interest is ``round_half_up(remaining principal x r)``;
* ``equal_instalment`` (等额本息): the annuity payment
  ``P r (1+r)^n / ((1+r)^n - 1)`` is computed in exact rational arithmetic and
  rounded half-up once; each term's principal is the payment less its interest;
* ``equal_principal`` (等额本金): principal parts are :func:`split_evenly`;
* ``interest_first`` (先息后本): interest every term, all principal in the last;
* the **last term's principal is whatever remains**, so the principal parts sum
  exactly to the loan, whatever rounding happened on the way.

The vectorised twins (:func:`schedule_frame`, :func:`conversion_frame`) compute
the same integers for a whole book at once; a property test holds them equal
to the scalar functions row by row.

>>> [(i.term, i.principal, i.interest) for i in
...  cash_loan_schedule(300_00, 3, "0.0005", "equal_principal", date(2024, 1, 31))]
[(1, 10000, 450), (2, 10000, 300), (3, 10000, 150)]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

import numpy as np
import polars as pl

from creditdesk.errors import BadInputError
from creditdesk.money import (
    RATE_SCALE,
    parse_rate,
    round_half_up,
    round_half_up_array,
    split_evenly,
)
from creditdesk.products.catalogue import METHODS, RevolvingProduct
from creditdesk.products.dates import MonthGrid, add_months

__all__ = [
    "ConversionTerm",
    "Instalment",
    "add_months",
    "annuity_payment",
    "cash_loan_schedule",
    "conversion_frame",
    "conversion_schedule",
    "schedule_frame",
]

_INT64_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Instalment:
    """One term of a loan schedule; amounts in minor units, ``total`` their sum."""

    term: int
    due_date: date
    principal: int
    interest: int
    fee: int
    total: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ints stay ints, the due date becomes an ISO string."""
        row = asdict(self)
        row["due_date"] = self.due_date.isoformat()
        return row


@dataclass(frozen=True, slots=True)
class ConversionTerm:
    """One term of an instalment conversion (billed on successive statements)."""

    term: int
    principal: int
    fee: int
    total: int


# --------------------------------------------------------------------------- validation

def _positive_int(value: object, name: str, *, what: str = "a positive integer") -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise BadInputError(f"{name} must be {what}; got {value!r}", field=name, value=value)
    return int(value)


def _daily_rate(value: Decimal | str) -> Decimal:
    try:
        return parse_rate(value, field="daily_rate")
    except (ValueError, TypeError) as exc:
        raise BadInputError(str(exc), field="daily_rate", value=value) from None


def _method(value: object) -> str:
    if value not in METHODS:
        raise BadInputError(f"method must be one of {', '.join(METHODS)}; got {value!r}",
                            field="method", value=value)
    return str(value)


# --------------------------------------------------------------------------- scalar

def annuity_payment(principal: int, terms: int, monthly_rate: Decimal | Fraction) -> int:
    """The level payment of an ``equal_instalment`` loan, rounded half-up to the minor unit.

    ``P r (1+r)^n / ((1+r)^n - 1)``, or ``P / n`` when ``r`` is 0. Computed in
    exact rational arithmetic: a truncated expansion could put a value that is
    a hair under ``x.5`` on the wrong side of the rounding.

    >>> annuity_payment(1_000_000, 12, Decimal("0.012"))  # 10,000.00 over 12 months at 1.2 %
    89975
    """
    r = Fraction(monthly_rate)
    if r == 0:
        exact = Fraction(principal, terms)
    else:
        growth = (1 + r) ** terms
        exact = principal * r * growth / (growth - 1)
    # half-up for a non-negative rational: floor(x + 1/2)
    return (2 * exact.numerator + exact.denominator) // (2 * exact.denominator)


def cash_loan_schedule(principal: int, terms: int, daily_rate: Decimal | str, method: str,
                       start: date, *, days_per_month: int = 30) -> list[Instalment]:
    """The repayment schedule of a cash loan; term ``k`` falls due ``k`` months after ``start``.

    Worked example — 10,000.00 over 12 months at 0.04 %/day, equal instalments:
    r = 0.0004 x 30 = 0.012; the payment is 899.75; the first term's interest
    is 1,000,000 x 0.012 = 12,000 fen, so its principal is 89,892 - 12,000.

    >>> s = cash_loan_schedule(1_000_000, 12, "0.0004", "equal_instalment", date(2024, 1, 15))
    >>> s[0]
    Instalment(term=1, due_date=datetime.date(2024, 2, 15), principal=77975, interest=12000, \
fee=0, total=89975)
    >>> sum(i.principal for i in s)
    1000000
    """
    principal = _positive_int(principal, "principal",
                              what="a positive integer number of minor units")
    terms = _positive_int(terms, "terms")
    days_per_month = _positive_int(days_per_month, "days_per_month")
    rate = _daily_rate(daily_rate)
    method = _method(method)
    if not isinstance(start, date):
        raise BadInputError(f"start must be a date; got {start!r}", field="start", value=start)

    with localcontext() as ctx:
        ctx.prec = 60  # remaining x r is exact far beyond any realistic amount
        r = rate * days_per_month
        payment = annuity_payment(principal, terms, r) if method == "equal_instalment" else 0
        base = principal // terms
        remaining = principal
        rows: list[Instalment] = []
        for k in range(1, terms + 1):
            interest = round_half_up(remaining * r)
            if k == terms:
                part = remaining
            elif method == "equal_instalment":
                # Clipped at what is left: only tiny loans (a few fen a term) get there.
                part = min(payment - interest, remaining)
            elif method == "equal_principal":
                part = base
            else:  # interest_first
                part = 0
            remaining -= part
            rows.append(Instalment(k, add_months(start, k), part, interest, 0, part + interest))
    return rows


def conversion_schedule(principal: int, terms: int,
                        product: RevolvingProduct) -> list[ConversionTerm]:
    """Instalment conversion of a purchase or a bill into ``terms`` monthly parts.

    The total fee is ``round_half_up(principal x fee rate)`` for that number of
    terms (the product's fee table); principal and fee are each spread with
    :func:`split_evenly`, the last term absorbing the remainders. 1,200.00 over
    3 terms at 2.5 %: fee 30.00, i.e. 400.00 + 10.00 a term.

    >>> [(t.principal, t.fee) for t in conversion_schedule(120_000, 3, RevolvingProduct())]
    [(40000, 1000), (40000, 1000), (40000, 1000)]
    """
    principal = _positive_int(principal, "principal",
                              what="a positive integer number of minor units")
    rate = product.fee_rate(terms)
    fee = round_half_up(principal * rate)
    parts = split_evenly(principal, terms)
    fees = split_evenly(fee, terms)
    return [ConversionTerm(k + 1, p, f, p + f) for k, (p, f) in enumerate(zip(parts, fees,
                                                                           strict=True))]


# --------------------------------------------------------------------------- vectorised

_SCHEDULE_COLUMNS = ("plan_id", "principal", "terms", "daily_rate_scaled", "method", "start")

# Relative tolerance of the float64 annuity. The computation below is a handful of
# correctly rounded operations (log1p, exp, expm1, products), so its relative error
# is a few 1e-16; we treat anything within 1e-12 of a rounding boundary as
# ambiguous and settle it exactly (tests measure the real error against this).
_ANNUITY_RTOL = 1e-12


def _annuity_float(principal: np.ndarray, terms: np.ndarray,
                   monthly_scaled: np.ndarray) -> np.ndarray:
    """Float64 annuity payment (unrounded); only for rows with a positive rate."""
    r = monthly_scaled.astype(np.float64) / RATE_SCALE
    log_growth = terms * np.log1p(r)
    return principal * r * np.exp(log_growth) / np.expm1(log_growth)


def _annuity_payments(principal: np.ndarray, terms: np.ndarray,
                      monthly_scaled: np.ndarray) -> np.ndarray:
    """:func:`annuity_payment` for arrays: float64 estimate, exact where it could be wrong.

    A float64 estimate rounds to the right integer unless the exact value lies
    within the float error of a ``.5`` boundary. Rows closer than
    ``_ANNUITY_RTOL`` (relative) to a boundary — a tiny fraction — are recomputed
    exactly by the scalar :func:`annuity_payment`, once per distinct
    (principal, terms, rate).
    """
    payment = np.empty(len(principal), dtype=np.int64)
    zero = monthly_scaled == 0
    if zero.any():  # P / n rounded half-up, in integers
        p, n = principal[zero], terms[zero]
        payment[zero] = (2 * p + n) // (2 * n)
    pos = ~zero
    if pos.any():
        est = _annuity_float(principal[pos], terms[pos], monthly_scaled[pos])
        rounded = np.floor(est + 0.5)
        frac = est - np.floor(est)
        ambiguous = np.abs(frac - 0.5) <= est * _ANNUITY_RTOL + 1e-9
        out = rounded.astype(np.int64)
        if ambiguous.any():
            idx = np.flatnonzero(ambiguous)
            cache: dict[tuple[int, int, int], int] = {}
            ps, ns, rs = principal[pos][idx], terms[pos][idx], monthly_scaled[pos][idx]
            for j, (p_, n_, r_) in enumerate(zip(ps.tolist(), ns.tolist(), rs.tolist(),
                                                 strict=True)):
                key = (p_, n_, r_)
                if key not in cache:
                    cache[key] = annuity_payment(p_, n_, Fraction(r_, RATE_SCALE))
                out[idx[j]] = cache[key]
        payment[pos] = out
    return payment


def _check_frame(plans: pl.DataFrame, required: tuple[str, ...]) -> None:
    missing = [c for c in required if c not in plans.columns]
    if missing:
        raise BadInputError(f"plans is missing column(s) {', '.join(missing)}",
                            field=missing[0], value=None)
    for col in required:
        nulls = plans[col].null_count()
        if nulls:
            first = plans.filter(pl.col(col).is_null())["plan_id"][0] if col != "plan_id" \
                else None
            raise BadInputError(f"{col} must not be null; got {nulls} null(s) (first plan_id "
                                f"{first!r})", field=col, value=None)


def _refuse_rows(plans: pl.DataFrame, bad: np.ndarray, col: str, rule: str) -> None:
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise BadInputError(
            f"{col} must be {rule}; got {plans[col][i]!r} for plan_id {plans['plan_id'][i]!r} "
            f"({int(bad.sum())} row(s) refused)", row=i, field=col, value=plans[col][i])


def schedule_frame(plans: pl.DataFrame, *, days_per_month: int = 30) -> pl.DataFrame:
    """:func:`cash_loan_schedule` for a whole book of plans at once.

    ``plans`` has columns ``plan_id, principal (int), terms (int), daily_rate_scaled
    (int, rate x 1e9), method (str), start (date)``. The result has one row per
    (plan_id, term), in input order: ``plan_id, term, due_date, principal,
    interest, fee, total`` — the same integers as the scalar function.

    >>> plans = pl.DataFrame({"plan_id": [1], "principal": [1_000_000], "terms": [12],
    ...     "daily_rate_scaled": [400_000], "method": ["equal_instalment"],
    ...     "start": [date(2024, 1, 15)]})
    >>> schedule_frame(plans).row(0)
    (1, 1, datetime.date(2024, 2, 15), 77975, 12000, 0, 89975)
    """
    days_per_month = _positive_int(days_per_month, "days_per_month")
    _check_frame(plans, _SCHEDULE_COLUMNS)
    if plans["plan_id"].n_unique() != plans.height:
        dup = plans.filter(pl.col("plan_id").is_duplicated())["plan_id"][0]
        raise BadInputError(f"plan_id must be unique; got {dup!r} twice or more",
                            field="plan_id", value=dup)
    principal = plans["principal"].cast(pl.Int64).to_numpy()
    terms = plans["terms"].cast(pl.Int64).to_numpy()
    daily = plans["daily_rate_scaled"].cast(pl.Int64).to_numpy()
    method = plans["method"].cast(pl.String)
    start = plans["start"].cast(pl.Date).to_numpy().astype("datetime64[D]")

    _refuse_rows(plans, principal <= 0, "principal", "a positive integer number of minor units")
    _refuse_rows(plans, terms <= 0, "terms", "a positive integer")
    _refuse_rows(plans, daily < 0, "daily_rate_scaled", "a non-negative integer (rate x 1e9)")
    _refuse_rows(plans, ~method.is_in(list(METHODS)).to_numpy(), "method",
                 f"one of {', '.join(METHODS)}")
    monthly = daily * days_per_month
    too_big = (monthly > 0) & (principal > _INT64_MAX // np.maximum(monthly, 1))
    _refuse_rows(plans, too_big, "principal", "small enough that principal x rate fits int64")

    is_ei = (method == "equal_instalment").to_numpy()
    is_ep = (method == "equal_principal").to_numpy()
    n_plans = plans.height
    max_terms = int(terms.max()) if n_plans else 0

    payment = np.zeros(n_plans, dtype=np.int64)
    if is_ei.any():
        payment[is_ei] = _annuity_payments(principal[is_ei], terms[is_ei], monthly[is_ei])
    base = principal // terms

    # Term-major buffers (one contiguous row per term position); the boolean mask
    # on their transpose reads them back plan by plan, term by term.
    part_m = np.zeros((max_terms, n_plans), dtype=np.int64)
    interest_m = np.zeros((max_terms, n_plans), dtype=np.int64)
    due_m = np.zeros((max_terms, n_plans), dtype=np.int64)  # days since 1970-01-01
    grid = MonthGrid(start)
    ordinary = np.where(is_ei, 0, np.where(is_ep, base, 0))  # principal of a non-last term
    remaining = principal.copy()
    for k in range(1, max_terms + 1):
        interest = round_half_up_array(remaining, monthly)
        part = np.where(is_ei, np.minimum(payment - interest, remaining), ordinary)
        part = np.where(terms == k, remaining, part)
        part[terms < k] = 0
        remaining -= part
        part_m[k - 1] = part
        interest_m[k - 1] = interest
        due_m[k - 1] = grid.add_days(k)

    mask = np.arange(1, max_terms + 1)[None, :] <= terms[:, None]  # (plan, term)
    row_index = np.repeat(np.arange(n_plans), terms)
    parts = part_m.T[mask]
    interests = interest_m.T[mask]
    term_m = np.broadcast_to(np.arange(1, max_terms + 1, dtype=np.int32)[:, None],
                             part_m.shape)
    return pl.DataFrame({
        "plan_id": plans["plan_id"].gather(row_index),
        "term": term_m.T[mask],
        "due_date": pl.Series(due_m.T[mask].astype(np.int32)).cast(pl.Date),
        "principal": parts,
        "interest": interests,
        "fee": np.zeros(len(parts), dtype=np.int64),
        "total": parts + interests,
    })


def conversion_frame(plans: pl.DataFrame, product: RevolvingProduct | None = None
                     ) -> pl.DataFrame:
    """:func:`conversion_schedule` for many conversions at once.

    ``plans`` has ``plan_id, principal, terms`` and either ``fee_rate_scaled``
    (total fee rate x 1e9) or, when ``product`` is given, the rate is taken from
    its fee table (terms outside it are refused). Returns ``plan_id, term,
    principal, fee, total``.

    >>> conversion_frame(pl.DataFrame({"plan_id": ["a"], "principal": [120_000], "terms": [3]}),
    ...                  RevolvingProduct())["fee"].to_list()
    [1000, 1000, 1000]
    """
    _check_frame(plans, ("plan_id", "principal", "terms"))
    principal = plans["principal"].cast(pl.Int64).to_numpy()
    terms = plans["terms"].cast(pl.Int64).to_numpy()
    _refuse_rows(plans, principal <= 0, "principal", "a positive integer number of minor units")
    if "fee_rate_scaled" in plans.columns:
        _check_frame(plans, ("fee_rate_scaled",))
        scaled = plans["fee_rate_scaled"].cast(pl.Int64).to_numpy()
        _refuse_rows(plans, terms <= 0, "terms", "a positive integer")
        _refuse_rows(plans, scaled < 0, "fee_rate_scaled", "a non-negative integer (rate x 1e9)")
    elif product is not None:
        table = {t: int(r * RATE_SCALE) for t, r in product.instalment_fee_rates.items()}
        allowed = np.isin(terms, list(table))
        _refuse_rows(plans, ~allowed, "terms",
                     f"one of {', '.join(map(str, table))} for this product")
        scaled = np.zeros(len(terms), dtype=np.int64)
        for t, r in table.items():
            scaled[terms == t] = r
    else:
        raise BadInputError("conversion_frame needs a fee_rate_scaled column or a product",
                            field="fee_rate_scaled", value=None)
    too_big = principal > _INT64_MAX // np.maximum(scaled, 1)
    _refuse_rows(plans, too_big, "principal", "small enough that principal x rate fits int64")
    fee = round_half_up_array(principal, scaled)
    row_index = np.repeat(np.arange(plans.height), terms)
    term = (np.arange(len(row_index)) - np.repeat(np.cumsum(terms) - terms, terms) + 1)
    n = terms[row_index]
    last = term == n
    p, f = principal[row_index], fee[row_index]
    part = np.where(last, p - (p // n) * (n - 1), p // n)
    fee_part = np.where(last, f - (f // n) * (n - 1), f // n)
    return pl.DataFrame({
        "plan_id": plans["plan_id"].gather(row_index),
        "term": term.astype(np.int32),
        "principal": part,
        "fee": fee_part,
        "total": part + fee_part,
    })
