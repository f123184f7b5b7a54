"""An in-memory book: the kernel driven day by day with no store.

Used by the worked-example and property tests, by the benchmark's inner
loop, and by the Spark runner's per-partition function. It holds exactly
what a store holds between two dates (the state tables and the static
instalment schedule), so a day closed here equals a day closed on a store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl

from creditdesk.ledger.kernel import DayInput, DayOutput, close_day, schedules_needed
from creditdesk.ledger.params import LedgerParams
from creditdesk.ledger.schema import PER_DATE_TABLES, TABLES, conform, empty

__all__ = ["InMemoryBook"]


@dataclass
class InMemoryBook:
    """Accounts, transactions and the books, all as Polars frames.

    >>> from creditdesk.ledger.params import ledger_params
    >>> from creditdesk.products import default_catalogue
    >>> book = InMemoryBook(ledger_params(default_catalogue()))
    >>> book.last_closed is None
    True
    """

    params: LedgerParams
    accounts: pl.DataFrame = field(default_factory=lambda: empty("accounts"))
    transactions: pl.DataFrame = field(default_factory=lambda: empty("transactions"))
    last_closed: date | None = None
    state: dict[str, pl.DataFrame] = field(default_factory=lambda: {
        "account_day": empty("account_day"), "dues": empty("dues"),
        "plan_state": empty("plan_state")})
    history: dict[str, list[pl.DataFrame]] = field(
        default_factory=lambda: {t: [] for t in PER_DATE_TABLES})
    instalments: pl.DataFrame = field(default_factory=lambda: empty("instalments"))

    def add_accounts(self, rows: list[dict[str, object]] | pl.DataFrame) -> None:
        df = rows if isinstance(rows, pl.DataFrame) else pl.DataFrame(rows)
        for col, dtype in TABLES["accounts"].items():
            if col not in df.columns:
                df = df.with_columns(pl.lit(None, dtype).alias(col))
        self.accounts = pl.concat([self.accounts, conform(df, "accounts")])

    def add_transactions(self, rows: list[dict[str, object]] | pl.DataFrame) -> None:
        df = rows if isinstance(rows, pl.DataFrame) else pl.DataFrame(rows)
        start = self.transactions.height + 1
        if "txn_id" not in df.columns:
            df = df.with_columns(pl.int_range(start, start + df.height).alias("txn_id"))
        if "external_id" not in df.columns:
            df = df.with_columns(pl.format("x{}", "txn_id").alias("external_id"))
        for col, dtype in TABLES["transactions"].items():
            if col not in df.columns:
                df = df.with_columns(pl.lit(None, dtype).alias(col))
        self.transactions = pl.concat([self.transactions, conform(df, "transactions")])

    def day_input(self, d: date) -> DayInput:
        txns = self.transactions.filter(pl.col("business_date") == d)
        holiday = schedules_needed(txns)
        return DayInput(
            business_date=d,
            accounts=self.accounts.filter(pl.col("opened") <= d),
            prev=self.state["account_day"], dues=self.state["dues"],
            plan_state=self.state["plan_state"],
            billing=self.instalments.filter(pl.col("bill_date") == d),
            txns=txns,
            schedules=self.instalments.filter(pl.col("account_id").is_in(holiday)
                                              & (pl.col("bill_date") >= d))
            if holiday else empty("instalments"),
        )

    def close(self, d: date) -> DayOutput:
        """Close date ``d`` (must follow the last closed date)."""
        if self.last_closed is not None and d != self.last_closed + timedelta(days=1):
            raise ValueError(f"business_date must be {self.last_closed + timedelta(days=1)}; "
                             f"got {d}")
        out = close_day(self.day_input(d), self.params)
        self.apply(d, out)
        return out

    def apply(self, d: date, out: DayOutput) -> None:
        self.state = {"account_day": out.account_day, "dues": out.dues,
                      "plan_state": out.plan_state}
        for t in PER_DATE_TABLES:
            frame = getattr(out, t)
            if frame.height:
                self.history[t].append(frame)
        if out.instalments.height:
            self.instalments = pl.concat([self.instalments, out.instalments])
        self.last_closed = d

    def close_through(self, start: date, end: date) -> None:
        d = start if self.last_closed is None else self.last_closed + timedelta(days=1)
        while d <= end:
            self.close(d)
            d += timedelta(days=1)

    def table(self, name: str) -> pl.DataFrame:
        """A history table (all dates) or a state table (latest)."""
        if name in self.state and name not in self.history:
            return self.state[name]
        parts = self.history[name]
        return pl.concat(parts) if parts else empty(name)
