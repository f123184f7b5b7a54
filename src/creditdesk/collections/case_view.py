"""One case as a collector or an auditor sees it: the case, its history, its contacts and promises.

Read through the store's portable ``query`` (DuckDB or PostgreSQL); values come back
as JSON-ready scalars (dates and timestamps in ISO 8601), the same on both engines.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from creditdesk.collections.tables import sql_store, table_exists
from creditdesk.errors import NotFoundError

__all__ = ["case_detail"]


def _rows(df: pl.DataFrame) -> list[dict[str, Any]]:
    return [{c: (v.isoformat() if hasattr(v, "isoformat") else v) for c, v in r.items()}
            for r in df.iter_rows(named=True)]


def case_detail(store: Any, case_id: str, *, last_closed: date | None = None
                ) -> dict[str, Any]:
    """The case row, its events, its planned (and blocked) contacts, contacts made, promises.

    ``last_closed``: the store's last closed business date when the caller has just read
    it. Raises :class:`~creditdesk.errors.NotFoundError` for an unknown case id.
    """
    st = sql_store(store)
    if not table_exists(st, "cases"):
        raise NotFoundError(f"case_id {case_id!r} not found: no cases in this store yet "
                            "(run creditdesk collect plan)")
    found = _rows(st.query("SELECT * FROM cases WHERE case_id = ?", [case_id]))
    if not found:
        raise NotFoundError(f"case_id {case_id!r} not found")
    case = found[0]
    out: dict[str, Any] = {"case": case}
    # ties broken in SQL by text columns are sorted again here, byte by byte, so a
    # PostgreSQL database's collation cannot change the order
    out["events"] = _rows(st.query(
        "SELECT business_date, event, detail FROM case_events WHERE case_id = ?",
        [case_id]).sort("business_date", "event", maintain_order=True))
    out["plan"] = _rows(st.query(
        "SELECT business_date, planned_at, local_time, channel, party, purpose, status, rule, "
        "arm, value FROM contact_plan WHERE case_id = ? ORDER BY planned_at", [case_id]))
    since, until = case["opened_on"], case["closed_on"] or "9999-12-31"
    out["contacts"] = (_rows(st.query(
        "SELECT business_date, contact_ts, channel, allowed, rule, outcome, promise "
        "FROM contacts WHERE account_id = ? AND business_date BETWEEN CAST(? AS DATE) "
        "AND CAST(? AS DATE) ORDER BY contact_ts", [case["account_id"], since, until]))
        if table_exists(st, "contacts") else [])
    if table_exists(st, "promises"):
        from creditdesk.collections.promises import promise_status

        last = last_closed if last_closed is not None else store.last_closed()
        made = promise_status(st, last, case["account_id"])
        # promises taken on the open business date (after the last close) are open
        today = st.query("SELECT business_date, account_id, channel, promise_date, amount "
                         "FROM promises WHERE account_id = ? AND business_date > ?",
                         [case["account_id"], last])
        if today.height:
            made = pl.concat([made, today.with_columns(
                pl.lit(0, pl.Int64).alias("paid"), pl.lit("open").alias("status"))
                .select(made.columns).cast(made.schema)])
        out["promises"] = _rows(made.filter(pl.col("business_date").is_between(
            pl.lit(since).str.to_date(), pl.lit(until).str.to_date())))
    else:
        out["promises"] = []
    return out
