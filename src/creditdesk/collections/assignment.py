"""Which collector works which case: sticky, balanced, within each collector's capacity.

Cases in the ``agents`` queue (not placed with an agency) are worked by in-house
collectors. A debtor is best served by one person who knows the history, so an
assignment is **sticky**: a case keeps its collector while that collector is active
and the case stays in the agents' queue. New or orphaned cases go, largest overdue
first, to the collector with the lowest load relative to capacity (ties by name, so
the result does not depend on row order); no collector gets more than their
capacity. Cases beyond every collector's capacity stay unassigned and are reported,
so a supervisor sees the shortfall instead of an overloaded queue.

The roster is the ``collectors`` table (``agent_id, display_name, capacity, active``);
assignments are the ``case_assignments`` table (one row per case, replaced on change)
and every change is a ``case_events`` row (``assigned``/``unassigned``).

>>> cases = pl.DataFrame({"case_id": ["c1", "c2", "c3"], "queue": ["agents"] * 3,
...                       "overdue_amount": [500, 900, 100], "agent": [None, None, "bo"]})
>>> roster = pl.DataFrame({"agent_id": ["amy", "bo"], "capacity": [2, 2], "active": [True] * 2})
>>> assign(cases, roster).sort("case_id").rows()
[('c1', 'amy'), ('c2', 'amy'), ('c3', 'bo')]
"""

from __future__ import annotations

import heapq
from datetime import date
from typing import Any

import polars as pl

from creditdesk.errors import BadInputError
from creditdesk.store.base import Store

__all__ = ["ASSIGNMENTS", "COLLECTORS", "AssignResult", "add_collector", "assign",
           "assign_cases", "reassign"]

COLLECTORS: dict[str, Any] = {"agent_id": pl.String, "display_name": pl.String,
                              "capacity": pl.Int32, "active": pl.Boolean}
ASSIGNMENTS: dict[str, Any] = {"case_id": pl.String, "agent_id": pl.String,
                               "assigned_on": pl.Date, "assigned_by": pl.String}
_KEYS: dict[str, tuple[str, ...]] = {"collectors": ("agent_id",), "case_assignments": ("case_id",)}
#: the queue whose cases in-house collectors work
AGENT_QUEUE = "agents"


def assign(cases: pl.DataFrame, roster: pl.DataFrame) -> pl.DataFrame:
    """``case_id -> agent`` for every case of the agents' queue that a collector can take.

    ``cases``: ``case_id, queue, overdue_amount, agent`` (the current collector or null);
    ``roster``: ``agent_id, capacity, active``. Pure: no I/O.
    """
    for col in ("case_id", "queue", "overdue_amount", "agent"):
        if col not in cases.columns:
            raise BadInputError(f"cases must have column {col!r}; got {cases.columns}",
                                field=col)
    active = roster.filter(pl.col("active"))
    cap = dict(zip(active.get_column("agent_id").to_list(),
                   active.get_column("capacity").to_list(), strict=True))
    work = cases.filter(pl.col("queue") == AGENT_QUEUE)
    load = dict.fromkeys(cap, 0)
    kept: list[tuple[str, str]] = []
    todo: list[tuple[int, str]] = []
    # sticky first, largest overdue first (a collector over capacity keeps the biggest)
    for cid, agent, overdue in (work.sort(["overdue_amount", "case_id"], descending=[True, False])
                                .select("case_id", "agent", "overdue_amount").iter_rows()):
        if agent in cap and load[agent] < cap[agent]:
            load[agent] += 1
            kept.append((cid, agent))
        else:
            todo.append((-(overdue or 0), cid))
    heap = [(load[a] / c, a) for a, c in cap.items() if c > 0 and load[a] < c]
    heapq.heapify(heap)
    for _, cid in sorted(todo):
        if not heap:
            break
        _, agent = heapq.heappop(heap)
        load[agent] += 1
        kept.append((cid, agent))
        if load[agent] < cap[agent]:
            heapq.heappush(heap, (load[agent] / cap[agent], agent))
    return pl.DataFrame(kept, schema={"case_id": pl.String, "agent": pl.String}, orient="row")


class AssignResult(dict[str, int]):
    """Counts: ``assigned`` (new), ``kept``, ``unassigned`` (no capacity), ``released``."""


def _ensure(store: Store) -> None:
    store.ensure_tables({"collectors": COLLECTORS, "case_assignments": ASSIGNMENTS}, _KEYS)


def add_collector(store: Store, agent_id: str, *, display_name: str | None = None,
                  capacity: int = 200) -> None:
    """Put a collector on the roster (or re-activate one) with a case capacity."""
    if not isinstance(capacity, int) or isinstance(capacity, bool) or not 1 <= capacity <= 100_000:
        raise BadInputError(f"capacity must be an integer from 1 to 100000; got {capacity!r}",
                            field="capacity", value=capacity)
    _ensure(store)
    with store.transaction():
        store.execute("DELETE FROM collectors WHERE agent_id = ?", [agent_id])
        store.insert("collectors", pl.DataFrame(
            {"agent_id": [agent_id], "display_name": [display_name or agent_id],
             "capacity": [capacity], "active": [True]}, schema=COLLECTORS))


def _events(rows: list[tuple[str, str]], d: date, event: str) -> pl.DataFrame:
    from creditdesk.collections.cases import CASE_EVENTS

    return pl.DataFrame({"case_id": [r[0] for r in rows], "business_date": [d] * len(rows),
                         "event": [event] * len(rows), "detail": [r[1] for r in rows]},
                        schema=CASE_EVENTS)


def assign_cases(store: Store, business_date: date, *, by: str = "system") -> AssignResult:
    """Bring ``case_assignments`` in line with the open cases and the roster (idempotent)."""
    _ensure(store)
    if not store.has_table("cases"):
        return AssignResult(assigned=0, kept=0, unassigned=0, released=0)
    cases = store.query(
        "SELECT c.case_id, c.queue, c.overdue_amount, a.agent_id AS agent FROM cases c "
        "LEFT JOIN case_assignments a ON a.case_id = c.case_id "
        "WHERE c.status = 'open' AND c.agency IS NULL")
    cases = cases.cast({"agent": pl.String, "queue": pl.String, "case_id": pl.String})
    roster = store.query("SELECT agent_id, capacity, active FROM collectors")
    new = assign(cases, roster)
    before = dict(store.query("SELECT case_id, agent_id FROM case_assignments").iter_rows())
    after = dict(new.iter_rows())
    changed = [(c, a) for c, a in after.items() if before.get(c) != a]
    released = [(c, a) for c, a in before.items() if c not in after]
    with store.transaction():
        for rows in (changed, released):
            if rows:
                ids = [c for c, _ in rows]
                marks = ", ".join("?" * len(ids))
                store.execute(f"DELETE FROM case_assignments WHERE case_id IN ({marks})", ids)
        if changed:
            store.insert("case_assignments", pl.DataFrame(
                {"case_id": [c for c, _ in changed], "agent_id": [a for _, a in changed],
                 "assigned_on": [business_date] * len(changed),
                 "assigned_by": [by] * len(changed)}, schema=ASSIGNMENTS))
        if store.has_table("case_events"):
            store.insert("case_events", pl.concat([_events(changed, business_date, "assigned"),
                                                   _events(released, business_date,
                                                           "unassigned")]))
    in_queue = cases.filter(pl.col("queue") == AGENT_QUEUE).height
    return AssignResult(assigned=len(changed), kept=len(after) - len(changed),
                        unassigned=in_queue - len(after), released=len(released))


def reassign(store: Store, case_id: str, agent_id: str, business_date: date, *, by: str) -> None:
    """A supervisor moves one open case to another active collector (within capacity)."""
    _ensure(store)
    got = store.query("SELECT capacity, active FROM collectors WHERE agent_id = ?", [agent_id])
    if got.height == 0 or not got.item(0, "active"):
        raise BadInputError(f"agent_id must be an active collector; got {agent_id!r}",
                            field="agent_id", value=agent_id)
    if not store.has_table("cases") or store.query(
            "SELECT 1 FROM cases WHERE case_id = ? AND status = 'open'", [case_id]).height == 0:
        from creditdesk.errors import NotFoundError

        raise NotFoundError(f"case_id {case_id!r} is not an open case")
    load = store.query("SELECT count(*) AS n FROM case_assignments WHERE agent_id = ? "
                       "AND case_id <> ?", [agent_id, case_id]).item(0, 0)
    if load >= got.item(0, "capacity"):
        raise BadInputError(f"agent {agent_id} is at capacity ({load} cases)",
                            field="agent_id", value=agent_id)
    with store.transaction():
        store.execute("DELETE FROM case_assignments WHERE case_id = ?", [case_id])
        store.insert("case_assignments", pl.DataFrame(
            {"case_id": [case_id], "agent_id": [agent_id], "assigned_on": [business_date],
             "assigned_by": [by]}, schema=ASSIGNMENTS))
        if store.has_table("case_events"):
            store.insert("case_events", _events([(case_id, f"{agent_id} by {by}")],
                                                business_date, "assigned"))
