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
    credit_balance, statements, dues, plans (with schedules), transactions,
    arrangements`` (hardship plans, payment holidays and settlements with
    what each changed; see :func:`_arrangements`). A schedule entry's
    ``original_due_date`` is its first due date (a payment holiday moves it).
    """
    acct = store.read("accounts", "account_id = ?", [account_id], few=True)
    if acct.height == 0:
        raise NotFoundError(f"account_id {account_id!r} is not in the books")
    as_of = as_of or store.last_closed()
    day = (store.read("account_day", "account_id = ? AND business_date = ?", [account_id, as_of],
                      few=True) if as_of else pl.DataFrame())
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
            "available_credit": (0 if r["status"] == "settled"
                                 else max(0, a["credit_limit"] - r["principal"])),
            "oldest_due_date": r["oldest_due_date"],
            "chargeoff_date": r["chargeoff_date"], "chargeoff_amount": r["chargeoff_amount"],
        })
    else:
        view.update({"status": "not_yet_closed", "dpd": 0, "bucket": "M0", "total_due": 0,
                     "overdue_amount": 0, "credit_balance": 0,
                     "balances": {"principal": 0, "interest": 0, "fee": 0, "penalty": 0},
                     "available_credit": a["credit_limit"]})
    view["statements"] = store.read("statements", "account_id = ?", [account_id], few=True).sort(
        "bill_date").drop("business_date").to_dicts()
    dues = store.read("dues", "account_id = ?", [account_id], few=True)
    view["dues"] = dues.select("due_id", "source", "due_date", "principal", "interest", "fee",
                               "penalty", "original_total").sort("due_date").to_dicts()
    plans = store.read("plans", "account_id = ?", [account_id], few=True)
    inst = store.read("instalments", "account_id = ?", [account_id], few=True)
    state = store.read("plan_state", "account_id = ?", [account_id], few=True)
    open_terms = {(r["plan_id"], r["term"]) for r in dues.to_dicts()}
    # a payment holiday appends a new version of a plan's remaining terms: each term's
    # latest version is in force, its first version holds the original due date
    first_due = (inst.sort("business_date").group_by("plan_id", "term")
                 .agg(pl.col("due_date").first().alias("original_due_date")))
    inst = (inst.sort("business_date").group_by("plan_id", "term").last()
            .join(first_due, on=["plan_id", "term"], how="left"))
    txns = store.read("transactions", "account_id = ?", [account_id], few=True)
    posts = store.read("postings", "account_id = ?", [account_id], few=True)
    joined = txns.join(posts.select("txn_id", "status", "reason"), on="txn_id", how="left")
    settled_on = (joined.filter((pl.col("type") == "settlement")
                                & (pl.col("status") == "posted"))
                  .get_column("business_date").min())
    view["plans"] = []
    for p in plans.sort("start").to_dicts():
        st = state.filter(pl.col("plan_id") == p["plan_id"])
        next_term = st["next_term"][0] if st.height else None
        status = st["status"][0] if st.height else "closed"
        sched = []
        for i in inst.filter(pl.col("plan_id") == p["plan_id"]).sort("term").to_dicts():
            billed = next_term is None or i["term"] < next_term
            paid = billed and (p["plan_id"], i["term"]) not in open_terms
            state_ = "paid" if paid else "due" if billed else "scheduled"
            if (next_term is None and isinstance(settled_on, date)
                    and i["due_date"] >= settled_on):
                state_ = "settled"  # closed by the settlement before it fell due
            sched.append({k: i[k] for k in ("term", "bill_date", "due_date", "principal",
                                            "interest", "fee", "total", "original_due_date")}
                         | {"state": state_})
        view["plans"].append({k: p[k] for k in ("plan_id", "kind", "principal", "terms",
                                                 "daily_rate", "method", "start", "fee_total")}
                             | {"status": status, "schedule": sched})
    view["transactions"] = (joined.select("txn_id", "external_id", "business_date", "type",
                                          "amount", pl.col("status").fill_null("pending"),
                                          "reason")
                            .sort("business_date", "txn_id").to_dicts())
    view["arrangements"] = _arrangements(store, account_id, joined, view)
    return view


ARRANGEMENT_TYPES = ("hardship_plan", "payment_holiday", "settlement")


def _arrangements(store: Store, account_id: str, txns: pl.DataFrame, view: dict[str, Any]
                  ) -> list[dict[str, Any]]:
    """The account's hardship plans, payment holidays and settlements, oldest first.

    Each: ``txn_id, external_id, type, business_date, status`` (posted, rejected
    or pending), ``reason``, ``amount``; a posted ``hardship_plan`` adds
    ``plan_id, terms, moved`` (the past-due total moved into the plan) and
    ``instalments`` (term, due_date, total, state); a ``payment_holiday`` adds
    ``months, until`` and ``moved`` (each instalment or bill it moved:
    ``plan_id``/``bill_date``, ``term``, ``from``, ``to``); a ``settlement`` adds
    ``paid`` (the lump sum), ``written_off`` and ``written_off_by_component``.
    """
    from creditdesk.products.dates import add_months

    rows = (txns.filter(pl.col("type").is_in(ARRANGEMENT_TYPES))
            .with_columns(pl.col("status").fill_null("pending"))
            .sort("business_date", "txn_id").to_dicts())
    if not rows:
        return []
    journal = store.read("journal", "account_id = ? AND event = ?",
                         [account_id, "settlement_discount"])
    inst = store.read("instalments", "account_id = ?", [account_id], few=True)
    bills = store.read("statements", "account_id = ?", [account_id], few=True)
    plans = {p["plan_id"]: p for p in view["plans"]}
    out = []
    for r in rows:
        item: dict[str, Any] = {k: r[k] for k in ("txn_id", "external_id", "type",
                                                  "business_date", "status", "reason",
                                                  "amount")}
        posted = r["status"] == "posted"
        d = r["business_date"]
        if r["type"] == "hardship_plan":
            plan = plans.get(f"H{r['txn_id']}") if posted else None
            item |= {"plan_id": plan["plan_id"] if plan else None,
                     "terms": r["terms"],
                     "moved": plan["principal"] if plan else 0,
                     "instalments": [{k: i[k] for k in ("term", "due_date", "total", "state")}
                                     for i in plan["schedule"]] if plan else []}
        elif r["type"] == "payment_holiday":
            months = int(r["terms"]) if r.get("terms") else 0
            moved: list[dict[str, Any]] = []
            if posted:
                new = inst.filter(pl.col("business_date") == d)
                old = (inst.filter(pl.col("business_date") < d).sort("business_date")
                       .group_by("plan_id", "term").last())
                for m in (new.join(old.select("plan_id", "term", pl.col("due_date").alias("_from")),
                                   on=["plan_id", "term"]).sort("plan_id", "term").to_dicts()):
                    moved.append({"plan_id": m["plan_id"], "term": m["term"],
                                  "from": m["_from"], "to": m["due_date"]})
                for b in bills.filter((pl.col("bill_date") < d) & (pl.col("due_date") >= d)
                                      ).sort("bill_date").to_dicts():
                    moved.append({"bill_date": b["bill_date"], "term": None,
                                  "from": b["due_date"], "to": add_months(b["due_date"], months)})
            item |= {"months": months, "until": add_months(d, months) if months else None,
                     "moved": moved}
        elif r["type"] == "settlement":
            mine = journal.filter(pl.col("txn_id") == r["txn_id"])
            by = {c: int(mine.filter(pl.col("ledger_account") == f"receivable_{c}")
                         ["credit"].sum()) for c in ("principal", "interest", "fee", "penalty")}
            item |= {"paid": r["amount"] if posted else 0,
                     "written_off": sum(by.values()), "written_off_by_component": by}
        out.append(item)
    return out
