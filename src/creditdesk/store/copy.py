"""Copy a whole store into another: a laptop book onto a PostgreSQL server, or back.

Every table of the source (the books and the tables beside them: cases, contacts,
users, audit log...) is created in the target if missing and its rows appended, in one
transaction on the target, which must not already hold any of them (no merge: a copy
that mixed two books would be worse than none). Types come from the source's columns
(the books' own tables keep their contract types and keys: the target was migrated
when opened).
"""

from __future__ import annotations

import polars as pl

from creditdesk.errors import BadInputError
from creditdesk.ledger.schema import TABLES
from creditdesk.store.base import Store

__all__ = ["copy_store", "list_tables"]

_SKIP = {"schema_migrations"}


def list_tables(store: Store) -> list[str]:
    """The store's own base tables, by name."""
    rows = store.execute("SELECT table_name FROM information_schema.tables WHERE "
                         f"{store.own_tables_condition()} "
                         "AND table_type = 'BASE TABLE' ORDER BY table_name")
    return [str(r[0]) for r in rows]


def copy_store(source: Store, target: Store, *, batch: int = 500_000) -> dict[str, int]:
    """Copy every table; the rows copied per table."""
    names = [t for t in list_tables(source) if t not in _SKIP]
    busy = [t for t in names if target.has_table(t)
            and target.execute(f"SELECT count(*) FROM {t}")[0][0]]
    if busy:
        raise BadInputError(f"target store must be empty; it already has rows in {busy}",
                            field="target", value=",".join(busy))
    out: dict[str, int] = {}
    with target.transaction():
        for name in names:
            n = int(source.execute(f"SELECT count(*) FROM {name}")[0][0])  # type: ignore[call-overload]
            first = source.query(f"SELECT * FROM {name} LIMIT 0")
            if name not in TABLES:
                target.ensure_tables({name: dict(first.schema)})
            cols = ", ".join(first.columns)
            for off in range(0, max(n, 1), batch):
                # a stable order only matters when the table is read in several batches
                order = f" ORDER BY {cols} LIMIT {batch} OFFSET {off}" if n > batch else ""
                df = source.query(f"SELECT {cols} FROM {name}{order}") if n else first
                if df.height:
                    target.insert(name, df if name not in TABLES
                                  else df.select([pl.col(c).cast(t)
                                                  for c, t in TABLES[name].items()]))
            out[name] = n
    return out
