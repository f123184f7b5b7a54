"""One account as a lender's staff sees it: balances, delinquency, bills, schedule, payments."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from creditdesk.errors import NotFoundError
from creditdesk.store.base import Store

__all__ = ["account_view"]


def account_view(store: Store, account_id: str, as_of: date | None = None) -> dict[str, Any]:
    """Everything about ``account_id`` as of the last closed date (or ``as_of``).

    Amounts are ints in minor units. Keys: ``account_id, as_of, product,
    status, credit_limit, available_credit, dpd, bucket, total_due,
    overdue_amount, balances {principal, interest, fee, penalty},
    credit_balance, statements, dues, plans (with schedules), payments``.
    """
    acct = store.read("accounts", "account_id = ?", [account_id])
    if acct.height == 0:
        raise NotFoundError(f"account_id {account_id!r} is not in the books")
    as_of = as_of or store.last_closed()
    day = (store.read("account_day", "account_id = ? AND business_date = ?", [account_id, as_of])
           if as_of else pl.DataFrame())
    a = acct.row(0, named=True)
    view: dict[str, Any] = {"account_id": account_id, "customer_id": a["customer_id"],
                            "product": a["product"], "opened": a["opened"],
                            "credit_limit": a["credit_limit"], "as_of": as_of}
    if day.height:
        r = day.row(0, named=True)
        view.update({
            "status": r["status"], "dpd": r["dpd"], "bucket": r["bucket"],
            "total_due": r["total_due"], "overdue_amount": r["overdue_amount"],
            "balances": {c: r[c] for c in ("principal", "interest", "fee", "penalty")},
            "components": {c: r[c] for c in ("unbilled_principal", "billed_principal",
                                             "plan_principal", "accrued_interest")},
            "credit_balance": r["credit_balance"],
            "available_credit": max(0, a["credit_limit"] - r["principal"]),
            "oldest_due_date": r["oldest_due_date"],
            "chargeoff_date": r["chargeoff_date"], "chargeoff_amount": r["chargeoff_amount"],
        })
    else:
        view.update({"status": "not_yet_closed", "dpd": 0, "bucket": "M0", "total_due": 0,
                     "overdue_amount": 0, "credit_balance": 0,
                     "balances": {"principal": 0, "interest": 0, "fee": 0, "penalty": 0},
                     "available_credit": a["credit_limit"]})
    view["statements"] = store.read("statements", "account_id = ?", [account_id]).sort(
        "bill_date").drop("business_date").to_dicts()
    dues = store.read("dues", "account_id = ?", [account_id])
    view["dues"] = dues.select("due_id", "source", "due_date", "principal", "interest", "fee",
                               "penalty", "original_total").sort("due_date").to_dicts()
    plans = store.read("plans", "account_id = ?", [account_id])
    inst = store.read("instalments", "account_id = ?", [account_id])
    state = store.read("plan_state", "account_id = ?", [account_id])
    open_terms = {(r["plan_id"], r["term"]) for r in dues.to_dicts()}
    view["plans"] = []
    for p in plans.sort("start").to_dicts():
        st = state.filter(pl.col("plan_id") == p["plan_id"])
        next_term = st["next_term"][0] if st.height else None
        status = st["status"][0] if st.height else "closed"
        sched = []
        for i in inst.filter(pl.col("plan_id") == p["plan_id"]).sort("term").to_dicts():
            billed = next_term is None or i["term"] < next_term
            paid = billed and (p["plan_id"], i["term"]) not in open_terms
            sched.append({k: i[k] for k in ("term", "bill_date", "due_date", "principal",
                                            "interest", "fee", "total")}
                         | {"state": "paid" if paid else "due" if billed else "scheduled"})
        view["plans"].append({k: p[k] for k in ("plan_id", "kind", "principal", "terms",
                                                 "daily_rate", "method", "start", "fee_total")}
                             | {"status": status, "schedule": sched})
    txns = store.read("transactions", "account_id = ?", [account_id])
    posts = store.read("postings", "account_id = ?", [account_id])
    view["transactions"] = (txns.join(posts.select("txn_id", "status", "reason"), on="txn_id",
                                      how="left")
                            .select("txn_id", "external_id", "business_date", "type", "amount",
                                    pl.col("status").fill_null("pending"), "reason")
                            .sort("business_date", "txn_id").to_dicts())
    return view
