"""The checker agrees with a deliberately simple brute-force reference.

The reference below shares no code with the checker beyond the input types and the
profile data: it converts every event to local time on every question, counts with
plain loops, matches phrases with ``str.find``, and finds the next allowed time by
stepping forward 15 minutes at a time. Every timestamp the strategies draw is on a
15-minute grid, every window length is a whole number of hours, and every time zone
used has offsets and transitions on that grid, so the next allowed instant is always
a grid point and the scan is exact, not an approximation.
"""

from __future__ import annotations

import os
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creditdesk.compliance import (
    HOLDS,
    Blocked,
    ContactEvent,
    CustomerState,
    ProposedContact,
    check,
    load_profile,
)
from creditdesk.compliance.history import History

PROFILES = {"CN": load_profile("CN"), "US": load_profile("US")}
ZONES = ["Asia/Shanghai", "America/New_York", "Europe/London", "Australia/Sydney",
         "Australia/Lord_Howe", "America/Santiago", "Asia/Beirut", "Asia/Kathmandu",
         "Pacific/Chatham", "America/Havana", "Asia/Kolkata", "UTC"]
# Instants near 2026 clock changes in those zones, so the draws straddle them.
ANCHORS = [datetime(2026, m, d, h, tzinfo=UTC) for m, d, h in [
    (3, 8, 7), (11, 1, 6), (3, 29, 1), (10, 25, 1), (4, 5, 0), (10, 4, 0), (4, 4, 15),
    (9, 6, 3), (3, 28, 22), (10, 24, 21), (3, 8, 5), (11, 1, 5), (6, 15, 12)]]
STEP = timedelta(minutes=15)
NUMBERS = ["+8613800138000", "+8613900139000"]
TEMPLATES = [
    None, None, None,
    "This is Sam from Acme; this call is recorded. Reply STOP to opt out.",
    "我是某某银行工号1024，本次通话将被录音。",
    "【某某银行】您的账单已出，回复退订。",
    "This is Acme. Pay or you will go to jail.",
    "我是某某银行，再不还就让你坐牢，录音",
    "Please call us about your overdue loan.",
    "Our skills team, this is Acme, recorded call, unsubscribe here",
]

# ----------------------------------------------------------------------------------
# the reference
# ----------------------------------------------------------------------------------

ORDER = {"hold": 0, "restricted_media": 1, "requires_consent": 1,
         "third_party_unreachable_only": 2, "third_party_objection": 2,
         "template_forbidden": 3, "template_required": 3, "opt_out_required": 3,
         "quiet_hours": 4, "cap": 4, "wait_after": 4}


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _contains(text: str, phrase: str) -> bool:
    phrase = _norm(phrase)
    start = text.find(phrase)
    while start != -1:
        before = text[start - 1] if start else ""
        word_start = phrase[0].isascii() and phrase[0].isalnum()
        if not word_start or not (before.isascii() and before.isalnum()) or before.isupper():
            return True
        start = text.find(phrase, start + 1)
    return False


def _digits(number: str | None) -> str | None:
    if number is None:
        return None
    return ("+" if number.strip().startswith("+") else "") + "".join(
        ch for ch in number if ch.isdigit())


def _seconds(hhmm: str) -> int:
    h, m = hhmm.split(":")[:2]
    return int(h) * 3600 + int(m) * 60


def _counts(rule: Any, e: dict[str, Any]) -> bool:
    if e["channel"] not in rule.channels or e["party"] not in rule.parties:
        return False
    kind = rule.count if rule.kind == "cap" else rule.after
    return {"attempts": True, "connected": e["connected"], "unanswered": not e["connected"],
            "conversations": e["conversation"], "conversation": e["conversation"]}[kind]


def ref_blocking(profile: Any, p: dict[str, Any], c: dict[str, Any],
                 history: list[dict[str, Any]], at: datetime) -> list[str]:
    """Ids of every rule that blocks ``p`` if it happened at ``at``, in report order."""
    tz = ZoneInfo(c["timezone"])
    at = at.astimezone(UTC)  # arithmetic on a ZoneInfo datetime is wall-clock arithmetic
    local = at.astimezone(tz)
    out = []
    text = _norm(p["template"]) if p["template"] is not None else None
    rules = sorted(profile.rules, key=lambda r: ORDER[r.kind])
    for r in rules:
        if p["channel"] not in r.channels or p["party"] not in r.parties:
            continue
        k = r.kind
        hit = False
        if k == "hold":
            hit = r.hold in c["holds"]
        elif k == "restricted_media":
            hit = p["channel"] in c["restricted_media"]
        elif k == "requires_consent":
            hit = (p["robot"] or not r.robot_only) and r.consent not in c["consents"]
        elif k == "third_party_unreachable_only":
            hit = c["debtor_reachable"]
        elif k == "third_party_objection":
            hit = c["third_party_objected"]
        elif k == "template_forbidden":
            hit = text is not None and any(_contains(text, ph) for ph in r.phrases)
        elif k == "template_required":
            hit = text is not None and not any(_contains(text, ph) for ph in r.phrases)
        elif k == "opt_out_required":
            hit = not p["opt_out"] and not (text is not None and
                                            any(_contains(text, ph) for ph in r.phrases))
        elif k == "quiet_hours":
            w = local.hour * 3600 + local.minute * 60 + local.second
            s, e = _seconds(r.start), _seconds(r.end)
            inside = (s <= w < e) if s < e else (w >= s or w < e)
            hit = inside and not (r.waived_by_consent and r.waived_by_consent in c["consents"])
        elif k == "cap":
            n = 0
            for ev in history:
                if not _counts(r, ev):
                    continue
                if r.per == "number" and _digits(ev["number"]) != _digits(p["number"]):
                    continue
                if r.window == "local_day":
                    same = ev["local_date"] == local.date()
                else:
                    same = at - timedelta(hours=r.hours) < ev["ts"] <= at
                n += same
            hit = n >= r.limit
        elif k == "wait_after":
            hit = any(_counts(r, ev) and at - timedelta(hours=r.hours) < ev["ts"] <= at
                      for ev in history)
        if hit:
            out.append(r.id)
    return out


def ref_check(profile: Any, p: dict[str, Any], c: dict[str, Any],
              history: list[dict[str, Any]]) -> tuple[bool, str | None, datetime | None]:
    tz = ZoneInfo(c["timezone"])
    history = [{**ev, "local_date": ev["ts"].astimezone(tz).date()} for ev in history]
    blocking = ref_blocking(profile, p, c, history, p["ts"])
    if not blocking:
        return True, None, None
    first = blocking[0]
    if ORDER[profile.rule(first).kind] < 4:
        return False, first, None
    at = p["ts"].astimezone(UTC)
    for _ in range(12 * 96):  # twelve days of 15-minute steps
        at += STEP
        if not ref_blocking(profile, p, c, history, at):
            return False, first, at
    raise AssertionError("reference found no allowed time within twelve days")


# ----------------------------------------------------------------------------------
# strategies
# ----------------------------------------------------------------------------------

@st.composite
def scenarios(draw: st.DrawFn, spread_hours: int) -> dict[str, Any]:
    profile = draw(st.sampled_from(sorted(PROFILES)))
    zone = draw(st.sampled_from(ZONES))
    t = draw(st.sampled_from(ANCHORS)) + STEP * draw(st.integers(-4 * 72, 4 * 72))
    events = []
    for _ in range(draw(st.integers(0, 30))):
        ago = STEP * draw(st.integers(0, spread_hours * 4))
        channel = draw(st.sampled_from(["voice"] * 5 + ["sms", "email", "visit"]))
        connected = channel == "voice" and draw(st.booleans())
        events.append({
            "ts": t - ago, "channel": channel,
            "party": draw(st.sampled_from(["debtor"] * 4 + ["third_party"])),
            "number": draw(st.sampled_from(NUMBERS)) if channel in ("voice", "sms") else None,
            "connected": connected,
            "conversation": connected and draw(st.booleans()),
            "robot": channel == "voice" and draw(st.booleans()),
        })
    channel = draw(st.sampled_from(["voice"] * 6 + ["sms", "email", "push", "letter", "visit"]))
    proposed = {
        "ts": t.astimezone(ZoneInfo(draw(st.sampled_from(ZONES)))),
        "channel": channel,
        "party": draw(st.sampled_from(["debtor"] * 5 + ["third_party"])),
        "number": draw(st.sampled_from(NUMBERS)) if channel in ("voice", "sms") else None,
        "template": draw(st.sampled_from(TEMPLATES)),
        "robot": channel == "voice" and draw(st.booleans()),
        "opt_out": draw(st.booleans()),
    }
    rare = st.integers(0, 9)
    customer = {
        "timezone": zone,
        "holds": [draw(st.sampled_from(HOLDS))] if draw(rare) == 0 else [],
        "restricted_media": [draw(st.sampled_from(["sms", "voice", "email"]))]
        if draw(rare) == 0 else [],
        "debtor_reachable": draw(st.booleans()),
        "third_party_objected": draw(rare) == 0,
        "consents": ["quiet_hours"] if draw(rare) == 0 else [],
    }
    return {"profile": profile, "proposed": proposed, "customer": customer, "history": events}


def _run(s: dict[str, Any], as_history: bool) -> tuple[bool, str | None, datetime | None]:
    profile = PROFILES[s["profile"]]
    events = [ContactEvent(**e) for e in s["history"]]
    hist: Any = History(events) if as_history else events
    d = check(ProposedContact(**s["proposed"]), CustomerState(**s["customer"]), hist, profile)
    if isinstance(d, Blocked):
        return False, d.rule_id, d.next_allowed_at
    return True, None, None


def _agree(s: dict[str, Any]) -> None:
    expected = ref_check(PROFILES[s["profile"]], s["proposed"], s["customer"], s["history"])
    for as_history in (False, True):
        got = _run(s, as_history)
        assert got[:2] == expected[:2], (got, expected)
        if expected[2] is None:
            assert got[2] is None
        else:
            assert got[2] is not None
            assert got[2].timestamp() == expected[2].timestamp(), (got[2], expected[2])
            assert got[2].utcoffset() == got[2].astimezone(
                ZoneInfo(s["customer"]["timezone"])).utcoffset()


# COMPLIANCE_EXAMPLES=5000 for a long soak; 300 keeps the unit tier quick.
_SETTINGS = settings(max_examples=int(os.environ.get("COMPLIANCE_EXAMPLES", "300")), deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@_SETTINGS
@given(scenarios(spread_hours=9 * 24))
def test_agrees_with_reference_over_nine_days(s: dict[str, Any]) -> None:
    _agree(s)


@_SETTINGS
@given(scenarios(spread_hours=30))
def test_agrees_with_reference_dense_recent_history(s: dict[str, Any]) -> None:
    _agree(s)


def test_reference_sanity() -> None:
    """The reference itself gets the headline boundaries right."""
    cn = PROFILES["CN"]
    c = {"timezone": "Asia/Shanghai", "holds": [], "restricted_media": [],
         "debtor_reachable": True, "third_party_objected": False, "consents": []}
    p = {"ts": datetime.fromisoformat("2026-03-02T22:00:00+08:00"), "channel": "voice",
         "party": "debtor", "number": NUMBERS[0], "template": None, "robot": False,
         "opt_out": False}
    ok, rule, nxt = ref_check(cn, p, c, [])
    assert (ok, rule) == (False, "cn.quiet_hours")
    assert nxt == datetime.fromisoformat("2026-03-03T08:00:00+08:00")
