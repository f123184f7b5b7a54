"""Synthetic names, phone numbers and ID numbers for twin and demo customers.

The twin's borrowers are drawn from public data that carries no personal data, but
the console must show (masked) contact data to be tested honestly. These are made up,
deterministic per customer id, and *shaped* like real ones so masking and validation
see realistic input: mobile numbers in the +86 1xx range and 18-character resident ID
numbers with a valid GB 11643-1999 check character (ISO 7064 MOD 11-2). The seven-
digit block after the prefix is derived from a hash, and the region code of the ID is
a placeholder, so none of them belongs to a real person by construction.

>>> df = synthetic_pii(["C000001"])
>>> row = df.row(0, named=True)
>>> row["phone"].startswith("+861"), len(row["phone"]), len(row["id_number"])
(True, 14, 18)
>>> row["id_number"][17] == id_check_char(row["id_number"][:17])
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import polars as pl

__all__ = ["id_check_char", "synthetic_pii", "write_synthetic_pii"]

_SURNAMES = ("王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡")
_GIVEN = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛",
          "明", "超", "秀英", "霞", "平")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def id_check_char(first17: str) -> str:
    """The GB 11643-1999 check character of an ID number's first 17 digits.

    >>> id_check_char("11010519491231002")
    'X'
    """
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError(f"first17 must be 17 digits; got {first17!r}")
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def _digits(customer_id: str, salt: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{salt}:{customer_id}".encode(),
                                          digest_size=8).digest(), "big")


def synthetic_pii(customer_ids: Sequence[str], birth_years: Sequence[int] | None = None
                  ) -> pl.DataFrame:
    """``customer_id, name, phone, id_number`` for each id (same id, same answer)."""
    rows = []
    for i, cid in enumerate(customer_ids):
        h = _digits(cid, "pii")
        name = _SURNAMES[h % len(_SURNAMES)] + _GIVEN[(h >> 8) % len(_GIVEN)]
        phone = f"+86{139 + (h >> 16) % 50:03d}{(h >> 24) % 10**8:08d}"
        year = birth_years[i] if birth_years is not None else 1960 + (h >> 40) % 45
        month, day = 1 + (h >> 48) % 12, 1 + (h >> 52) % 28
        # region 999999: no real administrative division has it
        first17 = f"999999{year:04d}{month:02d}{day:02d}{(h >> 56) % 1000:03d}"
        rows.append((cid, name, phone, first17 + id_check_char(first17)))
    return pl.DataFrame(rows, schema={"customer_id": pl.String, "name": pl.String,
                                      "phone": pl.String, "id_number": pl.String}, orient="row")


def write_synthetic_pii(store: Any) -> int:
    """Give every customer of the books synthetic contact data (the demo, tests, benchmarks).

    The console then has (masked) data to show; returns the rows written.
    """
    from creditdesk.customers.pii import ensure_pii_table, upsert_pii

    customers = store.read("customers")
    ensure_pii_table(store)
    return upsert_pii(store, synthetic_pii(customers.get_column("customer_id").to_list(),
                                           customers.get_column("birth_year").to_list()))
