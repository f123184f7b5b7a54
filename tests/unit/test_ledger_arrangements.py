"""Hardship plans, payment holidays and settlements in the books: worked examples by hand.

Product defaults (DESIGN.md): revolving bill day 1, due day 10, minimum 10 % of
principal, interest and penalty 0.05 %/day; cash loan 0.04 %/day (1.2 % a
30-day month), overdue rate x 1.5. Amounts in fen.

The revolving account used throughout: 1,000.00 bought on 5 Jan 2026, nothing
paid (test_ledger_worked_examples.py has the first months): the 1 Feb bill's
minimum 10,000 is due 10 Feb; the 1 Mar bill's minimum is 9,000 + 19 days of
interest at 50 = 9,950, due 10 Mar. At the end of 22 Mar (DPD 40):

* bill of 1 Feb: principal 10,000, penalty 40 days (11 Feb .. 22 Mar) x 5 = 200;
* bill of 1 Mar: principal 9,000, interest 950, penalty 12 days (11 .. 22 Mar)
  x round(9,950 x 0.0005 = 4.975) = 5 -> 60;
* past due 10,000 + 200 + 9,950 + 60 = 20,210; interest accrued since the
  1 Mar bill 21 days x 50 = 1,050; balance 100,000 + 950 + 1,050 + 260 = 102,260.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from book_rows import ACCT, CUST, TXNS, text
from creditdesk.errors import BadInputError
from creditdesk.ledger.book import InMemoryBook
from creditdesk.ledger.eod import run_eod
from creditdesk.ledger.ingest import load_frames
from creditdesk.ledger.journal import RECEIVABLE
from creditdesk.products import default_catalogue
from creditdesk.store import open_store

MAR22 = date(2026, 3, 22)
MAR23 = date(2026, 3, 23)


def revolving_book(params, *txns: dict) -> InMemoryBook:
    book = InMemoryBook(params)
    book.add_accounts([{"account_id": "R1", "customer_id": "C1", "product": "revolving",
                        "credit_limit": 500_000, "opened": date(2026, 1, 5)}])
    book.add_transactions([{"account_id": "R1", "business_date": date(2026, 1, 5),
                            "type": "purchase", "amount": 100_000}])
    if txns:
        book.add_transactions([{"account_id": "R1"} | t for t in txns])
    return book


def loan_book(params, *txns: dict) -> InMemoryBook:
    """1,000,000 fen over 12 terms at 0.04 %/day drawn 15 Jan: 89,975 a month; term 1 is
    77,975 principal + 12,000 interest, term 2 78,911 + 11,064, term 3 79,858 + 10,117."""
    book = InMemoryBook(params)
    book.add_accounts([{"account_id": "L1", "customer_id": "C1", "product": "cash_loan",
                        "credit_limit": 2_000_000, "opened": date(2026, 1, 15)}])
    book.add_transactions([{"account_id": "L1", "business_date": date(2026, 1, 15),
                            "type": "cash_loan", "amount": 1_000_000, "terms": 12,
                            "method": "equal_instalment", "daily_rate": "0.0004"}])
    if txns:
        book.add_transactions([{"account_id": "L1"} | t for t in txns])
    return book


def day(book: InMemoryBook, d: date, account: str | None = None) -> dict:
    rows = book.table("account_day").filter(pl.col("business_date") == d)
    if account:
        rows = rows.filter(pl.col("account_id") == account)
    assert rows.height == 1
    return rows.row(0, named=True)


def posting(book: InMemoryBook, txn_id: int) -> dict:
    return book.table("postings").filter(pl.col("txn_id") == txn_id).row(0, named=True)


def assert_books_balance(book: InMemoryBook) -> None:
    """Every entry balances; receivables and held credit in the journal equal account_day."""
    j = book.table("journal")
    per_entry = j.group_by("entry_id").agg(pl.col("debit").sum(), pl.col("credit").sum())
    assert per_entry.filter(pl.col("debit") != pl.col("credit")).height == 0
    recv = list(RECEIVABLE.values())
    net = j.group_by("account_id").agg(
        (pl.col("debit") - pl.col("credit")).filter(pl.col("ledger_account").is_in(recv)).sum()
        .alias("receivable"),
        (pl.col("credit") - pl.col("debit")).filter(pl.col("ledger_account") == "customer_credit")
        .sum().alias("held"))
    cmp = book.state["account_day"].join(net, on="account_id", how="left").fill_null(0)
    owed = pl.col("principal") + pl.col("interest") + pl.col("fee") + pl.col("penalty")
    assert cmp.filter(owed != pl.col("receivable")).height == 0
    assert cmp.filter(pl.col("credit_balance") != pl.col("held")).height == 0


# --------------------------------------------------------------------------- hardship
def test_revolving_state_forty_days_past_due(params):
    book = revolving_book(params)
    book.close_through(date(2026, 1, 5), MAR22)
    d = day(book, MAR22)
    assert (d["dpd"], d["bucket"], d["overdue_amount"]) == (40, "M2", 20_210)
    assert (d["principal"], d["interest"], d["penalty"]) == (100_000, 2_000, 260)


def test_hardship_plan_re_amortises_the_past_due_amount_into_six_instalments(params):
    # 20,210 / 6 = 3,368.33: five instalments of 3,368 and a last one of
    # 20,210 - 5 x 3,368 = 3,370, due on the 23rd of each month from April.
    # The 1 Apr bill: revolving principal 81,000 -> 10 % = 8,100; interest 2 .. 22 Mar
    # 21 x 50 = 1,050 and, once the two bills' principal left the interest base
    # (81,000 x 0.0005 = 40.5 -> 41), 23 Mar .. 1 Apr 10 x 41 = 410: minimum 9,560, paid
    # on 10 Apr. The first hardship instalment is not paid: DPD 1 on 24 Apr.
    book = revolving_book(
        params,
        {"business_date": MAR23, "type": "hardship_plan", "amount": 20_210, "terms": 6},
        {"business_date": date(2026, 4, 10), "type": "repayment", "amount": 9_560})
    book.close_through(date(2026, 1, 5), date(2026, 4, 25))
    assert posting(book, 2)["status"] == "posted"
    plan = book.table("plans").filter(pl.col("kind") == "hardship").row(0, named=True)
    assert (plan["plan_id"], plan["principal"], plan["terms"], plan["start"]) == (
        "H2", 20_210, 6, MAR23)
    inst = book.instalments.filter(pl.col("plan_id") == "H2").sort("term")
    assert inst["total"].to_list() == [3_368] * 5 + [3_370]
    assert inst["principal"].sum() == 20_210 and inst["interest"].sum() == 0
    assert inst["due_date"].to_list() == [date(2026, m, 23) for m in range(4, 10)]
    # re-aged: nothing past due from the plan's date on
    mar23 = day(book, MAR23)
    assert (mar23["dpd"], mar23["bucket"], mar23["overdue_amount"]) == (0, "M0", 0)
    assert (mar23["plan_principal"], mar23["principal"]) == (20_210, 81_000 + 20_210)
    assert (mar23["interest"], mar23["penalty"], mar23["penalty_today"]) == (1_050 + 41, 0, 0)
    assert mar23["interest_today"] == 41
    assert day(book, date(2026, 3, 24))["dpd"] == 0
    stmt = book.table("statements").filter(pl.col("bill_date") == date(2026, 4, 1)).row(
        0, named=True)
    assert (stmt["interest"], stmt["past_due"], stmt["min_due"]) == (1_460, 0, 9_560)
    assert day(book, date(2026, 4, 23))["dpd"] == 0
    apr24 = day(book, date(2026, 4, 24))
    assert (apr24["dpd"], apr24["bucket"], apr24["overdue_amount"]) == (1, "M1", 3_368)
    assert apr24["penalty_today"] == 0  # no penalty on the moved amounts
    assert day(book, date(2026, 4, 25))["dpd"] == 2
    # interest, penalty capitalised into the plan's principal: 950 + 260
    cap = book.table("journal").filter(pl.col("event") == "hardship_capitalise")
    assert cap.filter(pl.col("ledger_account") == "receivable_principal")["debit"].sum() == 1_210
    assert dict(cap.filter(pl.col("credit") > 0).select("ledger_account", "credit").iter_rows()
                ) == {"receivable_interest": 950, "receivable_penalty": 260}
    assert_books_balance(book)


def test_hardship_instalments_paid_on_time_keep_the_account_current(params):
    book = revolving_book(
        params,
        {"business_date": MAR23, "type": "hardship_plan", "amount": 20_210, "terms": 3},
        # everything revolving paid off on 24 Mar: 81,000 + interest 1,050 + 41
        {"business_date": date(2026, 3, 24), "type": "repayment", "amount": 82_091},
        {"business_date": date(2026, 4, 23), "type": "repayment", "amount": 6_736},
        {"business_date": date(2026, 5, 23), "type": "repayment", "amount": 6_736},
        {"business_date": date(2026, 6, 23), "type": "repayment", "amount": 6_738})
    book.close_through(date(2026, 1, 5), date(2026, 7, 1))
    after = book.table("account_day").filter(pl.col("business_date") >= MAR23)
    assert after["dpd"].max() == 0 and after["penalty_today"].sum() == 0
    end = day(book, date(2026, 7, 1))
    assert (end["principal"], end["interest"], end["credit_balance"]) == (0, 0, 0)
    plan = book.state["plan_state"].row(0, named=True)
    assert (plan["plan_id"], plan["status"], plan["remaining_principal"]) == ("H2", "billed_out", 0)
    assert_books_balance(book)


@pytest.mark.parametrize("txn, words", [
    ({"amount": 20_000, "terms": 6}, "amount must equal the past-due total 20210 on 2026-03-23; "
                                     "got 20000"),
    ({"amount": 20_210, "terms": 2}, "terms must be 3 to 12 for hardship_plan; got 2"),
    ({"amount": 20_210, "terms": 13}, "terms must be 3 to 12 for hardship_plan; got 13"),
])
def test_a_hardship_plan_that_does_not_fit_the_books_is_rejected(params, txn, words):
    book = revolving_book(params, {"business_date": MAR23, "type": "hardship_plan"} | txn)
    book.close_through(date(2026, 1, 5), date(2026, 3, 24))
    post = posting(book, 2)
    assert post["status"] == "rejected" and post["reason"] == words
    assert day(book, MAR23)["dpd"] == 41  # nothing moved
    assert book.table("plans").filter(pl.col("kind") == "hardship").height == 0


def test_a_hardship_plan_on_a_current_account_is_rejected(params):
    book = revolving_book(params, {"business_date": date(2026, 2, 5), "type": "hardship_plan",
                                   "amount": 10_000, "terms": 3})
    book.close_through(date(2026, 1, 5), date(2026, 2, 5))
    post = posting(book, 2)
    assert post["status"] == "rejected"
    assert post["reason"].startswith("amount: nothing is past due on 2026-02-05")


# --------------------------------------------------------------------------- holidays
def test_payment_holiday_moves_a_loans_next_due_dates(params):
    # Term 1 paid on 15 Feb. A two-month holiday on 1 Mar: term 2 falls due 15 May
    # instead of 15 Mar, term 3 15 Jun instead of 15 Apr, and so on. Interest keeps
    # accruing: term 2 carries two more months on the 922,025 not yet billed,
    # 922,025 x 0.0004 x 30 x 2 = 22,128.6 -> 22,129, so 11,064 + 22,129 = 33,193.
    book = loan_book(params,
                     {"business_date": date(2026, 2, 15), "type": "repayment", "amount": 89_975},
                     {"business_date": date(2026, 3, 1), "type": "payment_holiday", "terms": 2},
                     {"business_date": date(2026, 5, 15), "type": "repayment",
                      "amount": 78_911 + 33_193})
    book.close_through(date(2026, 1, 15), date(2026, 6, 16))
    assert posting(book, 3)["status"] == "posted"
    latest = (book.instalments.sort("business_date").group_by("term").last().sort("term"))
    assert latest["due_date"].to_list()[:4] == [date(2026, 2, 15), date(2026, 5, 15),
                                                date(2026, 6, 15), date(2026, 7, 15)]
    assert latest["due_date"].to_list()[-1] == date(2027, 3, 15)  # the loan is 2 months longer
    t2 = latest.row(1, named=True)
    assert (t2["principal"], t2["interest"], t2["total"]) == (78_911, 33_193, 112_104)
    assert latest.row(2, named=True)["interest"] == 10_117  # later terms unchanged
    hist = book.table("account_day").filter(pl.col("business_date") <= date(2026, 6, 15))
    assert hist["dpd"].max() == 0 and hist["penalty_today"].sum() == 0
    for d in (date(2026, 3, 15), date(2026, 4, 15)):  # nothing falls due on the old dates
        assert (day(book, d)["total_due"], day(book, d)["interest_today"]) == (0, 0)
    may15 = day(book, date(2026, 5, 15))
    assert (may15["interest_today"], may15["principal"]) == (33_193, 1_000_000 - 77_975 - 78_911)
    # term 3 unpaid on its new date: DPD 1 the next day
    jun16 = day(book, date(2026, 6, 16))
    assert (jun16["dpd"], jun16["overdue_amount"]) == (1, 89_975 + 48)  # 79,858 x 0.0006
    assert (jun16["holiday_until"], jun16["holiday_months"]) == (date(2026, 5, 1), 2)
    assert_books_balance(book)


def test_payment_holiday_forgives_nothing_past_due(params):
    # Term 1 (due 15 Feb) is not paid; a one-month holiday on 20 Feb leaves it past due
    # (DPD keeps counting from 15 Feb) and moves term 2 from 15 Mar to 15 Apr.
    book = loan_book(params, {"business_date": date(2026, 2, 20), "type": "payment_holiday",
                              "terms": 1})
    book.close_through(date(2026, 1, 15), date(2026, 3, 20))
    assert posting(book, 2)["status"] == "posted"
    assert day(book, date(2026, 2, 20))["dpd"] == 5
    mar20 = day(book, date(2026, 3, 20))
    assert mar20["dpd"] == 33 and mar20["penalty_today"] == 47  # 77,975 x 0.0006
    assert book.state["dues"]["due_date"].to_list() == [date(2026, 2, 15)]
    moved = book.instalments.filter(pl.col("business_date") == date(2026, 2, 20)).sort("term")
    assert moved["term"].to_list() == list(range(2, 13))
    assert moved.row(0, named=True)["due_date"] == date(2026, 4, 15)
    # one month more interest on the 922,025 not yet billed: 11,064.3 -> 11,064
    assert moved.row(0, named=True)["interest"] == 11_064 + 11_064
    assert_books_balance(book)


def test_payment_holiday_on_a_revolving_account(params):
    # A two-month holiday on 5 Feb (until 5 Apr): the 1 Feb bill's minimum 10,000 moves
    # from 10 Feb to 10 Apr; the 1 Mar bill would fall due on 10 Mar, inside the holiday,
    # so it is due 10 May; the 1 Apr bill falls due on 10 Apr as usual. The interest-free
    # period still ends on 10 Feb: interest 50 a day from 11 Feb.
    # 1 Mar bill: 9,000 + 19 x 50 = 9,950, nothing past due; statement balance
    # 90,000 + 950 + the moved 10,000. 1 Apr bill: 8,100 + 31 x 50 = 9,650.
    # Nothing is paid: on 11 Apr both April items are past due, penalty 5 + 5.
    book = revolving_book(params, {"business_date": date(2026, 2, 5),
                                   "type": "payment_holiday", "terms": 2})
    book.close_through(date(2026, 1, 5), date(2026, 4, 11))
    stmts = {r["bill_date"]: r for r in book.table("statements").to_dicts()}
    mar, apr = stmts[date(2026, 3, 1)], stmts[date(2026, 4, 1)]
    assert (mar["due_date"], mar["min_due"], mar["past_due"], mar["statement_balance"]) == (
        date(2026, 5, 10), 9_950, 0, 90_000 + 950 + 10_000)
    assert (apr["due_date"], apr["min_due"]) == (date(2026, 4, 10), 9_650)
    assert day(book, date(2026, 2, 11))["interest_today"] == 50
    upto = book.table("account_day").filter(pl.col("business_date") <= date(2026, 4, 10))
    assert upto["dpd"].max() == 0 and upto["penalty_today"].sum() == 0
    apr11 = day(book, date(2026, 4, 11))
    assert (apr11["dpd"], apr11["penalty_today"]) == (1, 10)
    assert apr11["overdue_amount"] == 10_000 + 9_650 + 10
    assert_books_balance(book)


# --------------------------------------------------------------------------- settlement
def test_settlement_at_sixty_percent_writes_off_exactly_the_rest(params):
    # balance 102,260 at the end of 22 Mar; 60 % = 61,356 paid on 23 Mar goes through
    # the waterfall (bill of 1 Feb 10,200, bill of 1 Mar 10,010, interest 1,050, then
    # 40,096 of the 81,000 revolving principal); 102,260 - 61,356 = 40,904 is written off.
    book = revolving_book(
        params,
        {"business_date": MAR23, "type": "settlement", "amount": 61_356},
        {"business_date": date(2026, 3, 25), "type": "purchase", "amount": 1_000},
        {"business_date": date(2026, 3, 26), "type": "repayment", "amount": 500})
    book.close_through(date(2026, 1, 5), date(2026, 9, 30))
    assert posting(book, 2)["status"] == "posted"
    j = book.table("journal").filter(pl.col("business_date") == MAR23)
    assert j["debit"].sum() == j["credit"].sum()
    off = j.filter(pl.col("event") == "settlement_discount")
    assert off.filter(pl.col("ledger_account") == "settlement_discount")["debit"].sum() == 40_904
    assert dict(off.filter(pl.col("credit") > 0).select("ledger_account", "credit").iter_rows()
                ) == {"receivable_principal": 40_904}
    paid = j.filter(pl.col("event") == "settlement")
    assert paid.filter(pl.col("ledger_account") == "cash")["debit"].sum() == 61_356
    mar23 = day(book, MAR23)
    assert (mar23["status"], mar23["dpd"], mar23["bucket"]) == ("settled", 0, "M0")
    assert sum(mar23[c] for c in ("principal", "interest", "fee", "penalty")) == 0
    assert (mar23["interest_today"], mar23["penalty_today"], mar23["paid_today"]) == (0, 0, 61_356)
    # closed: a purchase is rejected, money paid in is held as credit, nothing accrues,
    # no bill, no charge-off
    assert (posting(book, 3)["status"], posting(book, 3)["reason"]) == (
        "rejected", "account is settled")
    later = book.table("account_day").filter(pl.col("business_date") > MAR23)
    assert later["status"].unique().to_list() == ["settled"]
    assert later["interest_today"].sum() == 0 and later["dpd"].max() == 0
    assert day(book, date(2026, 9, 30))["credit_balance"] == 500
    assert book.table("statements").filter(pl.col("bill_date") > MAR23).height == 0
    assert_books_balance(book)


def test_settlement_above_the_balance_writes_nothing_off_and_holds_the_excess(params):
    book = revolving_book(params,
                          {"business_date": MAR23, "type": "settlement", "amount": 110_000},
                          {"business_date": date(2026, 3, 30), "type": "repayment",
                           "amount": 1_000})
    book.close_through(date(2026, 1, 5), date(2026, 3, 30))
    d = day(book, MAR23)
    assert (d["status"], d["credit_balance"]) == ("settled", 110_000 - 102_260)
    # money paid in later adds to what is held
    assert day(book, date(2026, 3, 30))["credit_balance"] == 110_000 - 102_260 + 1_000
    assert book.table("journal").filter(pl.col("event") == "settlement_discount").height == 0
    assert_books_balance(book)


def test_settlement_of_a_cash_loan_applies_the_money_to_principal_not_yet_billed(params):
    # nothing billed yet on 1 Feb: the 600,000 is held, then applied to the loan's
    # principal; the other 400,000 is written off; no instalment is billed afterwards
    book = loan_book(params, {"business_date": date(2026, 2, 1), "type": "settlement",
                              "amount": 600_000})
    book.close_through(date(2026, 1, 15), date(2026, 3, 1))
    j = book.table("journal").filter(pl.col("business_date") == date(2026, 2, 1))
    amounts = {(r["event"], r["ledger_account"]): r["debit"] + r["credit"]
               for r in j.to_dicts()}
    assert amounts == {("settlement", "cash"): 600_000,
                       ("settlement", "customer_credit"): 600_000,
                       ("settlement_credit", "customer_credit"): 600_000,
                       ("settlement_credit", "receivable_principal"): 600_000,
                       ("settlement_discount", "settlement_discount"): 400_000,
                       ("settlement_discount", "receivable_principal"): 400_000}
    end = day(book, date(2026, 3, 1))
    assert (end["status"], end["principal"], end["credit_balance"], end["dpd"]) == (
        "settled", 0, 0, 0)
    assert book.state["plan_state"].height == 0
    assert book.table("account_day")["interest_today"].sum() == 0
    assert_books_balance(book)


def test_settlement_of_a_charged_off_account_is_a_recovery(params):
    book = revolving_book(params, {"business_date": date(2026, 9, 1), "type": "settlement",
                                   "amount": 30_000})
    book.close_through(date(2026, 1, 5), date(2026, 9, 2))
    d = day(book, date(2026, 9, 1))
    assert (d["status"], d["recovered_today"], d["bucket"]) == ("settled", 30_000, "M0")
    j = book.table("journal").filter(pl.col("business_date") == date(2026, 9, 1))
    assert set(j["ledger_account"]) == {"cash", "recovery_income"}
    assert_books_balance(book)


def test_one_arrangement_per_account_per_date(params):
    book = revolving_book(
        params,
        {"business_date": MAR23, "type": "payment_holiday", "terms": 1},
        {"business_date": MAR23, "type": "settlement", "amount": 50_000})
    book.close_through(date(2026, 1, 5), MAR23)
    assert posting(book, 2)["status"] == "posted"
    assert (posting(book, 3)["status"], posting(book, 3)["reason"]) == (
        "rejected", "only one arrangement per account per date; txn 2 came first")
    assert day(book, MAR23)["status"] == "open"


# --------------------------------------------------------------------------- loading




@pytest.fixture(scope="module")
def closed_store(tmp_path_factory, params):
    """R1 current (its minimum paid), L1's first instalment 89,975 unpaid since 15 Feb;
    closed through 20 Feb: L1's past-due total on 21 Feb is 89,975 + 5 days x 47 = 90,210."""
    path = tmp_path_factory.mktemp("arr") / "books.duckdb"
    s = open_store(f"duckdb:///{path}")
    load_frames(s, default_catalogue(), customers=text(CUST), accounts=text(ACCT),
                transactions=text(TXNS))
    run_eod(s, date(2026, 2, 20), params)
    yield s
    s.close()


def snapshot(store) -> dict[str, pl.DataFrame]:
    return {t: store.read(t) for t in ("transactions", "account_day", "journal", "dues",
                                       "plan_state", "plans", "instalments", "closed_dates")}


GOOD = {"external_id": "ok1", "account_id": "R1", "business_date": "2026-02-21",
        "type": "purchase", "amount": 1_000}


@pytest.mark.parametrize("row, field, words", [
    ({"account_id": "L1", "type": "hardship_plan", "amount": 90_210, "terms": 2},
     "terms", "from 3 to 12 for a hardship_plan; got '2'"),
    ({"account_id": "L1", "type": "hardship_plan", "amount": 90_210, "terms": 13},
     "terms", "from 3 to 12 for a hardship_plan; got '13'"),
    ({"account_id": "L1", "type": "hardship_plan", "amount": 90_210},
     "terms", "from 3 to 12 for a hardship_plan; got None"),
    ({"account_id": "L1", "type": "hardship_plan", "amount": 90_000, "terms": 6},
     "amount", "must be the past-due total on 2026-02-21, 90210; got 90000"),
    ({"account_id": "R1", "type": "hardship_plan", "amount": 5_000, "terms": 6},
     "amount", "nothing is past due on account R1; got 5000"),
    ({"account_id": "L1", "type": "hardship_plan", "amount": 90_210, "terms": 6,
      "daily_rate": "0.0001"}, "daily_rate", "empty for hardship_plan"),
    ({"type": "payment_holiday", "terms": 4}, "terms", "from 1 to 3 (months)"),
    ({"type": "payment_holiday", "terms": 0}, "terms", "from 1 to 3 (months)"),
    ({"type": "payment_holiday", "terms": 1, "amount": 500}, "amount", "empty or 0"),
    ({"type": "settlement", "amount": 0}, "amount", "minor units; got '0'"),
    ({"type": "settlement", "amount": -5}, "amount", "minor units; got '-5'"),
    ({"type": "settlement"}, "amount", "minor units; got None"),
    ({"type": "forgiveness", "amount": 100}, "type", "one of purchase, repayment"),
])
def test_bad_arrangements_are_refused_naming_row_field_and_value(closed_store, row, field,
                                                                 words):
    bad = {"external_id": "bad1", "account_id": "R1", "business_date": "2026-02-21"} | row
    bad.setdefault("amount", None)
    before = snapshot(closed_store)
    with pytest.raises(BadInputError) as err:
        load_frames(closed_store, default_catalogue(), transactions=text([GOOD, bad]))
    assert (err.value.field, err.value.row) == (field, 2)
    msg = str(err.value)
    assert "transactions row 2" in msg and field in msg and words in msg, msg
    after = snapshot(closed_store)
    assert all(before[t].equals(after[t]) for t in before)  # not even the good row


def test_two_arrangements_for_one_account_and_date_are_refused(closed_store):
    rows = [GOOD, {"external_id": "h0", "account_id": "R1", "business_date": "2026-02-21",
                   "type": "payment_holiday", "terms": 1},
            {"external_id": "h1", "account_id": "L1", "business_date": "2026-02-21",
             "type": "payment_holiday", "terms": 1},
            {"external_id": "h2", "account_id": "L1", "business_date": "2026-02-21",
             "type": "settlement", "amount": 50_000}]
    before = snapshot(closed_store)
    with pytest.raises(BadInputError) as err:
        load_frames(closed_store, default_catalogue(), transactions=text(rows))
    assert (err.value.field, err.value.row, err.value.value) == ("type", 4, "settlement")
    assert "row 2" not in str(err.value) and "row 3" not in str(err.value)
    assert all(before[t].equals(snapshot(closed_store)[t]) for t in before)


def test_hardship_plan_through_the_store_posts_and_re_ages(tmp_path, params):
    s = open_store(f"duckdb:///{tmp_path}/books.duckdb")
    load_frames(s, default_catalogue(), customers=text(CUST), accounts=text(ACCT),
                transactions=text(TXNS))
    run_eod(s, date(2026, 2, 20), params)
    plan = [{"external_id": "hp1", "account_id": "L1", "business_date": "2026-02-21",
             "type": "hardship_plan", "amount": 90_210, "terms": 3}]
    assert load_frames(s, default_catalogue(), transactions=text(plan)).transactions == 1
    # a second arrangement for the same date, in a later file, is refused
    with pytest.raises(BadInputError, match="external_id 'hp1' is already loaded"):
        load_frames(s, default_catalogue(), transactions=text([
            {"external_id": "hp2", "account_id": "L1", "business_date": "2026-02-21",
             "type": "payment_holiday", "terms": 1, "amount": None}]))
    # loading the same row again is a no-op, like any other transaction
    assert load_frames(s, default_catalogue(), transactions=text(plan)).duplicates_skipped == 1
    run_eod(s, date(2026, 2, 21), params)
    ad = s.read("account_day", "business_date = ? AND account_id = ?",
                [date(2026, 2, 21), "L1"]).row(0, named=True)
    assert (ad["dpd"], ad["bucket"], ad["overdue_amount"]) == (0, "M0", 0)
    inst = s.read("instalments", "plan_id = ?", ["H4"]).sort("term")
    assert inst["total"].to_list() == [30_070, 30_070, 30_070]
    assert s.read("postings", "txn_id = 4").row(0, named=True)["status"] == "posted"
    s.close()
