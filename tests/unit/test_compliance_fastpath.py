"""The checker's fast paths change no answer: memoised history, lazy reasons, short search."""

from __future__ import annotations

import copy
import pickle
from dataclasses import FrozenInstanceError
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditdesk.compliance import (
    Blocked,
    ContactEvent,
    CustomerState,
    ProposedContact,
    check,
    load_profile,
)
from creditdesk.compliance.history import History

CN = load_profile("CN")
US = load_profile("US")
NUM = "+12125550100"
NY = CustomerState("America/New_York")


def call(ts: str, number: str = NUM, **kw: bool) -> ContactEvent:
    return ContactEvent(datetime.fromisoformat(ts), "voice", number=number, **kw)


def proposal(ts: str, number: str = NUM) -> ProposedContact:
    return ProposedContact(datetime.fromisoformat(ts), "voice", number=number)


def test_memo_is_per_history_and_reused() -> None:
    h = History([call("2026-03-02T10:00:00-05:00"), call("2026-03-01T10:00:00-05:00")])
    acc = frozenset({h[0].flags})
    first = h.matching(acc)
    assert first == [h[0].us, h[1].us]
    assert h.matching(acc) is first  # memoised
    grown = h.added(call("2026-03-03T10:00:00-05:00"))
    assert grown.matching(acc) == [*first, grown[2].us]  # a new history, a new memo
    assert h.matching(acc) == [h[0].us, h[1].us]  # the old one is unchanged


def test_memo_per_number_keeps_numbers_apart() -> None:
    other = "+12125550111"
    h = History([call("2026-03-01T10:00:00-05:00"), call("2026-03-01T11:00:00-05:00", other)])
    acc = frozenset({h[0].flags})
    assert h.matching_number(acc, NUM) == [h[0].us]
    assert h.matching_number(acc, other) == [h[1].us]
    assert h.matching(acc) == [h[0].us, h[1].us]


def test_reused_history_sees_added_events() -> None:
    """A planner adds each allowed call and checks the next: the cap must see the new ones."""
    h = History([call(f"2026-03-0{d}T10:00:00-05:00") for d in range(2, 8)])  # 6 calls
    at = "2026-03-08T12:00:00-04:00"
    assert check(proposal(at), NY, h, US).allowed  # warms the memo with 6 calls
    h7 = h.added(call("2026-03-08T11:00:00-04:00"))
    d = check(proposal(at), NY, h7, US)
    assert isinstance(d, Blocked) and d.rule_id == "us.call_attempts_7d"
    assert d.next_allowed_at is not None
    # the oldest call (10:00 EST on 2 March) leaves the 168 h window at 11:00 EDT
    assert d.next_allowed_at.isoformat() == "2026-03-09T11:00:00-04:00"
    assert check(proposal(at), NY, h, US).allowed  # the old memo is untouched


def test_prepared_history_reused_many_times_agrees_with_plain_list() -> None:
    base = datetime.fromisoformat("2026-03-10T00:00:00-04:00")
    events = [call((base - timedelta(hours=7 * i + 3)).isoformat(), connected=i % 5 == 0,
                   conversation=i % 10 == 0) for i in range(50)]
    h = History(events)
    for minutes in range(0, 24 * 60, 37):
        p = ProposedContact(base + timedelta(minutes=minutes), "voice", number=NUM)
        for profile in (US, CN):
            assert check(p, NY, h, profile) == check(p, NY, events, profile)


def test_lazy_reason_is_written_once_and_compares_like_text() -> None:
    calls = []

    def explain() -> str:
        calls.append(1)
        return "why"

    lazy = Blocked("r.x", explain, None)
    assert not calls  # nothing written until read
    assert lazy == Blocked("r.x", "why", None) and hash(lazy) == hash(Blocked("r.x", "why", None))
    assert lazy.reason == "why" and lazy.reason == "why"
    assert len(calls) == 1
    assert repr(lazy) == "Blocked(rule_id='r.x', reason='why', next_allowed_at=None)"
    assert lazy != Blocked("r.x", "other", None) and lazy != "why"
    match lazy:
        case Blocked(rule, reason, nxt):
            assert (rule, reason, nxt) == ("r.x", "why", None)


def test_blocked_is_immutable_and_pickles_its_text() -> None:
    d = check(proposal("2026-03-02T22:00:00-05:00"), NY, History(), US)
    assert isinstance(d, Blocked)
    with pytest.raises(FrozenInstanceError):
        d.rule_id = "x"  # type: ignore[misc]
    again = pickle.loads(pickle.dumps(d))
    assert again == d and again.reason == d.reason and "quiet hours" in again.reason
    assert copy.deepcopy(d) == d


def test_reason_reads_the_state_at_the_proposed_instant() -> None:
    """A lazy reason read late still describes the check, not a later one."""
    h = History([call("2026-03-05T10:00:00-05:00", connected=True, conversation=True)])
    d = check(proposal("2026-03-06T10:00:00-05:00"), NY, h, US)
    assert isinstance(d, Blocked) and d.rule_id == "us.wait_after_conversation"
    check(proposal("2026-03-20T10:00:00-04:00"), NY, h, US)  # another check in between
    assert "2026-03-05T10:00:00-05:00" in d.reason and "168 hours" in d.reason


def test_history_sorts_stably_and_builds_columns_on_demand() -> None:
    a = call("2026-03-02T10:00:00-05:00")
    b = call("2026-03-02T10:00:00-05:00", "+12125550111")  # same instant, after a
    c = call("2026-03-01T10:00:00-05:00", connected=True)
    h = History([a, c, b])
    assert list(h) == [c, a, b]
    assert h.us == [c.us, a.us, b.us]
    assert h.flags == (c.flags, a.flags, b.flags) and h.numbers == (NUM, NUM, "+12125550111")
    assert h.last_us == a.us and History().last_us is None


_EV = st.builds(
    lambda minute, number, connected, robot: ContactEvent(
        datetime.fromisoformat("2026-03-01T00:00:00+00:00") + timedelta(minutes=minute),
        "voice", number=number, connected=connected, conversation=connected, robot=robot),
    st.integers(0, 5000), st.sampled_from([NUM, "+12125550101"]), st.booleans(), st.booleans())


@settings(max_examples=200, deadline=None)
@given(st.lists(_EV, max_size=8), st.lists(_EV, max_size=5), st.booleans())
def test_extended_is_the_rebuilt_history_with_its_memo_carried(
        base: list[ContactEvent], more: list[ContactEvent], warm: bool) -> None:
    h = History(base)
    keys = [frozenset({e.flags}) for e in base[:2]] + [frozenset(range(64))]
    if warm:  # memoised before extending: the memo must grow with the events
        for k in keys:
            h.matching(k)
            h.matching_number(k, NUM)
        _ = h.flags, h.numbers
    got, fresh = h.extended(more), History([*base, *more])
    assert list(got) == list(fresh) and got.us == fresh.us
    assert list(got.flags) == list(fresh.flags) and list(got.numbers) == list(fresh.numbers)
    for k in keys:
        assert got.matching(k) == fresh.matching(k)
        assert got.matching_number(k, NUM) == fresh.matching_number(k, NUM)
    assert len(h) == len(base)  # the original is unchanged
