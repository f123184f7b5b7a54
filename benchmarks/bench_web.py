"""Benchmark of the web API and console under a fixed arrival rate (issue 7).

Not a timed test: run by hand, figures recorded in BENCHMARKS.md ("Web API and console").

    .venv/bin/python benchmarks/bench_web.py [--store duckdb|postgres] [--customers 78000]
                                             [--rate 200] [--seconds 30] [--case-rate 5]
                                             [--only 1,2] [--json]

What it does, in one run:

1. The store: the digital twin's book of ``--customers`` customers (78,000 give about
   100,000 accounts) over ``--days`` business dates, the next date planned, 40 collectors
   on the roster with the agents' queue assigned, synthetic personal data, and two users (a
   risk analyst and a supervisor). Built once and cached under ``bench-work/web/`` (git
   ignores it); each run works on a copy, so the decisions it writes never pile up.
2. A real server: ``uvicorn`` in a subprocess on a free loopback port. ``--store duckdb``
   (default): the book's DuckDB file, one worker process (a DuckDB file is opened by one
   process; the app serves requests from a thread pool). ``--store postgres``: a local
   PostgreSQL cluster with durable settings (fsync and synchronous commit on), the book
   copied in once (cached as the cluster's ``book`` database; each run works on a
   ``CREATE DATABASE ... TEMPLATE book`` copy), and ``--workers`` (default 2) processes.
3. A bounded open-loop load generator (asyncio, raw HTTP/1.1 over keep-alive connections,
   so the generator costs little CPU next to the server on the same cores): requests are
   *scheduled* at a fixed rate and sent at their time whatever the earlier ones are doing;
   latency runs from the scheduled time to the last byte of the answer, so a stalled
   server shows in the figures instead of slowing the generator down (no coordinated
   omission). At most ``--cap`` requests are in flight; a request due while the cap is
   reached is not sent and counted as *shed*. Each phase has a warm-up (not counted).

Phases (each reports p50/p95/p99/max, errors, shed, and the server's CPU per request):

* ``GET /api/health`` at ``--rate``: the baseline, the same stack with a trivial read;
* ``POST /api/decisions`` at ``--rate``: a new application each time (Taiwan rows, an
  income), so every request scores, checks the id and writes a row;
* ``GET /api/health`` at ``--case-rate``: the baseline of the case phases;
* ``GET /cases/{id}`` (the console's case page, HTML) and ``GET /api/cases/{id}`` (the
  case file as JSON) at ``--case-rate``, over random open cases, as a supervisor.

Targets (issue 7): decisions p99 <= 20 ms at 200 requests/s; the case page p95 <= 100 ms
with 100,000 accounts in the store. The machine's load average is printed with the
results: on a shared machine compare the ratios to the health baseline of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

START = date(2026, 1, 1)
PASSWORD = "correct horse battery"
USERS = {"ana.lyst": "risk_analyst", "super.sue": "supervisor"}
COLLECTORS = 40
WARMUP_S = 3.0  # seconds of each phase at its rate before the measured part
_MEASURED = 1_000_000  # request numbers from here on are the measured part's
STORE_ENV = "BENCH_WEB_STORE"
GC_ENV = "BENCH_WEB_GC_FREEZE"


# -- the app, as the server subprocess builds it ----------------------------------------------

def __getattr__(name: str) -> Any:  # ``--http bench_web:NoDelayHttpToolsProtocol``
    if name in ("NoDelayH11Protocol", "NoDelayHttpToolsProtocol"):  # creditdesk serve's
        from creditdesk.web import server

        return getattr(server, name)
    raise AttributeError(name)


def server_app() -> object:
    """The uvicorn factory: the app on the store named in ``BENCH_WEB_STORE``."""
    from creditdesk.web.app import create_app
    from creditdesk.web.context import WebConfig

    app = create_app(WebConfig(store_url=os.environ[STORE_ENV]))
    if os.environ.get(GC_ENV):
        # what a server could do at start: load the model now, then move everything
        # alive (some 220,000 objects: pandas, LightGBM, the app) out of the collector's
        # reach, so a full collection no longer stops every request for ~110 ms
        import gc

        from creditdesk.risk.realtime import load_scorer

        app.state.decision_scorer = load_scorer()
        gc.collect()
        gc.freeze()
    return app


# -- the store ----------------------------------------------------------------------------------

def build_store(path: Path, customers: int, days: int, seed: int = 11) -> dict[str, Any]:
    """The twin's book, planned, staffed, with PII and users; returns its facts."""
    from creditdesk.collections.assignment import add_collector, assign_cases
    from creditdesk.collections.planning import plan_date
    from creditdesk.customers.synthetic import write_synthetic_pii
    from creditdesk.simulate.driver import run_twin
    from creditdesk.simulate.params import load_params
    from creditdesk.store import open_store
    from creditdesk.web.security import ensure_web_tables
    from creditdesk.web.users import add_user

    t0 = time.perf_counter()
    tmp = path.with_suffix(".building.duckdb")
    tmp.unlink(missing_ok=True)
    store = open_store(f"duckdb:///{tmp}")

    def progress(d: date, i: int, n: int) -> None:
        if i % 10 == 0 or i == n:
            print(f"  twin: {i}/{n} dates ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)

    run_twin(store, customers=customers, days=days, seed=seed, params=load_params(),
             start=START, behaviour_model=None, on_day=progress)
    next_date = START + timedelta(days=days)
    plan_date(store, next_date)
    for i in range(COLLECTORS):
        add_collector(store, f"agent.{i:03d}", capacity=250)
    assign_cases(store, next_date)
    write_synthetic_pii(store)
    ensure_web_tables(store)
    for name, role in USERS.items():
        add_user(store, name, role, PASSWORD)
    facts = store_facts(store)
    store.close()
    tmp.rename(path)
    facts["build_s"] = round(time.perf_counter() - t0, 1)
    return facts


def store_facts(store: Any) -> dict[str, Any]:
    def count(sql: str) -> int:
        return int(store.execute(sql)[0][0])

    return {"customers": count("SELECT count(*) FROM customers"),
            "accounts": count("SELECT count(*) FROM accounts"),
            "cases": count("SELECT count(*) FROM cases"),
            "open_cases": count("SELECT count(*) FROM cases WHERE status = 'open'"),
            "last_closed": str(store.last_closed())}


def cached_store(cache: Path, customers: int, days: int) -> tuple[Path, dict[str, Any]]:
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"twin-{customers}c-{days}d.duckdb"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        return path, json.loads(meta.read_text())
    print(f"building the store ({customers:,} customers, {days} dates) in {path} ...",
          file=sys.stderr)
    facts = build_store(path, customers, days)
    meta.write_text(json.dumps(facts, indent=2))
    return path, facts


class PgCluster:
    """A local PostgreSQL cluster for the benchmark, durable settings (fsync and synchronous
    commit on, as in production), its data folder kept under the cache so the copied book
    is reused. As root it runs as the ``postgres`` system user (PostgreSQL refuses root)."""

    def __init__(self, data: Path) -> None:
        import glob

        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found:
            raise RuntimeError("PostgreSQL binaries not found: apt-get install postgresql")
        self.bin = Path(found[-1]).parent
        self.data = data
        self.sock = Path(tempfile.mkdtemp(prefix="bench-web-pg-"))
        self.user = "postgres" if os.geteuid() == 0 else None
        self.port = 0

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
        if check and res.returncode:
            raise RuntimeError(f"{args[0]} failed: {res.stderr.strip() or res.stdout.strip()}")
        return res

    def _chown(self, path: Path) -> None:
        if self.user:
            import pwd

            pw = pwd.getpwnam(self.user)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def start(self) -> str:
        """Start the cluster (initdb first when the folder is new); the admin URL."""
        self._chown(self.sock)
        if not (self.data / "PG_VERSION").exists():
            self.data.mkdir(parents=True, exist_ok=True)
            self._chown(self.data)
            self._run("initdb", "-D", str(self.data), "--auth=trust", "--username=postgres",
                      "--encoding=UTF8", "--no-locale")
        self.port = free_port()
        opts = (f"-c port={self.port} -c listen_addresses=127.0.0.1 "
                f"-c unix_socket_directories={self.sock} -c max_connections=300 "
                "-c shared_buffers=256MB")
        self._run("pg_ctl", "start", "-w", "-t", "120", "-D", str(self.data), "-l",
                  str(self.sock / "server.log"), "-o", opts)
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w", check=False)
        shutil.rmtree(self.sock, ignore_errors=True)


def pg_database(admin: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(admin)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))


def pg_book(cluster: PgCluster, admin: str, source: Path) -> str:
    """The book database in the cluster, copied from the DuckDB book once."""
    import psycopg

    from creditdesk.store import open_store
    from creditdesk.store.copy import copy_store

    with psycopg.connect(admin, autocommit=True) as con:
        for (name,) in con.execute("SELECT datname FROM pg_database WHERE datname LIKE "
                                   "'run\\_%' OR datname = 'book_building'").fetchall():
            con.execute(f"DROP DATABASE {name} WITH (FORCE)")  # left by an interrupted run
        exists = con.execute("SELECT 1 FROM pg_database WHERE datname = 'book'").fetchone()
        if exists:
            return pg_database(admin, "book")
        con.execute("CREATE DATABASE book_building")
    url = pg_database(admin, "book_building")
    print("copying the book into PostgreSQL (once) ...", file=sys.stderr)
    src, dst = open_store(f"duckdb:///{source}"), open_store(url)
    copy_store(src, dst)
    src.close()
    dst.close()
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute("ALTER DATABASE book_building RENAME TO book")
    return pg_database(admin, "book")


def pg_run_database(admin: str, run: str) -> str:
    """A fresh copy of the book for this run (``CREATE DATABASE ... TEMPLATE book``)."""
    import psycopg

    with psycopg.connect(admin, autocommit=True) as con:
        con.execute(f"CREATE DATABASE run_{run} TEMPLATE book")
    return pg_database(admin, f"run_{run}")


def pg_drop(admin: str, url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# -- the server -----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(url: str, port: int, workers: int, nodelay: bool, gc_freeze: bool,
                 h11: bool = False) -> subprocess.Popen[bytes]:
    env = {**os.environ, STORE_ENV: url, GC_ENV: "1" if gc_freeze else ""}
    cmd = [sys.executable, "-m", "uvicorn", "bench_web:server_app", "--factory",
           "--app-dir", str(Path(__file__).resolve().parent), "--host", "127.0.0.1",
           "--port", str(port), "--workers", str(workers), "--no-access-log",
           "--log-level", "warning"]
    if h11:  # uvicorn's pure-Python parser and asyncio's loop, as before 2026-11-29
        cmd += ["--loop", "asyncio"]
        cmd += ["--http", "bench_web:NoDelayH11Protocol"] if nodelay else ["--http", "h11"]
    else:  # what ``creditdesk serve`` runs: httptools and uvloop
        cmd += ["--loop", "uvloop"]
        cmd += ["--http", "bench_web:NoDelayHttpToolsProtocol"] if nodelay \
            else ["--http", "httptools"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True)
    deadline = time.monotonic() + 120
    import httpx

    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.terminate()
    raise RuntimeError("the server did not answer /api/health within 120 s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server and its workers (its own process group): TERM, then KILL."""
    import signal

    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 30)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def cpu_seconds(*roots: int) -> float:
    """User + system CPU seconds of processes and all their descendants (live ones, and
    the reaped ones their parents counted), from /proc."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = (int(fields[1]), sum(int(v) for v in fields[11:15]))
    total, todo, seen = 0.0, list(roots), set()
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in stats:
            continue
        seen.add(pid)
        total += stats[pid][1]
        todo.extend(p for p, (ppid, _) in stats.items() if ppid == pid)
    return total / os.sysconf("SC_CLK_TCK")


def login(port: int, username: str) -> tuple[str, str]:
    """(session cookie, CSRF token) for ``username``."""
    import httpx

    r = httpx.post(f"http://127.0.0.1:{port}/api/session",
                   json={"username": username, "password": PASSWORD}, timeout=30)
    r.raise_for_status()
    return r.cookies["creditdesk_session"], r.json()["csrf_token"]


# -- the load generator ----------------------------------------------------------------------------

class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer


class Http:
    """HTTP/1.1 keep-alive connections to one server; at most ``cap`` open."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[_Conn] = []

    async def request(self, raw: bytes) -> tuple[int, int]:
        """Send one request (complete bytes); answers (status, body length).

        An idle connection the server has closed meanwhile (uvicorn drops keep-alive
        connections after 5 s) is replaced once, before anything was read from it.
        """
        reused = bool(self.idle)
        conn = self.idle.pop() if reused else _Conn(
            *await asyncio.open_connection("127.0.0.1", self.port))
        try:
            conn.writer.write(raw)
            status_line = await conn.reader.readline()
        except (ConnectionError, OSError):
            if not reused:
                raise
            status_line = b""
        if not status_line and reused:
            conn.writer.close()
            return await self.request_new(raw)
        return await self._answer(conn, status_line)

    async def request_new(self, raw: bytes) -> tuple[int, int]:
        conn = _Conn(*await asyncio.open_connection("127.0.0.1", self.port))
        conn.writer.write(raw)
        return await self._answer(conn, await conn.reader.readline())

    async def _answer(self, conn: _Conn, status_line: bytes) -> tuple[int, int]:
        try:
            status = int(status_line.split()[1])
            length, close = 0, False
            while True:
                line = await conn.reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
                elif name == b"transfer-encoding":
                    raise RuntimeError("chunked answers are not expected here")
            await conn.reader.readexactly(length)
        except BaseException:
            conn.writer.close()
            raise
        if close:
            conn.writer.close()
        else:
            self.idle.append(conn)
        return status, length

    def close(self) -> None:
        for c in self.idle:
            c.writer.close()
        self.idle.clear()


def raw_request(method: str, path: str, port: int, *, cookie: str | None = None,
                csrf: str | None = None, body: bytes | None = None) -> bytes:
    head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Accept: */*"]
    if cookie:
        head.append(f"Cookie: creditdesk_session={cookie}")
    if csrf:
        head.append(f"X-CSRF-Token: {csrf}")
    if body is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + (body or b"")


@dataclass
class PhaseResult:
    name: str
    rate: float
    seconds: float
    scheduled: int
    ok: int = 0
    errors: int = 0
    shed: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    mean_ms: float = 0.0
    late_send_p99_ms: float = 0.0
    server_cpu_ms_per_req: float = 0.0
    load_before: float = 0.0
    load_after: float = 0.0


async def _phase(http: Http, requests: Callable[[int], bytes], rate: float, seconds: float,
                 cap: int, expect: int) -> tuple[list[float], list[float], Counter[str], int]:
    loop = asyncio.get_running_loop()
    n = round(rate * seconds)
    latencies: list[float] = []
    send_lag: list[float] = []
    statuses: Counter[str] = Counter()
    shed = 0
    in_flight = 0
    tasks: set[asyncio.Task[None]] = set()

    async def one(due: float, raw: bytes) -> None:
        nonlocal in_flight
        send_lag.append(loop.time() - due)
        try:
            status, _ = await asyncio.wait_for(http.request(raw), timeout=30)
            statuses[str(status)] += 1
        except Exception as exc:
            statuses[type(exc).__name__] += 1
            status = 0
        finally:
            in_flight -= 1
        if status == expect:
            latencies.append(loop.time() - due)

    t0 = loop.time() + 0.05
    for i in range(n):
        due = t0 + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if in_flight >= cap:
            shed += 1
            continue
        in_flight += 1
        task = asyncio.create_task(one(due, requests(i)))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    while tasks:
        await asyncio.gather(*list(tasks))
    return latencies, send_lag, statuses, shed


def run_phase(name: str, port: int, server_pids: list[int], requests: Callable[[int], bytes], *,
              rate: float, seconds: float, cap: int, expect: int) -> PhaseResult:
    """Warm up, then one measured phase at ``rate`` for ``seconds``."""
    import numpy as np

    async def go() -> tuple[Any, ...]:
        http = Http(port)
        try:
            await _phase(http, requests, rate, WARMUP_S, cap, expect)
            cpu0 = cpu_seconds(*server_pids)
            out = await _phase(http, lambda i: requests(i + _MEASURED), rate, seconds, cap,
                               expect)
            return (*out, cpu_seconds(*server_pids) - cpu0)
        finally:
            http.close()

    load_before = os.getloadavg()[0]
    latencies, lag, statuses, shed, cpu = asyncio.run(go())
    res = PhaseResult(name=name, rate=rate, seconds=seconds, scheduled=round(rate * seconds),
                      shed=shed, statuses=dict(statuses), load_before=round(load_before, 2),
                      load_after=round(os.getloadavg()[0], 2))
    res.ok = len(latencies)
    res.errors = res.scheduled - shed - res.ok
    if latencies:
        ms = np.asarray(latencies) * 1000
        res.p50_ms, res.p95_ms, res.p99_ms = (round(float(np.percentile(ms, q)), 2)
                                              for q in (50, 95, 99))
        res.max_ms = round(float(ms.max()), 2)
        res.mean_ms = round(float(ms.mean()), 2)
        res.late_send_p99_ms = round(float(np.percentile(np.asarray(lag) * 1000, 99)), 2)
    sent = res.scheduled - shed
    res.server_cpu_ms_per_req = round(cpu * 1000 / max(sent, 1), 3)
    return res


# -- the run -------------------------------------------------------------------------------------------

def decision_bodies(n: int, seed: int, run: str) -> list[bytes]:
    """``n`` distinct applications (Taiwan rows with replacement, random incomes)."""
    from creditdesk.datasets import taiwan_credit_default
    from creditdesk.risk.realtime import load_scorer

    features = list(load_scorer().features)
    frame = taiwan_credit_default()[features]
    rng = random.Random(seed)
    rows = frame.to_dict("records")
    out = []
    for i in range(n):
        row = {k: (int(v) if float(v).is_integer() else float(v))
               for k, v in rows[rng.randrange(len(rows))].items()}
        body = {"application_id": f"bench-{run}-{i}", "features": row,
                "income": rng.randrange(300_000, 6_000_000)}
        out.append(json.dumps(body, separators=(",", ":")).encode())
    return out


def fsync_probe(folder: Path, n: int = 200) -> dict[str, float]:
    """Milliseconds an ``fsync`` of a 4 KiB append takes on the store's disk: the floor
    under any durable commit (DuckDB's and PostgreSQL's alike)."""
    import numpy as np

    path = folder / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    times = []
    try:
        for _ in range(n):
            os.write(fd, b"x" * 4096)
            t = time.perf_counter()
            os.fsync(fd)
            times.append((time.perf_counter() - t) * 1000)
            time.sleep(0.005)
    finally:
        os.close(fd)
        path.unlink()
    return {f"p{q}": round(float(np.percentile(times, q)), 2) for q in (50, 95, 99)}


def machine() -> dict[str, Any]:
    from machine import cpu_model

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=ROOT).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, cwd=ROOT).stdout.strip())
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
            "commit": commit + (" (+ uncommitted changes in the tree)" if dirty else ""),
            "uptime": uptime, "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=78_000)
    ap.add_argument("--days", type=int, default=72)
    ap.add_argument("--rate", type=float, default=200.0, help="decisions per second")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--case-rate", type=float, default=5.0, help="case pages per second")
    ap.add_argument("--case-seconds", type=float, default=30.0)
    ap.add_argument("--cap", type=int, default=64, help="most requests in flight")
    ap.add_argument("--store", choices=("duckdb", "postgres"), default="duckdb",
                    help="duckdb: the book's file, one worker; postgres: a local durable "
                         "cluster with the book copied in, several workers")
    ap.add_argument("--workers", type=int, default=0, help="default: 1 (duckdb), 2 (postgres)")
    ap.add_argument("--no-nodelay", action="store_true",
                    help="with several workers, serve with uvicorn's plain h11 protocol (no "
                         "TCP_NODELAY: +40 ms an answer, see creditdesk.web.server.NoDelayH11Protocol)")
    ap.add_argument("--h11", action="store_true",
                    help="serve with uvicorn's pure-Python h11 parser and asyncio's loop "
                         "(before 2026-11-29) instead of httptools and uvloop")
    ap.add_argument("--gc-freeze", action="store_true",
                    help="load the model at start and gc.freeze() the heap (see server_app)")
    ap.add_argument("--cache", type=Path, default=ROOT / "bench-work" / "web")
    ap.add_argument("--only", default="", help="comma-separated phase numbers (1-5) to run")
    ap.add_argument("--build-only", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    workers = args.workers or (1 if args.store == "duckdb" else 2)
    if args.store == "duckdb" and workers != 1:
        ap.error("a DuckDB file is opened by one process: --workers 1")

    cached, facts = cached_store(args.cache, args.customers, args.days)
    cluster: PgCluster | None = None
    admin = ""
    if args.store == "postgres":
        cluster = PgCluster(args.cache / f"pg-{args.customers}c-{args.days}d")
        admin = cluster.start()
        try:
            pg_book(cluster, admin, cached)
        except BaseException:
            cluster.stop()
            raise
    try:
        if args.build_only:
            print(json.dumps(facts, indent=2))
            return
        work = Path(tempfile.mkdtemp(prefix="bench-web-", dir=args.cache))
        try:
            facts_run, results = run(args, cached, facts, work, cluster, admin, workers)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    finally:
        if cluster is not None:
            cluster.stop()
    if args.json:
        print(json.dumps({**facts_run, "phases": [asdict(r) for r in results]}, indent=2))
        return
    print_markdown(facts_run, results)


def run(args: argparse.Namespace, cached: Path, facts: dict[str, Any], work: Path,
        cluster: PgCluster | None, admin: str, workers: int
        ) -> tuple[dict[str, Any], list[PhaseResult]]:
    """One run on a fresh copy of the book: the server, the phases, the facts."""
    from creditdesk.store import open_store

    run_id = time.strftime("%H%M%S")
    if cluster is None:
        path = work / "store.duckdb"
        shutil.copyfile(cached, path)
        url = f"duckdb:///{path}"
    else:
        url = pg_run_database(admin, run_id)
    try:
        facts_run, results = _serve_and_measure(args, url, facts, work, cluster, workers,
                                                run_id)
        store = open_store(url)
        facts_run["decisions_written"] = int(str(store.execute(
            "SELECT count(*) FROM decisions")[0][0])) if store.has_table("decisions") else 0
        store.close()
    finally:
        if cluster is not None:
            pg_drop(admin, url)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    facts_run["generator_cpu_s"] = round(usage.ru_utime + usage.ru_stime, 1)
    facts_run["machine"]["uptime_after"] = subprocess.run(
        ["uptime"], capture_output=True, text=True).stdout.strip()
    return facts_run, results


def _serve_and_measure(args: argparse.Namespace, url: str, facts: dict[str, Any], work: Path,
                       cluster: PgCluster | None, workers: int, run_id: str
                       ) -> tuple[dict[str, Any], list[PhaseResult]]:
    from creditdesk.store import open_store

    store = open_store(url)
    case_ids = [r[0] for r in store.execute("SELECT case_id FROM cases WHERE status = 'open'")]
    store.close()
    warm = round(args.rate * WARMUP_S)
    bodies = decision_bodies(warm + round(args.rate * args.seconds), seed=7, run=run_id)
    facts_run: dict[str, Any] = {"machine": machine(), "store": facts, "args": {
        k: str(v) for k, v in vars(args).items()}, "backend": args.store, "workers": workers}
    facts_run["fsync_ms"] = fsync_probe(work)
    port = free_port()
    nodelay = workers > 1 and not args.no_nodelay
    facts_run["tcp_nodelay_fix"] = nodelay
    facts_run["gc_freeze"] = args.gc_freeze
    proc = start_server(url, port, workers, nodelay, args.gc_freeze, args.h11)
    facts_run["http"] = "h11 + asyncio" if args.h11 else "httptools + uvloop"
    server_pids = [proc.pid] + ([cluster.postmaster_pid()] if cluster else [])
    results: list[PhaseResult] = []
    try:
        ana_cookie, ana_csrf = login(port, "ana.lyst")
        sue_cookie, _ = login(port, "super.sue")
        health = raw_request("GET", "/api/health", port)
        rng = random.Random(3)
        picks = [rng.choice(case_ids) for _ in range(int(args.case_rate * args.case_seconds)
                                                     + 1000)]

        def decide(i: int) -> bytes:  # every request a new application
            body = bodies[i if i < _MEASURED else warm + i - _MEASURED]
            return raw_request("POST", "/api/decisions", port, cookie=ana_cookie,
                               csrf=ana_csrf, body=body)

        def page(prefix: str) -> Callable[[int], bytes]:
            return lambda i: raw_request("GET", f"{prefix}/{picks[i % len(picks)]}", port,
                                         cookie=sue_cookie)  # random open cases

        plan = [
            ("GET /api/health", lambda i: health, args.rate, args.seconds, 200),
            ("POST /api/decisions", decide, args.rate, args.seconds, 201),
            ("GET /api/health (case rate)", lambda i: health, args.case_rate,
             args.case_seconds, 200),
            ("GET /cases/{id} (console page)", page("/cases"), args.case_rate,
             args.case_seconds, 200),
            ("GET /api/cases/{id}", page("/api/cases"), args.case_rate, args.case_seconds,
             200),
        ]
        chosen = {int(x) for x in args.only.split(",") if x.strip()}
        for k, (name, make, rate, seconds, expect) in enumerate(plan, start=1):
            if chosen and k not in chosen:
                continue
            print(f"phase {name}: {rate:g}/s for {seconds:g} s ...", file=sys.stderr)
            res = run_phase(name, port, server_pids, make, rate=rate, seconds=seconds,
                            cap=args.cap, expect=expect)
            results.append(res)
            print(f"  p50 {res.p50_ms} p95 {res.p95_ms} p99 {res.p99_ms} max {res.max_ms} ms; "
                  f"ok {res.ok} errors {res.errors} shed {res.shed} {res.statuses}",
                  file=sys.stderr)
    finally:
        stop_server(proc)
    return facts_run, results


def print_markdown(facts: dict[str, Any], results: list[PhaseResult]) -> None:
    m, s = facts["machine"], facts["store"]
    print(f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}; commit {m['commit']}; "
          f"started {m['started']}.\nLoad: `{m['uptime']}` before, `{m['uptime_after']}` after.")
    fix = " with TCP_NODELAY set per connection" if facts["tcp_nodelay_fix"] else ""
    fix += ", heap frozen at start (gc.freeze)" if facts["gc_freeze"] else ""
    print(f"Backend: {facts['backend']}, {facts['workers']} uvicorn worker(s){fix}; server CPU "
          "counts uvicorn's processes (and PostgreSQL's).")
    print(f"Store: {s['customers']:,} customers, {s['accounts']:,} accounts, "
          f"{s['open_cases']:,} open cases (last closed {s['last_closed']}).\n")
    print("| phase | rate/s | sent | ok | errors | shed | p50 ms | p95 ms | p99 ms | max ms "
          "| server CPU ms/req | load before/after |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        print(f"| {r.name} | {r.rate:g} | {r.scheduled - r.shed} | {r.ok} | {r.errors} | "
              f"{r.shed} | {r.p50_ms} | {r.p95_ms} | {r.p99_ms} | {r.max_ms} | "
              f"{r.server_cpu_ms_per_req} | {r.load_before} / {r.load_after} |")
    base = {r.rate: r for r in results if r.name.startswith("GET /api/health")}
    print()
    for r in results:
        b = base.get(r.rate)
        if b is not None and b is not r and b.p99_ms:
            print(f"- {r.name}: p95 {r.p95_ms / b.p95_ms:.1f}x, p99 {r.p99_ms / b.p99_ms:.1f}x "
                  "the health baseline at the same rate")
    print(f"- fsync of 4 KiB on the store's disk before the run: {facts['fsync_ms']} ms")
    print(f"- decisions written: {facts['decisions_written']:,}; "
          f"generator CPU {facts['generator_cpu_s']} s")


if __name__ == "__main__":
    main()
