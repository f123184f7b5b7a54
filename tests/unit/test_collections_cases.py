"""Cases through their life, day by day, worked by hand."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from creditdesk.collections.cases import empty_cases, update_cases

D0 = date(2026, 3, 8)


def _snap(rows: list[dict[str, object]]) -> pl.DataFrame:
    base = {"customer_id": "c", "status": "open", "dpd": 0, "bucket": "M0", "overdue_amount": 0,
            "total_due": 0, "days_to_due": -5, "flagged": False, "arm": "champion",
            "placement_agency": None, "placement_commission": 0.0, "placement_recall_days": 0}
    return pl.DataFrame([{**base, **r} for r in rows],
                        schema_overrides={"placement_agency": pl.String})


def _run(days: list[list[dict[str, object]]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Apply the snapshots day after day; the cases table and all events at the end."""
    cases = empty_cases()
    events = []
    for i, rows in enumerate(days):
        changed, ev = update_cases(cases, _snap(rows), D0 + timedelta(days=i))
        cases = pl.concat([cases.filter(~pl.col("case_id").is_in(changed["case_id"].implode())),
                           changed])
        events.append(ev)
    return cases.sort("case_id"), pl.concat(events)


def test_a_flagged_account_pre_due_then_missed_then_cured() -> None:
    # day 0: flagged, due in 2 days -> pre-due case; day 2 due date; day 3 DPD 1 (missed);
    # day 4 DPD 2; day 5 paid -> cure
    cases, events = _run([
        [{"account_id": "A", "flagged": True, "total_due": 900, "days_to_due": 2}],
        [{"account_id": "A", "flagged": True, "total_due": 900, "days_to_due": 1}],
        [{"account_id": "A", "flagged": True, "total_due": 900, "days_to_due": 0}],
        [{"account_id": "A", "dpd": 1, "bucket": "M1", "overdue_amount": 900, "total_due": 900}],
        [{"account_id": "A", "dpd": 2, "bucket": "M1", "overdue_amount": 900, "total_due": 900}],
        [{"account_id": "A", "dpd": 0, "bucket": "M0"}],
    ])
    assert cases.height == 1
    c = cases.row(0, named=True)
    assert c["case_id"] == "A-20260308" and c["opened_on"] == D0
    assert (c["stage"], c["status"], c["close_reason"]) == ("delinquent", "closed", "cure")
    assert c["closed_on"] == D0 + timedelta(days=5) and c["max_bucket"] == "M1"
    kinds = events.sort("business_date").select("business_date", "event").rows()
    assert (D0, "opened") in kinds
    assert (D0 + timedelta(days=3), "stage") in kinds and (D0 + timedelta(days=3), "bucket") in kinds
    assert (D0 + timedelta(days=5), "closed") in kinds


def test_pre_due_paid_on_time_closes_as_paid_and_unflagged_accounts_get_no_soft_case() -> None:
    cases, _ = _run([
        [{"account_id": "A", "flagged": True, "total_due": 500, "days_to_due": 3},
         {"account_id": "B", "flagged": False, "total_due": 500, "days_to_due": 3}],
        [{"account_id": "A", "flagged": True, "total_due": 0, "days_to_due": 2},
         {"account_id": "B", "total_due": 0, "days_to_due": 2}],
    ])
    assert cases.select("account_id", "status", "close_reason").rows() == [
        ("A", "closed", "paid")]


def test_delinquent_case_opens_at_first_missed_due_date_and_walks_the_queues() -> None:
    days = []
    for k in range(40):  # a late account found at DPD 29 by the first run
        dpd = 29 + k
        bucket = "M1" if dpd <= 30 else "M2"
        days.append([{"account_id": "L", "dpd": dpd, "bucket": bucket, "overdue_amount": 100,
                      "total_due": 100}])
    cases, events = _run(days)
    c = cases.row(0, named=True)
    assert c["opened_on"] == D0 - timedelta(days=28)   # the day it reached DPD 1
    assert c["queue"] == "agents" and c["bucket"] == "M2" and c["status"] == "open"
    moves = events.filter(pl.col("event") == "bucket").select("business_date", "detail").rows()
    assert moves == [(D0 + timedelta(days=2), "M2")]


def test_agency_placement_commission_and_recall() -> None:
    place = {"placement_agency": "agency_a", "placement_commission": 0.25,
             "placement_recall_days": 3}
    row = {"account_id": "P", "dpd": 95, "bucket": "M4", "overdue_amount": 100, "total_due": 100}
    cases, events = _run([[{**row, **place}], [{**row, **place}], [{**row, **place}],
                          [{**row, **place}], [{**row, **place}]])
    c = cases.row(0, named=True)
    ev = events.sort("business_date").select("business_date", "event").rows()
    assert (D0, "placed") in ev and (D0 + timedelta(days=3), "recalled") in ev
    # recalled after three days, placed again the next day (the path still places it)
    assert (D0 + timedelta(days=4), "placed") in ev
    assert c["queue"] == "agency" and c["commission"] == 0.25


def test_charge_off_and_settlement_close_the_case() -> None:
    row = {"dpd": 120, "bucket": "M4", "overdue_amount": 100, "total_due": 100}
    cases, _ = _run([[{"account_id": "X", **row}, {"account_id": "Y", **row}],
                     [{"account_id": "X", **row, "status": "charged_off"},
                      {"account_id": "Y", **row, "status": "settled"}]])
    assert cases.select("account_id", "close_reason").rows() == [("X", "charge_off"),
                                                                 ("Y", "settlement")]


def test_updating_twice_with_the_same_snapshot_changes_nothing_more() -> None:
    snap = _snap([{"account_id": "A", "dpd": 3, "bucket": "M1", "overdue_amount": 5,
                   "total_due": 5}])
    first, _ = update_cases(empty_cases(), snap, D0)
    again, ev = update_cases(first, snap, D0)
    assert again.drop("updated_on").equals(first.drop("updated_on"))
    assert ev.filter(pl.col("event") == "opened").height == 0
