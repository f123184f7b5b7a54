"""Assigning the agents' queue: within capacity, sticky, balanced, independent of row order."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from creditdesk.collections.assignment import assign

AGENTS = ["amy", "bo", "cy"]


def _cases(rows: list[tuple[str, str, int, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"case_id": pl.String, "queue": pl.String,
                                      "overdue_amount": pl.Int64, "agent": pl.String},
                        orient="row")


def _roster(caps: list[int], active: list[bool] | None = None) -> pl.DataFrame:
    return pl.DataFrame({"agent_id": AGENTS[:len(caps)], "capacity": caps,
                         "active": active or [True] * len(caps)})


def test_a_worked_example_by_hand() -> None:
    # bo keeps c3 (sticky); c2 (largest) goes to the least loaded, amy (0/2 < 1/2); then
    # amy 1/2 and bo 1/2 tie and the name decides: c1 to amy; c4 (robot queue) to nobody
    cases = _cases([("c1", "agents", 500, None), ("c2", "agents", 900, None),
                    ("c3", "agents", 100, "bo"), ("c4", "robot", 999, None)])
    got = dict(assign(cases, _roster([2, 2])).iter_rows())
    assert got == {"c1": "amy", "c2": "amy", "c3": "bo"}


def test_an_inactive_collectors_cases_move_and_capacity_leaves_the_rest_unassigned() -> None:
    cases = _cases([(f"c{i}", "agents", 100 * i, "amy") for i in range(1, 6)])
    got = dict(assign(cases, _roster([3, 2], [False, True])).iter_rows())
    # only bo is active, capacity 2: the two largest cases
    assert got == {"c5": "bo", "c4": "bo"}


case_rows = st.lists(st.tuples(st.sampled_from(["agents", "agents", "robot"]),
                               st.integers(0, 10_000), st.sampled_from([None, *AGENTS, "gone"])),
                     max_size=40)


@settings(max_examples=200, deadline=None)
@given(rows=case_rows, caps=st.lists(st.integers(0, 12), min_size=1, max_size=3),
       seed=st.randoms(use_true_random=False))
def test_capacity_stickiness_coverage_and_order_independence(rows: list[tuple[str, int, str | None]],
                                                             caps: list[int], seed: object) -> None:
    cases = _cases([(f"c{i:02d}", q, o, a) for i, (q, o, a) in enumerate(rows)])
    roster = _roster(caps)
    got = assign(cases, roster)
    cap = dict(zip(AGENTS, caps, strict=False))
    load = got.group_by("agent").len()
    assert all(n <= cap[a] for a, n in load.iter_rows()), "no collector over capacity"
    queue = cases.filter(pl.col("queue") == "agents")
    assert set(got.get_column("case_id")) <= set(queue.get_column("case_id"))
    assert got.height == min(queue.height, sum(caps)), "every case placed while capacity lasts"
    mine = dict(got.iter_rows())
    for agent, c in cap.items():
        theirs = queue.filter(pl.col("agent") == agent).get_column("case_id").to_list()
        if len(theirs) <= c:  # room for all they had: every one stays with them
            assert all(mine.get(cid) == agent for cid in theirs)
    shuffled = cases.sample(fraction=1.0, shuffle=True, seed=seed.randint(0, 10**6))  # type: ignore[attr-defined]
    assert dict(assign(shuffled, roster).iter_rows()) == mine
