"""The audit trail on a real DuckDB file: every decision appended, nothing else touched."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import ibis
import pytest

from creditdesk.compliance import (
    ComplianceInputError,
    CustomerState,
    ProposedContact,
    check,
    load_profile,
)
from creditdesk.compliance.audit import AUDIT_TABLE, AuditEntry, AuditLog
from creditdesk.compliance.service import check_request_json
from creditdesk.errors import StoreError

FIXED = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _log(path: Path) -> AuditLog:
    return AuditLog(ibis.duckdb.connect(str(path)), clock=lambda: FIXED)


def test_allowed_and_blocked_are_both_recorded(tmp_path: Path) -> None:
    db = tmp_path / "audit.duckdb"
    cn = load_profile("CN")
    who = CustomerState("Asia/Shanghai")
    ok = ProposedContact(datetime.fromisoformat("2026-03-02T21:59:59+08:00"), "voice",
                         number="+8613800138000")
    late = ProposedContact(datetime.fromisoformat("2026-03-02T22:00:00+08:00"), "voice",
                           number="+8613800138000")
    log = _log(db)
    ids = log.record_many([AuditEntry(cn, ok, check(ok, who, [], cn), customer_ref="C-1"),
                           AuditEntry(cn, late, check(late, who, [], cn), case_ref="K-7")])
    assert len(set(ids)) == 2

    # read back through a fresh connection: it is on disk
    rows = (_log(db).table().order_by("proposed_at").execute())
    assert list(rows["decision_id"]) == ids
    assert list(rows["allowed"]) == [True, False]
    assert list(rows["rule"].fillna("")) == ["", "cn.quiet_hours"]
    assert set(rows["profile"]) == {"CN"} and set(rows["profile_version"]) == {"2026.1"}
    assert rows["customer_ref"].iloc[0] == "C-1" and rows["case_ref"].iloc[1] == "K-7"
    nxt = rows["next_allowed_at"].iloc[1].to_pydatetime()
    assert nxt == datetime(2026, 3, 3, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    assert rows["decided_at"].iloc[0].to_pydatetime() == FIXED
    assert json.loads(rows["request"].iloc[1])["proposed"]["channel"] == "voice"


def test_log_is_append_only_and_reopens(tmp_path: Path) -> None:
    db = tmp_path / "audit.duckdb"
    assert not any(hasattr(AuditLog, name) for name in ("update", "delete", "truncate"))
    us = load_profile("US")
    p = ProposedContact(datetime.fromisoformat("2026-03-02T10:00:00-05:00"), "sms",
                        number="+12125550100")
    d = check(p, CustomerState("America/New_York"), [], us)
    _log(db).record(AuditEntry(us, p, d))
    _log(db).record(AuditEntry(us, p, d))
    rows = _log(db).table().execute()
    assert len(rows) == 2 and set(rows["rule"]) == {"us.electronic_opt_out"}
    assert rows["next_allowed_at"].isna().all()


def test_cli_service_writes_one_row_per_check_and_none_for_bad_input(tmp_path: Path) -> None:
    db = tmp_path / "audit.duckdb"
    req = {"customer": {"timezone": "Asia/Shanghai"}, "case_ref": "K-1",
           "proposed": {"ts": "2026-03-02T10:00:00+08:00", "channel": "voice",
                        "number": "+8613800138000"}}
    out = check_request_json(json.dumps(req), "CN", db)
    assert out["allowed"] is True and out["decision_id"]
    with pytest.raises(ComplianceInputError):
        check_request_json(json.dumps({**req, "customer": {"timezone": "Nowhere/Land"}}), "CN", db)
    rows = _log(db).table().execute()
    assert list(rows["decision_id"]) == [out["decision_id"]]
    assert json.loads(rows["request"].iloc[0]) == req


def test_bad_input_does_not_even_create_the_file(tmp_path: Path) -> None:
    db = tmp_path / "never.duckdb"
    with pytest.raises(ComplianceInputError):
        check_request_json("{}", "CN", db)
    assert not db.exists()


def test_incompatible_existing_table_is_a_store_error(tmp_path: Path) -> None:
    con = ibis.duckdb.connect(str(tmp_path / "audit.duckdb"))
    con.create_table(AUDIT_TABLE, schema=ibis.schema({"decision_id": "string"}))
    with pytest.raises(StoreError, match="lacks columns"):
        AuditLog(con)
