"""Property tests: over random workloads the journal balances and matches the balances."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from hypothesis import HealthCheck, example, given, settings
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


#: two revolving accounts (one with its own bill and due days) and a cash-loan account
THREE_ACCOUNTS = [
    {"account_id": "R0", "customer_id": "C0", "product": "revolving",
     "credit_limit": 400_000, "opened": START},
    {"account_id": "R1", "customer_id": "C1", "product": "revolving",
     "credit_limit": 200_000, "opened": START, "bill_day": 20, "due_day": 5},
    {"account_id": "L2", "customer_id": "C2", "product": "cash_loan",
     "credit_limit": 600_000, "opened": START},
]


def _assert_books_balance(book: object) -> pl.DataFrame:
    """Every entry balances, the journal's receivables and held credit equal each account's
    balances, and nothing owed is negative; returns the last ``account_day`` state."""
    j = book.table("journal")  # type: ignore[attr-defined]
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
    end: pl.DataFrame = book.state["account_day"]  # type: ignore[attr-defined]
    cmp = end.join(net, on="account_id", how="left").fill_null(0)
    owed = pl.col("principal") + pl.col("interest") + pl.col("fee") + pl.col("penalty")
    assert cmp.filter(owed != pl.col("receivable")).height == 0
    assert cmp.filter(pl.col("credit_balance") != pl.col("held")).height == 0
    # money never appears from nowhere: nothing owed is negative
    for c in ("principal", "interest", "fee", "penalty", "credit_balance"):
        assert end[c].min() >= 0
    return end


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(event, min_size=1, max_size=25))
def test_journal_balances_and_equals_account_balances(params, events):
    book = InMemoryBook(params)
    book.add_accounts(THREE_ACCOUNTS)
    rows = []
    for d, a, typ, amount, terms, method in events:
        acct = ["R0", "R1", "L2"][a]
        rows.append({"account_id": acct, "business_date": START + timedelta(days=d), "type": typ,
                     "amount": amount, "terms": terms, "method": method,
                     "daily_rate": "0.0005" if typ == "cash_loan" else None})
    book.add_transactions(pl.DataFrame(rows).sort("business_date"))
    book.close_through(START, START + timedelta(days=DAYS + 10))
    _assert_books_balance(book)
    # every transaction got exactly one posting
    posts = book.table("postings")
    assert posts.height == book.transactions.height
    assert posts["txn_id"].n_unique() == posts.height


# ------------------------------------------------------------- with arrangements
ACCOUNTS = ["R0", "R1", "L2"]
arrangement = st.tuples(
    st.integers(20, DAYS - 1),                      # day
    st.integers(0, 2),                              # account
    st.sampled_from(["hardship_plan", "payment_holiday", "settlement"]),
    st.integers(1, 400_000),                        # settlement amount
    st.integers(1, 13),                             # terms (some out of range)
    st.booleans(),                                  # hardship: the exact past-due total?
)


def _past_due(book: InMemoryBook, account: str, d: date) -> int:
    dues = book.state["dues"].filter((pl.col("account_id") == account)
                                     & (pl.col("due_date") < d))
    return int(dues.select(pl.sum_horizontal("principal", "interest", "fee", "penalty").sum())
               .item() or 0)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(event, min_size=1, max_size=20), st.lists(arrangement, min_size=1, max_size=6))
@example(  # every kind accepted: R0 past due from 11 Feb, L2 drawn, R1 bought
    events=[(0, 0, "purchase", 100_000, 3, "equal_instalment"),
            (2, 2, "cash_loan", 300_000, 6, "equal_instalment"),
            (3, 1, "purchase", 50_000, 3, "equal_instalment")],
    arrs=[(45, 0, "hardship_plan", 1, 6, True), (30, 2, "payment_holiday", 1, 2, True),
          (60, 1, "settlement", 20_000, 1, True), (70, 0, "payment_holiday", 1, 1, True)])
def test_journal_balances_with_hardship_plans_holidays_and_settlements(params, events, arrs):
    """The same identities hold when hardship plans (at the exact past-due total, computed
    from the books the day before, or not), payment holidays and settlements are mixed in;
    an accepted hardship plan re-ages the account; a settled account owes nothing again."""
    book = InMemoryBook(params)
    book.add_accounts(THREE_ACCOUNTS)
    rows = [{"account_id": ACCOUNTS[a], "business_date": START + timedelta(days=d), "type": typ,
             "amount": amount, "terms": terms, "method": method,
             "daily_rate": "0.0005" if typ == "cash_loan" else None}
            for d, a, typ, amount, terms, method in events]
    book.add_transactions(pl.DataFrame(rows).sort("business_date"))
    by_day: dict[int, list[tuple]] = {}
    for a in arrs:
        by_day.setdefault(a[0], []).append(a)
    hardship_txns: list[tuple[int, str, date]] = []
    for i in range(DAYS + 10):
        d = START + timedelta(days=i)
        for _, a, typ, amount, terms, exact in by_day.get(i, []):
            acct = ACCOUNTS[a]
            if typ == "hardship_plan":
                amount = _past_due(book, acct, d) if exact else amount
                hardship_txns.append((book.transactions.height + 1, acct, d))
            book.add_transactions([{
                "account_id": acct, "business_date": d, "type": typ,
                "amount": 0 if typ == "payment_holiday" else max(amount, 1),
                "terms": None if typ == "settlement" else terms}])
        book.close(d)
    _assert_books_balance(book)
    posts = book.table("postings")
    assert posts.height == book.transactions.height
    days = book.table("account_day")
    accepted = {r["txn_id"] for r in posts.filter(pl.col("status") == "posted").to_dicts()}
    if arrs[0] == (45, 0, "hardship_plan", 1, 6, True):  # the explicit example
        assert accepted >= set(range(4, 8)), posts
    for txn_id, acct, d in hardship_txns:
        if posts.filter(pl.col("txn_id") == txn_id)["status"].item() == "posted":
            row = days.filter((pl.col("account_id") == acct) & (pl.col("business_date") == d))
            assert (row["dpd"].item(), row["overdue_amount"].item()) == (0, 0)
    settled = days.filter(pl.col("status") == "settled")
    owed = pl.col("principal") + pl.col("interest") + pl.col("fee") + pl.col("penalty")
    assert settled.select(owed.max()).item() in (None, 0)
    assert settled["dpd"].max() in (None, 0)
