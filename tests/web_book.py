"""A small, real book for the console and API tests: twin-built, planned, assigned, staffed.

``build_web_book(url)`` runs the digital twin on DuckDB (400 customers, 72 days: enough
for cases in every early bucket), plans the next business date, puts two collectors on
the roster and assigns the agents' queue to them, writes synthetic PII and creates one
user per role (password :data:`PASSWORD`). For a ``postgresql://`` URL the DuckDB book is
built once per process and copied onto the server (:func:`creditdesk.store.copy.copy_store`).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from creditdesk.collections.assignment import add_collector, assign_cases
from creditdesk.collections.planning import plan_date
from creditdesk.customers.synthetic import write_synthetic_pii
from creditdesk.simulate.driver import run_twin
from creditdesk.simulate.params import load_params
from creditdesk.store import open_store
from creditdesk.store.copy import copy_store
from creditdesk.web.security import ensure_web_tables
from creditdesk.web.users import add_user

START, DAYS = date(2026, 1, 1), 72
LAST = START + timedelta(days=DAYS - 1)
NEXT = LAST + timedelta(days=1)
PASSWORD = "correct horse battery"
USERS = {"admin": "admin", "agent.amy": "collections_agent", "agent.bo": "collections_agent",
         "super.sue": "supervisor", "audit.al": "auditor", "ana.lyst": "risk_analyst"}


@dataclass(frozen=True)
class WebBook:
    url: str
    last_closed: date
    next_date: date
    amy_cases: list[str]
    bo_cases: list[str]


_DUCK: dict[str, Path] = {}


def _duck_book() -> Path:
    """The DuckDB book, built once per process (tests copy it, never write to it)."""
    if "path" not in _DUCK:
        path = Path(tempfile.mkdtemp(prefix="webbook-")) / "book.duckdb"
        store = open_store(f"duckdb:///{path}")
        run_twin(store, customers=400, days=DAYS, seed=5, params=load_params(), start=START,
                 behaviour_model=None)
        plan_date(store, NEXT)
        for agent, cap in (("agent.amy", 25), ("agent.bo", 25)):
            add_collector(store, agent, capacity=cap)
        assign_cases(store, NEXT)
        write_synthetic_pii(store)
        ensure_web_tables(store)
        for name, role in USERS.items():
            add_user(store, name, role, PASSWORD)
        store.close()
        _DUCK["path"] = path
    return _DUCK["path"]


def build_web_book(url: str) -> WebBook:
    """A fresh copy of the book at ``url`` (duckdb:///file or postgresql://.../empty db)."""
    src_path = _duck_book()
    if url.startswith("duckdb://"):
        import shutil

        dst = Path(url.removeprefix("duckdb:///"))
        shutil.copyfile(src_path, dst)
        store = open_store(url)
    else:
        src = open_store(f"duckdb:///{src_path}")
        store = open_store(url)
        copy_store(src, store)
        src.close()
    cases = store.query("SELECT case_id, agent_id FROM case_assignments ORDER BY case_id")
    by = {a: [c for c, x in cases.iter_rows() if x == a] for a in ("agent.amy", "agent.bo")}
    last = store.last_closed()
    store.close()
    assert last == LAST and by["agent.amy"] and by["agent.bo"]
    return WebBook(url, LAST, NEXT, by["agent.amy"], by["agent.bo"])
