"""The JSON request: strict parsing, errors that name the field and the value."""

from __future__ import annotations

import json
from typing import Any

import pytest

from creditdesk.compliance import ComplianceInputError
from creditdesk.compliance.request import decision_to_dict, parse_request, parse_request_json
from creditdesk.compliance.service import check_request_json


def good() -> dict[str, Any]:
    return {
        "customer": {"timezone": "Asia/Shanghai", "holds": [], "restricted_media": [],
                     "debtor_reachable": True, "third_party_objected": False},
        "history": [{"ts": "2026-03-02T09:15:00+08:00", "channel": "voice", "party": "debtor",
                     "number": "+8613800138000", "connected": True, "conversation": True}],
        "proposed": {"ts": "2026-03-02T10:00:00+08:00", "channel": "voice", "party": "debtor",
                     "number": "+8613800138000", "template": "我是工号1024，本次通话录音"},
    }


def test_issue_example_parses_and_checks() -> None:
    out = check_request_json(json.dumps(good()), "CN")
    assert out == {"allowed": True, "rule": None, "reason": None, "next_allowed_at": None,
                   "profile": "CN", "profile_version": "2026.1"}


def _set(path: str, value: Any) -> dict[str, Any]:
    req = good()
    node: Any = req
    keys = path.replace("]", "").replace("[", ".").split(".")
    for k in keys[:-1]:
        node = node[int(k)] if k.isdigit() else node[k]
    last = keys[-1]
    if value is KeyError:
        del node[last]
    elif last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return req


BAD = [
    ("customer.timezone", "Asia/Shangai", "customer.timezone"),
    ("customer.timezone", KeyError, "customer.timezone"),
    ("customer.holds", ["dispte"], "customer.holds[0]"),
    ("customer.holds", "dispute", "customer.holds"),
    ("customer.restricted_media", ["fax"], "customer.restricted_media[0]"),
    ("customer.debtor_reachable", "yes", "customer.debtor_reachable"),
    ("customer.hlods", [], "customer.hlods"),
    ("history", {}, "history"),
    ("history[0].ts", "2026-03-02 09:15", "history[0].ts"),
    ("history[0].ts", "yesterday", "history[0].ts"),
    ("history[0].ts", "2026-03-02T10:00:01+08:00", "history[0].ts"),
    ("history[0].channel", "fax", "history[0].channel"),
    ("history[0].number", KeyError, "history[0].number"),
    ("history[0].number", 8613800138000, "history[0].number"),
    ("history[0].connected", False, "history[0].conversation"),
    ("history[0].conected", True, "history[0].conected"),
    ("proposed.ts", KeyError, "proposed.ts"),
    ("proposed.ts", "2026-03-02T10:00:00", "proposed.ts"),
    ("proposed.channel", "pigeon", "proposed.channel"),
    ("proposed.party", "mother", "proposed.party"),
    ("proposed.number", "", "proposed.number"),
    ("proposed.robot", 1, "proposed.robot"),
    ("proposed.template", 42, "proposed.template"),
]


@pytest.mark.parametrize(("path", "value", "field"), BAD, ids=[f"{p}={v!r}" for p, v, _ in BAD])
def test_bad_field_is_named(path: str, value: Any, field: str) -> None:
    with pytest.raises(ComplianceInputError) as err:
        parse_request(_set(path, value))
    assert err.value.field == field
    assert str(err.value).startswith(field + ":")
    if field == path and value is not KeyError and not isinstance(value, dict | list):
        assert repr(value) in str(err.value) or str(value) in str(err.value)
    assert err.value.exit_code == 2


@pytest.mark.parametrize("text", ["", "   ", "{", "[1, 2]", "null"])
def test_not_a_request(text: str) -> None:
    with pytest.raises(ComplianceInputError) as err:
        parse_request_json(text)
    assert err.value.field == "request"


def test_refs_are_kept() -> None:
    req = parse_request({**good(), "customer_ref": "C-1", "case_ref": "K-9"})
    assert (req.customer_ref, req.case_ref) == ("C-1", "K-9")
    with pytest.raises(ComplianceInputError) as err:
        parse_request({**good(), "case_ref": 9})
    assert err.value.field == "case_ref"


def test_z_suffix_and_other_offsets_accepted() -> None:
    req = _set("proposed.ts", "2026-03-02T02:00:00Z")
    assert check_request_json(json.dumps(req), "CN")["allowed"] is True


def test_blocked_decision_json_shape() -> None:
    out = check_request_json(json.dumps(_set("proposed.ts", "2026-03-02T22:00:00+08:00")), "CN")
    assert out["allowed"] is False and out["rule"] == "cn.quiet_hours"
    assert out["next_allowed_at"] == "2026-03-03T08:00:00+08:00"
    assert decision_to_dict.__doc__
