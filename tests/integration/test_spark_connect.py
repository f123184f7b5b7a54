"""Parity through Spark Connect: DuckDB and a Spark Connect server close the same books.

A module fixture starts a real local Spark Connect server from the jar that
pyspark's pip distribution ships (``spark-submit --class
org.apache.spark.sql.connect.service.SparkConnectServer``, what
``sbin/start-connect-server.sh`` runs in a full Spark download) on a free
port, with this interpreter as its Python workers' (they import
``creditdesk.ledger.kernel`` under ``mapInArrow``). With ``SPARK_REMOTE``
pointing at it, ``spark:///`` stores run on a Connect session; the same end
of day as ``test_parity_spark.py`` must give identical tables.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from parity_helpers import assert_same_books

from creditdesk.store import open_store
from creditdesk.store.spark_store import stop_spark_session

pytestmark = pytest.mark.spark

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
START_TIMEOUT = 180.0
"""Seconds the server may take to accept connections (about 10 on an idle machine)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server and its Python workers (its own process group)."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def spark_connect_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``sc://localhost:<port>`` of a local Spark Connect server running for this module."""
    import pyspark

    spark_home = Path(pyspark.__file__).parent
    port = _free_port()
    log = tmp_path_factory.mktemp("spark-connect") / "server.log"
    # executors run this interpreter: not the resolved symlink, which is the base
    # Python without the venv's packages
    env = {**os.environ, "SPARK_HOME": str(spark_home), "PYSPARK_PYTHON": sys.executable,
           "PYSPARK_DRIVER_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    env.pop("SPARK_REMOTE", None)
    cmd = [str(spark_home / "bin" / "spark-submit"), "--master", "local[2]",
           "--driver-memory", "2g", "--class", SERVER_CLASS,
           "--name", "creditdesk test Spark Connect server",
           "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
           "--conf", f"spark.connect.grpc.binding.port={port}",
           "--conf", "spark.ui.enabled=false",
           # the local session's settings (spark_store._local_session): a Connect
           # session cannot change the server's partitions or parallelism
           "--conf", "spark.sql.shuffle.partitions=2",
           "--conf", "spark.default.parallelism=2",
           "--conf", "spark.sql.adaptive.enabled=false"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _accepts(port):
            if proc.poll() is not None:
                pytest.fail(f"the Spark Connect server exited with {proc.returncode} before "
                            f"accepting connections on port {port}; its log ({log}) ends:\n"
                            + _tail(log))
            if time.monotonic() > deadline:
                pytest.fail(f"the Spark Connect server did not accept connections on port "
                            f"{port} within {START_TIMEOUT:.0f} s; its log ({log}) ends:\n"
                            + _tail(log))
            time.sleep(0.5)
        url = f"sc://localhost:{port}"
        try:
            yield url
        finally:
            stop_spark_session(url)
    finally:
        _stop(proc)


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def test_duckdb_and_spark_connect_close_the_same_books(spark_connect_url, tmp_path,
                                                       monkeypatch):
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    monkeypatch.setenv("SPARK_REMOTE", spark_connect_url)
    lake = f"spark:///{tmp_path}/lake"
    assert isinstance(open_store(lake).spark, ConnectSession)  # not a local session
    assert_same_books(f"duckdb:///{tmp_path}/books.duckdb", lake)
    assert "SPARK_CONNECT_MODE_ENABLED" not in os.environ  # a local session still works
