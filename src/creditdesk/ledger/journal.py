"""Double-entry journal lines, built as frames.

Every posting is an *entry* of two or more lines whose debits equal credits.
The chart of accounts is small and fixed (see docs/ledger.md):

=====================  =========  ==============================================
ledger account         normal     meaning
=====================  =========  ==============================================
receivable_principal   debit      principal owed by customers
receivable_interest    debit      interest posted and not yet paid
receivable_fee         debit      fees posted and not yet paid
receivable_penalty     debit      penalties posted and not yet paid
customer_credit        credit     advance payments and overpayments held
merchant_settlement    credit     owed to merchants for purchases
loan_disbursement      credit     cash paid out for cash-loan drawdowns
cash                   debit      repayments received
interest_income        credit     interest earned
fee_income             credit     instalment fees earned
penalty_income         credit     penalties earned
chargeoff_expense      debit      receivables written off
recovery_income        credit     cash received on charged-off accounts
settlement_discount    debit      receivables written off by a settlement
=====================  =========  ==============================================

Arrangements (``ledger/arrangements.py``) post three more events:
``hardship_capitalise`` (receivable_principal / receivable_interest, _fee,
_penalty), ``settlement_credit`` (customer_credit / receivable_principal) and
``settlement_discount`` (settlement_discount / receivable_*); a settlement's
money is posted like a repayment (cash / receivable_*), event ``settlement``.
"""

from __future__ import annotations

import polars as pl

from creditdesk.ledger.schema import JOURNAL, empty

__all__ = ["KEY", "RECEIVABLE", "concat_journal", "pair_lines"]

#: the kernel's integer account key: the account's row in the day's state, accounts in
#: ``account_id`` order (``steps.start_state``). Journal parts carry it so that the day's
#: lines are put in account order by an integer sort; it is dropped before they are written.
KEY = "_k"

#: the receivable ledger account of each balance component
RECEIVABLE = {
    "principal": "receivable_principal",
    "interest": "receivable_interest",
    "fee": "receivable_fee",
    "penalty": "receivable_penalty",
}

INCOME = {"interest": "interest_income", "fee": "fee_income", "penalty": "penalty_income"}


def pair_lines(df: pl.DataFrame, *, event: str, debit: str | pl.Expr, credit: str | pl.Expr,
               amount: str = "amount", entry_key: str | pl.Expr = "",
               txn_id: str | None = None) -> pl.DataFrame:
    """Two journal lines (one debit, one credit) per row of ``df`` with a positive amount.

    ``df`` must hold ``account_id``, its key ``_k``, ``business_date`` and ``amount``;
    ``debit`` and ``credit`` are ledger-account names or expressions giving them per row.
    The lines carry ``_k`` too (see ``concat_journal``).
    """
    if df.height == 0:
        return empty("journal")
    df = df.filter(pl.col(amount) > 0)
    key = entry_key if isinstance(entry_key, pl.Expr) else pl.lit(entry_key)
    base = df.select(
        pl.col("business_date"),
        pl.format("{}|{}|{}|{}", pl.col("business_date").dt.strftime("%Y%m%d"),
                  pl.col("account_id"), pl.lit(event), key).alias("entry_id"),
        pl.col("account_id"), pl.col(KEY),
        (pl.col(txn_id) if txn_id else pl.lit(None)).cast(pl.Int64).alias("txn_id"),
        pl.lit(event).alias("event"),
        (pl.lit(debit) if isinstance(debit, str) else debit).alias("_dr"),
        (pl.lit(credit) if isinstance(credit, str) else credit).alias("_cr"),
        pl.col(amount).cast(pl.Int64).alias("_amt"),
    )
    dr = base.select(*_common(), pl.col("_dr").alias("ledger_account"),
                     pl.col("_amt").alias("debit"), pl.lit(0, pl.Int64).alias("credit"))
    cr = base.select(*_common(), pl.col("_cr").alias("ledger_account"),
                     pl.lit(0, pl.Int64).alias("debit"), pl.col("_amt").alias("credit"))
    return pl.concat([dr, cr]).select(*[pl.col(c).cast(t) for c, t in JOURNAL.items()],
                                      pl.col(KEY))


def _common() -> list[pl.Expr]:
    return [pl.col("business_date"), pl.col("entry_id"), pl.col("account_id"),
            pl.col("txn_id"), pl.col("event"), pl.col(KEY)]


def concat_journal(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """All lines of a day in a stable order (so every engine writes the same table).

    The order is ``account_id, entry_id, ledger_account, debit, credit``; the parts'
    integer account key ``_k`` (accounts numbered in ``account_id`` order) stands for
    ``account_id`` in the sort, which is far cheaper than comparing the strings.
    """
    parts = [p.select(*[pl.col(c).cast(t) for c, t in JOURNAL.items()], pl.col(KEY))
             for p in parts if p.height]
    if not parts:
        return empty("journal")
    return (pl.concat(parts).sort([KEY, "entry_id", "ledger_account", "debit", "credit"])
            .drop(KEY))
