"""Table-driven boundary cases for the contact checker (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from creditdesk.compliance import (
    HOLDS,
    Blocked,
    ComplianceInputError,
    ContactEvent,
    CustomerState,
    ProposedContact,
    check,
    load_profile,
)
from creditdesk.compliance.history import History
from creditdesk.compliance.overlay import apply_overlay

CN = load_profile("CN")
US = load_profile("US")
SH = "Asia/Shanghai"
NY = "America/New_York"
NUM = "+8613800138000"
USNUM = "+12125550100"


def ts(s: str) -> datetime:
    return datetime.fromisoformat(s)


def ev(s: str, channel: str = "voice", *, number: str | None = NUM, party: str = "debtor",
       connected: bool = False, conversation: bool = False, robot: bool = False) -> ContactEvent:
    if channel not in ("voice", "sms"):
        number = None
    return ContactEvent(ts(s), channel, party=party, number=number, connected=connected,
                        conversation=conversation, robot=robot)


def conv(s: str, number: str = NUM) -> ContactEvent:
    return ev(s, number=number, connected=True, conversation=True)


@dataclass
class Case:
    name: str
    profile: Any
    at: str
    expect: str | None  # rule id, or None for allowed
    next_at: str | None = None  # expected next_allowed_at (ISO) when blocked
    channel: str = "voice"
    party: str = "debtor"
    number: str | None = NUM
    template: str | None = None
    opt_out: bool = False
    robot: bool = False
    tz: str = SH
    history: list[ContactEvent] = field(default_factory=list)
    customer: dict[str, Any] = field(default_factory=dict)


def run(case: Case) -> Any:
    number = case.number if case.channel in ("voice", "sms") else None
    proposed = ProposedContact(ts(case.at), case.channel, party=case.party, number=number,
                               template=case.template, opt_out=case.opt_out, robot=case.robot)
    customer = CustomerState(case.tz, **case.customer)
    return check(proposed, customer, case.history, case.profile)


def cn_day(n: int, *, connected: bool, number: str = NUM, day: str = "2026-03-02",
           robot: bool = False) -> list[ContactEvent]:
    return [ev(f"{day}T{9 + i:02d}:00:00+08:00", number=number, connected=connected, robot=robot)
            for i in range(n)]


def us_week(n: int, last: str = "2026-03-20T10:00:00-04:00") -> list[ContactEvent]:
    """n unanswered calls, one a day at 10:00 local, the newest on ``last``'s day."""
    end = ts(last)
    from datetime import timedelta

    return [ContactEvent(end - timedelta(days=i), "voice", number=USNUM) for i in range(n)]


SIX_EVENINGS = us_week(6, last="2026-03-20T20:00:00-04:00")

CASES = [
    # --- CN quiet hours, Asia/Shanghai -------------------------------------------------
    Case("cn 21:59:59 allowed", CN, "2026-03-02T21:59:59+08:00", None),
    Case("cn 22:00:00 blocked", CN, "2026-03-02T22:00:00+08:00", "cn.quiet_hours",
         "2026-03-03T08:00:00+08:00"),
    Case("cn 22:00 given in UTC", CN, "2026-03-02T14:00:00+00:00", "cn.quiet_hours",
         "2026-03-03T08:00:00+08:00"),
    Case("cn 07:59:59 blocked", CN, "2026-03-03T07:59:59+08:00", "cn.quiet_hours",
         "2026-03-03T08:00:00+08:00"),
    Case("cn 08:00:00 allowed", CN, "2026-03-03T08:00:00+08:00", None),
    Case("cn midnight blocked", CN, "2026-03-03T00:00:00+08:00", "cn.quiet_hours",
         "2026-03-03T08:00:00+08:00"),
    Case("cn visit 22:00 blocked", CN, "2026-03-02T22:00:00+08:00", "cn.quiet_hours",
         "2026-03-03T08:00:00+08:00", channel="visit"),
    Case("cn sms 22:00 not a call", CN, "2026-03-02T22:00:00+08:00", None, channel="sms"),
    Case("cn consent waives quiet hours", CN, "2026-03-02T23:00:00+08:00", None,
         customer={"consents": ["quiet_hours"]}),
    # --- US quiet hours, America/New_York, including both DST changes -------------------
    Case("us 20:59 allowed", US, "2026-03-02T20:59:00-05:00", None, number=USNUM, tz=NY),
    Case("us 21:00 blocked", US, "2026-03-02T21:00:00-05:00", "us.quiet_hours",
         "2026-03-03T08:00:00-05:00", number=USNUM, tz=NY),
    Case("us 07:59 blocked", US, "2026-03-03T07:59:00-05:00", "us.quiet_hours",
         "2026-03-03T08:00:00-05:00", number=USNUM, tz=NY),
    Case("us sms 21:00 blocked too", US, "2026-03-02T21:00:00-05:00", "us.quiet_hours",
         "2026-03-03T08:00:00-05:00", channel="sms", number=USNUM, tz=NY, opt_out=True),
    Case("us eve of spring-forward 21:00 EST", US, "2026-03-07T21:00:00-05:00",
         "us.quiet_hours", "2026-03-08T08:00:00-04:00", number=USNUM, tz=NY),
    Case("us spring-forward day 20:59 EDT", US, "2026-03-09T00:59:00+00:00", None,
         number=USNUM, tz=NY),
    Case("us spring-forward day 21:00 EDT (01:00Z)", US, "2026-03-09T01:00:00+00:00",
         "us.quiet_hours", "2026-03-09T08:00:00-04:00", number=USNUM, tz=NY),
    Case("us spring-forward 02:30Z is 21:30 EST", US, "2026-03-08T02:30:00+00:00",
         "us.quiet_hours", "2026-03-08T08:00:00-04:00", number=USNUM, tz=NY),
    Case("us fall-back day 20:59 EST", US, "2026-11-02T01:59:00+00:00", None,
         number=USNUM, tz=NY),
    Case("us fall-back day 21:00 EST", US, "2026-11-02T02:00:00+00:00", "us.quiet_hours",
         "2026-11-02T08:00:00-05:00", number=USNUM, tz=NY),
    Case("us fall-back morning 07:30 EST", US, "2026-11-01T07:30:00-05:00", "us.quiet_hours",
         "2026-11-01T08:00:00-05:00", number=USNUM, tz=NY),
    Case("us letter at night is fine", US, "2026-03-02T23:00:00-05:00", None, channel="letter",
         tz=NY),
    # --- CN frequency caps ---------------------------------------------------------------
    Case("cn 3rd connected call allowed", CN, "2026-03-02T15:00:00+08:00", None,
         history=cn_day(2, connected=True)),
    Case("cn 4th connected call blocked", CN, "2026-03-02T15:00:00+08:00",
         "cn.connected_calls_per_day", "2026-03-03T08:00:00+08:00",
         history=cn_day(3, connected=True)),
    Case("cn robot calls count as calls", CN, "2026-03-02T15:00:00+08:00",
         "cn.connected_calls_per_day", "2026-03-03T08:00:00+08:00",
         history=cn_day(3, connected=True, robot=True), robot=True),
    Case("cn yesterday's calls do not count", CN, "2026-03-03T15:00:00+08:00", None,
         history=cn_day(3, connected=True)),
    Case("cn day starts at local midnight", CN, "2026-03-03T15:00:00+08:00",
         "cn.connected_calls_per_day", "2026-03-04T08:00:00+08:00",
         history=[ev("2026-03-02T23:59:59+08:00", connected=True),
                  ev("2026-03-03T00:00:00+08:00", connected=True),
                  ev("2026-03-03T09:00:00+08:00", connected=True),
                  ev("2026-03-03T10:00:00+08:00", connected=True)]),
    Case("cn two days before midnight: one in, one out", CN, "2026-03-03T15:00:00+08:00", None,
         history=[ev("2026-03-02T23:59:59+08:00", connected=True),
                  ev("2026-03-03T00:00:00+08:00", connected=True),
                  ev("2026-03-03T09:00:00+08:00", connected=True)]),
    Case("cn third-party connected calls are not the debtor's", CN, "2026-03-02T15:00:00+08:00",
         None, history=[ev("2026-03-02T09:00:00+08:00", connected=True, party="third_party",
                           number="+8613900139000") for _ in range(3)]),
    Case("cn 6 unanswered then 7th attempt blocked", CN, "2026-03-02T16:00:00+08:00",
         "cn.attempts_per_number_per_day", "2026-03-03T08:00:00+08:00",
         history=cn_day(6, connected=False)),
    Case("cn 5 unanswered: 6th attempt allowed", CN, "2026-03-02T16:00:00+08:00", None,
         history=cn_day(5, connected=False)),
    Case("cn 6 unanswered on another number", CN, "2026-03-02T16:00:00+08:00", None,
         history=cn_day(6, connected=False, number="+8613900139000")),
    Case("cn same number spelled differently", CN, "2026-03-02T16:00:00+08:00",
         "cn.attempts_per_number_per_day", "2026-03-03T08:00:00+08:00",
         history=cn_day(6, connected=False, number="+86 138-0013-8000")),
    Case("cn cap at 21:00 then quiet: next day 08:00", CN, "2026-03-02T21:30:00+08:00",
         "cn.connected_calls_per_day", "2026-03-03T08:00:00+08:00",
         history=cn_day(3, connected=True)),
    # --- US frequency: 7 in 7 and the wait after a conversation --------------------------
    Case("us 7th call in 7 days allowed", US, "2026-03-20T12:00:00-04:00", None, number=USNUM,
         tz=NY, history=us_week(6)),
    Case("us 8th call in rolling 7 days blocked", US, "2026-03-20T12:00:00-04:00",
         "us.call_attempts_7d", "2026-03-21T10:00:00-04:00", number=USNUM, tz=NY,
         history=us_week(7)),
    Case("us call exactly 168h after the oldest: window excludes it", US,
         "2026-03-20T10:00:00-04:00", "us.call_attempts_7d", "2026-03-21T10:00:00-04:00",
         number=USNUM, tz=NY, history=us_week(8)),
    Case("us quiet, then 7 calls in the window until 20:00", US, "2026-03-20T21:30:00-04:00",
         "us.quiet_hours", "2026-03-21T20:00:00-04:00", number=USNUM, tz=NY,
         history=us_week(7, last="2026-03-20T20:00:00-04:00")),
    Case("us 8th call, oldest leaves in quiet hours", US, "2026-03-20T20:30:00-04:00",
         "us.call_attempts_7d", "2026-03-21T08:00:00-04:00", number=USNUM, tz=NY,
         history=[*SIX_EVENINGS, ContactEvent(ts("2026-03-13T21:15:00-04:00"), "voice",
                                              number=USNUM)]),
    Case("us 8th call, oldest leaves before quiet hours", US, "2026-03-20T20:30:00-04:00",
         "us.call_attempts_7d", "2026-03-20T20:45:00-04:00", number=USNUM, tz=NY,
         history=[*SIX_EVENINGS, ContactEvent(ts("2026-03-13T20:45:00-04:00"), "voice",
                                              number=USNUM)]),
    Case("us call 6d23h after a conversation blocked", US, "2026-03-17T09:00:00-04:00",
         "us.wait_after_conversation", "2026-03-17T10:00:00-04:00", number=USNUM, tz=NY,
         history=[conv("2026-03-10T10:00:00-04:00", USNUM)]),
    Case("us call 7x24h after a conversation allowed", US, "2026-03-17T10:00:00-04:00", None,
         number=USNUM, tz=NY, history=[conv("2026-03-10T10:00:00-04:00", USNUM)]),
    Case("us wait is 168 real hours across spring-forward", US, "2026-03-12T10:30:00-04:00",
         "us.wait_after_conversation", "2026-03-12T11:00:00-04:00", number=USNUM, tz=NY,
         history=[conv("2026-03-05T10:00:00-05:00", USNUM)]),
    Case("us connected without conversation starts no wait", US, "2026-03-11T10:00:00-04:00",
         None, number=USNUM, tz=NY,
         history=[ev("2026-03-10T10:00:00-04:00", number=USNUM, connected=True)]),
    Case("us sms after a conversation is not a call", US, "2026-03-11T10:00:00-04:00", None,
         channel="sms", number=USNUM, tz=NY, opt_out=True,
         history=[conv("2026-03-10T10:00:00-04:00", USNUM)]),
    # --- third parties --------------------------------------------------------------------
    Case("cn third party while debtor reachable", CN, "2026-03-02T10:00:00+08:00",
         "cn.third_party_only_if_unreachable", party="third_party", number="+8613900139000"),
    Case("cn third party, debtor unreachable", CN, "2026-03-02T10:00:00+08:00", None,
         party="third_party", number="+8613900139000",
         customer={"debtor_reachable": False}),
    Case("cn third party objected", CN, "2026-03-02T10:00:00+08:00",
         "cn.third_party_objection", party="third_party", number="+8613900139000",
         customer={"debtor_reachable": False, "third_party_objected": True}),
    Case("cn this third-party number objected", CN, "2026-03-02T10:00:00+08:00",
         "cn.third_party_objection", party="third_party", number="+8613900139000",
         customer={"debtor_reachable": False, "objected_numbers": ["+86 139 0013 9000"]}),
    Case("cn another third party's objection", CN, "2026-03-02T10:00:00+08:00", None,
         party="third_party", number="+8613900139000",
         customer={"debtor_reachable": False, "objected_numbers": ["+8613700137000"]}),
    Case("cn third party told of the debt", CN, "2026-03-02T10:00:00+08:00",
         "cn.third_party_no_disclosure", party="third_party", number="+8613900139000",
         template="您好，我是某某银行工号1024，本次通话将被录音。请转告他尽快处理逾期欠款。",
         customer={"debtor_reachable": False}),
    Case("us third party told of the debt", US, "2026-03-02T10:00:00-05:00",
         "us.third_party_no_disclosure", party="third_party", number="+12125550199", tz=NY,
         template="This is Sam calling from Acme; this call is recorded. He owes us money.",
         customer={"debtor_reachable": False}),
    Case("us third party while debtor reachable", US, "2026-03-02T10:00:00-05:00",
         "us.third_party_only_if_unreachable", party="third_party", number="+12125550199",
         tz=NY),
    # --- customer's media and holds beat the clock -----------------------------------------
    Case("cn restricted sms", CN, "2026-03-02T10:00:00+08:00", "cn.restricted_media",
         channel="sms", customer={"restricted_media": ["sms"]}),
    Case("us restricted voice", US, "2026-03-02T10:00:00-05:00", "us.restricted_media",
         number=USNUM, tz=NY, customer={"restricted_media": ["voice"]}),
    Case("hold outranks quiet hours", CN, "2026-03-02T23:00:00+08:00", "hold.dispute",
         customer={"holds": ["dispute"]}),
    # --- electronic opt-out (US) ------------------------------------------------------------
    Case("us sms without opt-out", US, "2026-03-02T10:00:00-05:00", "us.electronic_opt_out",
         channel="sms", number=USNUM, tz=NY, template="This is Acme Bank. Please call us."),
    Case("us sms without any template or flag", US, "2026-03-02T10:00:00-05:00",
         "us.electronic_opt_out", channel="sms", number=USNUM, tz=NY),
    Case("us email without opt-out", US, "2026-03-02T10:00:00-05:00", "us.electronic_opt_out",
         channel="email", tz=NY, template="This is Acme Bank, please call us."),
    Case("us push without opt-out", US, "2026-03-02T10:00:00-05:00", "us.electronic_opt_out",
         channel="push", tz=NY),
    Case("us sms with opt-out text", US, "2026-03-02T10:00:00-05:00", None, channel="sms",
         number=USNUM, tz=NY, template="This is Acme Bank. Please call us. Reply STOP to opt out."),
    Case("us sms, channel appends opt-out", US, "2026-03-02T10:00:00-05:00", None,
         channel="sms", number=USNUM, tz=NY, opt_out=True),
    Case("cn sms needs no opt-out", CN, "2026-03-02T10:00:00+08:00", None, channel="sms"),
    # --- templates ---------------------------------------------------------------------------
    Case("cn threatening template", CN, "2026-03-02T10:00:00+08:00",
         "cn.template_forbidden_phrases",
         template="我是某某银行工号1024，本次通话将被录音。再不还钱就让你坐牢。"),
    Case("cn insulting template", CN, "2026-03-02T10:00:00+08:00",
         "cn.template_forbidden_phrases", channel="sms", template="【某某银行】你这个老赖"),
    Case("us threatening template", US, "2026-03-02T10:00:00-05:00",
         "us.template_forbidden_phrases", number=USNUM, tz=NY,
         template="This is Sam from Acme, this call is recorded. Pay or you will go to jail."),
    Case("full-width letters do not hide a threat", US, "2026-03-02T10:00:00-05:00",
         "us.template_forbidden_phrases", number=USNUM, tz=NY,
         template="This is Sam from Acme, this call is recorded. You will go to ＪＡＩＬ."),
    Case("skills is not kill", US, "2026-03-02T10:00:00-05:00", None, number=USNUM, tz=NY,
         template="This is Sam from Acme; this call is recorded. Our skills team can help."),
    Case("cn good call script", CN, "2026-03-02T10:00:00+08:00", None,
         template="您好，我是某某银行工号1024，本次通话将被录音。"),
    Case("cn script without recording notice", CN, "2026-03-02T10:00:00+08:00",
         "cn.recording_notice", template="您好，我是某某银行工号1024。"),
    Case("cn script without identity", CN, "2026-03-02T10:00:00+08:00",
         "cn.template_identity", template="本次通话将被录音。"),
    Case("cn sms needs no recording notice", CN, "2026-03-02T10:00:00+08:00", None,
         channel="sms", template="【某某银行】您的账单已出。"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_boundary(case: Case) -> None:
    decision = run(case)
    if case.expect is None:
        assert decision.allowed, decision
        return
    assert isinstance(decision, Blocked), decision
    assert decision.rule_id == case.expect, decision
    assert decision.reason
    if case.next_at is None:
        return
    assert decision.next_allowed_at is not None
    # ISO text compares the instant and the local offset (and stays exact in a
    # repeated hour, where aware datetimes of different zones never compare equal)
    assert decision.next_allowed_at.isoformat() == case.next_at


@pytest.mark.parametrize("profile", [CN, US], ids=["CN", "US"])
@pytest.mark.parametrize("hold", HOLDS)
def test_each_hold_blocks_every_channel_for_good(profile: Any, hold: str) -> None:
    tz = SH if profile is CN else NY
    for channel in ("voice", "sms", "push", "email", "letter", "visit"):
        number = NUM if channel in ("voice", "sms") else None
        p = ProposedContact(ts("2026-03-02T10:00:00+08:00"), channel, number=number,
                            opt_out=True)
        d = check(p, CustomerState(tz, holds=[hold]), [], profile)
        assert isinstance(d, Blocked)
        assert (d.rule_id, d.next_allowed_at) == (f"hold.{hold}", None)


def test_reason_names_the_facts() -> None:
    d = run(CASES[1])
    assert isinstance(d, Blocked)
    assert "22:00:00" in d.reason and "Asia/Shanghai" in d.reason and "22:00-08:00" in d.reason
    d = run(next(c for c in CASES if c.name == "cn 4th connected call blocked"))
    assert isinstance(d, Blocked)
    assert "3 connected calls" in d.reason and "limit is 3" in d.reason


def test_history_container_and_list_agree() -> None:
    for case in CASES:
        as_list = run(case)
        case2 = Case(**{**case.__dict__, "history": History(case.history)})
        assert run(case2) == as_list, case.name


def test_history_after_the_proposal_is_refused() -> None:
    p = ProposedContact(ts("2026-03-02T10:00:00+08:00"), "voice", number=NUM)
    with pytest.raises(ComplianceInputError) as err:
        check(p, CustomerState(SH), [ev("2026-03-02T10:00:01+08:00")], CN)
    assert "after the proposed contact" in str(err.value)
    assert err.value.exit_code == 2


# --- wall times that do not exist or exist twice (lender rules on DST hours) --------------

def _with_rule(base: Any, **rule: Any) -> Any:
    return apply_overlay(base, {"name": "T", "version": "1", "rules": [
        {"id": "lender.test", "source": "test", **rule}]}, "test")


def test_quiet_end_in_spring_forward_gap_is_the_jump() -> None:
    prof = _with_rule(US, kind="quiet_hours", channels=["letter"], start="00:00", end="02:30")
    p = ProposedContact(ts("2026-03-08T01:30:00-05:00"), "letter")
    d = check(p, CustomerState(NY), [], prof)
    assert isinstance(d, Blocked) and d.rule_id == "lender.test"
    assert d.next_allowed_at is not None
    assert d.next_allowed_at.isoformat() == "2026-03-08T03:00:00-04:00"


def test_quiet_end_in_repeated_hour_each_pass() -> None:
    prof = _with_rule(US, kind="quiet_hours", channels=["letter"], start="00:00", end="01:30")
    who = CustomerState(NY)
    first = check(ProposedContact(ts("2026-11-01T01:00:00-04:00"), "letter"), who, [], prof)
    assert isinstance(first, Blocked)
    assert first.next_allowed_at is not None
    assert first.next_allowed_at.isoformat() == "2026-11-01T01:30:00-04:00"
    # 01:00 again, an hour later in real time, after the clocks went back
    second = check(ProposedContact(ts("2026-11-01T01:00:00-05:00"), "letter"), who, [], prof)
    assert isinstance(second, Blocked)
    assert second.next_allowed_at is not None
    assert second.next_allowed_at.isoformat() == "2026-11-01T01:30:00-05:00"
    between = check(ProposedContact(ts("2026-11-01T01:45:00-04:00"), "letter"), who, [], prof)
    assert between.allowed


def test_day_without_midnight_counts_from_the_jump() -> None:
    # Asia/Beirut springs forward at 00:00 to 01:00 (2026-03-29): that day starts at 01:00.
    prof = _with_rule(CN, kind="cap", channels=["letter"], count="attempts",
                      window="local_day", limit=1)
    who = CustomerState("Asia/Beirut")
    hist = [ContactEvent(ts("2026-03-29T01:00:00+03:00"), "letter")]
    d = check(ProposedContact(ts("2026-03-29T12:00:00+03:00"), "letter"), who, hist, prof)
    assert isinstance(d, Blocked) and d.rule_id == "lender.test"
    assert d.next_allowed_at is not None
    assert d.next_allowed_at.isoformat() == "2026-03-30T00:00:00+03:00"
    hist = [ContactEvent(ts("2026-03-28T23:59:59+02:00"), "letter")]
    assert check(ProposedContact(ts("2026-03-29T12:00:00+03:00"), "letter"), who, hist,
                 prof).allowed


def test_never_allowed_gives_none_quickly() -> None:
    prof = _with_rule(CN, kind="quiet_hours", channels=["voice"], start="08:00", end="22:00")
    d = check(ProposedContact(ts("2026-03-02T10:00:00+08:00"), "voice", number=NUM),
              CustomerState(SH), [], prof)
    assert isinstance(d, Blocked) and d.rule_id == "lender.test"
    assert d.next_allowed_at is None


def test_robot_needs_consent_when_a_lender_says_so() -> None:
    prof = _with_rule(US, kind="requires_consent", channels=["voice"], consent="robot_calls",
                      robot_only=True)
    p = ProposedContact(ts("2026-03-02T10:00:00-05:00"), "voice", number=USNUM, robot=True)
    d = check(p, CustomerState(NY), [], prof)
    assert isinstance(d, Blocked) and d.rule_id == "lender.test" and d.next_allowed_at is None
    assert check(p, CustomerState(NY, consents=["robot_calls"]), [], prof).allowed
    agent = ProposedContact(ts("2026-03-02T10:00:00-05:00"), "voice", number=USNUM)
    assert check(agent, CustomerState(NY), [], prof).allowed
