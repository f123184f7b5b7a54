"""Strategies as data: the built-ins, arms by stable hash, paths by bucket, bad YAML refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditdesk.collections.proposals import BookView, placements, propose
from creditdesk.collections.strategy import (
    BUILTIN_STRATEGIES,
    CHANNELS,
    arm_of,
    bucket_keys,
    load_strategy,
)
from creditdesk.errors import BadInputError

SMS, PUSH, ROBOT, AGENT = range(4)


def _view(dpd: list[int], days_to_due: list[int], flagged: list[bool] | None = None,
          hold: list[bool] | None = None, broken: list[int] | None = None,
          arm: str = "champion") -> BookView:
    n = len(dpd)
    return BookView.of(dpd=dpd, days_to_due=days_to_due, total_due=[100] * n,
                       flagged=flagged if flagged is not None else [True] * n,
                       arm=[arm] * n, hold=hold, broken=broken)


def test_every_builtin_loads_and_names_itself() -> None:
    for name in BUILTIN_STRATEGIES:
        s = load_strategy(name)
        assert s.name == name and s.version >= 1
        assert abs(sum(a.share for a in s.arms) - 1) < 1e-12


def test_bucket_rules_by_stage() -> None:
    v = _view([0, 0, 1, 3, 45, 93, 94], [2, 2, -1, -3, -45, -93, -94],
              flagged=[False, True, True, True, True, True, True])
    p = propose(load_strategy("bucket_rules"), v)
    pairs = sorted(zip(p.account.tolist(), p.channel.tolist(), strict=True))
    # a current account nobody flags gets no reminder; a flagged one does
    assert (0, SMS) not in pairs and (1, SMS) in pairs
    assert (2, SMS) in pairs                       # day 1 in arrears: SMS
    assert (3, SMS) in pairs and (3, ROBOT) in pairs
    assert pairs.count((4, AGENT)) == 2            # M2: midday call and evening retry
    retry = p.retry[(p.account == 4) & (p.channel == AGENT)]
    assert sorted(retry.tolist()) == [False, True]
    assert (5, AGENT) in pairs and (6, AGENT) not in pairs  # M4: every third day
    assert placements(load_strategy("bucket_rules"), v).rate.tolist() == [0] * 5 + [0.25] * 2


def test_frequent_contacts_every_delinquent_debtor_every_day() -> None:
    p = propose(load_strategy("frequent"), _view([1, 2, 77, 150], [-1, -2, -77, -150]))
    for a in range(4):
        chans = p.channel[p.account == a].tolist()
        assert chans.count(AGENT) >= 4 and chans.count(ROBOT) >= 3 and SMS in chans


def test_a_case_on_hold_gets_nothing() -> None:
    for name in BUILTIN_STRATEGIES:
        p = propose(load_strategy(name), _view([0, 5, 40, 100], [2, -5, -40, -100],
                                              hold=[True] * 4))
        assert len(p) == 0


def test_escalation_on_broken_promises(tmp_path: Path) -> None:
    src = (Path(__file__).parents[2] / "src/creditdesk/collections/strategies/bucket_rules.yaml")
    y = src.read_text(encoding="utf-8").replace(
        "planner: {kind: rules}", "planner: {kind: rules}\nescalate_after_broken_promises: 2")
    f = tmp_path / "esc.yaml"
    f.write_text(y, encoding="utf-8")
    s = load_strategy(f)
    p0 = propose(s, _view([5], [-5], broken=[1]))
    p2 = propose(s, _view([5], [-5], broken=[2]))
    assert AGENT not in p0.channel.tolist()          # M1 path: SMS/robot
    assert AGENT in p2.channel.tolist()              # escalated to the M2 path


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text("ABCDEFGHIJ0123456789", min_size=1, max_size=12), min_size=1,
                max_size=50, unique=True))
def test_an_accounts_arm_never_changes_between_runs(ids: list[str]) -> None:
    s = load_strategy("optimized")
    first = arm_of(s, ids)
    again = arm_of(load_strategy("optimized"), list(reversed(ids)))[::-1]
    assert first.tolist() == again.tolist()
    # one id at a time gives the same arm as the whole batch
    assert [arm_of(s, [i])[0] for i in ids] == first.tolist()


def test_arm_shares_hold_on_a_large_book() -> None:
    s = load_strategy("optimized")
    arms = arm_of(s, [f"R{i:08d}" for i in range(40_000)])
    share = float(np.mean(arms == "explore"))
    assert abs(share - 0.1) < 0.01, share


def test_bucket_keys() -> None:
    assert bucket_keys("M2-M3") == ("M2", "M3")
    assert bucket_keys("M4+") == ("M4", "M5", "M6")
    with pytest.raises(ValueError, match="bucket key"):
        bucket_keys("M7")


@pytest.mark.parametrize(("patch", "field", "needle"), [
    ("share: 1.0", "arms", "sum to 1"),
    ('at: "19:00"', "paths", "HH:MM"),
    ("channel: robot", "paths", "channel"),
    ("template: dunning, dpd", "paths", "unknown template"),
])
def test_a_bad_strategy_is_refused_naming_the_key(tmp_path: Path, patch: str, field: str,
                                                  needle: str) -> None:
    src = (Path(__file__).parents[2] / "src/creditdesk/collections/strategies/bucket_rules.yaml")
    bad = {"share: 1.0": "share: 0.7", 'at: "19:00"': 'at: "25:00"',
           "channel: robot": "channel: fax", "template: dunning, dpd": "template: nope, dpd"}[patch]
    f = tmp_path / "bad.yaml"
    f.write_text(src.read_text(encoding="utf-8").replace(patch, bad, 1), encoding="utf-8")
    with pytest.raises(BadInputError, match=needle) as exc:
        load_strategy(f)
    assert exc.value.field is not None and exc.value.field.startswith(field)


def test_unknown_strategy_name() -> None:
    with pytest.raises(BadInputError, match="strategy must be one of"):
        load_strategy("harass_everyone")


def test_channels_are_the_checker_known_ones() -> None:
    assert CHANNELS == ("sms", "push", "robot", "agent")


def test_a_broken_promise_triggers_the_follow_up_call() -> None:
    s = load_strategy("bucket_rules")
    quiet = propose(s, _view([4], [-4]))             # M1 day 4: nothing falls due
    follow = propose(s, BookView.of(dpd=[4], days_to_due=[-4], total_due=[100], flagged=[True],
                                    arm=["champion"], follow_up=[True]))
    assert len(quiet) == 0
    assert follow.channel.tolist() == [AGENT] and follow.minute.tolist() == [11 * 60]


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(st.integers(-3, 200), st.integers(0, 4), st.sampled_from(
    ["champion", "challenger", "explore"]), st.sampled_from(["default", "high_pd", "a|b"]),
    st.booleans()), max_size=40), name=st.sampled_from(BUILTIN_STRATEGIES))
def test_path_groups_follow_the_key_text_order(
        rows: list[tuple[int, int, str, str, bool]], name: str) -> None:
    """Groups in ``arm|segment|bucket`` text order, rows ascending: the order the day's
    proposals (and the twin's draws) follow, as when the key was built as text."""
    from creditdesk.collections.proposals import _path_groups, bucket_of

    strat = load_strategy(name)
    n = len(rows)
    view = BookView.of(dpd=[r[0] for r in rows], days_to_due=[0] * n, total_due=[1] * n,
                       flagged=[True] * n, arm=[r[2] for r in rows],
                       segment=[r[3] for r in rows], broken=[r[1] for r in rows])
    mask = np.array([r[4] for r in rows], bool)
    bucket = bucket_of(view.dpd)
    esc = strat.escalate_after_broken_promises
    if esc is not None:
        up = (view.broken >= esc) & (view.dpd > 0)
        bucket = np.where(up, bucket_of(np.minimum(view.dpd + 30, 181)), bucket)
    expected: dict[str, list[int]] = {}
    for i in range(n):
        if mask[i]:
            expected.setdefault(f"{view.arm[i]}|{view.segment[i]}|{bucket[i]}", []).append(i)
    got = _path_groups(strat, view, mask)
    assert [(f"{a}|{s}|{b}", r.tolist()) for a, s, b, r in got] == sorted(expected.items())
