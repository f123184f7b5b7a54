"""What every request of the console and the API shares: the configuration and the stores.

One :class:`~creditdesk.store.base.Store` per worker thread (FastAPI runs plain ``def``
routes in a thread pool): a DuckDB store is a cursor on the one shared instance, a
PostgreSQL store its own connection, so requests never share a connection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from creditdesk.store import DEFAULT_URL, open_store
from creditdesk.store.base import Store
from creditdesk.web.jobs import JobRunner
from creditdesk.web.sessions import SessionCache

__all__ = ["Context", "WebConfig"]


@dataclass(frozen=True)
class WebConfig:
    """How ``creditdesk serve`` was started.

    ``profile``: the contact-rules profile the workbench checks against.
    ``decision_model``: the application scoring model folder (default: the shipped one).
    ``results``: a ``simulate compare --json`` output (or a folder of them) for the
    strategy lab. ``secure_cookies``: mark cookies ``Secure`` (behind HTTPS).
    ``session_cache_seconds``: how long a worker may answer a session from memory
    (:class:`~creditdesk.web.sessions.SessionCache`; 0: ask the store every request).
    ``clock``: the time the app believes it is (tests pin it); default: now, UTC.
    """

    store_url: str = DEFAULT_URL
    profile: str = "CN"
    decision_model: Path | None = None
    results: Path | None = None
    secure_cookies: bool = False
    session_cache_seconds: float = 2.0
    clock: Callable[[], datetime] | None = field(default=None, compare=False)

    def now(self) -> datetime:
        return self.clock() if self.clock else datetime.now(UTC)


class Context:
    """The app's shared state: configuration, per-thread stores, long-running jobs."""

    def __init__(self, config: WebConfig) -> None:
        self.config = config
        self._local = threading.local()
        self._lock = threading.Lock()
        self._stores: list[Store] = []
        self.jobs_runner = JobRunner(config.store_url)
        self.sessions = SessionCache(config.session_cache_seconds)

    def store(self) -> Store:
        """This thread's store (opened, and migrated, on first use)."""
        store = getattr(self._local, "store", None)
        if store is None:
            store = open_store(self.config.store_url)
            self._local.store = store
            with self._lock:
                self._stores.append(store)
        return store

    def close(self) -> None:
        with self._lock:
            stores, self._stores = self._stores, []
        for s in stores:
            s.close()
