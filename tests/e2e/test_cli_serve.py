"""``creditdesk serve`` as an operator runs it: a real process on a loopback port.

It serves with uvicorn's httptools protocol and ``TCP_NODELAY`` on every connection
(``creditdesk.web.server.NoDelayHttpToolsProtocol``); the test checks that it answers,
keeps a connection alive across requests, and stops cleanly.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from creditdesk.web.server import _no_delay


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_on_a_kept_alive_connection(tmp_path: Path) -> None:
    port = _free_port()
    exe = Path(sys.executable).with_name("creditdesk")
    proc = subprocess.Popen([str(exe), "serve", "--store", f"duckdb:///{tmp_path}/s.duckdb",
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            while True:
                try:
                    first = client.get("/api/health")
                    break
                except httpx.TransportError:
                    assert proc.poll() is None, proc.stdout.read() if proc.stdout else b""
                    assert time.monotonic() < deadline, "the server did not start in 90 s"
                    time.sleep(0.3)
            assert first.status_code == 200
            for _ in range(5):  # the same connection: keep-alive works
                assert client.get("/api/health").status_code == 200
            assert client.get("/api/no-such-thing").status_code == 404
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode in (0, -15)


def test_no_delay_is_set_on_the_accepted_socket() -> None:
    """The option the protocol sets, on a real TCP socket."""
    with socket.create_server(("127.0.0.1", 0)) as srv, \
            socket.create_connection(srv.getsockname()) as client:
        conn, _ = srv.accept()
        with conn:  # what uvicorn's transport answers for "socket"
            class Transport:
                def get_extra_info(self, name: str) -> socket.socket:
                    return conn

            assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
            _no_delay(Transport())
            assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
            client.sendall(b"x")  # the connection still works with the option set
            assert conn.recv(1) == b"x"
