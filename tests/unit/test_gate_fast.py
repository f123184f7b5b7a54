"""The gate's fast path answers exactly as the one-by-one reference and leaves the same log."""

from __future__ import annotations

import gc
import tomllib
from datetime import date, timedelta
from functools import cache
from importlib import resources

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditdesk.collections.gate import AGENT, PUSH, ROBOT, SMS, ContactLog, gate
from creditdesk.collections.gate_batch import plan_day
from creditdesk.collections.gate_fast import fast_path_applies
from creditdesk.collections.gate_parts import CallRules
from creditdesk.collections.proposals import Proposals
from creditdesk.compliance import load_profile
from creditdesk.compliance.errors import ComplianceInputError
from creditdesk.compliance.profiles import Profile, profile_from_mapping

TEMPLATES = {
    "dunning": "【信用助手】您的账款已逾期{dpd}天，请尽快还款。回TD退订",
    "reminder": "This is Acme Bank: your payment is due {due}. Reply STOP to opt out.",
    "neutral": "This is Acme Bank, please call us back.",
    "bare": "Please call us back about {dpd}.",
    "rude": "This is Acme Bank. Pay or go to jail.",
}
ZONES = ["Asia/Shanghai", "Asia/Urumqi", "America/New_York", "America/Los_Angeles", "UTC",
         "Pacific/Kiritimati", "Pacific/Pago_Pago"]  # UTC+14 and UTC-11: the horizon's edges
START = date(2026, 3, 6)  # the US switches to summer time on the 8th

row = st.tuples(
    st.integers(0, 5),                                   # account
    st.sampled_from([SMS, PUSH, ROBOT, AGENT]),          # channel
    st.one_of(st.sampled_from([9 * 60 + 30, 19 * 60]),   # minute, often a busy one
              st.sampled_from([7 * 60 + 59, 8 * 60, 21 * 60, 22 * 60]),
              st.integers(0, 24 * 60 - 1)),
    st.booleans(),                                       # reminder
    st.booleans(),                                       # retry
    st.integers(0, 1),                                   # third party
    st.sampled_from([None, *TEMPLATES]),                 # template
    st.floats(0, 1),                                     # connect draw
)
accounts = st.tuples(
    st.integers(0, 3),                                   # customer (accounts may share one)
    st.one_of(st.just(ZONES[0]), st.sampled_from(ZONES)),
    st.sampled_from(["+8613900000001", "+86 139-0000-0001", "2125550100", "+8613900000002",
                     "+8613900000002", None]),
    st.one_of(st.sampled_from([1, 15]), st.integers(0, 95)),  # dpd
)


def _props(rows: list[tuple]) -> Proposals:
    def col(k: int, dtype: object) -> np.ndarray:
        return np.array([r[k] for r in rows], dtype=dtype)
    return Proposals(col(0, np.int64), col(1, np.int8), col(2, np.int32), col(3, bool),
                     col(4, bool), col(5, np.int8), col(6, object))


@cache
def _mixed() -> Profile:
    """CN with extra history rules, some ordered before the quiet hours (the checker
    reports the first blocking timed rule in profile order): a rolling attempts cap, a
    per-number conversations cap, waits after a connected call (third parties) and a
    conversation (debtors)."""
    data = tomllib.loads(resources.files("creditdesk.compliance").joinpath(
        "profiles/cn.toml").read_text("utf-8"))
    extra = [
        {"id": "mix.attempts_48h", "kind": "cap", "channels": ["voice"], "count": "attempts",
         "window": "rolling", "hours": 48, "limit": 4, "source": "test"},
        {"id": "mix.wait_third_party", "kind": "wait_after", "channels": ["voice"],
         "parties": ["third_party"], "after": "connected", "hours": 5, "source": "test"},
    ]
    later = [
        {"id": "mix.conversations_per_number", "kind": "cap", "channels": ["voice"],
         "count": "conversations", "per": "number", "window": "local_day", "limit": 1,
         "source": "test"},
        {"id": "mix.wait_conversation", "kind": "wait_after", "channels": ["voice"],
         "parties": ["debtor"], "after": "conversation", "hours": 30, "source": "test"},
    ]
    rules = data["rules"]
    quiet = next(k for k, r in enumerate(rules) if r["kind"] == "quiet_hours")
    data["rules"] = [*rules[:quiet], *extra, *rules[quiet:], *later]
    data["name"] = "MIX"
    return profile_from_mapping(data, "mixed")


PROFILES = {"CN": lambda: load_profile("CN"), "US": lambda: load_profile("US"), "MIX": _mixed}


def _run(profile: str, accs: list[tuple], hold: list[bool], days: list[list[tuple]],
         exact: bool, prune: bool) -> tuple[list[object], ContactLog]:
    log = ContactLog.new(PROFILES[profile]())
    customer = np.array([a[0] for a in accs], np.int64)
    tz = np.array([a[1] for a in accs], dtype=object)
    phone = np.array([a[2] for a in accs], dtype=object)
    dpd = np.array([a[3] for a in accs], np.int64)
    outs: list[object] = []
    for k, rows in enumerate(days):
        d = START + timedelta(days=k)
        if prune and k % 2:
            log.prune(int((d - date(1970, 1, 1)).days) * 86_400_000_000)
        try:
            out = gate(_props(rows), d, customer, tz, phone, np.array(hold), dpd, log,
                       np.array([r[7] for r in rows]), np.linspace(0.2, 0.9, 24), 0.6,
                       TEMPLATES, exact=exact)
        except (ComplianceInputError, KeyError) as exc:
            outs.append((type(exc).__name__, str(exc)))
            continue
        allowed, rules, connected, ts_us, skipped = out
        outs.append((allowed.tolist(), rules, connected.tolist(), ts_us.tolist(),
                     skipped.tolist(), allowed.dtype, connected.dtype, ts_us.dtype))
    return outs, log


def _log_state(log: ContactLog) -> dict[int, list[tuple]]:
    return {c: [(e, e.us, e.flags) for e in h] for c, h in log.histories.items()}


@pytest.mark.parametrize("profile", ["CN", "US", "MIX"])
def test_the_fast_path_covers_the_shipped_profiles(profile: str) -> None:
    assert fast_path_applies(PROFILES[profile]())


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["CN", "US"]),
       st.lists(accounts, min_size=6, max_size=6),
       st.lists(st.booleans(), min_size=4, max_size=4),
       st.lists(st.lists(row, min_size=0, max_size=40), min_size=1, max_size=5),
       st.booleans())
def test_fast_gate_matches_the_reference(profile: str, accs: list[tuple], hold: list[bool],
                                         days: list[list[tuple]], prune: bool) -> None:
    _same(profile, accs, hold, days, prune)


def _same(profile: str, accs: list[tuple], hold: list[bool], days: list[list[tuple]],
          prune: bool) -> list[object]:
    fast, fast_log = _run(profile, accs, hold, days, exact=False, prune=prune)
    ref, ref_log = _run(profile, accs, hold, days, exact=True, prune=prune)
    assert fast == ref
    assert _log_state(fast_log) == _log_state(ref_log)
    assert fast_log.states == ref_log.states
    for h in fast_log.histories.values():  # the carried memo is the one a rebuild makes
        _assert_memo_fresh(h)
    return ref


def _assert_memo_fresh(h: object) -> None:
    from creditdesk.compliance.history import History
    assert isinstance(h, History)
    fresh = History(list(h))
    assert h.us == fresh.us and list(h.flags) == list(fresh.flags)
    assert list(h.numbers) == list(fresh.numbers)
    for key, found in h._index.items():
        if isinstance(key, tuple):
            assert found == fresh.matching_number(*key)
        else:
            assert found == fresh.matching(key)


call = st.tuples(
    st.integers(0, 2),                                   # account: few, so caps bind
    st.sampled_from([ROBOT, AGENT]),
    st.one_of(st.integers(8 * 60, 21 * 60), st.sampled_from([7 * 60 + 59, 22 * 60]),
              st.integers(0, 24 * 60 - 1)),
    st.just(False),
    st.booleans(),                                       # retry
    st.sampled_from([0, 0, 0, 1]),                       # third party, now and then
    st.just(None),
    st.floats(0, 1),
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["CN", "US", "MIX"]),
       st.lists(accounts, min_size=6, max_size=6),
       st.lists(st.booleans(), min_size=4, max_size=4),
       st.lists(st.lists(call, min_size=0, max_size=30), min_size=1, max_size=10),
       st.booleans())
def test_fast_gate_matches_the_reference_with_caps_at_their_limits(
        profile: str, accs: list[tuple], hold: list[bool], days: list[list[tuple]],
        prune: bool) -> None:
    # many calls to three accounts over up to ten days: the daily, rolling and
    # per-number caps and the waits bind, and the log carries (and prunes) across days
    _same(profile, accs, hold, days, prune)


@pytest.mark.parametrize("profile", ["CN", "US", "MIX"])
def test_every_call_rule_binds_somewhere_and_answers_as_the_reference(profile: str) -> None:
    rows = [(k % 3, ROBOT if k % 3 else AGENT, 7 * 60 + 17 * (k // 2), False, False,
             int(k % 7 == 3), None, 0.0 if k % 13 == 0 else 0.99) for k in range(90)]
    accs = [(0, "Asia/Shanghai", "+8613900000001", 10), (1, "America/New_York", "2125550100", 4),
            (2, "UTC", "+8613900000002", 3)]
    days = [rows, rows[::2], rows, [], rows]
    ref = _same(profile, accs, [False, False, True], days, True)
    assert all(len(out) == 8 for out in ref)  # type: ignore[arg-type]
    blocked = {r for out in ref for r in out[1] if r is not None}  # type: ignore[index]
    want = {"CN": {"cn.quiet_hours", "cn.attempts_per_number_per_day", "hold.complaint_review"},
            "US": {"us.quiet_hours", "us.call_attempts_7d", "us.wait_after_conversation"},
            "MIX": {"mix.attempts_48h", "cn.quiet_hours", "mix.conversations_per_number",
                    "mix.wait_conversation"}}[profile]
    assert want <= blocked, blocked


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_paused_only_during_the_gate(enabled: bool) -> None:
    rows = [(0, ROBOT, 10 * 60, False, False, 0, None, 0.1)]
    accs = [(0, "Asia/Shanghai", "+8613900000001", 10)]
    (gc.enable if enabled else gc.disable)()
    try:
        _run("CN", accs, [False], [rows], False, False)
        assert gc.isenabled() == enabled
        bad = [(0, SMS, 9 * 60, False, False, 0, "nope", 0.5)]  # KeyError: no such template
        out, _ = _run("CN", accs, [False], [bad], False, False)
        assert out[0][0] == "KeyError" and gc.isenabled() == enabled  # type: ignore[index]
    finally:
        gc.enable()


def test_caps_bind_over_a_busy_day_exactly_as_the_reference() -> None:
    # one debtor called every ten minutes: the connected and unanswered caps both bind
    rows = [(0, ROBOT if k % 2 else AGENT, 8 * 60 + 10 * k, False, False, 0, None,
             (k * 0.37) % 1) for k in range(60)]
    rows += [(1, SMS, 9 * 60 + k, False, False, k % 2, "neutral", 0.5) for k in range(10)]
    accs = [(0, "Asia/Shanghai", "+8613900000001", 10), (1, "Asia/Shanghai", None, 3)]
    for profile in ("CN", "US"):
        fast, fast_log = _run(profile, accs, [False, False], [rows, rows], False, False)
        ref, ref_log = _run(profile, accs, [False, False], [rows, rows], True, False)
        assert fast == ref
        assert _log_state(fast_log) == _log_state(ref_log)
        assert any(r is not None for r in ref[0][1])  # type: ignore[index]


def test_a_history_after_the_contact_is_refused_on_the_fast_path_too() -> None:
    # customer 0 has accounts in two zones: its 19:00 Shanghai message comes after its
    # 09:30 New York one in local-minute order but is earlier in time, which the checker
    # refuses (under US rules: CN has no timed rule for messages, so nothing to check
    # the history against); customer 1's identical message must not lend it its decision
    rows = [(0, SMS, 19 * 60, False, False, 0, "neutral", 0.5),
            (2, SMS, 9 * 60 + 30, False, False, 0, "neutral", 0.5),
            (1, SMS, 19 * 60, False, False, 0, "neutral", 0.5)]
    accs = [(1, "Asia/Shanghai", "+8613900000002", 1), (0, "Asia/Shanghai", "+8613900000001", 1),
            (0, "America/New_York", "+8613900000001", 1)]
    for profile in ("CN", "US"):
        fast, fast_log = _run(profile, accs, [False, False], [rows], False, False)
        ref, ref_log = _run(profile, accs, [False, False], [rows], True, False)
        assert fast == ref
        assert (ref[0][0] == "ComplianceInputError") == (profile == "US")  # type: ignore[index]
        assert _log_state(fast_log) == _log_state(ref_log)


@pytest.mark.parametrize("customer_dtype", [np.int64, np.float64])
def test_bad_indices_and_float_customers_fail_or_pass_as_in_the_reference(
        customer_dtype: type) -> None:
    # account 2 is past the arrays: the reference fails there, after gating the rows
    # before it, and the fast path hands such input to the reference
    rows = [(0, SMS, 9 * 60, False, False, 0, "neutral", 0.5),
            (1, ROBOT, 10 * 60, False, False, 0, None, 0.1),
            (2, ROBOT, 11 * 60, False, False, 0, None, 0.1)]
    for take in (2, 3):
        outs, logs = [], []
        for exact in (False, True):
            log = ContactLog.new(load_profile("CN"))
            try:
                out = gate(_props(rows[:take]), START, np.array([0, 1], customer_dtype),
                           np.array(["Asia/Shanghai"] * 2, dtype=object),
                           np.array(["+8613900000001", "+8613900000002"], dtype=object),
                           np.array([False, False]), np.array([3, 3]), log,
                           np.array([r[7] for r in rows[:take]]), np.full(24, 0.5), 1.0,
                           TEMPLATES, exact=exact)
                outs.append([x.tolist() if isinstance(x, np.ndarray) else x for x in out])
            except IndexError as exc:
                outs.append(str(exc))
            logs.append(_log_state(log))
        assert outs[0] == outs[1] and logs[0] == logs[1]
        assert isinstance(outs[1], str) == (take == 3)
        assert len(logs[1]) == 2


def _plan(rows: list[tuple], accs: list[tuple], log: ContactLog) -> object:
    props = _props(rows)
    customer = np.array([a[0] for a in accs], np.int64)
    profile = log.profile
    free = {(ch, party): not any(r.kind in ("cap", "wait_after") and r.applies(ch, party)
                                 for r in profile.rules)
            for ch in ("sms", "push", "voice") for party in ("debtor", "third_party")}
    return plan_day(props, START, customer[props.account],
                    np.array([a[1] for a in accs], dtype=object)[props.account],
                    np.array([a[2] for a in accs], dtype=object)[props.account],
                    np.array([a[3] for a in accs], np.int64)[props.account],
                    np.zeros(len(rows), bool), np.lexsort((props.account, props.minute)), log,
                    np.array([r[7] for r in rows]), np.linspace(0.2, 0.9, 24), 0.6, TEMPLATES,
                    (CallRules(profile, "debtor"), CallRules(profile, "third_party")), free)


def test_ordinary_customers_are_decided_in_batch_and_busy_ones_one_by_one() -> None:
    # customers 0-3: a reminder and a call or two; customer 4: seven unanswered calls,
    # which could reach CN's cap of six unanswered attempts a number a day
    accs = [(k, "Asia/Shanghai", f"+861390000000{k}", 5) for k in range(5)]
    rows = [(k, SMS, 9 * 60, True, False, 0, "reminder", 0.5) for k in range(4)]
    rows += [(k, AGENT, 10 * 60 + k, False, False, 0, None, 0.99) for k in range(4)]
    rows += [(1, ROBOT, 15 * 60, False, True, 0, None, 0.0)]
    rows += [(4, ROBOT, 9 * 60 + 30 * k, False, False, 0, None, 0.99) for k in range(7)]
    plan = _plan(rows, accs, ContactLog.new(load_profile("CN")))
    assert plan.loop_customers == {4}  # type: ignore[attr-defined]
    assert plan.batch.tolist() == [True] * 9 + [False] * 7  # type: ignore[attr-defined]
    assert plan.connected.tolist()[8] and not plan.connected.tolist()[4]  # type: ignore[attr-defined]
    _same("CN", accs, [False] * 5, [rows, rows], False)


def test_yesterdays_calls_do_not_send_a_customer_to_the_loop_but_todays_do() -> None:
    # CN's caps count the local day: five unanswered calls yesterday leave customer 0 in
    # the batch today; five earlier today (a second gate that date) do not
    accs = [(0, "Asia/Shanghai", "+8613900000001", 5)]
    five = [(0, ROBOT, 9 * 60 + 30 * k, False, False, 0, None, 0.99) for k in range(5)]
    later = [(0, ROBOT, 20 * 60 + k, False, False, 0, None, 0.99) for k in range(2)]
    log = ContactLog.new(load_profile("CN"))
    gate(_props(five), START - timedelta(days=1), np.array([0]), np.array(["Asia/Shanghai"],
         dtype=object), np.array(["+8613900000001"], dtype=object), np.array([False]),
         np.array([5]), log, np.full(5, 0.99), np.linspace(0.2, 0.9, 24), 0.6, TEMPLATES)
    assert _plan(later, accs, log).loop_customers == set()  # type: ignore[attr-defined]
    gate(_props(five), START, np.array([0]), np.array(["Asia/Shanghai"], dtype=object),
         np.array(["+8613900000001"], dtype=object), np.array([False]), np.array([5]), log,
         np.full(5, 0.99), np.linspace(0.2, 0.9, 24), 0.6, TEMPLATES)
    assert _plan(later, accs, log).loop_customers == {0}  # type: ignore[attr-defined]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["CN", "US", "MIX"]),
       st.lists(accounts, min_size=6, max_size=6),
       st.lists(st.booleans(), min_size=4, max_size=4),
       st.lists(st.lists(call, min_size=0, max_size=30), min_size=2, max_size=10))
def test_pruning_to_the_profiles_horizon_changes_no_answer(
        profile: str, accs: list[tuple], hold: list[bool], days: list[list[tuple]]) -> None:
    # the log forgets what no rule can count any more (CN: two days; US: eight; MIX:
    # three): every answer is the one a log that forgets nothing gives
    kept, _ = _run(profile, accs, hold, days, exact=True, prune=False)
    pruned, _ = _run(profile, accs, hold, days, exact=False, prune=True)
    assert pruned == kept
