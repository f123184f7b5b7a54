"""The twin's contact gate: every contact it lets through obeys the CN rules."""

from __future__ import annotations

from datetime import date

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from creditdesk.collections.gate import AGENT, ROBOT, SMS, ContactLog, gate
from creditdesk.collections.proposals import Proposals
from creditdesk.compliance import load_profile

TEMPLATES = {"dunning": "【信用助手】您的账款已逾期{dpd}天，请尽快还款。回TD退订"}

DAY = date(2026, 3, 2)
RPC = np.full(24, 0.5)


def _gate(account: list[int], channel: list[int], minute: list[int], hold: list[bool],
          u: list[float], tz: str = "Asia/Shanghai", retry: list[bool] | None = None) -> tuple:
    n_acc = max(account) + 1
    n = len(account)
    ch = np.array(channel, dtype=np.int8)
    props = Proposals(np.array(account), ch, np.array(minute, dtype=np.int32), np.zeros(n, bool),
                      np.array(retry if retry is not None else [False] * n), np.zeros(n, np.int8),
                      np.where(ch == SMS, "dunning", None).astype(object))
    return gate(props, DAY, np.arange(n_acc), np.full(n_acc, tz),
                np.array([f"+86139{i:08d}" for i in range(n_acc)]), np.array(hold[:n_acc]),
                np.full(n_acc, 15), ContactLog.new(load_profile("CN")),
                np.array(u), RPC, 1.0, TEMPLATES)


def test_quiet_hours_hold_and_the_evening_retry() -> None:
    allowed, rules, connected, _, skipped = _gate(
        account=[0, 1, 2, 2], channel=[AGENT, AGENT, AGENT, AGENT],
        minute=[22 * 60 + 30, 12 * 60, 12 * 60, 19 * 60 + 30], hold=[False, True, False],
        u=[0.0, 0.0, 0.1, 0.0], retry=[False, False, False, True])
    assert rules[0] == "cn.quiet_hours" and not allowed[0]
    assert rules[1] == "hold.complaint_review" and not allowed[1]
    assert allowed[2] and connected[2]           # answered at midday ...
    assert skipped[3] and not allowed[3]         # ... so the evening retry is not made


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.sampled_from([SMS, ROBOT, AGENT]),
                          st.integers(0, 24 * 60 - 1), st.floats(0, 1)),
                min_size=1, max_size=60),
       st.lists(st.booleans(), min_size=3, max_size=3))
def test_no_contact_the_gate_lets_through_breaks_a_rule(
        rows: list[tuple[int, int, int, float]], hold: list[bool]) -> None:
    account = [r[0] for r in rows]
    channel = [r[1] for r in rows]
    minute = [r[2] for r in rows]
    allowed, _, connected, _, skipped = _gate(account, channel, minute, hold + [False] * 3,
                                              [r[3] for r in rows])
    order = np.lexsort((np.array(account), np.array(minute)))
    answered = {a: 0 for a in range(3)}
    unanswered = {a: 0 for a in range(3)}
    for i in order:
        if not allowed[i]:
            continue
        a = account[i]
        assert not hold[a], "contact under a hold"
        if channel[i] in (ROBOT, AGENT):
            assert 8 * 60 <= minute[i] < 22 * 60, "call in quiet hours"
            if connected[i]:
                answered[a] += 1
            else:
                unanswered[a] += 1
    assert all(v <= 3 for v in answered.values()), answered
    assert all(v <= 6 for v in unanswered.values()), unanswered
    assert not (allowed & skipped).any()
