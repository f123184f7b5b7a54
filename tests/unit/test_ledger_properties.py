"""Property tests: over random workloads the journal balances and matches the balances."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creditdesk.ledger.book import InMemoryBook
from creditdesk.ledger.journal import RECEIVABLE

START = date(2026, 1, 1)
DAYS = 75

event = st.tuples(
    st.integers(0, DAYS - 1),                       # day
    st.integers(0, 2),                              # account
    st.sampled_from(["purchase", "repayment", "refund", "cash_loan", "instalment_conversion"]),
    st.integers(1, 300_000),                        # amount
    st.sampled_from([3, 6, 12]),                    # terms
    st.sampled_from(["equal_instalment", "equal_principal", "interest_first"]),
)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(event, min_size=1, max_size=25))
def test_journal_balances_and_equals_account_balances(params, events):
    book = InMemoryBook(params)
    book.add_accounts([
        {"account_id": "R0", "customer_id": "C0", "product": "revolving",
         "credit_limit": 400_000, "opened": START},
        {"account_id": "R1", "customer_id": "C1", "product": "revolving",
         "credit_limit": 200_000, "opened": START, "bill_day": 20, "due_day": 5},
        {"account_id": "L2", "customer_id": "C2", "product": "cash_loan",
         "credit_limit": 600_000, "opened": START},
    ])
    rows = []
    for d, a, typ, amount, terms, method in events:
        acct = ["R0", "R1", "L2"][a]
        rows.append({"account_id": acct, "business_date": START + timedelta(days=d), "type": typ,
                     "amount": amount, "terms": terms, "method": method,
                     "daily_rate": "0.0005" if typ == "cash_loan" else None})
    book.add_transactions(pl.DataFrame(rows).sort("business_date"))
    book.close_through(START, START + timedelta(days=DAYS + 10))
    j = book.table("journal")
    # every entry balances
    per_entry = j.group_by("entry_id").agg(pl.col("debit").sum(), pl.col("credit").sum())
    assert per_entry.filter(pl.col("debit") != pl.col("credit")).height == 0
    # the receivables in the journal equal the balances of every account
    recv = list(RECEIVABLE.values())
    net = (j.group_by("account_id").agg(
        (pl.col("debit") - pl.col("credit")).filter(pl.col("ledger_account").is_in(recv)).sum()
        .alias("receivable"),
        (pl.col("credit") - pl.col("debit")).filter(pl.col("ledger_account") == "customer_credit")
        .sum().alias("held")))
    end = book.state["account_day"]
    cmp = end.join(net, on="account_id", how="left").fill_null(0)
    owed = pl.col("principal") + pl.col("interest") + pl.col("fee") + pl.col("penalty")
    assert cmp.filter(owed != pl.col("receivable")).height == 0
    assert cmp.filter(pl.col("credit_balance") != pl.col("held")).height == 0
    # money never appears from nowhere: nothing owed is negative
    for c in ("principal", "interest", "fee", "penalty", "credit_balance"):
        assert end[c].min() >= 0
    # every transaction got exactly one posting
    posts = book.table("postings")
    assert posts.height == book.transactions.height
    assert posts["txn_id"].n_unique() == posts.height
