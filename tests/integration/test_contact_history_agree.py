"""The planner and the workbench read a debtor's recent contacts the same way.

``collect plan`` and the workbench's "may I contact now?" both rebuild the history the
contact rules count from the ``contacts`` table; if they read it differently the planner
proposes calls the workbench refuses, or the reverse. They used to differ on a call that
reached a wrong party (the planner counted it as unanswered).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl

from creditdesk.collections import casework, planning
from creditdesk.collections.casework import ensure_casework_tables
from creditdesk.collections.contact_events import debtor_lines
from creditdesk.customers.pii import ensure_pii_table, upsert_pii
from creditdesk.simulate.tables import SIM_TABLES
from creditdesk.store import open_store

D = date(2026, 3, 14)  # the date being planned
CUSTOMER = "C-1"


def test_planner_and_workbench_count_the_same_history(tmp_path: Path) -> None:
    store = open_store(f"duckdb:///{tmp_path}/b.duckdb")
    ensure_casework_tables(store)
    made = [("agent", "connected"), ("agent", "wrong_party"), ("robot", "no_answer"),
            ("robot", "connected"), ("sms", "read"), ("push", "sent"), ("agent", "no_answer")]
    start = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    rows = [{"business_date": (start + timedelta(days=k // 2)).date(),
             "contact_ts": start + timedelta(days=k // 2, hours=k), "customer_id": CUSTOMER,
             "account_id": "A-1", "purpose": "collection", "channel": ch, "allowed": True,
             "rule": None, "outcome": outcome, "promise": False, "dpd": 10, "bucket": "M1",
             "strategy": "bucket_rules", "arm": "champion", "cost": 0, "assignee": "inhouse"}
            for k, (ch, outcome) in enumerate(made)]
    store.insert("contacts", pl.DataFrame(rows, schema=SIM_TABLES["contacts"]))
    ensure_pii_table(store)
    upsert_pii(store, pl.DataFrame({"customer_id": [CUSTOMER], "phone": ["+8613912345678"]}))
    # both take the debtor's line from one place: the number on file
    number = debtor_lines(store, [CUSTOMER])[CUSTOMER]
    assert number == "+8613912345678"
    planned = planning._histories(store, D, {CUSTOMER}, {CUSTOMER: number})[CUSTOMER]
    at = datetime(2026, 3, 14, 0, 0, tzinfo=UTC)  # the planned date's start: same window
    worked = casework._history(store, CUSTOMER, at, number)
    assert list(planned) == worked
    assert {e.number for e in worked if e.channel == "voice"} == {number}
    wrong = [e for e in worked if e.party == "third_party"]
    assert len(wrong) == 1 and wrong[0].connected and not wrong[0].conversation
    assert sum(e.conversation for e in worked) == 2  # the two answered by the debtor
    store.close()
