"""The workbench's effects on planning: a hold stops the planner; assignment is sticky."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from creditdesk.collections.casework import Outcome, record_outcome, release_hold
from creditdesk.collections.planning import plan_date
from creditdesk.store import open_store
from web_book import NEXT, build_web_book

pytestmark = pytest.mark.slow


def test_a_dispute_hold_empties_the_debtors_plan_and_assignment_stays(tmp_path: Path) -> None:
    book = build_web_book(f"duckdb:///{tmp_path / 'b.duckdb'}")
    store = open_store(book.url)
    planned = store.query("SELECT DISTINCT p.case_id, c.customer_id FROM contact_plan p "
                          "JOIN cases c ON c.case_id = p.case_id WHERE p.status = 'planned' "
                          "AND p.business_date = ?", [NEXT])
    mine = planned.filter(planned["case_id"].is_in(book.amy_cases))
    assert mine.height, "the book plans calls for some of amy's cases"
    case_id, customer = mine.row(0)
    before = dict(store.query("SELECT case_id, agent_id FROM case_assignments").iter_rows())
    at = datetime(NEXT.year, NEXT.month, NEXT.day, 2, 30, tzinfo=UTC)
    record_outcome(store, case_id, Outcome("dispute", note="not my purchase"), user="agent.amy",
                   at=at)
    r = plan_date(store, NEXT)  # planning the date again replaces its plan
    again = store.query("SELECT count(*) AS n FROM contact_plan p JOIN cases c "
                        "ON c.case_id = p.case_id WHERE c.customer_id = ? AND "
                        "p.business_date = ? AND p.status = 'planned'", [customer, NEXT])
    assert again.item(0, 0) == 0, "a customer on hold gets nothing"
    assert r.assignment["assigned"] == 0 and r.assignment["kept"] == len(before)
    assert dict(store.query("SELECT case_id, agent_id FROM case_assignments").iter_rows()) \
        == before
    release_hold(store, customer, "dispute", user="super.sue", at=at)
    plan_date(store, NEXT)
    back = store.query("SELECT count(*) AS n FROM contact_plan p JOIN cases c "
                       "ON c.case_id = p.case_id WHERE c.customer_id = ? AND "
                       "p.business_date = ? AND p.status = 'planned'", [customer, NEXT])
    assert back.item(0, 0) > 0
    store.close()
