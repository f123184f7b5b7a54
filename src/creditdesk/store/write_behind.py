"""A DuckDB store whose transactions are written by a background thread.

The digital twin closes a date in one transaction: the day's contacts, transactions,
the end-of-day's ~20 tables and the decisions they trigger. DuckDB compresses the
appended rows as it writes them, single-threaded: at 130,000 accounts a date's writes
cost ~0.35 s of the twin's ~1.8 s, while the machine's second core idles. Most of what
the next date computes (the borrowers' behaviour, the contacts, the kernel) needs only
what the twin and the store hold in memory, so the write can run beside it.

:class:`WriteBehind` wraps a :class:`~creditdesk.store.duckdb_store.DuckDBStore`.
Inside ``transaction()`` the writes (``append``, ``insert``, ``replace_state``) are
recorded, not run; when the block ends without an error, the recorded writes go to a
single writer thread, which runs them on the wrapped store in one DuckDB transaction,
in order. Guarantees, the same as the wrapped store's:

* **atomic per transaction**: the writer commits each block whole or not at all (a crash
  leaves the books as of the last block committed); a block that raised is never written;
* **read your writes**: a read sees every block before it and the open block's writes.
  The open block's writes go to the thread as they are made (its transaction stays open
  until the block ends), so most of a block is written while its caller still computes.
  Reads run on a second connection, which sees what is committed: a read of a table an
  ended block wrote first waits for that block to commit; a ``read`` of a table the open
  block only appended to returns the file's rows and then the block's, filtered by the
  same ``where`` in DuckDB (``SELECT ... UNION ALL``). Any other read that involves a
  table the open block wrote, any statement that is not a ``SELECT``, and any use of the
  raw connection ``con`` wait until the thread has run everything, then run on the
  wrapped store inside the block's transaction ("synchronise"); the rest of the block is
  then written by the caller's thread and committed when the block ends;
* **errors are not lost**: a write that fails in the thread is raised (as
  :class:`~creditdesk.errors.StoreError`, the cause attached) by a later call on the
  store once the thread has reached it — at the latest by the next ``drain``, ``finish``
  or read of what it wrote — and by every call after it; the thread writes nothing
  after it (no later block commits).

What it keeps in memory of its own: the state after the last date closed through it
(``keep_state``) and the last closed date. A frame handed to it is written later, so its
memory must not change after the call: Polars never changes a frame, but a frame built on
a NumPy array shares the array's buffer (hand it a copy of an array it will change).

>>> import tempfile
>>> from datetime import date
>>> from creditdesk.store import open_store
>>> with tempfile.TemporaryDirectory() as d:
...     store = open_store(f"duckdb:///{d}/b.duckdb")
...     store.execute("CREATE TABLE notes (day DATE, text VARCHAR)")
...     wb = WriteBehind(store)
...     with wb.transaction():
...         wb.insert("notes", pl.DataFrame({"day": [date(2026, 1, 2)], "text": ["hi"]}))
...     wb.finish()               # every block written
...     rows = store.query("SELECT text FROM notes").get_column("text").to_list()
...     store.close()
>>> rows
['hi']
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

import duckdb
import polars as pl

from creditdesk.errors import StoreError
from creditdesk.ledger.schema import TABLES
from creditdesk.store.base import Store
from creditdesk.store.duckdb_store import DuckDBStore

__all__ = ["WriteBehind"]

_SELECT = re.compile(r"^\s*(?:SELECT|WITH|FROM)\b", re.IGNORECASE)
_WRITES = re.compile(r"\b(?:INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|COPY|TRUNCATE|ATTACH|"
                     r"DETACH|CHECKPOINT|VACUUM|SET|PRAGMA|CALL|BEGIN|COMMIT|ROLLBACK)\b",
                     re.IGNORECASE)
_PENDING = "_write_behind_pending"
_T = TypeVar("_T")
#: ended blocks the thread may hold before the caller waits (each holds a date's frames)
_IN_FLIGHT = 2
_STATE = ("account_day", "dues", "plan_state")


@dataclass(eq=False)  # blocks are compared by identity
class _Block:
    """One transaction of the caller's: its writes, handed to the thread as they come."""

    kind: str
    business_date: date | None
    #: every table written in the block, and how: "append" only, or "other"
    written: dict[str, str] = field(default_factory=dict)
    #: the frames appended, by table (the open block's rows for reads that union them)
    appended: dict[str, list[pl.DataFrame]] = field(default_factory=dict)
    futures: list[Future[None]] = field(default_factory=list)
    #: the wrapped store's transaction (entered by the thread)
    real: ExitStack | None = None
    #: the caller's thread writes the rest of the block itself
    synced: bool = False
    failed: BaseException | None = None
    last_closed: date | None = None
    #: committed by the thread (its rows are in the file)
    committed: bool = False
    #: a date the block closes that no earlier block closed: its ``closed_dates`` row,
    #: seen by a reader's snapshot, shows the block committed in that snapshot
    marker: date | None = None


class WriteBehind(Store):
    """``inner``'s transactions written by a background thread (see the module docstring)."""

    dialect = "duckdb"

    def __init__(self, inner: DuckDBStore) -> None:
        self.inner = inner
        self.location = inner.location
        self._last_closed = inner.last_closed()
        self._reader: duckdb.DuckDBPyConnection | None = inner.reader()
        self._catalog = str(self._reader.execute("SELECT current_database()").fetchall()[0][0])
        self._pool: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="creditdesk-writer")
        self._block: _Block | None = None
        #: blocks ended but perhaps not yet committed, oldest first
        self._ended: list[_Block] = []
        self._failed: BaseException | None = None
        #: the last task handed to the thread (it runs them in order)
        self._tail: Future[None] | None = None
        #: held while a read shows uncommitted rows, and by the thread as it commits
        self._commit_lock = threading.Lock()
        #: set by the thread at its first failure (it then writes nothing more)
        self._thread_failed: BaseException | None = None
        self._kept: tuple[date, dict[str, pl.DataFrame]] | None = None
        self._accounts: pl.DataFrame | None = None
        #: seconds the caller waited for the thread (how much of the writing was not hidden)
        self.waited = 0.0

    # -- the thread -------------------------------------------------------------------

    def _submit(self, block: _Block, work: Callable[[], None]) -> None:
        if self._pool is None:
            raise StoreError("this write-behind store is finished; use the wrapped store")

        def task() -> None:
            if block.failed is not None or self._thread_failed is not None:
                return  # after a failure nothing more is written: not this block, no later one
            try:
                work()
            except BaseException as exc:
                block.failed = self._thread_failed = exc
                raise

        block.futures.append(self._pool.submit(task))
        self._tail = block.futures[-1]

    def _wait(self, blocks: list[_Block]) -> None:
        """Wait for every task of ``blocks``; raise if one of them failed."""
        t0 = time.perf_counter()
        try:
            for b in blocks:
                for f in b.futures:
                    f.exception()
        finally:
            self.waited += time.perf_counter() - t0
        done = [b for b in self._ended if all(f.done() for f in b.futures)]
        self._ended = [b for b in self._ended if b not in done]
        self._raise_failed([*blocks, *done])

    def _raise_failed(self, blocks: list[_Block]) -> None:
        for b in blocks:
            if b.failed is not None and self._failed is None:
                self._failed = b.failed
        # a failure in a block the caller rolled back stops the thread all the same
        self._failed = self._failed or self._thread_failed
        if self._failed is not None:
            self._kept = None
            raise StoreError(f"writing a transaction behind failed; the books are as of the "
                             f"transaction before it: {self._failed}") from self._failed

    def _check(self) -> None:
        """Raise now if a block already written failed."""
        self._raise_failed([b for b in self._ended if all(f.done() for f in b.futures)])

    def drain(self) -> None:
        """Wait until the thread has run everything handed to it (every ended block is
        committed); raise the error of a write that failed."""
        if self._tail is not None:
            t0 = time.perf_counter()
            self._tail.exception()
            self.waited += time.perf_counter() - t0
        self._wait(list(self._ended))

    def _wait_for(self, tables: list[str]) -> None:
        """Wait for the ended blocks, up to the last that wrote one of ``tables``."""
        last = max((i for i, b in enumerate(self._ended) if any(t in b.written for t in tables)),
                   default=-1)
        self._wait(self._ended[:last + 1])
        self._check()

    def finish(self) -> None:
        """Every ended block written, the thread stopped, the reading connection closed:
        the wrapped store is the caller's again (call it once the work is done)."""
        try:
            if self._block is not None:
                raise StoreError("finish() inside a transaction of the write-behind store")
            self.drain()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
            if self._reader is not None:
                self._reader.close()
                self._reader = None

    def _sync(self) -> None:
        """From now on the open block is written by the caller: wait until the thread has
        run all of it so far (its transaction stays open on the wrapped store)."""
        block = self._block
        if block is None:
            self.drain()
            return
        if block.synced:
            return
        self._wait([*self._ended, block])
        block.synced = True

    # -- transactions -----------------------------------------------------------------

    @contextmanager
    def transaction(self, kind: str = "load", business_date: date | None = None
                    ) -> Iterator[None]:
        if self._block is not None:
            yield
            return
        self._check()
        block = _Block(kind, business_date, last_closed=self._last_closed)
        inner = self.inner

        def begin() -> None:
            stack = ExitStack()
            stack.enter_context(inner.transaction(kind, business_date))
            block.real = stack

        kept_before = self._kept
        accounts_before = self._accounts
        self._submit(block, begin)
        self._block = block
        try:
            yield
        except BaseException as exc:
            self._block = None
            self._undo(block, kept_before, accounts_before)
            self._end(block, exc)
            raise
        self._block = None
        try:
            self._end(block, None)
        except BaseException:
            self._undo(block, kept_before, accounts_before)
            raise

    def _undo(self, block: _Block, kept: Any, accounts: pl.DataFrame | None) -> None:
        """What the wrapper holds in memory goes back to before a block not committed."""
        self._kept, self._last_closed, self._accounts = kept, block.last_closed, accounts

    def _end(self, block: _Block, exc: BaseException | None) -> None:
        """Commit the block (roll it back on ``exc``), by the thread unless it synced."""

        def close() -> None:
            stack = block.real
            if stack is None:
                return
            error = exc or block.failed or self._thread_failed
            if error is None:
                stack.close()
            else:
                # the rollback re-raises the error that caused it
                with suppress(BaseException):
                    stack.__exit__(type(error), error, error.__traceback__)

        if block.synced:
            close()
            self._raise_failed([block])
            return

        def end() -> None:  # runs after a failed write too: the rollback
            if block.marker is None:  # no read may run while it commits
                with self._commit_lock:
                    close()
                    block.committed = exc is None and block.failed is None \
                        and self._thread_failed is None
            else:  # a read tells from its snapshot whether the commit is in it
                close()
                with self._commit_lock:
                    block.committed = exc is None and block.failed is None \
                        and self._thread_failed is None
            if exc is None and (block.failed or self._thread_failed) is not None:
                raise StoreError("not written: a transaction before it failed"
                                 ) if block.failed is None else block.failed

        if self._pool is None:
            raise StoreError("this write-behind store is finished; use the wrapped store")
        block.futures.append(self._pool.submit(end))
        self._tail = block.futures[-1]
        if exc is None:  # a block rolled back leaves nothing to wait for
            self._ended.append(block)
            # at most two blocks in the thread's hands: what waits in memory stays bounded
            if len(self._ended) > _IN_FLIGHT:
                self._wait(self._ended[:-_IN_FLIGHT])

    # -- writes -----------------------------------------------------------------------

    def _record(self, op: str, table: str, df: pl.DataFrame) -> None:
        block = self._block
        if table == "accounts":
            self._accounts = None
        if block is None:
            self.drain()
            getattr(self.inner, op)(table, df)
            return
        how = "append" if op == "append" and block.written.get(table, "append") == "append" \
            else "other"
        block.written[table] = how
        if op == "append" and df.height:
            block.appended.setdefault(table, []).append(df)
        if block.synced:
            getattr(self.inner, op)(table, df)
        elif df.height or op == "replace_state":
            inner = self.inner
            self._submit(block, lambda: getattr(inner, op)(table, df))

    def append(self, table: str, df: pl.DataFrame) -> None:
        if table == "closed_dates" and df.height:
            day = df.get_column("business_date").max()
            days = [x for x in (self._last_closed, day) if isinstance(x, date)]
            self._last_closed = max(days) if days else None
            block = self._block
            if (block is not None and block.marker is None and isinstance(day, date)
                    and (block.last_closed is None or day > block.last_closed)):
                block.marker = day
        self._record("append", table, df)

    def insert(self, table: str, df: pl.DataFrame) -> None:
        self._record("insert", table, df)

    def replace_state(self, table: str, df: pl.DataFrame) -> None:
        self._record("replace_state", table, df)

    def keep_state(self, d: date, frames: dict[str, pl.DataFrame]) -> None:
        """Remember the state after closing ``d``, for closing the next date (dropped if
        its block does not commit)."""
        self._kept = (d, {t: frames[t] for t in _STATE})

    def kept_state(self, d: date) -> dict[str, pl.DataFrame] | None:
        """The state after closing ``d`` if it was closed through this wrapper."""
        if self._kept is None or self._kept[0] != d:
            return None
        return self._kept[1]

    def last_closed(self) -> date | None:
        return self._last_closed

    # -- reads ------------------------------------------------------------------------

    def read(self, table: str, where: str | None = None,
             params: list[object] | None = None, *, few: bool = False) -> pl.DataFrame:
        day = params[0] if params and len(params) == 1 else None
        if (table == "account_day" and where == "business_date = ?" and isinstance(day, date)
                and (state := self.kept_state(day)) is not None):
            return state["account_day"].clone()
        block = self._block
        how = block.written.get(table) if block is not None else None
        if block is not None and (block.synced or how == "other"
                                  or (how == "append" and table not in TABLES)):
            self._sync()
            return self.inner.read(table, where, params, few=few)
        if table == "accounts" and how is None and where in (None, "opened <= ?"):
            return self._read_accounts(day if where else None)
        return self._select(table, where, params)

    def held(self, table: str, where: str | None = None,
             params: list[object] | None = None) -> pl.DataFrame | None:
        day = params[0] if params and len(params) == 1 else None
        if table == "account_day" and where == "business_date = ?" and isinstance(day, date):
            state = self.kept_state(day)
            return state["account_day"].clone() if state is not None else None
        block = self._block
        if (table == "accounts" and where in (None, "opened <= ?")
                and (block is None or "accounts" not in block.written)):
            return self._read_accounts(day if where else None)
        return None

    def _read_accounts(self, opened_by: object) -> pl.DataFrame:
        """``accounts`` whole or opened by a date, held in memory once read."""
        if self._accounts is None:
            self._accounts = self._select("accounts", None, None)
        if opened_by is None:
            return self._accounts.clone()
        return self._accounts.filter(pl.col("opened") <= pl.lit(opened_by))

    def _select(self, table: str, where: str | None, params: list[object] | None
                ) -> pl.DataFrame:
        """``table``'s rows matching ``where`` as the books hold them, typed."""
        cols = ", ".join(TABLES[table]) if table in TABLES else "*"
        sql = f"SELECT {cols} FROM {table}" + (f" WHERE {where}" if where else "")
        out = self._on_reader([table], lambda con: _frame(
            con.sql(sql, params=params) if params else con.sql(sql)))
        if table in TABLES:
            out = out.select([pl.col(c).cast(t) for c, t in TABLES[table].items()])
        return out

    def _on_reader(self, tables: list[str], run: Callable[[duckdb.DuckDBPyConnection], _T]
                   ) -> _T:
        """``run`` on the reading connection, where ``tables`` show every write so far.

        The reading connection sees what is committed. Rows that blocks not yet committed
        (ended, or the open one) appended to ``tables`` are added by temporary views of the
        same names (they hide the file's tables on that connection only), the file's rows
        first: what the wrapped store would return. While the views are up no block
        commits (the lock), so no row is seen twice. A table one of those blocks wrote
        otherwise than by appending is waited for.
        """
        con = self._reading()
        while True:
            with self._commit_lock:
                self._raise_failed([])
                blocks = self._uncommitted(tables)
                if blocks is not None:
                    return self._in_snapshot(con, tables, blocks, run)
            self._wait_for(tables)

    def _in_snapshot(self, con: duckdb.DuckDBPyConnection, tables: list[str],
                     blocks: list[_Block], run: Callable[[duckdb.DuckDBPyConnection], _T]
                     ) -> _T:
        """``run`` with the frames of ``blocks`` not committed in the read's snapshot.

        A block with a marker commits without the lock, so it may commit while the read
        runs: the read then runs in one transaction, whose snapshot holds the block's
        rows exactly when it holds its marker row, and adds only the other blocks' frames.
        """
        marked = [b.marker for b in blocks if b.marker is not None]
        if not marked:
            return _with_views(con, self._catalog, _frames(blocks, tables), run)
        con.execute("BEGIN TRANSACTION")
        try:
            seen = {r[0] for r in con.execute(
                f"SELECT business_date FROM {self._catalog}.main.closed_dates "
                f"WHERE business_date IN ({', '.join('?' * len(marked))})", marked).fetchall()}
            rest = [b for b in blocks if b.marker is None or b.marker not in seen]
            return _with_views(con, self._catalog, _frames(rest, tables), run)
        finally:
            with suppress(duckdb.Error):
                con.execute("ROLLBACK")

    def _uncommitted(self, tables: list[str]) -> list[_Block] | None:
        """The blocks not committed that appended to ``tables``, oldest first, or None when
        one of them wrote one of ``tables`` otherwise (call with the commit lock held)."""
        blocks = [b for b in self._ended if not b.committed]
        if self._block is not None:
            blocks.append(self._block)
        out = []
        for b in blocks:
            hows = [b.written[t] for t in tables if t in b.written]
            if any(how != "append" for how in hows) or any(
                    t in b.written and t not in TABLES for t in tables):
                return None
            if hows:
                out.append(b)
        return out

    def _reading(self) -> duckdb.DuckDBPyConnection:
        if self._reader is None:
            raise StoreError("this write-behind store is finished; use the wrapped store")
        return self._reader

    def _on_file(self, sql: str) -> bool:
        """Whether the read ``sql`` can run on the reading connection (else: synchronise)."""
        if not _SELECT.match(sql) or _WRITES.search(sql):
            self._sync()
            self._accounts = None  # the statement may write anything
            return False
        block = self._block
        if block is not None and (block.synced or any(
                block.written[t] != "append" for t in _mentioned(sql, block.written))):
            self._sync()
            return False
        return True

    def _tables_in(self, sql: str) -> list[str]:
        """The tables written through this wrapper and not yet committed that ``sql`` names."""
        names = {t: "" for b in self._ended for t in b.written}
        if self._block is not None:
            names.update(self._block.written)
        return _mentioned(sql, names)

    def query(self, sql: str, params: list[object] | None = None) -> pl.DataFrame:
        if not self._on_file(sql):
            return self.inner.query(sql, params)
        return self._on_reader(self._tables_in(sql), lambda con: _frame(
            con.sql(sql, params=params) if params else con.sql(sql)))

    def scalar(self, sql: str, params: list[object] | None = None) -> object:
        rows = self.execute(sql, params)
        return rows[0][0] if rows else None

    def execute(self, sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
        if not self._on_file(sql):
            rows = self.inner.execute(sql, params)
            self._last_closed = self.inner.last_closed() if self._block is None else \
                self._last_closed
            return rows
        return self._on_reader(self._tables_in(sql),
                               lambda con: con.execute(sql, params or []).fetchall())

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The wrapped store's connection, once it holds everything written so far
        (inside a block, the block synchronises: the connection sees its writes)."""
        self._sync()
        self._accounts = None  # the caller may write anything through it
        return self.inner.con

    def synchronous(self) -> DuckDBStore:
        """The wrapped store, holding everything written so far: inside a block, its
        transaction is the block's (what is written through it commits with the block)."""
        _ = self.con
        return self.inner

    # -- the rest of the contract -----------------------------------------------------

    def migrate(self) -> None:
        self._sync()
        self._accounts = None
        self.inner.migrate()

    def ensure_tables(self, tables: dict[str, dict[str, Any]],
                      keys: dict[str, tuple[str, ...]] | None = None) -> None:
        self._sync()
        self.inner.ensure_tables(tables, keys)

    def close(self) -> None:
        try:
            self.finish()
        finally:
            self.inner.close()


def _frame(rel: duckdb.DuckDBPyRelation | None) -> pl.DataFrame:
    out = pl.from_arrow(rel.to_arrow_table()) if rel is not None else pl.DataFrame()
    assert isinstance(out, pl.DataFrame)
    return out


def _frames(blocks: list[_Block], tables: list[str]) -> dict[str, list[pl.DataFrame]]:
    """The frames ``blocks`` appended to ``tables``, by table, oldest first."""
    out: dict[str, list[pl.DataFrame]] = {}
    for b in blocks:
        for t in tables:
            out.setdefault(t, []).extend(b.appended.get(t, []))
    return {t: f for t, f in out.items() if f}


def _with_views(con: duckdb.DuckDBPyConnection, catalog: str,
                frames: dict[str, list[pl.DataFrame]],
                run: Callable[[duckdb.DuckDBPyConnection], _T]) -> _T:
    """``run`` with each table of ``frames`` shown as the file's rows then the frames'."""
    made: list[str] = []
    try:
        for table, dfs in frames.items():
            cols = list(TABLES[table])
            name = f"{_PENDING}_{table}"
            con.register(name, pl.concat([df.select(cols) for df in dfs]).to_arrow())
            made.append(table)
            names = ", ".join(cols)
            con.execute(f"CREATE TEMPORARY VIEW {table} AS SELECT {names} FROM "
                        f"{catalog}.main.{table} UNION ALL SELECT {names} FROM {name}")
        return run(con)
    finally:
        for table in made:
            with suppress(duckdb.Error):
                con.execute(f"DROP VIEW IF EXISTS temp.main.{table}")
            con.unregister(f"{_PENDING}_{table}")


def _mentioned(sql: str, tables: dict[str, str]) -> list[str]:
    """Which of ``tables`` the statement names (as whole words)."""
    return [t for t in tables if re.search(rf"\b{re.escape(t)}\b", sql, re.IGNORECASE)]
