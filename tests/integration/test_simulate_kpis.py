"""The demo's figures on a real twin store, and on hand-built tables with hand-worked answers."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from creditdesk.reports.demo_report import BUCKETS, NO_DATA, demo_report_html
from creditdesk.simulate.driver import run_twin
from creditdesk.simulate.kpis import (
    demo_kpis,
    demo_report_data,
    promise_figures,
    recovery,
    roll_rates,
    rule_violations,
)
from creditdesk.simulate.params import load_params
from creditdesk.store import open_store
from creditdesk.store.base import Store

pytestmark = pytest.mark.slow

SEED, DAYS, CUSTOMERS = 3, 75, 400


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    path = tmp_path_factory.mktemp("kpis") / "twin.duckdb"
    st = open_store(f"duckdb:///{path}")
    run_twin(st, customers=CUSTOMERS, days=DAYS, seed=SEED, params=load_params())
    return st


@pytest.fixture(scope="module")
def kpis(store: Store) -> dict:
    return demo_kpis(store, seed=SEED, days=DAYS, customers=CUSTOMERS, seconds=1.0)


def _table(store: Store, name: str) -> pl.DataFrame:
    return store.con.sql(f"SELECT * FROM {name}").pl()  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- the twin's store

def test_kpis_are_json_and_count_the_store(kpis: dict) -> None:
    json.dumps(kpis, allow_nan=False)
    assert kpis["customers"] == CUSTOMERS
    assert kpis["accounts"] == sum(kpis["accounts_by_product"].values())
    assert kpis["days_closed"] == DAYS
    assert kpis["first_date"] == "2026-01-01"
    assert kpis["as_of"] == (date(2026, 1, 1) + timedelta(days=DAYS - 1)).isoformat()
    assert kpis["delinquent_accounts"] > 0 and kpis["contacts"] > 0


def test_bucket_shares_sum_to_one_each_date(kpis: dict) -> None:
    points = kpis["bucket_shares"]
    assert points[-1]["date"] == kpis["as_of"]
    assert len(points) == len(range(0, DAYS, 7)) + 1  # weekly, plus the last date
    for p in points:
        assert set(p) == {"date", *BUCKETS}
        assert sum(p[b] for b in BUCKETS) == pytest.approx(1.0, abs=5e-4 * len(BUCKETS))
    assert kpis["delinquency_rate"] == pytest.approx(
        sum(points[-1][b] for b in BUCKETS[1:-1]), abs=1e-3)


def test_receivable_equals_account_day_at_the_last_date(store: Store, kpis: dict) -> None:
    ad = _table(store, "account_day")
    last = ad.filter(pl.col("business_date") == pl.col("business_date").max())
    comps = ["principal", "interest", "fee", "penalty"]
    assert kpis["receivable"] == int(last.select(pl.sum_horizontal(comps).sum()).item())
    for product, part in last.group_by("product"):
        assert kpis["balances"]["by_product"][product[0]]["principal"] == part["principal"].sum()
    assert kpis["receivable"] == kpis["balances"]["receivable"] > 0


def test_roll_rate_rows_sum_to_one(store: Store, kpis: dict) -> None:
    rolls = kpis["roll_rates"]
    assert rolls["month_end_pairs"] == [["2026-01-31", "2026-02-28"]]
    for row in rolls["shares"].values():
        assert sum(row.values()) == pytest.approx(1.0, abs=1e-3)
    # every account present at both month ends counted once
    ad = _table(store, "account_day")
    both = (ad.filter(pl.col("business_date") == date(2026, 1, 31)).select("account_id")
            .join(ad.filter(pl.col("business_date") == date(2026, 2, 28)), on="account_id"))
    assert sum(sum(r.values()) for r in rolls["counts"].values()) == both.height


def test_contacts_by_channel_add_up_to_the_contacts_table(store: Store, kpis: dict) -> None:
    contacts = _table(store, "contacts")
    by_channel = kpis["contacts_by_channel"]
    assert sum(c["proposed"] for c in by_channel.values()) == contacts.height
    assert sum(c["made"] for c in by_channel.values()) == kpis["contacts"] \
        == contacts["allowed"].sum()
    assert kpis["contacts"] + kpis["contacts_blocked"] == contacts.height
    assert sum(kpis["contacts_blocked_by_rule"].values()) == kpis["contacts_blocked"]
    for ch, part in contacts.group_by("channel"):
        assert by_channel[ch[0]]["proposed"] == part.height
    assert sum(r["proposed"] for r in kpis["contacts_by_channel_purpose"]) == contacts.height
    assert kpis["promises_made"] == _table(store, "promises").height
    assert 0 <= kpis["promises_kept"] <= kpis["promises_made"]


def test_twin_makes_no_rule_violations(kpis: dict) -> None:
    assert kpis["rule_violations"] == 0
    assert set(kpis["rule_violations_by_rule"]) == {
        "quiet_hours", "connected_voice_per_day", "unanswered_voice_per_day", "complaint_hold"}
    assert not any(kpis["rule_violations_by_rule"].values())


def test_audit_finds_exactly_the_planted_violations(store: Store, tmp_path: Path) -> None:
    store.con.execute("CHECKPOINT")  # type: ignore[attr-defined]
    copy = tmp_path / "planted.duckdb"
    shutil.copy(store.location, copy)
    con = duckdb.connect(str(copy))
    try:
        # customers the twin never contacted nor heard a complaint from
        quiet = [r[0] for r in con.execute(
            "SELECT customer_id FROM customers WHERE customer_id NOT IN "
            "(SELECT customer_id FROM contacts UNION SELECT customer_id FROM complaints) "
            "ORDER BY customer_id LIMIT 5").fetchall()]
        a, b, c, d, e = quiet

        def plant(customer: str, local: str, channel: str, outcome: str, allowed: bool = True
                  ) -> None:
            con.execute(
                "INSERT INTO contacts SELECT CAST(? AS TIMESTAMP)::DATE, "
                "timezone(cu.timezone, CAST(? AS TIMESTAMP)), cu.customer_id, 'X', 'collection', "
                "?, ?, NULL, ?, FALSE, 5, 'M1', 'planted', 'champion', 0, 'inhouse' "
                "FROM customers cu WHERE cu.customer_id = ?",
                [local, local, channel, allowed, outcome, customer])

        assert rule_violations(con)["total"] == 0
        plant(a, "2026-02-10 23:00:00", "agent", "no_answer")   # quiet hours
        plant(a, "2026-02-11 21:59:00", "agent", "connected")   # just inside the window
        plant(d, "2026-02-10 23:30:00", "robot", "no_answer", allowed=False)  # blocked: not made
        for hour in (10, 11, 12, 13):                           # a 4th connected call
            plant(b, f"2026-02-11 {hour}:00:00", "robot", "connected")
        for minute in range(7):                                 # a 7th unanswered attempt
            plant(e, f"2026-02-12 09:{minute:02d}:00", "agent", "no_answer")
        con.execute("INSERT INTO complaints VALUES (DATE '2026-02-12', ?, 'X', 5, 1.0)", [c])
        plant(c, "2026-02-12 10:00:00", "sms", "read")          # before the complaint: fine
        plant(c, "2026-02-13 10:00:00", "sms", "read")          # on hold
        plant(c, "2026-02-27 10:00:00", "sms", "read")          # 15 days on: hold over
        found = rule_violations(con)
    finally:
        con.close()
    assert found == {"quiet_hours": 1, "connected_voice_per_day": 1,
                     "unanswered_voice_per_day": 1, "complaint_hold": 1, "total": 4}


def test_status_transitions_count_consecutive_decisions(store: Store, kpis: dict) -> None:
    sim = _table(store, "sim_status").filter(pl.col("product") == "revolving")
    pairs = sim.sort("account_id", "business_date").with_columns(
        pl.col("status").shift(-1).over("account_id").alias("next")).drop_nulls("next")
    trans = kpis["status_transitions"]
    assert trans["total"] == pairs.height > 0
    for row in trans["probabilities"].values():
        known = [p for p in row.values() if p is not None]
        assert not known or sum(known) == pytest.approx(1.0, abs=1e-3)
    assert 0.0 <= trans["max_abs_gap"]["gap"] <= 1.0


def test_report_data_frames(store: Store, kpis: dict) -> None:
    data = demo_report_data(store, kpis)
    vintage = data.vintage
    assert vintage.height > 0
    for _, part in vintage.group_by("vintage"):
        rates = part.sort("months_on_book")["bad_rate"].to_list()
        assert rates == sorted(rates)  # non-decreasing with months on book
        assert part["accounts"].n_unique() == 1
    assert vintage.group_by("vintage").agg(pl.col("accounts").first())["accounts"].sum() \
        == kpis["accounts"]
    counts = data.funnel["count"].to_list()
    assert counts[0] == kpis["delinquent_accounts"]
    assert counts == sorted(counts, reverse=True)  # each stage a subset of the one before
    assert data.contacts_daily["attempts"].sum() == kpis["contacts"]
    assert data.contacts_daily["blocked"].sum() == kpis["contacts_blocked"]
    assert data.complaints_daily.height == DAYS
    assert data.complaints_daily["complaints"].sum() == kpis["complaints"]
    assert data.bucket_daily["accounts"].sum() == _table(store, "account_day").height
    assert NO_DATA not in demo_report_html(data)  # every section drawn


# --------------------------------------------------------------------------- hand-built tables

def _account_day(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    con.execute("CREATE TABLE account_day (business_date DATE, account_id VARCHAR, status VARCHAR, "
                "bucket VARCHAR, dpd INTEGER, overdue_amount BIGINT, paid_today BIGINT, "
                "recovered_today BIGINT)")
    con.executemany("INSERT INTO account_day VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)


def test_roll_rates_by_hand() -> None:
    path = {"A": ("M0", "M1", "M2"), "B": ("M0", "M0", "M0"), "C": ("M1", "M2", "M3"),
            "D": ("M6", "CO", "CO")}
    ends = (date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31))
    rows = [(d, acc, "open", b, 0, 0, 0, 0) for acc, bs in path.items()
            for d, b in zip(ends, bs, strict=True)]
    rows += [(date(2026, 2, 15), "A", "open", "M6", 0, 0, 0, 0),   # not a month end
             (date(2026, 5, 31), "A", "open", "M0", 0, 0, 0, 0)]   # April missing: no pair
    con = duckdb.connect()
    _account_day(con, rows)
    r = roll_rates(con)
    assert r["month_end_pairs"] == [["2026-01-31", "2026-02-28"], ["2026-02-28", "2026-03-31"]]
    assert r["counts"] == {"M0": {"M0": 2, "M1": 1}, "M1": {"M2": 2}, "M2": {"M3": 1},
                           "M6": {"CO": 1}, "CO": {"CO": 1}}
    assert r["shares"]["M0"] == {"M0": 0.6667, "M1": 0.3333}
    assert r["roll_forward"] == {"M0->M1": 0.3333, "M1->M2": 1.0, "M2->M3": 1.0, "M3->M4": None,
                                 "M4->M5": None, "M5->M6": None, "M6->CO": 1.0}


def test_recovery_cure_and_promises_by_hand() -> None:
    d1, d2, d3, d4 = (date(2026, 3, k) for k in (1, 2, 3, 4))
    o = "open"
    rows = [
        # A: 100 falls due, 5 penalty, pays 60 then the 45 left: cured
        (d1, "A", o, "M0", 0, 0, 0, 0), (d2, "A", o, "M1", 1, 100, 0, 0),
        (d3, "A", o, "M1", 2, 45, 60, 0), (d4, "A", o, "M0", 0, 0, 45, 0),
        # B: 200 falls due, never paid
        (d1, "B", o, "M0", 0, 0, 0, 0), (d2, "B", o, "M1", 1, 200, 0, 0),
        (d3, "B", o, "M1", 2, 200, 0, 0), (d4, "B", o, "M1", 3, 200, 0, 0),
        # C: pays while current: not a recovery
        (d1, "C", o, "M0", 0, 0, 0, 0), (d2, "C", o, "M0", 0, 0, 500, 0),
        (d3, "C", o, "M0", 0, 0, 0, 0), (d4, "C", o, "M0", 0, 0, 0, 0),
        # D: 181 DPD with 50 overdue, charged off (arrears cleared without payment)
        (d1, "D", o, "M6", 181, 50, 0, 0), (d2, "D", "charged_off", "CO", 182, 0, 0, 0),
        (d3, "D", "charged_off", "CO", 183, 0, 0, 7), (d4, "D", "charged_off", "CO", 184, 0, 0, 0),
        # E: 10 due, paid (cured), then 20 due again
        (d1, "E", o, "M0", 0, 0, 0, 0), (d2, "E", o, "M1", 1, 10, 0, 0),
        (d3, "E", o, "M0", 0, 0, 10, 0), (d4, "E", o, "M1", 1, 20, 0, 0),
        # F: 10 overdue on the first date, cleared without a payment (say a waiver): cured
        (d1, "F", o, "M1", 1, 10, 0, 0), (d2, "F", o, "M0", 0, 0, 0, 0),
        (d3, "F", o, "M0", 0, 0, 0, 0), (d4, "F", o, "M0", 0, 0, 0, 0),
    ]
    con = duckdb.connect()
    _account_day(con, rows)
    assert recovery(con) == {
        "delinquent_accounts": 5,           # A B D E F
        "arrears_arisen": 395,              # A 100+5, B 200, D 50, E 10+20, F 10
        "arrears_collected": 115,           # A 60+45, E 10
        "arrears_outstanding": 220,         # B 200, E 20 at d4
        "arrears_cleared_otherwise": 60,    # D's charge-off, F's waiver
        "recovery_rate": 0.2911,            # 115 / 395
        "entered_m1": 4, "cured": 3,        # A B E F entered (D past M1); A E F cured
        "cure_rate": 0.75,
    }
    con.execute("CREATE TABLE promises (business_date DATE, account_id VARCHAR, channel VARCHAR, "
                "promise_date DATE, amount BIGINT)")
    con.executemany("INSERT INTO promises VALUES (?, ?, 'robot', ?, 1)", [
        (d2, "A", d3),   # paid on d3: kept
        (d2, "B", d4),   # never paid: broken
        (d1, "A", d1),   # nothing paid on d1: broken
        (d3, "D", d3),   # recovered after charge-off on d3: kept
    ])
    assert promise_figures(con) == {"promises_made": 4, "promises_kept": 2,
                                    "promise_kept_rate": 0.5}
