"""The case file a collector works from: the customer 360 around one case.

Case, account (balances, bills, schedule, payments), the customer's other accounts,
contact history, promises and their status, holds, the collector, the plan for the
next business date, and the customer's contact data **masked** (a reveal is a separate,
audited request). Read-only: building it writes nothing (the route audits the view).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from creditdesk.collections.case_view import case_detail
from creditdesk.collections.casework import active_holds
from creditdesk.customers.pii import customer_contact
from creditdesk.ledger.account import account_view
from creditdesk.store.base import Store
from creditdesk.web.scope import agent_of

__all__ = ["case_file"]


def case_file(store: Store, case_id: str, *, now: datetime, last_closed: date | None = None,
              agent: tuple[str | None] | None = None) -> dict[str, Any]:
    """Everything the case page shows; amounts in minor units, PII masked.

    ``last_closed`` (the store's last closed business date) and ``agent`` (a 1-tuple of
    the case's collector or None) when the caller has just read them.
    """
    last_closed = last_closed if last_closed is not None else store.last_closed()
    detail = case_detail(store, case_id, last_closed=last_closed)
    case = detail["case"]
    cust = case["customer_id"]
    account = account_view(store, case["account_id"], as_of=last_closed)
    others = store.query("SELECT account_id, product, credit_limit, opened FROM accounts "
                         "WHERE customer_id = ? AND account_id <> ? ORDER BY account_id",
                         [cust, case["account_id"]]).to_dicts()
    customer = store.read("customers", "customer_id = ?", [cust], few=True)
    return {
        **detail,
        "account": account,
        "other_accounts": others,
        "customer": {**(customer.row(0, named=True) if customer.height else {}),
                     "contact": customer_contact(store, cust)},
        "holds": active_holds(store, cust, now),
        "agent": agent[0] if agent is not None else agent_of(store, case_id),
    }
