"""End of day as a background job: one at a time per app, with progress to poll.

Closing dates can take minutes on a large book, longer than an HTTP request should
live. ``start_eod`` runs it on a thread with its own store; ``GET /api/eod/{job}``
reads the progress. A second start while one runs is refused (409): two closers on
one book would race for the same dates (the store's transactions would still keep
the books right, but the second would only fail later).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from creditdesk.errors import CreditdeskError
from creditdesk.store import open_store

__all__ = ["EodJob", "JobConflict", "JobRunner"]


class JobConflict(CreditdeskError):
    """An end of day is already running."""

    exit_code = 6


@dataclass
class EodJob:
    job_id: str
    through: date
    started_by: str
    status: str = "running"  # running, done, failed
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    closed: int = 0
    total: int | None = None
    current: date | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, (date, datetime)) else v)
                for k, v in asdict(self).items()}


class JobRunner:
    """Runs end-of-day jobs on a thread, one at a time."""

    def __init__(self, store_url: str) -> None:
        self.store_url = store_url
        self._lock = threading.Lock()
        self.jobs: dict[str, EodJob] = {}
        self._running: str | None = None

    def start_eod(self, through: date, params: Any, *, user: str) -> EodJob:
        with self._lock:
            if self._running is not None:
                raise JobConflict(f"end of day job {self._running} is still running")
            job = EodJob(uuid.uuid4().hex[:12], through, user)
            self.jobs[job.job_id] = job
            self._running = job.job_id
        threading.Thread(target=self._run, args=(job, params), daemon=True,
                         name=f"eod-{job.job_id}").start()
        return job

    def _run(self, job: EodJob, params: Any) -> None:
        from creditdesk.ledger.eod import run_eod

        def tick(d: date, i: int, total: int) -> None:
            job.current, job.closed, job.total = d, i, total

        store = None
        try:
            store = open_store(self.store_url)
            report = run_eod(store, job.through, params, on_date=tick)
            job.closed = job.total = report.dates_closed
            job.status = "done"
        except Exception as exc:  # the job's answer, read by the status route
            job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            job.finished_at = datetime.now(UTC)
            if store is not None:
                store.close()
            with self._lock:
                self._running = None

    def get(self, job_id: str) -> EodJob | None:
        return self.jobs.get(job_id)

    def wait(self, job_id: str, timeout: float = 60.0) -> EodJob:
        """Block until the job ends (tests, the CLI)."""
        import time

        end = time.monotonic() + timeout
        job = self.jobs[job_id]
        while job.status == "running" and time.monotonic() < end:
            time.sleep(0.02)
        return job
