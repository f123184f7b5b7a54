"""Hardship offers in the digital twin, on a real DuckDB store: offered inside the policy,
answered by the simulated borrowers, posted through the ledger, kept in balanced books."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from creditdesk.errors import BadInputError
from creditdesk.ledger.eod import run_eod
from creditdesk.ledger.ingest import as_text, load_frames
from creditdesk.ledger.params import ledger_params
from creditdesk.products import default_catalogue
from creditdesk.simulate.compare import offer_figures
from creditdesk.simulate.driver import run_twin
from creditdesk.simulate.params import SEASONED_BOOK, load_params
from creditdesk.store import open_store

pytestmark = pytest.mark.slow

START = date(2026, 1, 1)
DAYS = 75
SRC = Path(__file__).parents[2] / "src/creditdesk/collections/strategies/optimized.yaml"
# the shipped optimized strategy with offers made easy to reach in a small, short run
OFFERS = """offers:
  cooldown_days: 10
  rules:
    - name: hardship_signal
      kind: hardship_plan
      terms: 3
      arms: [champion]
      when: {min_dpd: 1, hardship_signal_days: 14}
      contact: {channel: agent, at: "19:00"}
    - name: late
      kind: hardship_plan
      terms: 3
      arms: [champion]
      when: {min_dpd: 2}
      contact: {channel: agent, at: "12:15"}
    - name: settle
      kind: settlement
      when: {buckets: [M3]}
      contact: {channel: agent, at: "19:00"}
"""


def _rows(con: object, sql: str) -> pl.DataFrame:
    out = pl.from_arrow(con.sql(sql).to_arrow_table())  # type: ignore[attr-defined]
    assert isinstance(out, pl.DataFrame)
    return out


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> object:
    d = tmp_path_factory.mktemp("hardship")
    base = SRC.read_text(encoding="utf-8")
    (d / "offers.yaml").write_text(base[:base.index("offers:\n")] + OFFERS, encoding="utf-8")
    params = load_params(seasoning_months=SEASONED_BOOK, hardship_daily_hazard=0.003,
                         offer_accept_logit={"hardship_plan": 0.5, "payment_holiday": 0.0,
                                             "settlement": 0.0})
    store = open_store(f"duckdb:///{d / 'twin.duckdb'}")
    run_twin(store, customers=150, days=DAYS, seed=5, params=params, start=START,
             strategy=str(d / "offers.yaml"))
    return store


def test_offers_are_made_answered_and_logged(twin: object) -> None:
    con = twin.con  # type: ignore[attr-defined]
    offers = _rows(con, "SELECT * FROM offers")
    outcomes = set(offers["outcome"].unique())
    assert {"accepted", "declined"} <= outcomes
    assert outcomes <= {"refused", "blocked", "not_reached", "declined", "accepted"}
    assert set(offers["strategy"].unique()) == {"optimized"}
    assert set(offers["strategy_version"].unique()) == {3}
    # the explore arm gets no hardship offers (its rules say champion)
    plans = offers.filter(pl.col("kind") == "hardship_plan")
    assert set(plans["arm"].unique()) == {"champion"}
    # a refusal names the policy rule; nothing else does
    refused = offers.filter(pl.col("outcome") == "refused")
    assert refused["policy_rule"].null_count() == 0
    assert offers.filter(pl.col("outcome") != "refused")["policy_rule"].null_count() == \
        offers.filter(pl.col("outcome") != "refused").height
    # every offer that was not refused went out as a contact through the checker
    made = _rows(con, "SELECT business_date, account_id, allowed, rule FROM contacts "
                      "WHERE purpose = 'offer'")
    assert made.height == offers.filter(pl.col("outcome") != "refused").height
    assert made.filter(~pl.col("allowed") & pl.col("rule").is_null()).height == 0


def test_accepted_offers_are_in_the_books(twin: object) -> None:
    con = twin.con  # type: ignore[attr-defined]
    accepted = _rows(con, "SELECT * FROM offers WHERE outcome = 'accepted'")
    assert accepted.height > 0
    txns = _rows(con, """SELECT t.external_id, t.account_id, t.business_date, t.type, t.amount,
                                t.terms, p.status FROM transactions t JOIN postings p USING (txn_id)
                         WHERE t.type IN ('hardship_plan', 'payment_holiday', 'settlement')""")
    assert txns.height == accepted.height
    assert set(txns["status"].unique()) == {"posted"}
    both = accepted.join(txns, on="external_id", suffix="_t")
    assert both.height == accepted.height
    assert (both["amount"] == both["amount_t"]).all() and (both["kind"] == both["type"]).all()
    # a hardship plan: the past-due total became a plan of kind hardship, in instalments
    # that sum to it, and the account was re-aged on the plan's date
    hp = both.filter(pl.col("kind") == "hardship_plan")
    assert hp.height > 0
    plans = _rows(con, "SELECT * FROM plans WHERE kind = 'hardship'")
    assert plans.height == hp.height
    inst = _rows(con, """SELECT plan_id, count(*) AS n, sum(principal) AS s FROM instalments
                         WHERE plan_id IN (SELECT plan_id FROM plans WHERE kind = 'hardship')
                         GROUP BY 1""")
    chk = plans.join(inst, on="plan_id")
    assert (chk["n"] == chk["terms"]).all() and (chk["s"] == chk["principal"]).all()
    assert sorted(plans["principal"].to_list()) == sorted(hp["amount"].to_list())
    dpd = _rows(con, """SELECT a.dpd FROM account_day a JOIN plans p
                        ON a.account_id = p.account_id AND a.business_date = p.business_date
                        WHERE p.kind = 'hardship'""")
    assert dpd["dpd"].max() == 0
    # the policy's FFIEC age rule held for every plan: the account was 270+ days old
    ages = _rows(con, """SELECT (p.business_date - a.opened) AS age FROM plans p
                         JOIN accounts a USING (account_id) WHERE p.kind = 'hardship'""")
    assert ages["age"].min() >= 270
    # the ledger's books still balance, and nothing the twin sent was rejected
    debit, credit = con.sql("SELECT sum(debit), sum(credit) FROM journal").fetchall()[0]
    assert debit == credit
    assert con.sql("SELECT count(*) FROM postings WHERE status <> 'posted'").fetchall()[0][0] == 0


def test_borrowers_pay_their_plans(twin: object) -> None:
    con = twin.con  # type: ignore[attr-defined]
    f = offer_figures(con)
    assert f["offers_accepted"] == f["hardship_plans"] + f["settlements"]
    assert f["hardship_plans"] > 0
    assert 0 <= int(f["plan_repaid"] or 0) <= int(f["arrears_restructured"] or 0)
    # instalments fell due in the run and were paid on their due date: the account was
    # still current the next day
    due = _rows(con, f"""SELECT i.plan_id, i.account_id, i.due_date, a.dpd
                         FROM instalments i JOIN plans p USING (plan_id)
                         JOIN account_day a ON a.account_id = i.account_id
                          AND a.business_date = i.due_date + 1
                         WHERE p.kind = 'hardship' AND i.due_date < DATE '{START + timedelta(
                             days=DAYS - 1)}'""")
    assert due.height > 0
    assert (due["dpd"] == 0).any() and int(f["plan_repaid"] or 0) > 0


def test_the_book_is_seasoned_and_starts_on_the_first_day(twin: object) -> None:
    con = twin.con  # type: ignore[attr-defined]
    first, n = con.sql("SELECT min(business_date), count(*) FROM closed_dates").fetchall()[0]
    assert first == START and n == DAYS
    old = con.sql("SELECT count(*) FROM accounts WHERE opened <= DATE '2025-04-06'"
                  ).fetchall()[0][0]
    assert old > 0


def test_a_cut_over_date_for_a_seasoned_book(tmp_path: Path) -> None:
    cat = default_catalogue()
    store = open_store(f"duckdb:///{tmp_path / 'c.duckdb'}")
    acc = pl.DataFrame({"account_id": ["R1"], "customer_id": ["C1"], "product": ["revolving"],
                        "credit_limit": [1_000_000], "opened": [date(2025, 3, 1)]})
    cust = pl.DataFrame({"customer_id": ["C1"], "timezone": ["Asia/Shanghai"]})
    buy = pl.DataFrame({"external_id": ["b1"], "account_id": ["R1"],
                        "business_date": [date(2026, 1, 3)], "type": ["purchase"],
                        "amount": [50_000]})
    load_frames(store, cat, customers=as_text(cust), accounts=as_text(acc),
                transactions=as_text(buy), load_id="t")
    with pytest.raises(BadInputError) as err:
        run_eod(store, date(2026, 1, 5), ledger_params(cat), first=date(2026, 1, 4))
    assert err.value.field == "first"
    rep = run_eod(store, date(2026, 1, 5), ledger_params(cat), first=date(2026, 1, 1))
    assert (rep.first, rep.dates_closed) == (date(2026, 1, 1), 5)
    assert store.last_closed() == date(2026, 1, 5)
