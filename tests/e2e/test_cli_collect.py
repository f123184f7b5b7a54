"""`creditdesk collect plan / case / offer` as a user runs them on a book the twin built."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.slow

CLI = [str(Path(sys.executable).with_name("creditdesk"))]
POLICY = Path(__file__).parents[2] / "src/creditdesk/collections/policy/arrangements.toml"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("collect")
    res = _run("demo", "--customers", "250", "--days", "50", "--seed", "4", "--out", str(out),
               "--behaviour-model", "none")
    assert res.returncode == 0, res.stderr
    return f"duckdb:///{out}/creditdesk.duckdb"


def _sql(url: str, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(url.removeprefix("duckdb:///"), read_only=True)
    try:
        return con.sql(sql).fetchall()
    finally:
        con.close()


def test_plan_then_show_a_case(book: str) -> None:
    res = _run("collect", "plan", "--store", book, "--date", "2026-02-20", "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["strategy"] == "bucket_rules" and doc["open_cases"] > 0
    assert doc["planned"] == sum(doc["by_channel"].values()) > 0
    (case_id,) = _sql(book, "SELECT case_id FROM cases WHERE stage = 'delinquent' "
                            "ORDER BY case_id LIMIT 1")[0]
    shown = _run("collect", "case", str(case_id), "--store", book, "--json")
    assert shown.returncode == 0, shown.stderr
    case = json.loads(shown.stdout)
    assert case["case"]["case_id"] == case_id and case["events"][0]["event"] == "opened"
    assert _run("collect", "case", "NOPE-1", "--store", book).returncode == 3
    wrong = _run("collect", "plan", "--store", book, "--date", "2026-02-25")
    assert wrong.returncode == 2 and "date must be the day after" in wrong.stderr


def test_a_hardship_plan_reages_the_account_through_the_ledger(book: str,
                                                               tmp_path: Path) -> None:
    # the twin's accounts are 50 days old: a policy that allows young accounts
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY.read_text(encoding="utf-8").replace(
        "min_account_age_days = 270", "min_account_age_days = 0"), encoding="utf-8")
    (acc, dpd) = _sql(book, "SELECT account_id, dpd FROM account_day WHERE business_date = "
                            "DATE '2026-02-19' AND dpd BETWEEN 2 AND 60 ORDER BY account_id "
                            "LIMIT 1")[0]
    refused = _run("collect", "offer", str(acc), "--kind", "hardship_plan", "--terms", "2",
                   "--date", "2026-02-20", "--store", book, "--policy", str(policy))
    assert refused.returncode == 2 and "hardship_plan.terms" in refused.stderr
    ok = _run("collect", "offer", str(acc), "--kind", "hardship_plan", "--terms", "6",
              "--date", "2026-02-20", "--store", book, "--policy", str(policy), "--json")
    assert ok.returncode == 0, ok.stderr
    assert _run("eod", "--through", "2026-02-20", "--store", book).returncode == 0
    shown = json.loads(_run("account", "show", str(acc), "--store", book, "--json").stdout)
    assert dpd > 0 and shown["dpd"] == 0 and shown["bucket"] == "M0"
    (arr,) = shown["arrangements"]
    assert arr["type"] == "hardship_plan" and arr["status"] == "posted"
    assert len(arr["instalments"]) == 6
    assert sum(i["total"] for i in arr["instalments"]) == arr["amount"]
