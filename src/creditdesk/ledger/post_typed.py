"""Posting transactions a program already holds as typed frames.

``creditdesk load`` reads files, so its rules (:mod:`creditdesk.ledger.ingest`)
start from text. A program that makes its transactions itself (the digital
twin, a batch job) holds them typed — ``amount`` Int64, ``business_date``
Date — and turning them to text only to parse them back costs time at every
business date and proves nothing. :func:`post_typed` takes the typed frame
and applies the very same rules (:func:`~creditdesk.ledger.load_rules.check_transactions`,
one code path for both), so a batch is posted or refused exactly as its text
would be: the same rows in the books, the same error class, row, field and
message (values shown as text, as the loader shows them), the books
untouched on an error, and a row whose ``external_id`` is already loaded
skipped, never posted twice.

Only what the text path has no counterpart for is new: a column of the wrong
type (a float amount, a text date) is refused naming the column and its type,
since a typed frame cannot hold a value its column's type cannot.
"""

from __future__ import annotations

import polars as pl

from creditdesk.errors import BadInputError
from creditdesk.ledger.ingest import REQUIRED, LoadReport, new_transactions
from creditdesk.ledger.schema import TABLES
from creditdesk.products.catalogue import Catalogue
from creditdesk.store.base import Store

__all__ = ["parse_typed", "post_typed"]

#: columns the loader assigns itself; a batch may not bring them
_ASSIGNED = ("txn_id", "source_row", "load_id")
_INTEGER = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64)


def _accepts(target: object, dtype: pl.DataType) -> bool:
    """Whether a column of ``dtype`` holds only values of the contract's ``target`` type."""
    if dtype == pl.Null:
        return True
    if target == pl.String:
        return dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum)
    if target in (pl.Int64, pl.Int32):
        return dtype.base_type() in _INTEGER
    return dtype == target


def parse_typed(df: pl.DataFrame) -> pl.DataFrame:
    """A typed transactions frame in the form the shared rules read.

    The columns are those of the text loader (``external_id, account_id,
    business_date, type, amount`` required; ``terms, method, daily_rate``
    optional), typed as :data:`creditdesk.ledger.schema.TABLES` says; text is
    trimmed as a file's is. Adds ``_amount``, ``_bd`` and ``_terms``, the
    parsed columns :func:`~creditdesk.ledger.load_rules.check_transactions` reads.

    >>> from datetime import date
    >>> parse_typed(pl.DataFrame({"external_id": [" e1"], "account_id": ["R1"],
    ...     "business_date": [date(2026, 1, 5)], "type": ["purchase"], "amount": [1_000]}
    ...     )).select("external_id", "_amount", "terms").row(0)
    ('e1', 1000, None)
    >>> parse_typed(pl.DataFrame({"external_id": ["e1"], "account_id": ["R1"],
    ...     "business_date": [date(2026, 1, 5)], "type": ["purchase"], "amount": [12.5]}))
    Traceback (most recent call last):
    ...
    creditdesk.errors.BadInputError: transactions: column amount must be Int64; got Float64
    """
    schema = TABLES["transactions"]
    missing = [c for c in REQUIRED["transactions"] if c not in df.columns]
    if missing:
        raise BadInputError(f"transactions: required column(s) missing: {', '.join(missing)}",
                            field=missing[0], value=None)
    unknown = [c for c in df.columns if c not in schema or c in _ASSIGNED]
    if unknown:
        raise BadInputError(f"transactions: unknown column(s): {', '.join(unknown)} "
                            f"(see docs/ingestion.md)", field=unknown[0], value=None)
    for c in df.columns:
        if not _accepts(schema[c], df.schema[c]):
            raise BadInputError(f"transactions: column {c} must be {schema[c]}; got "
                                f"{df.schema[c]}", field=c, value=str(df.schema[c]))
    cols = []
    for c, t in schema.items():
        if c in _ASSIGNED:
            continue
        if c not in df.columns:
            cols.append(pl.lit(None, t).alias(c))
        elif t == pl.String:
            cols.append(pl.col(c).cast(pl.String).str.strip_chars())
        else:
            cols.append(pl.col(c))
    out = df.select(cols)
    # an integer outside the column's range cannot be stored: refused like a bad type
    for c, t in (("amount", pl.Int64), ("terms", pl.Int32)):
        over = pl.col(c).is_not_null() & pl.col(c).cast(t, strict=False).is_null()
        bad = out.with_row_index("_row").filter(over)
        if bad.height:
            row, value = bad.select("_row", pl.col(c).cast(pl.String)).row(0)
            raise BadInputError(f"transactions row {row + 1}: {c} must be an integer that "
                                f"fits {t}; got {value!r}", row=row + 1, field=c, value=value)
    out = out.with_columns(pl.col("amount").cast(pl.Int64), pl.col("terms").cast(pl.Int32),
                           pl.col("business_date").cast(pl.Date))
    return out.with_columns(pl.col("amount").alias("_amount"),
                            pl.col("business_date").alias("_bd"),
                            pl.col("terms").cast(pl.Int64).alias("_terms"))


def post_typed(store: Store, catalogue: Catalogue, transactions: pl.DataFrame, *,
               load_id: str = "") -> LoadReport:
    """Validate typed transactions and append them to the books in one transaction.

    The typed counterpart of ``load_frames(store, cat, transactions=as_text(df))``:
    the same rules, rows and errors, without the text round trip, and reading
    from the books only what the rules need of the accounts the batch names.

    >>> import tempfile
    >>> from datetime import date
    >>> from creditdesk.ledger.ingest import load_frames
    >>> from creditdesk.products import default_catalogue
    >>> from creditdesk.store import open_store
    >>> cat = default_catalogue()
    >>> people = pl.DataFrame({"customer_id": ["C1"], "timezone": ["Asia/Shanghai"]})
    >>> accounts = pl.DataFrame({"account_id": ["R1"], "customer_id": ["C1"],
    ...     "product": ["revolving"], "credit_limit": ["500000"], "opened": ["2026-01-05"]})
    >>> day = pl.DataFrame({"external_id": ["e1", "e2"], "account_id": ["R1", "R1"],
    ...     "business_date": [date(2026, 1, 5)] * 2, "type": ["purchase", "repayment"],
    ...     "amount": [100_000, 20_000]})
    >>> with tempfile.TemporaryDirectory() as d:
    ...     store = open_store(f"duckdb:///{d}/b.duckdb")
    ...     _ = load_frames(store, cat, customers=people, accounts=accounts)
    ...     first = post_typed(store, cat, day, load_id="day-1")
    ...     again = post_typed(store, cat, day, load_id="day-1")
    ...     try:
    ...         post_typed(store, cat, day.with_columns(external_id=pl.lit("e3"),
    ...                                                 amount=pl.lit(0)).head(1))
    ...     except BadInputError as exc:
    ...         refused = str(exc)
    ...     stored = store.read("transactions").height
    ...     store.close()
    >>> first.transactions, again.transactions, again.duplicates_skipped, stored
    (2, 0, 2, 2)
    >>> refused
    "transactions row 1: amount must be a positive integer of minor units; got '0'"
    """
    txns, dup = new_transactions(store, catalogue, parse_typed(transactions), load_id)
    with store.transaction():
        store.append("transactions", txns)
    return LoadReport(transactions=txns.height, duplicates_skipped=dup)
