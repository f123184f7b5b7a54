"""Arrangements end to end on a real DuckDB store: offer -> end of day -> account show.

The book (amounts in fen), closed through 20 Apr 2026:

* R1, R2 revolving: 1,000.00 bought on 5 Jan, nothing ever paid: DPD 69 (bucket M3)
  on 20 Apr (the 1 Feb bill's minimum was due 10 Feb);
* L1 cash loan: 1,000,000 over 12 terms at 0.04 %/day drawn 15 Jan, the first three
  instalments (89,975 each) paid on their due dates: current (M0).
"""

from __future__ import annotations

import json
import shutil
from datetime import date

import polars as pl
import pytest

from book_rows import THREE_ACCT, THREE_CUST, THREE_TXNS, text
from creditdesk.collections.arrangements import (
    ArrangementRefused,
    default_arrangement_policy,
    offer,
)
from creditdesk.errors import BadInputError
from creditdesk.ledger.account import account_view
from creditdesk.ledger.eod import run_eod
from creditdesk.ledger.ingest import load_frames
from creditdesk.ledger.params import ledger_params
from creditdesk.products import default_catalogue
from creditdesk.store import open_store

LAST = date(2026, 4, 20)
NEXT = date(2026, 4, 21)
CAT = default_catalogue()
PARAMS = ledger_params(CAT)




@pytest.fixture(scope="module")
def base(tmp_path_factory):
    path = tmp_path_factory.mktemp("arrangements") / "base.duckdb"
    s = open_store(f"duckdb:///{path}")
    cust, acct = THREE_CUST, THREE_ACCT
    txns = [*THREE_TXNS,
            *[{"external_id": f"r{m}", "account_id": "L1", "business_date": f"2026-0{m}-15",
               "type": "repayment", "amount": 89_975} for m in (2, 3, 4)]]
    load_frames(s, CAT, customers=text(cust), accounts=text(acct), transactions=text(txns))
    run_eod(s, LAST, PARAMS)
    s.close()
    return path


@pytest.fixture
def store(base, tmp_path):
    path = tmp_path / "books.duckdb"
    shutil.copy(base, path)
    s = open_store(f"duckdb:///{path}")
    yield s
    s.close()


def snapshot(store) -> dict[str, pl.DataFrame]:
    return {t: store.read(t) for t in ("transactions", "account_day", "journal", "dues",
                                       "plan_state", "plans", "instalments")}


def day(store, account: str, d: date) -> dict:
    return store.read("account_day", "account_id = ? AND business_date = ?",
                      [account, d]).row(0, named=True)


#: the default policy wants nine months of history before a re-age; these accounts
#: are three months old
YOUNG = default_arrangement_policy().model_copy(update={
    "hardship_plan": default_arrangement_policy().hardship_plan.model_copy(
        update={"min_account_age_days": 0})})


def test_offer_eod_and_account_show(store):
    r2 = day(store, "R2", LAST)
    assert (r2["dpd"], r2["bucket"]) == (69, "M3")
    # past due on 21 Apr: every open due item whose due date has passed
    past_due = int(store.read("dues", "account_id = 'R2' AND due_date < ?", [NEXT])
                   .select(pl.sum_horizontal("principal", "interest", "fee", "penalty").sum())
                   .item())
    balance_r1 = sum(day(store, "R1", LAST)[c] for c in ("principal", "interest", "fee",
                                                          "penalty"))
    hp = offer(store, "R2", "hardship_plan", NEXT, terms=6, policy=YOUNG, catalogue=CAT)
    st = offer(store, "R1", "settlement", NEXT, catalogue=CAT)
    ho = offer(store, "L1", "payment_holiday", NEXT, terms=2, catalogue=CAT)
    assert hp == "arrangement:hardship_plan:R2:20260421"
    # offering the same again loads nothing and answers the same id
    assert offer(store, "R1", "settlement", NEXT, catalogue=CAT) == st
    txns = store.read("transactions", "business_date = ?", [NEXT]).sort("external_id")
    assert txns.height == 3
    by_id = {r["external_id"]: r for r in txns.to_dicts()}
    assert by_id[hp]["amount"] == past_due and by_id[hp]["terms"] == 6
    floor = -(-balance_r1 * 7 // 10)  # M3: at least 70 % of the balance, rounded up
    assert by_id[st]["amount"] == floor
    assert (by_id[ho]["amount"], by_id[ho]["terms"]) == (0, 2)
    assert by_id[hp]["load_id"] == "arrangement:hardship_plan"

    run_eod(store, NEXT, PARAMS)
    posts = store.read("postings", "business_date = ?", [NEXT])
    assert posts["status"].to_list() == ["posted"] * 3, posts

    v2 = account_view(store, "R2")
    assert (v2["dpd"], v2["bucket"], v2["overdue_amount"]) == (0, "M0", 0)
    (arr,) = v2["arrangements"]
    assert (arr["type"], arr["status"], arr["moved"], arr["terms"]) == (
        "hardship_plan", "posted", past_due, 6)
    assert sum(i["total"] for i in arr["instalments"]) == past_due
    assert [i["due_date"] for i in arr["instalments"]][:2] == [date(2026, 5, 21),
                                                                date(2026, 6, 21)]
    assert {i["state"] for i in arr["instalments"]} == {"scheduled"}
    plan = next(p for p in v2["plans"] if p["kind"] == "hardship")
    assert (plan["plan_id"], plan["principal"], plan["status"]) == (arr["plan_id"], past_due,
                                                                     "active")

    v1 = account_view(store, "R1")
    assert (v1["status"], v1["dpd"], v1["available_credit"]) == ("settled", 0, 0)
    assert sum(v1["balances"].values()) == 0
    (arr,) = v1["arrangements"]
    assert (arr["type"], arr["paid"], arr["written_off"]) == ("settlement", floor,
                                                              balance_r1 - floor)

    vl = account_view(store, "L1")
    (arr,) = vl["arrangements"]
    assert (arr["type"], arr["months"], arr["until"]) == ("payment_holiday", 2,
                                                          date(2026, 6, 21))
    moved = {m["term"]: (m["from"], m["to"]) for m in arr["moved"]}
    assert moved[4] == (date(2026, 5, 15), date(2026, 7, 15))
    assert moved[12] == (date(2027, 1, 15), date(2027, 3, 15))
    sched = {s["term"]: s for s in vl["plans"][0]["schedule"]}
    assert (sched[4]["due_date"], sched[4]["original_due_date"]) == (date(2026, 7, 15),
                                                                      date(2026, 5, 15))
    assert sched[3]["state"] == "paid" and sched[4]["state"] == "scheduled"
    # the existing keys are all still there
    for key in ("account_id", "as_of", "status", "dpd", "bucket", "total_due",
                "overdue_amount", "balances", "credit_balance", "statements", "dues",
                "plans", "transactions"):
        assert key in v1 and key in vl


def test_account_show_json_from_the_cli(store):
    from typer.testing import CliRunner

    from creditdesk.cli import app

    offer(store, "R1", "settlement", NEXT, catalogue=CAT)
    run_eod(store, NEXT, PARAMS)
    url = f"duckdb:///{store.location}"
    res = CliRunner().invoke(app, ["account", "show", "R1", "--store", url, "--json"])
    assert res.exit_code == 0, res.output
    view = json.loads(res.output)
    assert view["status"] == "settled"
    assert view["arrangements"][0]["type"] == "settlement"
    assert view["arrangements"][0]["written_off"] > 0


@pytest.mark.parametrize("account, kind, kw, rule", [
    ("R2", "hardship_plan", {"terms": 6}, "hardship_plan.min_account_age_days"),
    ("R2", "hardship_plan", {"terms": 13, "policy": YOUNG}, "hardship_plan.terms"),
    ("L1", "hardship_plan", {"terms": 6, "policy": YOUNG}, "hardship_plan.past_due"),
    ("R1", "payment_holiday", {"terms": 1}, "payment_holiday.buckets"),
    ("L1", "settlement", {}, "settlement.floor"),
    ("R1", "settlement", {"amount": 1_000}, "settlement.floor.M3"),
    ("R1", "forgiveness", {}, "kind"),
])
def test_a_refused_offer_names_the_rule_and_leaves_the_books_untouched(store, account, kind,
                                                                       kw, rule):
    before = snapshot(store)
    with pytest.raises(ArrangementRefused) as err:
        offer(store, account, kind, NEXT, catalogue=CAT, **kw)
    assert err.value.rule == rule and rule in str(err.value)
    after = snapshot(store)
    assert all(before[t].equals(after[t]) for t in before)


def test_an_offer_is_for_the_next_business_date(store):
    before = snapshot(store)
    with pytest.raises(BadInputError) as err:
        offer(store, "L1", "payment_holiday", date(2026, 4, 25), terms=1, catalogue=CAT)
    assert err.value.field == "business_date" and "2026-04-21" in str(err.value)
    with pytest.raises(BadInputError, match="external_id"):
        offer(store, "L1", "payment_holiday", NEXT, terms=1, catalogue=CAT)
        offer(store, "L1", "payment_holiday", NEXT, terms=2, catalogue=CAT)
    assert store.read("transactions").height == before["transactions"].height + 1


@pytest.mark.spark
def test_arrangements_close_the_same_on_local_spark(base, tmp_path):
    """The same offers on the same book, closed on DuckDB and on local Spark through the
    first hardship instalment (missed) and a moved loan instalment: identical tables."""
    from creditdesk.ledger.ingest import as_text

    shutil.copy(base, tmp_path / "books.duckdb")
    duck = open_store(f"duckdb:///{tmp_path}/books.duckdb")  # closed through LAST already
    spark = open_store(f"spark:///{tmp_path}/lake")
    with spark.transaction():
        for t in ("customers", "accounts", "transactions"):
            spark.append(t, duck.read(t))
    for s in (duck, spark):
        run_eod(s, LAST, PARAMS)
        offer(s, "R2", "hardship_plan", NEXT, terms=3, policy=YOUNG, catalogue=CAT)
        offer(s, "R1", "settlement", NEXT, catalogue=CAT)
        offer(s, "L1", "payment_holiday", NEXT, terms=1, catalogue=CAT)
        load_frames(s, CAT, transactions=as_text(pl.DataFrame({
            "external_id": ["late1"], "account_id": ["R1"], "business_date": [date(2026, 5, 2)],
            "type": ["repayment"], "amount": [700]})))
        run_eod(s, date(2026, 5, 23), PARAMS)
    for t in ("account_day", "dues", "plan_state", "plans", "instalments", "statements",
              "journal", "postings"):
        a, b = duck.read(t).sort(pl.all()), spark.read(t).sort(pl.all())
        assert a.height > 0 or t == "dues", t
        assert a.equals(b), f"{t}: {a.height} rows on DuckDB, {b.height} on Spark"
    posts = duck.read("postings", "business_date = ?", [NEXT])
    assert posts["status"].to_list() == ["posted"] * 3
    assert day(duck, "R2", NEXT)["dpd"] == 0
    # nothing paid: the first hardship instalment is past due two days after its date
    missed = duck.read("dues", "account_id = 'R2' AND source = 'hardship'")
    assert missed["due_date"].to_list() == [date(2026, 5, 21)]
    duck.close()
