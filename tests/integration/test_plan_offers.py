"""`collect plan --strategy optimized` on a seasoned twin book: the strategy's offers become
`purpose = 'offer'` contacts, each inside the arrangements policy, none for the explore arm;
nothing is posted, planning again gives the same offers, and a strategy without offers
plans none."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from creditdesk.collections.arrangements import _state, eligibility
from creditdesk.collections.planning import plan_date
from creditdesk.collections.strategy import load_strategy
from creditdesk.simulate.driver import run_twin
from creditdesk.simulate.params import SEASONED_BOOK, load_params
from creditdesk.store import open_store

pytestmark = pytest.mark.slow

START, DAYS = date(2026, 1, 1), 100
LAST = START + timedelta(days=DAYS - 1)
NEXT = LAST + timedelta(days=1)


def _q(store: object, sql: str) -> pl.DataFrame:
    out = pl.from_arrow(store.con.sql(sql).to_arrow_table())  # type: ignore[attr-defined]
    assert isinstance(out, pl.DataFrame)
    return out


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> object:
    path = tmp_path_factory.mktemp("plan_offers") / "book.duckdb"
    store = open_store(f"duckdb:///{path}")
    run_twin(store, customers=400, days=DAYS, seed=7, start=START, behaviour_model=None,
             params=load_params(seasoning_months=SEASONED_BOOK, hardship_daily_hazard=0.003))
    return store


def _offers(store: object) -> pl.DataFrame:
    return _q(store, f"SELECT * FROM contact_plan WHERE purpose = 'offer' "
                     f"AND business_date = DATE '{NEXT}' ORDER BY plan_id")


def test_offers_are_planned_inside_the_policy_and_not_posted(book: object) -> None:
    txns = _q(book, "SELECT count(*) AS n FROM transactions").item()
    r = plan_date(book, NEXT, strategy="optimized")
    offers = _offers(book)
    assert offers.height > 0
    assert r.offers == offers.filter(pl.col("status") == "planned").height > 0
    assert set(offers["arm"].unique()) == {"champion"}   # the rules say champion only
    # ... while the explore arm's accounts are planned (contacts, no offers)
    assert _q(book, f"SELECT count(*) AS n FROM contact_plan WHERE arm = 'explore' "
                    f"AND business_date = DATE '{NEXT}'").item() > 0
    assert set(offers["channel"].unique()) == {"agent"}
    assert offers["message"].str.starts_with("offer ").all()
    assert offers["template"].str.starts_with("offer:").all()
    strat = load_strategy("optimized")
    assert strat.offers is not None
    rules = {x.name: x for x in strat.offers.rules}
    policy = strat.offers.arrangement_policy()
    log = _q(book, f"SELECT * FROM plan_offers WHERE business_date = DATE '{NEXT}'")
    made = log.filter(pl.col("outcome") != "refused")
    assert sorted(made["account_id"]) == sorted(offers["account_id"])
    for o in made.iter_rows(named=True):
        rule = rules[o["rule"]]
        state, history = _state(book, o["account_id"], NEXT)  # type: ignore[arg-type]
        e = eligibility(state, history, policy, rule.kind, business_date=NEXT, terms=rule.terms)
        assert e.eligible, (o, e)
        assert (e.kind, e.amount, e.terms) == (o["kind"], o["amount"], o["terms"])
    # nothing goes to the ledger: the collector records an accepted offer (collect offer)
    assert _q(book, "SELECT count(*) AS n FROM transactions").item() == txns


def test_planning_again_gives_the_same_offers(book: object) -> None:
    plan_date(book, NEXT, strategy="optimized")
    first = _offers(book)
    log1 = _q(book, "SELECT * FROM plan_offers ORDER BY account_id")
    plan_date(book, NEXT, strategy="optimized")
    assert _offers(book).equals(first)
    assert _q(book, "SELECT * FROM plan_offers ORDER BY account_id").equals(log1)
    assert first["account_id"].n_unique() == first.height


def test_a_hardship_review_is_the_signal_and_a_hold_stops_the_offer(book: object) -> None:
    # an account the hardship_signal rule could reach, once its debtor said so
    snap = _q(book, f"""SELECT ad.account_id, a.customer_id FROM account_day ad
        JOIN accounts a USING (account_id) WHERE ad.business_date = DATE '{LAST}'
        AND ad.status = 'open' AND ad.dpd >= 1 AND ad.overdue_amount >= 20000
        AND a.opened <= DATE '{LAST - timedelta(days=300)}' ORDER BY ad.account_id""")
    strat = load_strategy("optimized")
    from creditdesk.collections.strategy import arm_of

    champ = snap.filter(pl.Series(arm_of(strat, snap["account_id"].to_numpy()) == "champion"))
    already = set(_offers(book)["account_id"])
    cand = champ.filter(~pl.col("account_id").is_in(list(already)))
    if not cand.height:
        pytest.skip("no champion account in arrears without an offer on this book")
    acc, cust = cand.row(0)
    at = datetime.combine(LAST, datetime.min.time(), UTC) + timedelta(hours=10)
    book.con.execute(  # type: ignore[attr-defined]
        "CREATE TABLE IF NOT EXISTS holds (customer_id VARCHAR, account_id VARCHAR, "
        "hold VARCHAR, reason VARCHAR, set_at TIMESTAMPTZ, set_by VARCHAR, "
        "released_at TIMESTAMPTZ, released_by VARCHAR)")
    book.con.execute("INSERT INTO holds VALUES (?, ?, 'hardship_review', 'lost job', ?, "  # type: ignore[attr-defined]
                     "'agent1', NULL, NULL)", [cust, acc, at])
    try:
        plan_date(book, NEXT, strategy="optimized")
        assert acc not in set(_offers(book)["account_id"])  # on hold: no contact, no offer
        book.con.execute("UPDATE holds SET released_at = ?, released_by = 'sup' "  # type: ignore[attr-defined]
                         "WHERE customer_id = ?", [at + timedelta(hours=2), cust])
        plan_date(book, NEXT, strategy="optimized")
        log = _q(book, f"SELECT * FROM plan_offers WHERE account_id = '{acc}'")
        assert log.height == 1 and log["rule"][0] == "hardship_signal", log
        if log["outcome"][0] != "refused":
            assert acc in set(_offers(book)["account_id"])
    finally:
        book.con.execute("DELETE FROM holds WHERE customer_id = ?", [cust])  # type: ignore[attr-defined]
        plan_date(book, NEXT, strategy="optimized")


def test_an_offer_call_the_checker_forbids_is_blocked_like_any_contact(
        book: object, tmp_path: Path) -> None:
    src = Path(__file__).parents[2] / "src/creditdesk/collections/strategies/optimized.yaml"
    night = tmp_path / "night.yaml"  # every offer call at 23:00 local, past the calling hours
    night.write_text(src.read_text(encoding="utf-8").replace('at: "19:00"', 'at: "23:00"'),
                     encoding="utf-8")
    r = plan_date(book, NEXT, strategy=str(night))
    offers = _offers(book)
    assert offers.height > 0 and r.offers == 0
    assert set(offers["status"]) == {"blocked"} and offers["rule"].is_not_null().all()
    log = _q(book, f"SELECT outcome FROM plan_offers WHERE business_date = DATE '{NEXT}' "
                   "AND outcome <> 'refused'")
    assert set(log["outcome"]) == {"blocked"}


def test_a_strategy_without_offers_plans_none(book: object) -> None:
    r = plan_date(book, NEXT, strategy="bucket_rules")
    assert r.offers == 0
    assert _offers(book).height == 0
    assert _q(book, f"SELECT count(*) AS n FROM plan_offers "
                    f"WHERE business_date = DATE '{NEXT}'").item() == 0


def test_collect_plan_json_reports_the_offers(book: object) -> None:
    # last: the CLI opens the book itself, so the fixture's connection is closed first
    path = book.location  # type: ignore[attr-defined]
    book.close()  # type: ignore[attr-defined]
    res = subprocess.run([str(Path(sys.executable).with_name("creditdesk")), "collect", "plan",
                          "--date", NEXT.isoformat(), "--store", f"duckdb:///{path}",
                          "--strategy", "optimized", "--json"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["offers"] > 0 and doc["planned"] >= doc["offers"]
