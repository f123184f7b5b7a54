"""One case as a collector or an auditor sees it: the case, its history, its contacts and promises."""

from __future__ import annotations

from typing import Any

from creditdesk.collections.tables import duck, table_exists
from creditdesk.errors import NotFoundError

__all__ = ["case_detail"]


def _rows(con: Any, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    rel = con.sql(sql, params=params)
    cols = rel.columns
    return [{c: (v.isoformat() if hasattr(v, "isoformat") else v) for c, v in zip(cols, r,
                                                                                 strict=True)}
            for r in rel.fetchall()]


def case_detail(store: Any, case_id: str) -> dict[str, Any]:
    """The case row, its events, its planned (and blocked) contacts, contacts made, promises.

    Raises :class:`~creditdesk.errors.NotFoundError` for an unknown case id.
    """
    con = duck(store)
    if not table_exists(con, "cases"):
        raise NotFoundError(f"case_id {case_id!r} not found: no cases in this store yet "
                            "(run creditdesk collect plan)")
    found = _rows(con, "SELECT * FROM cases WHERE case_id = ?", [case_id])
    if not found:
        raise NotFoundError(f"case_id {case_id!r} not found")
    case = found[0]
    out: dict[str, Any] = {"case": case}
    out["events"] = _rows(con, "SELECT business_date, event, detail FROM case_events "
                               "WHERE case_id = ? ORDER BY business_date, event", [case_id])
    out["plan"] = _rows(con, "SELECT business_date, planned_at, local_time, channel, party, "
                             "purpose, status, rule, arm, value FROM contact_plan "
                             "WHERE case_id = ? ORDER BY planned_at", [case_id])
    since, until = case["opened_on"], case["closed_on"] or "9999-12-31"
    out["contacts"] = (_rows(con, "SELECT business_date, contact_ts, channel, allowed, rule, "
                                  "outcome, promise FROM contacts WHERE account_id = ? AND "
                                  "business_date BETWEEN ? AND ? ORDER BY contact_ts",
                             [case["account_id"], since, until])
                       if table_exists(con, "contacts") else [])
    if table_exists(con, "promises"):
        from creditdesk.collections.promises import sql_promise_status

        last = store.last_closed()
        rel = con.sql(f"SELECT * FROM ({sql_promise_status()}) WHERE account_id = $acc "
                      "AND business_date BETWEEN $since AND $until",
                      params={"as_of": last, "acc": case["account_id"], "since": since,
                              "until": until})
        out["promises"] = [{c: (v.isoformat() if hasattr(v, "isoformat") else v)
                            for c, v in zip(rel.columns, r, strict=True)} for r in rel.fetchall()]
    else:
        out["promises"] = []
    return out
