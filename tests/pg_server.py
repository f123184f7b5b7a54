"""A real PostgreSQL server for the tests: ``CREDITDESK_TEST_PG`` or a throwaway cluster.

``postgres_url()`` answers the URL of a server the tests may create databases on:

* ``CREDITDESK_TEST_PG`` set (``postgresql://user@host:port/db``, a role allowed to
  ``CREATE DATABASE``): that server; nothing is started or stopped.
* otherwise a cluster of this process, started on first use from the installed
  binaries (``/usr/lib/postgresql/<version>/bin``): ``initdb`` in a temporary folder
  (trust authentication, no fsync: it is thrown away), ``pg_ctl start`` on a free
  local port with its unix socket in that folder, stopped and removed at exit. Each
  pytest-xdist worker is a process of its own, so each has its own cluster.

PostgreSQL refuses to run as root, so as root the cluster runs as the ``postgres``
system user (``runuser``), owning the folder. Without the binaries this fails with
what to install: the PostgreSQL tests are never skipped silently.

``fresh_database(server)`` creates an empty database with a unique name (process id
and a random suffix, so workers sharing one server never meet) and answers its URL;
``drop_database`` removes it, closing what is still connected.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

__all__ = ["drop_database", "fresh_database", "postgres_url", "stop_postgres"]

ENV = "CREDITDESK_TEST_PG"
INSTALL_HINT = ("PostgreSQL server binaries (initdb, pg_ctl) not found under "
                "/usr/lib/postgresql/*/bin: apt-get install postgresql (or set "
                f"{ENV}=postgresql://user@host:port/db to use a running server)")


class _Cluster:
    """A throwaway cluster in a temporary folder, owned by this process."""

    def __init__(self) -> None:
        self.bin = _binaries()
        self.root = Path(tempfile.mkdtemp(prefix="creditdesk-pg-"))
        self.data = self.root / "data"
        self.user = self._owner()
        self.port = 0
        self.url = ""

    def _owner(self) -> str | None:
        """The system user to run as: ``postgres`` when we are root, else ourselves."""
        if os.geteuid() != 0:
            return None
        import pwd

        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError("running as root, and PostgreSQL refuses root: a 'postgres' "
                               "system user is needed (apt-get install postgresql creates "
                               "it)") from None
        os.chown(self.root, pw.pw_uid, pw.pw_gid)
        return "postgres"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                              cwd=self.root, check=False)

    def start(self) -> str:
        res = self._run("initdb", "-D", str(self.data), "--auth=trust", "--username=postgres",
                        "--encoding=UTF8", "--no-locale", "--no-sync")
        if res.returncode:
            raise RuntimeError(f"initdb failed: {res.stderr.strip() or res.stdout.strip()}")
        for _attempt in range(5):  # another process may take the port we found first
            self.port = _free_port()
            opts = (f"-c port={self.port} -c listen_addresses=127.0.0.1 "
                    f"-c unix_socket_directories={self.root} -c fsync=off "
                    "-c synchronous_commit=off -c full_page_writes=off "
                    "-c max_connections=200 -c shared_buffers=32MB")
            res = self._run("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data),
                            "-l", str(self.root / "server.log"), "-o", opts)
            if res.returncode == 0:
                self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
                return self.url
        log = self.root / "server.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else res.stderr
        raise RuntimeError(f"pg_ctl start failed: {tail}")

    def stop(self) -> None:
        if self.data.exists():
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w")
        shutil.rmtree(self.root, ignore_errors=True)


_CLUSTER: _Cluster | None = None


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if not found or not Path(found[-1]).with_name("pg_ctl").exists():
        raise RuntimeError(INSTALL_HINT)
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def postgres_url() -> str:
    """The admin URL of the test server (``CREDITDESK_TEST_PG``, else this process's cluster)."""
    global _CLUSTER
    given = os.environ.get(ENV)
    if given:
        return given
    if _CLUSTER is None:
        cluster = _Cluster()
        try:
            cluster.start()
        except BaseException:
            cluster.stop()
            raise
        _CLUSTER = cluster
        atexit.register(stop_postgres)
    return _CLUSTER.url


def stop_postgres() -> None:
    """Stop and remove this process's cluster, if it started one."""
    global _CLUSTER
    cluster, _CLUSTER = _CLUSTER, None
    if cluster is not None:
        cluster.stop()


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def fresh_database(server: str) -> str:
    """Create an empty database on ``server``; its URL."""
    name = f"cd_test_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    for attempt in range(20):
        try:
            with psycopg.connect(server, autocommit=True, connect_timeout=10) as con:
                con.execute(f'CREATE DATABASE "{name}"')
            return _with_database(server, name)
        except psycopg.errors.ObjectInUse:
            # CREATE DATABASE copies template1 and fails while another session uses it
            # (workers sharing one server): wait and try again
            time.sleep(0.1 * (attempt + 1))
    raise RuntimeError(f"could not create a test database on {server}")


def drop_database(server: str, url: str) -> None:
    """Drop the database of ``url`` (its open connections are closed first)."""
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(server, autocommit=True, connect_timeout=10) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
