"""`collect plan` on a real DuckDB book built by the twin: the plan obeys the checker and holds."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from creditdesk.collections.planning import plan_date
from creditdesk.compliance import ContactEvent, CustomerState, ProposedContact, check, load_profile
from creditdesk.errors import BadInputError
from creditdesk.simulate.driver import run_twin
from creditdesk.simulate.params import load_params
from creditdesk.store import open_store

pytestmark = pytest.mark.slow

START, DAYS = date(2026, 1, 1), 72
LAST = START + timedelta(days=DAYS - 1)
NEXT = LAST + timedelta(days=1)


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> object:
    path = tmp_path_factory.mktemp("plan") / "book.duckdb"
    store = open_store(f"duckdb:///{path}")
    run_twin(store, customers=400, days=DAYS, seed=5, params=load_params(), start=START,
             behaviour_model=None)
    return store


def _plan(store: object) -> pl.DataFrame:
    out = pl.from_arrow(store.con.sql(  # type: ignore[attr-defined]
        "SELECT * FROM contact_plan ORDER BY planned_at, plan_id").to_arrow_table())
    assert isinstance(out, pl.DataFrame)
    return out


def _replay(store: object, plan: pl.DataFrame) -> list[str]:
    """Check every planned contact again, independently, in time order; return violations."""
    con = store.con  # type: ignore[attr-defined]
    cn = load_profile("CN")
    tz = dict(con.sql("SELECT customer_id, timezone FROM customers").fetchall())
    past = con.sql("SELECT customer_id, contact_ts, channel, outcome FROM contacts WHERE allowed "
                   "AND business_date >= ? ORDER BY contact_ts",
                   params=[NEXT - timedelta(days=8)]).fetchall()
    number = {}
    hist: dict[str, list[ContactEvent]] = {}
    for c in sorted(tz):
        number[c] = f"+0{len(number):012d}"
    for c, ts, ch, outcome in past:
        voice = ch in ("robot", "agent")
        hist.setdefault(c, []).append(
            ContactEvent(ts, "voice", number=number[c], connected=outcome == "connected",
                         conversation=outcome == "connected", robot=ch == "robot")
            if voice else ContactEvent(ts, ch))
    bad = []
    for r in plan.filter(pl.col("status") == "planned").iter_rows(named=True):
        c = r["customer_id"]
        voice = r["channel"] in ("robot", "agent")
        p = (ProposedContact(r["planned_at"], "voice", number=number[c], robot=r["channel"] == "robot")
             if voice else ProposedContact(r["planned_at"], r["channel"], template=r["message"],
                                           opt_out=True))
        d = check(p, CustomerState(tz[c]), hist.get(c, []), cn)
        if not d.allowed:
            bad.append(f"{r['plan_id']}: {d.rule_id}")  # type: ignore[union-attr]
        hist.setdefault(c, []).append(
            ContactEvent(r["planned_at"], "voice", number=number[c], connected=True,
                         conversation=True, robot=r["channel"] == "robot")
            if voice else ContactEvent(r["planned_at"], r["channel"]))
    return bad


@pytest.mark.parametrize("strategy", ["bucket_rules", "frequent", "optimized"])
def test_no_planned_contact_breaks_a_rule_and_holds_get_nothing(book: object,
                                                                strategy: str) -> None:
    r = plan_date(book, NEXT, strategy=strategy)
    plan = _plan(book)
    assert plan.get_column("business_date").unique().to_list() == [NEXT]
    assert r.planned == plan.filter(pl.col("status") == "planned").height > 0
    assert set(plan.get_column("strategy").to_list()) == {strategy}   # replaced, not appended
    for col in ("case_id", "account_id", "customer_id", "channel", "party", "planned_at"):
        assert plan.get_column(col).null_count() == 0, col
    assert plan.schema["planned_at"].time_zone in ("UTC", "Etc/UTC")  # type: ignore[union-attr]
    assert _replay(book, plan) == []
    held = {c for (c,) in book.con.sql(  # type: ignore[attr-defined]
        "SELECT DISTINCT customer_id FROM complaints WHERE business_date > ?",
        params=[LAST - timedelta(days=14)]).fetchall()}
    assert not held & set(plan.get_column("customer_id").to_list())
    if strategy == "frequent":
        # the rules, not the strategy, stop frequent: many proposals blocked, with the rule
        blocked = plan.filter(pl.col("status") == "blocked")
        assert blocked.height > 0 and blocked.get_column("rule").null_count() == 0


def test_cases_are_brought_up_once_and_arms_never_change(book: object) -> None:
    plan_date(book, NEXT, strategy="bucket_rules")
    first = _plan(book).select("plan_id", "arm", "case_id")
    cases = book.con.sql("SELECT count(*) FROM cases").fetchall()[0][0]  # type: ignore[attr-defined]
    plan_date(book, NEXT, strategy="bucket_rules")
    again = _plan(book).select("plan_id", "arm", "case_id")
    assert first.equals(again)
    assert book.con.sql("SELECT count(*) FROM cases").fetchall()[0][0] == cases  # type: ignore[attr-defined]
    runs = book.con.sql("SELECT count(*) FROM case_runs").fetchall()[0][0]  # type: ignore[attr-defined]
    assert runs == 1
    opened = book.con.sql(  # type: ignore[attr-defined]
        "SELECT min(opened_on), count(*) FILTER (WHERE status = 'open') FROM cases").fetchall()[0]
    assert opened[0] < LAST and opened[1] > 0


@pytest.mark.parametrize("when", [LAST, NEXT + timedelta(days=1)])
def test_only_the_next_business_date_can_be_planned(book: object, when: date) -> None:
    with pytest.raises(BadInputError, match="date must be the day after") as exc:
        plan_date(book, when)
    assert exc.value.field == "date"


def test_unknown_strategy_is_refused_before_anything_is_written(book: object,
                                                              tmp_path: Path) -> None:
    def planned() -> int:  # the table exists once any test of the module has planned
        if not book.has_table("contact_plan"):  # type: ignore[attr-defined]
            return 0
        return int(book.con.sql(  # type: ignore[attr-defined]
            "SELECT count(*) FROM contact_plan").fetchall()[0][0])

    before = planned()
    with pytest.raises(BadInputError, match="strategy must be one of"):
        plan_date(book, NEXT, strategy=str(tmp_path / "missing.yaml"))
    assert planned() == before


def test_a_promise_broken_on_the_last_closed_date_gets_the_follow_up_call(book: object) -> None:
    con = book.con  # type: ignore[attr-defined]
    held = {c for (c,) in con.sql("SELECT DISTINCT customer_id FROM complaints WHERE "
                                  "business_date > ?", params=[LAST - timedelta(days=14)]
                                  ).fetchall()}
    # a delinquent account, not held, that paid nothing in the last five days
    acc = next(a for a, c in con.sql(
        "SELECT ad.account_id, a.customer_id FROM account_day ad JOIN accounts a "
        "USING (account_id) WHERE ad.business_date = ? AND ad.dpd BETWEEN 5 AND 25 "
        "AND ad.status = 'open' AND ad.account_id NOT IN (SELECT account_id FROM account_day "
        "WHERE business_date > ? AND paid_today > 0) ORDER BY 1",
        params=[LAST, LAST - timedelta(days=5)]).fetchall() if c not in held)
    con.execute("INSERT INTO promises VALUES (?, ?, 'agent', ?, 50000)",
                [LAST - timedelta(days=3), acc, LAST]).fetchall()
    plan_date(book, NEXT, strategy="bucket_rules")
    rows = con.sql("SELECT channel, local_time FROM contact_plan WHERE account_id = ?",
                   params=[acc]).fetchall()
    assert ("agent", "11:00") in rows
