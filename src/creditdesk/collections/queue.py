"""Lists of cases for the workbench: an agent's queue in the planner's order, case lists.

The queue is what the planner decided for the next business date: the agent's cases
with a planned call first, in planned time order (the planner already spread them over
the day within capacity and the rules), then the agent's other open cases, largest
overdue first. Portable SQL (DuckDB and PostgreSQL).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from creditdesk.errors import BadInputError
from creditdesk.store.base import Store

__all__ = ["agent_queue", "list_cases"]

_CASE_COLS = ("c.case_id, c.account_id, c.customer_id, c.status, c.stage, c.bucket, c.dpd, "
              "c.overdue_amount, c.queue, c.arm, c.opened_on, c.agency")


def _page(limit: int, offset: int) -> None:
    if not 1 <= limit <= 1000:
        raise BadInputError(f"limit must be from 1 to 1000; got {limit}", field="limit",
                            value=limit)
    if not 0 <= offset <= 100_000_000:
        raise BadInputError(f"offset must be from 0 to 100000000; got {offset}", field="offset",
                            value=offset)


def agent_queue(store: Store, agent: str, business_date: date | None, *, limit: int = 200
                ) -> list[dict[str, Any]]:
    """The agent's open cases: planned calls of ``business_date`` first, in planned order."""
    _page(limit, 0)
    if not store.has_table("cases") or not store.has_table("case_assignments"):
        return []
    planned = store.has_table("contact_plan") and business_date is not None
    plan_join = ("LEFT JOIN (SELECT case_id, min(planned_at) AS planned_at, max(value) AS value, "
                 "count(*) AS planned_contacts FROM contact_plan WHERE business_date = ? AND "
                 "status = 'planned' AND channel = 'agent' GROUP BY case_id) p "
                 "ON p.case_id = c.case_id" if planned else "")
    extra = (", p.planned_at, p.value, p.planned_contacts" if planned
             else ", NULL AS planned_at, NULL AS value, 0 AS planned_contacts")
    order = ("CASE WHEN p.planned_at IS NULL THEN 1 ELSE 0 END, p.planned_at, "
             if planned else "")
    sql = (f"SELECT {_CASE_COLS}{extra} FROM cases c JOIN case_assignments a "
           f"ON a.case_id = c.case_id {plan_join} WHERE a.agent_id = ? AND c.status = 'open' "
           f"ORDER BY {order}c.overdue_amount DESC, c.case_id LIMIT {int(limit)}")
    params: list[object] = ([business_date] if planned else []) + [agent]
    out = store.query(sql, params)
    return out.with_columns(pl.int_range(1, out.height + 1).alias("position")).to_dicts()


def list_cases(store: Store, *, agent: str | None = None, status: str | None = "open",
               queue: str | None = None, limit: int = 100, offset: int = 0
               ) -> list[dict[str, Any]]:
    """Cases (with their collector), filtered; ``agent`` restricts to one collector's."""
    _page(limit, offset)
    if status not in (None, "open", "closed"):
        raise BadInputError(f"status must be open or closed; got {status!r}", field="status",
                            value=status)
    if not store.has_table("cases"):
        return []
    has_assign = store.has_table("case_assignments")
    join = ("LEFT JOIN case_assignments a ON a.case_id = c.case_id" if has_assign else "")
    who = "a.agent_id" if has_assign else "NULL"
    where: list[str] = []
    params: list[object] = []
    if agent is not None:
        if not has_assign:
            return []
        where.append("a.agent_id = ?")
        params.append(agent)
    if status is not None:
        where.append("c.status = ?")
        params.append(status)
    if queue is not None:
        where.append("c.queue = ?")
        params.append(queue)
    cond = ("WHERE " + " AND ".join(where)) if where else ""
    sql = (f"SELECT {_CASE_COLS}, {who} AS agent_id FROM cases c {join} {cond} "
           f"ORDER BY c.overdue_amount DESC, c.case_id LIMIT {int(limit)} OFFSET {int(offset)}")
    return store.query(sql, params).to_dicts()
