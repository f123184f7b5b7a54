"""Worked examples computed by hand (DESIGN.md product defaults), run through the kernel.

Revolving: bill day 1, due day 10, minimum 10 % of principal, interest and
penalty 0.05 %/day. Cash loan: 0.04 %/day, monthly rate 1.2 %, overdue rate
x 1.5. Amounts in fen.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from creditdesk.ledger.book import InMemoryBook


def revolving_book(params, *payments: tuple[date, int]) -> InMemoryBook:
    book = InMemoryBook(params)
    book.add_accounts([{"account_id": "R1", "customer_id": "C1", "product": "revolving",
                        "credit_limit": 500_000, "opened": date(2026, 1, 5)}])
    book.add_transactions([{"account_id": "R1", "business_date": date(2026, 1, 5),
                            "type": "purchase", "amount": 100_000}])
    book.add_transactions([{"account_id": "R1", "business_date": d, "type": "repayment",
                            "amount": a} for d, a in payments])
    return book


def day(book: InMemoryBook, d: date) -> dict:
    rows = book.table("account_day").filter(pl.col("business_date") == d).to_dicts()
    assert len(rows) == 1
    return rows[0]


def test_revolving_bill_paid_in_full_costs_no_interest(params):
    book = revolving_book(params, (date(2026, 2, 10), 100_000))
    book.close_through(date(2026, 1, 5), date(2026, 3, 5))
    stmt = book.table("statements").filter(pl.col("bill_date") == date(2026, 2, 1)).row(0, named=True)
    # bill of 1 Feb: 1,000.00 of purchases, minimum 10 % = 100.00, due 10 Feb
    assert (stmt["statement_balance"], stmt["min_due"], stmt["due_date"]) == (
        100_000, 10_000, date(2026, 2, 10))
    history = book.table("account_day")
    assert history["interest_today"].sum() == 0
    assert history["penalty_today"].sum() == 0
    assert history["dpd"].max() == 0
    end = day(book, date(2026, 3, 5))
    assert end["principal"] == 0 and end["interest"] == 0
    # no statement on 1 March: nothing owed
    assert book.table("statements").height == 1


def test_revolving_minimum_paid_accrues_interest_on_the_rest(params):
    book = revolving_book(params, (date(2026, 2, 10), 10_000))
    book.close_through(date(2026, 1, 5), date(2026, 3, 2))
    # 10 Feb: minimum paid, 900.00 of the bill unpaid -> interest-free period lost
    assert day(book, date(2026, 2, 10))["interest_today"] == 0
    assert day(book, date(2026, 2, 10))["dpd"] == 0
    # from 11 Feb: 90000 x 0.0005 = 45.00 fen a day
    assert day(book, date(2026, 2, 11))["interest_today"] == 45
    assert day(book, date(2026, 2, 11))["dpd"] == 0
    # 11 Feb .. 1 Mar = 19 days x 45 = 855, billed on 1 March
    stmt = book.table("statements").filter(pl.col("bill_date") == date(2026, 3, 1)).row(0, named=True)
    assert stmt["revolving_principal"] == 90_000
    assert stmt["interest"] == 855
    assert stmt["statement_balance"] == 90_000 + 855
    assert stmt["min_due"] == 9_000 + 855
    assert stmt["due_date"] == date(2026, 3, 10)
    # interest keeps running on all billed principal still owed
    assert day(book, date(2026, 3, 2))["interest_today"] == 45
    assert day(book, date(2026, 3, 2))["penalty_today"] == 0


def test_revolving_nothing_paid_moves_through_buckets_to_charge_off(params):
    book = revolving_book(params)
    book.close_through(date(2026, 1, 5), date(2026, 8, 12))
    d11 = day(book, date(2026, 2, 11))
    # first day after the due date with the minimum unpaid: DPD 1
    assert (d11["dpd"], d11["bucket"]) == (1, "M1")
    assert d11["penalty_today"] == 5          # 10000 overdue x 0.0005
    assert d11["interest_today"] == 50        # 100000 billed principal x 0.0005
    assert d11["overdue_amount"] == 10_005    # unpaid minimum plus its penalty
    # bill of 1 March: past due 10000 + 19 days of penalty (95); new minimum
    # 10 % of 90000 = 9000 plus 19 days of interest 950
    stmt = book.table("statements").filter(pl.col("bill_date") == date(2026, 3, 1)).row(0, named=True)
    assert stmt["past_due"] == 10_095
    assert stmt["interest"] == 950
    assert stmt["statement_balance"] == 90_000 + 950 + 10_095
    assert stmt["min_due"] == 10_095 + 9_000 + 950
    expected = {date(2026, 3, 12): ("M1", 30), date(2026, 3, 13): ("M2", 31),
                date(2026, 4, 11): ("M2", 60), date(2026, 4, 12): ("M3", 61),
                date(2026, 5, 12): ("M4", 91), date(2026, 6, 11): ("M5", 121),
                date(2026, 7, 11): ("M6", 151), date(2026, 8, 9): ("M6", 180),
                date(2026, 8, 10): ("CO", 181)}
    for d, (bucket, dpd) in expected.items():
        row = day(book, d)
        assert (row["bucket"], row["dpd"]) == (bucket, dpd), d
    before, co = day(book, date(2026, 8, 9)), day(book, date(2026, 8, 10))
    owed_before = sum(before[c] for c in ("principal", "interest", "fee", "penalty"))
    assert co["status"] == "charged_off" and co["chargeoff_date"] == date(2026, 8, 10)
    assert co["chargeoff_amount"] == owed_before + co["interest_today"] + co["penalty_today"]
    assert sum(co[c] for c in ("principal", "interest", "fee", "penalty")) == 0
    after = day(book, date(2026, 8, 12))
    assert after["interest_today"] == 0 and after["penalty_today"] == 0


# ---------------------------------------------------------------- cash loan
# 1,000,000 fen, 12 terms, 0.04 %/day -> 1.2 %/month; annuity 89,975.
# term 1: interest 12,000, principal 77,975, remaining 922,025
# term 2: interest round(922,025 x 0.012 = 11,064.3) = 11,064, principal 78,911, rem 843,114
# term 3: interest round(843,114 x 0.012 = 10,117.368) = 10,117, principal 79,858, rem 763,256
def loan_book(params) -> InMemoryBook:
    book = InMemoryBook(params)
    book.add_accounts([{"account_id": "L1", "customer_id": "C1", "product": "cash_loan",
                        "credit_limit": 2_000_000, "opened": date(2026, 1, 15)}])
    book.add_transactions([{"account_id": "L1", "business_date": date(2026, 1, 15),
                            "type": "cash_loan", "amount": 1_000_000, "terms": 12,
                            "method": "equal_instalment", "daily_rate": "0.0004"}])
    return book


def test_cash_loan_schedule_is_booked(params):
    book = loan_book(params)
    book.close(date(2026, 1, 15))
    inst = book.instalments.sort("term")
    assert inst.height == 12
    assert inst.row(0, named=True)["total"] == 89_975
    assert inst.row(0, named=True)["interest"] == 12_000
    assert inst["principal"].to_list()[:3] == [77_975, 78_911, 79_858]
    assert inst["principal"].sum() == 1_000_000


def test_cash_loan_paid_on_time(params):
    book = loan_book(params)
    book.close(date(2026, 1, 15))
    book.add_transactions([{"account_id": "L1", "business_date": r["due_date"],
                            "type": "repayment", "amount": r["total"]}
                           for r in book.instalments.to_dicts()])
    book.close_through(date(2026, 1, 16), date(2027, 1, 20))
    hist = book.table("account_day")
    assert hist["dpd"].max() == 0
    assert hist["penalty_today"].sum() == 0
    assert hist["interest_today"].sum() == book.instalments["interest"].sum()
    end = day(book, date(2027, 1, 20))
    assert (end["principal"], end["interest"], end["credit_balance"]) == (0, 0, 0)
    # on the first due date the balance is principal still owed, nothing overdue
    feb15 = day(book, date(2026, 2, 15))
    assert feb15["principal"] == 922_025 and feb15["total_due"] == 0


def loan_paid_three_terms(params) -> InMemoryBook:
    """The loan drawn on 15 Jan, with repayments of its first three instalments on their due dates."""
    book = loan_book(params)
    book.close(date(2026, 1, 15))
    inst = book.instalments.sort("term").head(3)
    book.add_transactions([{"account_id": "L1", "business_date": r["due_date"],
                            "type": "repayment", "amount": r["total"]} for r in inst.to_dicts()])
    return book


def test_cash_loan_prepaid_in_month_four(params):
    book = loan_paid_three_terms(params)
    # 1 May: 16 days after 15 Apr; interest round(763,256 x 0.0004 x 16 = 4,884.84) = 4,885
    book.add_transactions([{"account_id": "L1", "business_date": date(2026, 5, 1),
                            "type": "repayment", "amount": 763_256 + 4_885}])
    book.close_through(date(2026, 1, 16), date(2026, 6, 30))
    may1 = day(book, date(2026, 5, 1))
    assert may1["interest_today"] == 4_885
    assert (may1["principal"], may1["interest"], may1["credit_balance"]) == (0, 0, 0)
    after = book.table("account_day").filter(pl.col("business_date") > date(2026, 5, 1))
    assert after["interest_today"].sum() == 0 and after["dpd"].max() == 0
    assert book.state["plan_state"].height == 0


def test_cash_loan_one_fen_short_of_payoff_is_held_not_settled(params):
    book = loan_paid_three_terms(params)
    book.add_transactions([{"account_id": "L1", "business_date": date(2026, 5, 1),
                            "type": "repayment", "amount": 763_256 + 4_884}])
    book.close_through(date(2026, 1, 16), date(2026, 5, 15))
    may1 = day(book, date(2026, 5, 1))
    assert may1["credit_balance"] == 763_256 + 4_884
    assert may1["principal"] == 763_256
    # the held money pays term 4 when it falls due on 15 May
    may15 = day(book, date(2026, 5, 15))
    term4 = book.instalments.filter(pl.col("term") == 4).row(0, named=True)
    assert may15["credit_balance"] == 763_256 + 4_884 - term4["total"]
    assert may15["dpd"] == 0


def test_cash_loan_paid_twenty_days_late(params):
    book = loan_book(params)
    book.close(date(2026, 1, 15))
    # overdue principal 77,975 x 0.0006 = 46.785 -> 47 fen a day, 16 Feb .. 6 Mar = 19 days
    book.add_transactions([{"account_id": "L1", "business_date": date(2026, 3, 7),
                            "type": "repayment", "amount": 89_975 + 19 * 47}])
    book.close_through(date(2026, 1, 16), date(2026, 3, 8))
    assert day(book, date(2026, 2, 15))["dpd"] == 0
    assert day(book, date(2026, 2, 16))["dpd"] == 1
    assert day(book, date(2026, 2, 16))["penalty_today"] == 47
    mar6 = day(book, date(2026, 3, 6))
    assert (mar6["dpd"], mar6["bucket"], mar6["penalty"]) == (19, "M1", 19 * 47)
    mar7 = day(book, date(2026, 3, 7))
    assert (mar7["dpd"], mar7["overdue_amount"], mar7["penalty"]) == (0, 0, 0)
    assert mar7["credit_balance"] == 0 and mar7["penalty_today"] == 0


@pytest.mark.parametrize("order", ["penalty_fee_interest_principal"])
def test_journal_balances_in_every_entry(params, order):
    book = revolving_book(params, (date(2026, 3, 3), 20_000))
    book.close_through(date(2026, 1, 5), date(2026, 4, 30))
    j = book.table("journal")
    per_entry = j.group_by("entry_id").agg(pl.col("debit").sum(), pl.col("credit").sum())
    assert per_entry.filter(pl.col("debit") != pl.col("credit")).height == 0
