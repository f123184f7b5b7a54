"""Product terms as small Polars frames the batch kernel joins on.

The catalogue is pydantic objects with Decimal rates; the kernel works in
integer arithmetic, so every rate is turned into an integer count of 1e-9
(``money.rate_to_scaled``) here, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import polars as pl

from creditdesk.money import rate_to_scaled

__all__ = ["ALLOCATION_ORDERS", "LedgerParams", "ledger_params"]

#: inside one due item, which component a payment settles first (DESIGN.md:
#: penalty -> fee -> interest -> principal, as Apache Fineract does)
ALLOCATION_ORDERS = {
    "penalty_fee_interest_principal": ("penalty", "fee", "interest", "principal"),
    "principal_interest_fee_penalty": ("principal", "interest", "fee", "penalty"),
    "interest_principal_penalty_fee": ("interest", "principal", "penalty", "fee"),
}


@dataclass(frozen=True)
class LedgerParams:
    """Everything the kernel needs to know of the product catalogue.

    ``products``: one row per product (kind, rates as scaled ints, limits).
    ``fee_rates``: instalment-conversion fee rate per (product, terms).
    ``loan_terms`` / ``loan_methods``: what a cash-loan product allows.
    ``component_order``: the allocation order inside one due item.
    """

    products: pl.DataFrame
    fee_rates: pl.DataFrame
    loan_terms: pl.DataFrame
    loan_methods: pl.DataFrame
    component_order: tuple[str, ...] = ALLOCATION_ORDERS["penalty_fee_interest_principal"]


def _scaled(value: Any) -> int:
    return rate_to_scaled(Decimal(str(value)))


def ledger_params(catalogue: Any, *, allocation: str = "penalty_fee_interest_principal"
                  ) -> LedgerParams:
    """Build the kernel's parameter frames from a validated catalogue."""
    if allocation not in ALLOCATION_ORDERS:
        raise ValueError(f"allocation must be one of {sorted(ALLOCATION_ORDERS)}; got {allocation!r}")
    rows, fees, terms, methods = [], [], [], []
    for name, prod in catalogue.products.items():
        if prod.kind == "revolving":
            rows.append({
                "product": name, "kind": "revolving", "charge_off_dpd": prod.charge_off_dpd,
                "bill_day": prod.bill_day, "due_day": prod.due_day,
                "min_rate_s": _scaled(prod.min_payment_rate),
                "interest_rate_s": _scaled(prod.interest_daily_rate),
                "penalty_rate_s": _scaled(prod.penalty_daily_rate),
                "overdue_mult_s": 0, "min_loan_rate_s": 0, "max_loan_rate_s": 0,
                "days_per_month": 30,
            })
            for n, rate in prod.instalment_fee_rates.items():
                fees.append({"product": name, "terms": int(n), "fee_rate_s": _scaled(rate)})
        else:
            rows.append({
                "product": name, "kind": "cash_loan", "charge_off_dpd": prod.charge_off_dpd,
                "bill_day": 0, "due_day": 0, "min_rate_s": 0, "interest_rate_s": 0,
                "penalty_rate_s": 0, "overdue_mult_s": _scaled(prod.overdue_rate_multiplier),
                "min_loan_rate_s": _scaled(prod.min_daily_rate),
                "max_loan_rate_s": _scaled(prod.max_daily_rate),
                "days_per_month": prod.days_per_month,
            })
            terms += [{"product": name, "terms": int(t)} for t in prod.terms]
            methods += [{"product": name, "method": str(m)} for m in prod.methods]
    i64 = pl.Int64
    products = pl.DataFrame(rows, schema={
        "product": pl.String, "kind": pl.String, "charge_off_dpd": pl.Int32,
        "bill_day": pl.Int32, "due_day": pl.Int32, "min_rate_s": i64, "interest_rate_s": i64,
        "penalty_rate_s": i64, "overdue_mult_s": i64, "min_loan_rate_s": i64,
        "max_loan_rate_s": i64, "days_per_month": pl.Int32})
    return LedgerParams(
        products=products,
        fee_rates=pl.DataFrame(fees, schema={"product": pl.String, "terms": pl.Int32,
                                             "fee_rate_s": i64}),
        loan_terms=pl.DataFrame(terms, schema={"product": pl.String, "terms": pl.Int32}),
        loan_methods=pl.DataFrame(methods, schema={"product": pl.String, "method": pl.String}),
        component_order=ALLOCATION_ORDERS[allocation],
    )
