"""The real ``creditdesk compliance`` CLI, run as a subprocess with the request on stdin."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

EXE = Path(sys.executable).parent / "creditdesk"

ISSUE_EXAMPLE = {
    "customer": {"timezone": "Asia/Shanghai", "holds": [], "restricted_media": [],
                 "debtor_reachable": True, "third_party_objected": False},
    "history": [{"ts": "2026-03-02T09:15:00+08:00", "channel": "voice", "party": "debtor",
                 "number": "+8613800138000", "connected": True, "conversation": True}],
    "proposed": {"ts": "2026-03-02T22:00:00+08:00", "channel": "voice", "party": "debtor",
                 "number": "+8613800138000"},
}


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(EXE), "compliance", *args], input=stdin, capture_output=True,
                          text=True, timeout=60, check=False)


def test_check_json_blocked_in_quiet_hours() -> None:
    r = run("check", "--profile", "CN", "--json", stdin=json.dumps(ISSUE_EXAMPLE))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["allowed"] is False
    assert out["rule"] == "cn.quiet_hours"
    assert out["next_allowed_at"] == "2026-03-03T08:00:00+08:00"
    assert "22:00" in out["reason"]
    assert (out["profile"], out["profile_version"]) == ("CN", "2026.1")


def test_check_json_allowed_us() -> None:
    req: dict[str, Any] = {"customer": {"timezone": "America/New_York"}, "proposed": {
        "ts": "2026-03-02T20:59:00-05:00", "channel": "voice", "number": "+12125550100"}}
    r = run("check", "--profile", "US", "--json", stdin=json.dumps(req))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["allowed"] is True


def test_check_text_output() -> None:
    r = run("check", "--profile", "CN", stdin=json.dumps(ISSUE_EXAMPLE))
    assert r.returncode == 0, r.stderr
    assert "blocked" in r.stdout and "cn.quiet_hours" in r.stdout
    assert "2026-03-03T08:00:00+08:00" in r.stdout


@pytest.mark.parametrize(("stdin", "needle"), [
    ("", "request"),
    ("{nope", "not valid JSON"),
    (json.dumps({**ISSUE_EXAMPLE, "customer": {"timezone": "Asia/Shangai"}}),
     "customer.timezone"),
    (json.dumps({**ISSUE_EXAMPLE, "proposed": {**ISSUE_EXAMPLE["proposed"], "channel": "fax"}}),
     "proposed.channel"),
])
def test_bad_input_exits_2_names_the_field_and_writes_nothing(tmp_path: Path, stdin: str,
                                                              needle: str) -> None:
    db = tmp_path / "audit.duckdb"
    r = run("check", "--profile", "CN", "--json", "--audit", str(db), stdin=stdin)
    assert r.returncode == 2
    assert needle in r.stderr
    assert r.stdout == ""
    assert not db.exists()


def test_unknown_profile_exits_2() -> None:
    r = run("check", "--profile", "FR", "--json", stdin=json.dumps(ISSUE_EXAMPLE))
    assert r.returncode == 2 and "profile" in r.stderr and "FR" in r.stderr


def test_audit_option_appends_rows(tmp_path: Path) -> None:
    db = tmp_path / "audit.duckdb"
    for _ in range(2):
        r = run("check", "--profile", "CN", "--json", "--audit", str(db),
                stdin=json.dumps(ISSUE_EXAMPLE))
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["decision_id"]
    import ibis

    rows = ibis.duckdb.connect(str(db)).table("compliance_audit").execute()
    assert len(rows) == 2 and set(rows["rule"]) == {"cn.quiet_hours"}


def test_rules_lists_ids_and_sources() -> None:
    r = run("rules", "--profile", "CN", "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    ids = {x["id"] for x in info["rules"]}
    assert {"cn.quiet_hours", "cn.connected_calls_per_day", "cn.attempts_per_number_per_day",
            "hold.dispute"} <= ids
    assert all(x["source"] for x in info["rules"])
    text = run("rules", "--profile", "US")
    assert text.returncode == 0 and "us.call_attempts_7d" in text.stdout
    assert "1006.14" in text.stdout
