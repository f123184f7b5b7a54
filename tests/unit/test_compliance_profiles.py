"""Profiles as data: built-ins load, overlays tighten but never loosen, bad files are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from creditdesk.compliance import HOLDS, ProfileError, load_profile
from creditdesk.compliance.service import describe_rules


@pytest.mark.parametrize("name", ["CN", "US", "cn", "us"])
def test_builtins_load_with_version_and_sources(name: str) -> None:
    p = load_profile(name)
    assert p.name == name.upper() and p.version and p.sources
    assert all(r.source for r in p.rules)
    assert {f"hold.{h}" for h in HOLDS} <= {r.id for r in p.rules}


def test_builtin_parameters_match_design() -> None:
    cn, us = load_profile("CN"), load_profile("US")
    q = cn.rule("cn.quiet_hours")
    assert (q.start, q.end, set(q.channels)) == ("22:00", "08:00", {"voice", "visit"})
    assert cn.rule("cn.connected_calls_per_day").limit == 3
    assert cn.rule("cn.attempts_per_number_per_day").limit == 6
    assert (us.rule("us.quiet_hours").start, us.rule("us.quiet_hours").end) == ("21:00", "08:00")
    cap = us.rule("us.call_attempts_7d")
    assert (cap.limit, cap.hours, cap.window) == (7, 168, "rolling")
    assert us.rule("us.wait_after_conversation").hours == 168


def test_rules_listing_has_sources() -> None:
    info = describe_rules("CN")
    ids = [r["id"] for r in info["rules"]]
    assert "cn.quiet_hours" in ids and all(r["source"] for r in info["rules"])
    assert "cba-2026" in info["sources"] and "nifa-2024" in info["sources"]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lender.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_overlay_tightens_and_adds(tmp_path: Path) -> None:
    path = _write(tmp_path, '''
name = "CN-acme"
version = "3"
extends = "CN"
[tighten."cn.connected_calls_per_day"]
limit = 2
[tighten."cn.quiet_hours"]
start = "21:00"
end = "09:00"
channels = ["voice", "visit", "sms"]
[tighten."cn.template_forbidden_phrases"]
add_phrases = ["最后通牒"]
[[rules]]
id = "acme.sms_per_day"
kind = "cap"
source = "Acme policy 4.2"
channels = ["sms"]
count = "attempts"
window = "local_day"
limit = 2
''')
    p = load_profile(path)
    assert p.name == "CN-acme" and p.version == "3+CN.2026.1"
    assert p.rule("cn.connected_calls_per_day").limit == 2
    assert p.rule("cn.quiet_hours").start == "21:00"
    assert "最后通牒" in p.rule("cn.template_forbidden_phrases").phrases
    assert p.rule("acme.sms_per_day").limit == 2
    assert len(p.rules) == len(load_profile("CN").rules) + 1


@pytest.mark.parametrize(("body", "field"), [
    ('[tighten."cn.connected_calls_per_day"]\nlimit = 4', "tighten.cn.connected_calls_per_day.limit"),
    ('[tighten."cn.quiet_hours"]\nstart = "23:00"', "tighten.cn.quiet_hours.start"),
    ('[tighten."cn.quiet_hours"]\nchannels = ["voice"]', "tighten.cn.quiet_hours.channels"),
    ('[tighten."cn.quiet_hours"]\nwaived_by_consent = "other"',
     "tighten.cn.quiet_hours.waived_by_consent"),
    ('[tighten."cn.template_identity"]\nadd_phrases = ["hi"]',
     "tighten.cn.template_identity.add_phrases"),
    ('[tighten."cn.nope"]\nlimit = 1', "tighten.cn.nope"),
    ('[tighten."cn.connected_calls_per_day"]\nkind = "hold"',
     "tighten.cn.connected_calls_per_day.kind"),
])
def test_overlay_refuses_to_loosen(tmp_path: Path, body: str, field: str) -> None:
    path = _write(tmp_path, f'name = "X"\nversion = "1"\nextends = "CN"\n{body}\n')
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    assert err.value.field == field
    assert field in str(err.value)


def test_overlay_cannot_reuse_an_id(tmp_path: Path) -> None:
    path = _write(tmp_path, '''name = "X"
version = "1"
extends = "US"
[[rules]]
id = "us.quiet_hours"
kind = "quiet_hours"
source = "x"
start = "23:00"
end = "06:00"
''')
    with pytest.raises(ProfileError, match="unique"):
        load_profile(path)


@pytest.mark.parametrize(("text", "needle"), [
    ("name = ", "not valid TOML"),
    ('name = "X"\nversion = "1"\njurisdiction = "X"\n[sources]\na = "b"\n'
     '[[rules]]\nid = "x.q"\nkind = "quiet_hours"\nsource = "a"\nstart = "25:00"\nend = "08:00"',
     "rules[x.q].start"),
    ('name = "X"\nversion = "1"\njurisdiction = "X"\n[sources]\na = "b"\n'
     '[[rules]]\nid = "x.c"\nkind = "cap"\nsource = "a"\ncount = "attempts"\n'
     'window = "rolling"\nlimit = 3', "hours is required"),
    ('name = "X"\nversion = "1"\njurisdiction = "X"\n[sources]\na = "b"\n'
     '[[rules]]\nid = "x.c"\nkind = "teleport"\nsource = "a"', "rules[x.c]"),
    ('name = "X"\nversion = "1"\njurisdiction = "X"\n[sources]\na = "b"\n'
     '[[rules]]\nid = "x.r"\nkind = "restricted_media"\nsource = "a"', "every hold needs a rule"),
    ('name = "X"\nversion = "1"\nextends = "FR"', "extends"),
])
def test_bad_profile_files_are_named(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ProfileError) as err:
        load_profile(_write(tmp_path, text))
    assert needle in str(err.value)
    assert err.value.exit_code == 2


def test_unknown_profile_name() -> None:
    with pytest.raises(ProfileError) as err:
        load_profile("FR")
    assert (err.value.field, err.value.value) == ("profile", "FR")
