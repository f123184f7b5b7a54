"""Loading customers, accounts and transactions into the books.

A file is taken whole or not at all: every row is validated first, and the
first problems are reported naming the file, the row (1-based, as a
spreadsheet shows data rows), the field and the value. Loading the same
transactions again posts nothing twice: a row whose ``external_id`` is
already in the books with the same content is skipped; the same id with
different content is refused. The format is documented in docs/ingestion.md.

This module reads from the books what the rules need and writes what they
accept; the rules themselves are pure (:mod:`creditdesk.ledger.load_rules`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from creditdesk.errors import BadInputError
from creditdesk.ledger.load_rules import (
    ARRANGEMENT_TYPES,
    REQUIRED,
    ArrangementFacts,
    check_transactions,
    parse_text,
    validate_accounts,
    validate_customers,
)
from creditdesk.ledger.schema import TABLES
from creditdesk.products.catalogue import Catalogue
from creditdesk.store.base import Store

__all__ = ["REQUIRED", "LoadReport", "as_text", "check_transactions", "load_frames",
           "new_transactions", "parse_text", "read_table_file"]


@dataclass(frozen=True)
class LoadReport:
    customers: int = 0
    accounts: int = 0
    transactions: int = 0
    duplicates_skipped: int = 0


def read_table_file(path: str | Path) -> pl.DataFrame:
    """Read a CSV (every column as text, validated later) or a Parquet file."""
    p = Path(path)
    if not p.exists():
        raise BadInputError(f"file not found: {p}", field="path", value=str(p))
    if p.suffix.lower() in (".parquet", ".pq"):
        df = pl.read_parquet(p)
        return df.with_columns([pl.col(c).cast(pl.String) for c in df.columns])
    try:
        return pl.read_csv(p, infer_schema=False, encoding="utf8-lossy")
    except pl.exceptions.PolarsError as exc:
        raise BadInputError(f"{p}: not a readable CSV file: {exc}", field="path",
                            value=str(p)) from exc


def arrangement_facts(store: Store, last: date | None, transactions: pl.DataFrame
                      ) -> ArrangementFacts | None:
    """The books' facts :func:`validate_transactions` needs for a file's arrangement rows."""
    arr = transactions.filter(pl.col("type").is_in(list(ARRANGEMENT_TYPES)))
    ids = sorted(set(arr.get_column("account_id").drop_nulls().to_list()))
    if not ids:  # none, or only rows naming no account (refused as such)
        return None
    marks = ", ".join("?" * len(ids))
    loaded = store.read("transactions", f"type IN ({', '.join('?' * 3)}) AND account_id IN "
                        f"({marks})" + (" AND business_date > ?" if last else ""),
                        [*ARRANGEMENT_TYPES, *ids, *([last] if last else [])]
                        ).select("account_id", "business_date", "external_id")
    if last is None:
        status = pl.DataFrame(schema={"account_id": pl.String, "status": pl.String,
                                      "past_due": pl.Int64})
    else:
        days = store.read("account_day", f"business_date = ? AND account_id IN ({marks})",
                          [last, *ids]).select("account_id", "status")
        owed = (store.read("dues", f"account_id IN ({marks})", ids)
                .filter(pl.col("due_date") <= last)
                .group_by("account_id")
                .agg(pl.sum_horizontal("principal", "interest", "fee", "penalty").sum()
                     .alias("past_due")))
        status = (days.join(owed, on="account_id", how="left")
                  .with_columns(pl.col("past_due").fill_null(0)))
    return ArrangementFacts(last, status, loaded.group_by("account_id", "business_date")
                            .agg(pl.col("external_id").min()))


def as_text(df: pl.DataFrame) -> pl.DataFrame:
    """A typed frame as the loader reads files: every column as text.

    >>> as_text(pl.DataFrame({"amount": [100]})).dtypes
    [String]
    """
    return df.with_columns([pl.col(c).cast(pl.String) for c in df.columns])


def load_frames(store: Store, catalogue: Catalogue, *, customers: pl.DataFrame | None = None,
                accounts: pl.DataFrame | None = None,
                transactions: pl.DataFrame | None = None, load_id: str = "") -> LoadReport:
    """Validate and write the given frames in one transaction (text columns expected).

    Frames already typed (a program's own, not a file's) can skip the text:
    :func:`creditdesk.ledger.post_typed.post_typed` applies the same rules.
    """
    cust = acct = txns = None
    if customers is not None:
        cust = validate_customers(customers)
        cust, _ = _new_rows(store, "customers", cust, "customer_id")
    if accounts is not None:
        known_c = store.read("customers").get_column("customer_id")
        if cust is not None:
            known_c = pl.concat([known_c, cust.get_column("customer_id")])
        acct = validate_accounts(accounts, catalogue, known_c)
        acct, _ = _new_rows(store, "accounts", acct, "account_id")
    dup = 0
    if transactions is not None:
        txns, dup = new_transactions(store, catalogue, parse_text(transactions), load_id,
                                     acct)
    with store.transaction():
        if cust is not None:
            store.append("customers", cust)
        if acct is not None:
            store.append("accounts", acct)
        if txns is not None:
            store.append("transactions", txns)
    return LoadReport(customers=0 if cust is None else cust.height,
                      accounts=0 if acct is None else acct.height,
                      transactions=0 if txns is None else txns.height, duplicates_skipped=dup)


def new_transactions(store: Store, catalogue: Catalogue, parsed: pl.DataFrame, load_id: str,
                     new_accounts: pl.DataFrame | None = None) -> tuple[pl.DataFrame, int]:
    """The rows to append to ``transactions`` and how many were already there.

    ``parsed``: from :func:`parse_text` or ``parse_typed``; ``new_accounts``:
    accounts of the same load, not yet written. Reads from the books what the
    rules need about the accounts the rows name (never more), checks every
    rule (:func:`check_transactions`) and drops the rows already loaded.
    Nothing is written: the caller appends the rows inside its transaction.
    """
    ids = parsed.get_column("account_id")
    acc = _accounts(store, ids)
    if new_accounts is not None:
        acc = pl.concat([acc, new_accounts.select(acc.columns)])
    last = store.last_closed()
    exposure, pending = _exposure(store, last, parsed.get_column("external_id"), ids)
    facts = arrangement_facts(store, last, parsed)
    typed = check_transactions(parsed, catalogue, acc, last, exposure, pending, facts)
    return _new_transactions(store, typed, load_id)


#: a batch naming at most this many accounts reads them by id; a larger one reads the
#: needed columns of every account (one scan: far cheaper than thousands of parameters)
FEW_ACCOUNTS = 256


def _columns(store: Store, table: str, cols: list[str], where: str = "",
             params: list[object] | None = None, *, few: bool = False) -> pl.DataFrame:
    """``cols`` of ``table``'s rows matching ``where``, typed as the table's contract.

    A store holding the rows in memory answers from them (``Store.held``); one that
    answers SQL reads only those columns; another reads the rows whole.
    """
    schema = TABLES[table]
    held = store.held(table, where or None, params)
    if held is not None:
        return held.select([pl.col(c).cast(schema[c]) for c in cols])
    if store.dialect in ("duckdb", "postgres"):
        df = store.query(f"SELECT {', '.join(cols)} FROM {table}"
                         + (f" WHERE {where}" if where else ""), params)
    else:
        df = store.read(table, where or None, params, few=few)
    return df.select([pl.col(c).cast(schema[c]) for c in cols])


def _named(ids: pl.Series) -> list[object] | None:
    """The distinct ids of a small batch, or None for a large one (read every row)."""
    distinct = ids.drop_nulls().unique().sort()
    return distinct.to_list() if distinct.len() <= FEW_ACCOUNTS else None


def _accounts(store: Store, ids: pl.Series) -> pl.DataFrame:
    """What the rules need of the accounts ``ids`` name (at least those)."""
    cols = ["account_id", "product", "opened", "credit_limit"]
    named = _named(ids)
    if named is None:
        return _columns(store, "accounts", cols)
    if not named:
        return _columns(store, "accounts", cols, "1 = 0")
    return _columns(store, "accounts", cols, f"account_id IN ({', '.join('?' * len(named))})",
                    named, few=True)


def _exposure(store: Store, last: date | None, incoming: pl.Series, ids: pl.Series
              ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Principal owed at the last close, and debits pending for later dates.

    Rows of the incoming file already in the books are not counted twice.
    Accounts ``ids`` does not name may be left out.
    """
    pending = _columns(store, "transactions", ["external_id", "account_id", "business_date",
                                               "amount"],
                       "type IN ('purchase', 'cash_loan')"
                       + (" AND business_date > ?" if last else ""), [last] if last else None)
    pending = pending.filter(~pl.col("external_id").is_in(incoming.implode()))
    pend = pending.group_by("account_id", "business_date").agg(
        pl.col("amount").sum().alias("pending"))
    if last is None:
        owed = pl.DataFrame(schema={"account_id": pl.String, "principal": pl.Int64})
    else:
        named = _named(ids)
        owed = (_columns(store, "account_day", ["account_id", "principal"],
                         "business_date = ?", [last]) if named is None else
                _columns(store, "account_day", ["account_id", "principal"],
                         f"business_date = ? AND account_id IN ({', '.join('?' * len(named))})",
                         [last, *named], few=True) if named else
                pl.DataFrame(schema={"account_id": pl.String, "principal": pl.Int64}))
    return owed.select("account_id", pl.col("principal").alias("exposure")), pend


def _matching(store: Store, table: str, key: str, values: pl.Series,
              cols: list[str] | None = None) -> pl.DataFrame:
    """Rows of ``table`` whose ``key`` is among ``values`` (``cols`` of them, or all).

    The store is asked for the key range first (ids loaded together are usually
    contiguous: a file's ids, a day's ids), so a growing table is not read whole.
    """
    cols = cols or list(TABLES[table])
    if values.len() == 0 or values.null_count() == values.len():
        return _columns(store, table, cols, "1 = 0")
    lo, hi = values.min(), values.max()
    rows = _columns(store, table, cols, f"{key} >= ? AND {key} <= ?", [lo, hi])
    return rows.filter(pl.col(key).is_in(values.implode()))


def _new_rows(store: Store, table: str, df: pl.DataFrame, key: str
              ) -> tuple[pl.DataFrame, int]:
    """Rows not yet in the books; rows already there must be identical."""
    have = _matching(store, table, key, df.get_column(key))
    if have.height == 0:
        return df, 0
    both = df.join(have, on=key, how="inner", suffix="_old")
    cols = [c for c in df.columns if c != key]
    differs = pl.any_horizontal([pl.col(c).ne_missing(pl.col(f"{c}_old")) for c in cols])
    conflict = both.filter(differs)
    if conflict.height:
        v = conflict.get_column(key)[0]
        raise BadInputError(f"{table}: {key} {v!r} is already in the books with different "
                            f"values", field=key, value=v)
    return df.join(have.select(key), on=key, how="anti"), have.height


def _new_transactions(store: Store, df: pl.DataFrame, load_id: str) -> tuple[pl.DataFrame, int]:
    ids = df.get_column("external_id")
    cmp = ["account_id", "business_date", "type", "amount", "terms", "method", "daily_rate"]
    have = _matching(store, "transactions", "external_id", ids, ["external_id", *cmp])
    df = df.drop("source_row", "txn_id", "load_id", strict=False).with_row_index(
        "source_row", offset=1).with_columns(
        pl.col("source_row").cast(pl.Int64))
    if have.height:
        both = df.join(have, on="external_id", suffix="_old")
        differs = pl.any_horizontal([pl.col(c).cast(pl.String).ne_missing(
            pl.col(f"{c}_old").cast(pl.String)) for c in cmp])
        conflict = both.filter(differs)
        if conflict.height:
            r = conflict.row(0, named=True)
            raise BadInputError(
                f"transactions row {r['source_row']}: external_id {r['external_id']!r} was "
                f"already loaded with different values", row=r["source_row"],
                field="external_id", value=r["external_id"])
        df = df.join(have.select("external_id"), on="external_id", how="anti")
    top = store.scalar("SELECT coalesce(max(txn_id), 0) FROM transactions")
    start = (int(top) if isinstance(top, int) else 0) + 1
    df = df.with_columns(pl.int_range(start, start + df.height, dtype=pl.Int64).alias("txn_id"),
                         pl.lit(load_id).alias("load_id"))
    return df.select([pl.col(c).cast(t) for c, t in TABLES["transactions"].items()]), have.height
