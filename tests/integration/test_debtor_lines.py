"""The debtor's line for the per-number caps: the PII number on file, else a stable surrogate —
one reading for the planner (`collect plan`) and the workbench (may I contact now?)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from creditdesk.collections.contact_events import debtor_lines, surrogate_line
from creditdesk.customers.pii import ensure_pii_table, upsert_pii
from creditdesk.store import open_store


def test_no_pii_table_gives_the_surrogates(tmp_path: Path) -> None:
    store = open_store(f"duckdb:///{tmp_path}/b.duckdb")
    assert debtor_lines(store, ["C7", "C8", "C7"]) == {"C7": "+0000000000007",
                                                       "C8": "+0000000000008"}


@pytest.mark.parametrize("n", [3, 120])  # a few (bound parameters) and a day's plan (one pass)
def test_the_number_on_file_else_the_surrogate(tmp_path: Path, n: int) -> None:
    store = open_store(f"duckdb:///{tmp_path}/b.duckdb")
    ensure_pii_table(store)
    ids = [f"C{i:05d}" for i in range(n)]
    upsert_pii(store, pl.DataFrame({"customer_id": ids[:2], "phone": ["+8613912345678", ""]}))
    got = debtor_lines(store, ids)
    assert got[ids[0]] == "+8613912345678"           # on file
    assert got[ids[1]] == surrogate_line(ids[1])      # blank on file: no number
    assert got[ids[-1]] == surrogate_line(ids[-1])    # not on file
    assert len(got) == n
