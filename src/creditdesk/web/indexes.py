"""Indexes the console's point lookups need on PostgreSQL (by account, customer, case, agent).

The case page reads one account's transactions, postings, bills, dues, contacts and
promises and one customer's accounts; without an index PostgreSQL scans each table
(measured on a 100,000-account book: contacts by account 434 ms, promises 137 ms, accounts
by customer 121 ms — the page took seconds). Created when the app starts, for the tables
that exist, ``IF NOT EXISTS`` (cheap when present).

DuckDB answers most of these by scanning, fast enough, but not the append-only ledger
tables of a large book: one account's transactions or postings out of a million rows took
20 ms each, the largest part of the case page (measured on the 100,000-account book).
``creditdesk serve`` gives a DuckDB store ART indexes on those few (``DUCKDB_INDEXES``;
about 10 s to build once for that book). They stay in the file, and DuckDB keeps them up
to date on every append, so an end of day on a served store pays a little for them; the
digital twin and a store never served have none. Only append-only tables are indexed
(DuckDB's indexes and updates in place do not mix well).
"""

from __future__ import annotations

from creditdesk.collections.casework import ensure_casework_tables
from creditdesk.store.base import Store

__all__ = ["CONSOLE_INDEXES", "DUCKDB_INDEXES", "ensure_console_indexes"]

#: the advisory lock (per database) under which the indexes are created
_INDEX_LOCK = 0x63726564_00000003
#: table -> indexed column lists
CONSOLE_INDEXES: dict[str, list[tuple[str, ...]]] = {
    "accounts": [("customer_id",)],
    "account_day": [("account_id", "business_date")],
    "transactions": [("account_id",)], "postings": [("account_id",)],
    "statements": [("account_id",)], "dues": [("account_id",)],
    "plans": [("account_id",)], "instalments": [("account_id",)],
    "plan_state": [("account_id",)], "journal": [("account_id",)],
    "contacts": [("account_id",), ("customer_id", "contact_ts")],
    "promises": [("account_id",)], "complaints": [("customer_id",)],
    "holds": [("customer_id",)], "cases": [("customer_id",), ("account_id",)],
    "case_events": [("case_id",)], "contact_plan": [("case_id",), ("business_date",)],
    "case_assignments": [("agent_id",)], "audit_log": [("subject_id",)],
}


#: DuckDB: the point lookups that scanning made slow (append-only tables only)
DUCKDB_INDEXES: dict[str, list[tuple[str, ...]]] = {
    "transactions": [("account_id",)], "postings": [("account_id",)],
    "statements": [("account_id",)], "contacts": [("account_id",)],
    "accounts": [("customer_id",)],
}


def ensure_console_indexes(store: Store) -> list[str]:
    """Create the missing indexes (and, on PostgreSQL, the casework tables they cover);
    the names created (or kept)."""
    if store.dialect not in ("duckdb", "postgres"):
        return []
    with store.transaction():
        if store.dialect == "duckdb":  # one process owns the file: no race
            return _create(store, DUCKDB_INDEXES)
        # workers start together: without the lock two of them race on the same index
        # (``IF NOT EXISTS`` is not atomic: the loser fails on pg_class's unique key)
        store.execute("SELECT pg_advisory_xact_lock(?)", [_INDEX_LOCK])
        # the casework tables (holds, contacts, promises) exist from the start, so the
        # case page's "is there a holds table?" is answered once, not per page
        ensure_casework_tables(store)
        return _create(store, CONSOLE_INDEXES)


def _create(store: Store, wanted: dict[str, list[tuple[str, ...]]]) -> list[str]:
    out = []
    for table, indexes in wanted.items():
        if not store.has_table(table):
            continue
        for cols in indexes:
            name = f"cd_{table}_{'_'.join(cols)}"
            store.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({', '.join(cols)})")
            out.append(name)
    return out
