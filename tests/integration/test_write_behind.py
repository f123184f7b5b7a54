"""The write-behind store on real DuckDB files: what a caller sees is what the plain store
would show, each block is one transaction, and no failure of the thread goes unseen."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creditdesk.errors import StoreError
from creditdesk.ledger.schema import TABLES
from creditdesk.store import open_store
from creditdesk.store.duckdb_store import DuckDBStore
from creditdesk.store.write_behind import WriteBehind

D0 = date(2026, 3, 1)
ALL = "SELECT * FROM postings ORDER BY txn_id"


def _store(path: Path) -> DuckDBStore:
    store = open_store(f"duckdb:///{path}")
    assert isinstance(store, DuckDBStore)
    store.execute("CREATE TABLE notes (n INTEGER CHECK (n > 0))")
    return store


def _postings(day: date, ids: list[int]) -> pl.DataFrame:
    return pl.DataFrame({"business_date": [day] * len(ids), "txn_id": ids,
                         "account_id": [f"A{i % 3}" for i in ids], "status": ["posted"] * len(ids),
                         "reason": [None] * len(ids)}, schema=TABLES["postings"])


def _closed(day: date) -> pl.DataFrame:
    return pl.DataFrame({"business_date": [day], "closed_at": [datetime(2026, 1, 1, tzinfo=UTC)]},
                        schema=TABLES["closed_dates"])


def _rows(store: DuckDBStore, sql: str = ALL) -> list[tuple[object, ...]]:
    return store.execute(sql)


def test_blocks_are_written_in_order_and_the_reads_see_them(tmp_path: Path) -> None:
    store = _store(tmp_path / "b.duckdb")
    wb = WriteBehind(store)
    with wb.transaction():
        # dated the next day: a read of that day in the next block must see them
        wb.append("postings", _postings(D0 + timedelta(days=1), [1, 2]))
        wb.append("closed_dates", _closed(D0))
    with wb.transaction():
        wb.append("postings", _postings(D0 + timedelta(days=1), [3]))
        day = wb.read("postings", "business_date = ?", [D0 + timedelta(days=1)])
        # the block before's rows (from the file) then the open block's, as the store gives
        assert day.get_column("txn_id").to_list() == [1, 2, 3]
        assert wb.query("SELECT count(*) AS n FROM closed_dates").item() == 1
        assert wb.last_closed() == D0
        wb.append("closed_dates", _closed(D0 + timedelta(days=1)))
        assert wb.last_closed() == D0 + timedelta(days=1)
    wb.finish()
    assert [r[1] for r in _rows(store)] == [1, 2, 3]
    assert store.last_closed() == D0 + timedelta(days=1)
    store.close()


def test_a_block_that_raises_writes_nothing_and_forgets_what_it_set(tmp_path: Path) -> None:
    store = _store(tmp_path / "b.duckdb")
    wb = WriteBehind(store)
    with wb.transaction():
        wb.append("postings", _postings(D0, [1]))
        wb.keep_state(D0, {"account_day": pl.DataFrame(), "dues": pl.DataFrame(),
                           "plan_state": pl.DataFrame()})
    with pytest.raises(ValueError, match="boom"), wb.transaction():
        wb.append("postings", _postings(D0, [2]))
        wb.append("closed_dates", _closed(D0))
        wb.keep_state(D0 + timedelta(days=1), {"account_day": pl.DataFrame(),
                                               "dues": pl.DataFrame(), "plan_state": pl.DataFrame()})
        raise ValueError("boom")
    assert wb.last_closed() is None
    assert wb.kept_state(D0) is not None and wb.kept_state(D0 + timedelta(days=1)) is None
    wb.finish()
    assert [r[1] for r in _rows(store)] == [1]
    assert store.last_closed() is None
    store.close()


def test_a_write_that_fails_in_the_thread_is_raised_and_rolled_back(tmp_path: Path) -> None:
    store = _store(tmp_path / "b.duckdb")
    wb = WriteBehind(store)
    with wb.transaction():
        wb.append("postings", _postings(D0, [1]))
    with wb.transaction():
        wb.append("postings", _postings(D0, [2]))
        wb.insert("notes", pl.DataFrame({"n": [-1]}))  # breaks the CHECK, in the thread
    # the next block is refused at its start if the failure is known by then, else it is
    # handed to the thread after the failure and never written
    with suppress(StoreError), wb.transaction():
        wb.append("postings", _postings(D0, [3]))
    with pytest.raises(StoreError, match="books are as of the transaction before"):
        wb.drain()
    with pytest.raises(StoreError):  # and on every call after it
        wb.query("SELECT 1")
    with pytest.raises(StoreError):
        wb.finish()
    assert [r[1] for r in _rows(store)] == [1]
    assert _rows(store, "SELECT * FROM notes") == []
    store.close()


def test_statements_and_the_connection_join_the_open_block(tmp_path: Path) -> None:
    store = _store(tmp_path / "b.duckdb")
    wb = WriteBehind(store)
    with pytest.raises(RuntimeError), wb.transaction():
        wb.append("postings", _postings(D0, [1, 2, 3]))
        wb.execute("DELETE FROM postings WHERE txn_id = ?", [2])  # sees the block's rows
        assert wb.read("postings").get_column("txn_id").to_list() == [1, 3]
        wb.append("postings", _postings(D0, [4]))  # written in line from here
        assert wb.con.sql("SELECT count(*) FROM postings").fetchall() == [(3,)]
        raise RuntimeError("roll it all back")
    assert _rows(store) == []
    with wb.transaction():
        wb.append("postings", _postings(D0, [1, 2, 3]))
        wb.execute("DELETE FROM postings WHERE txn_id = ?", [2])
        wb.insert("notes", pl.DataFrame({"n": [5]}))
    wb.finish()
    assert [r[1] for r in _rows(store)] == [1, 3]
    assert _rows(store, "SELECT * FROM notes") == [(5,)]
    store.close()


# a program of steps: ("block", raises), ("append", day, n), ("read", day), ("count", day),
# ("delete", txn modulo), ("note", n)
_step = st.one_of(
    st.tuples(st.just("block"), st.booleans()),
    st.tuples(st.just("append"), st.integers(0, 3), st.integers(0, 3)),
    st.tuples(st.just("read"), st.integers(0, 3)),
    st.tuples(st.just("count"), st.integers(0, 3)),
    st.tuples(st.just("delete"), st.integers(0, 7)),
    st.tuples(st.just("note"), st.integers(-1, 3)),
)


def _play(store: DuckDBStore | WriteBehind, program: list[tuple[object, ...]]) -> list[object]:
    """Run ``program`` (blocks of steps) on ``store``; everything a caller would see."""
    seen: list[object] = []
    next_id = iter(range(1, 10_000))
    blocks: list[list[tuple[object, ...]]] = []
    for step in program:
        if step[0] == "block" or not blocks:
            blocks.append([step] if step[0] == "block" else [("block", False), step])
        else:
            blocks[-1].append(step)
    for block in blocks:
        raises = bool(block[0][1])
        try:
            with store.transaction():
                for step in block[1:]:
                    kind = step[0]
                    if kind == "append":
                        day = D0 + timedelta(days=int(step[1]))  # type: ignore[call-overload]
                        store.append("postings", _postings(
                            day, [next(next_id) for _ in range(int(step[2]))]))  # type: ignore[call-overload]
                    elif kind == "read":
                        day = D0 + timedelta(days=int(step[1]))  # type: ignore[call-overload]
                        seen.append(store.read("postings", "business_date = ?", [day]).rows())
                    elif kind == "count":
                        day = D0 + timedelta(days=int(step[1]))  # type: ignore[call-overload]
                        seen.append(store.query("SELECT count(*) AS n FROM postings WHERE "
                                                "business_date = ?", [day]).rows())
                    elif kind == "delete":
                        store.execute("DELETE FROM postings WHERE txn_id % 8 = ?", [step[1]])
                    elif kind == "note":
                        store.insert("notes", pl.DataFrame({"n": [step[1]]}))
                if raises:
                    raise KeyError("the caller's error")
            seen.append("committed")
        except KeyError:
            seen.append("rolled back")
        except Exception:
            seen.append("failed")
            break  # the write-behind store refuses every call after a failure
    return seen


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(program=st.lists(_step, min_size=1, max_size=14))
def test_any_program_sees_and_leaves_what_the_plain_store_does(
        tmp_path_factory: pytest.TempPathFactory, program: list[tuple[object, ...]]) -> None:
    d = tmp_path_factory.mktemp("wb")
    plain, behind = _store(d / "plain.duckdb"), _store(d / "behind.duckdb")
    wb = WriteBehind(behind)
    seen_plain = _play(plain, program)
    seen_behind = _play(wb, program)
    try:
        wb.finish()
    except StoreError:
        seen_behind.append("finish failed")
    if "failed" in seen_plain:
        # the thread's failure is raised at the next call, not at the write itself: what
        # was seen before agrees, and the failure is raised by a later call or by finish
        first = seen_plain.index("failed")
        assert seen_behind[:first] == seen_plain[:first]
        assert "failed" in seen_behind[first:] or seen_behind[-1] == "finish failed"
    else:
        assert seen_behind == seen_plain
    # the books: every block before the first failure, on both
    assert _rows(behind) == _rows(plain)
    assert _rows(behind, "SELECT * FROM notes") == _rows(plain, "SELECT * FROM notes")
    plain.close()
    behind.close()


@pytest.mark.parametrize("before, after", [(0.03, 0.0), (0.0, 0.03), (0.02, 0.02)])
def test_reads_while_a_date_commits_see_each_row_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, before: float, after: float) -> None:
    # A block that closes a date commits without holding reads back; a read during the
    # commit must count the block's rows once, whether its snapshot has them or not. The
    # thread is slowed before the commit (the rows are not in the file yet) and after it
    # (they are, but the thread has not yet said so).
    store = _store(tmp_path / "b.duckdb")
    real = DuckDBStore.transaction

    @contextmanager
    def slow(self: DuckDBStore, kind: str = "load", business_date: date | None = None
             ) -> Iterator[None]:
        with real(self, kind, business_date):
            yield
            time.sleep(before)
        time.sleep(after)

    monkeypatch.setattr(DuckDBStore, "transaction", slow)
    wb = WriteBehind(store)
    total, seen = 0, []
    for k in range(8):
        day = D0 + timedelta(days=k)
        with wb.transaction(business_date=day):
            wb.append("postings", _postings(day, list(range(10 * k + 1, 10 * k + 11))))
            wb.append("closed_dates", _closed(day))
        total += 10
        for _ in range(4):  # while the thread commits this date and the one before
            seen.append((total, wb.query("SELECT count(*) AS n FROM postings").item(),
                         wb.query("SELECT count(*) AS n FROM closed_dates").item()))
            time.sleep(0.01)
    wb.finish()
    assert all(n == want and days == want // 10 for want, n, days in seen), seen
    assert _rows(store, "SELECT count(*) FROM postings") == [(80,)]
    store.close()
