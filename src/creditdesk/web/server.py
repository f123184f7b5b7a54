"""Run the app under uvicorn, from the CLI's options (``creditdesk serve``).

Several worker processes need a store several processes can open: PostgreSQL. A
DuckDB file is opened by one process at a time, so a DuckDB store runs one worker
(with a thread pool, which DuckDB handles).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from creditdesk.errors import BadInputError
from creditdesk.store import DEFAULT_URL
from creditdesk.web.context import WebConfig

__all__ = ["NoDelayH11Protocol", "NoDelayHttpToolsProtocol", "app_from_env", "run_server"]

_ENV = "CREDITDESK_SERVE_CONFIG"


def _no_delay(transport: Any) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with ``TCP_NODELAY`` on every accepted connection.

    With ``--workers`` > 1 uvicorn binds the listening socket with protocol number 0, the
    accepted sockets inherit it and asyncio then leaves Nagle's algorithm on: the body of
    an answer, written after its headers, waits for the client's delayed ACK — about
    40 ms added to every answer (measured in ``benchmarks/bench_web.py``: a bare app at
    100/s, p50 43.6 ms with two workers, 2.2 ms with this protocol).
    """

    def connection_made(self, transport: Any) -> None:
        _no_delay(transport)
        super().connection_made(transport)


class NoDelayHttpToolsProtocol(HttpToolsProtocol):
    """The same for uvicorn's httptools protocol (a C HTTP parser), which
    ``creditdesk serve`` uses: it costs less CPU a request than the pure-Python h11, which
    shows in the tail at a few hundred requests a second (``benchmarks/bench_web.py``)."""

    def connection_made(self, transport: Any) -> None:
        _no_delay(transport)
        super().connection_made(transport)


def _config_from_env() -> WebConfig:
    import json

    raw = json.loads(os.environ[_ENV])
    return WebConfig(store_url=raw["store_url"], profile=raw["profile"],
                     decision_model=Path(raw["decision_model"]) if raw["decision_model"]
                     else None, results=Path(raw["results"]) if raw["results"] else None,
                     secure_cookies=raw["secure_cookies"])


def app_from_env() -> object:
    """The app factory uvicorn's workers call (configuration passed in the environment)."""
    from creditdesk.web.app import create_app

    return create_app(_config_from_env())


def run_server(store: str | None, *, host: str, port: int, profile: str,
               decision_model: Path | None, results: Path | None, secure_cookies: bool,
               workers: int) -> None:
    """Validate the options, then serve until interrupted."""
    import json

    import uvicorn

    from creditdesk.compliance import load_profile
    from creditdesk.config import settings
    from creditdesk.store import parse_url

    url = store or settings().store or DEFAULT_URL
    scheme, _ = parse_url(url)
    if scheme == "spark":
        raise BadInputError("the console serves a duckdb:// or postgresql:// store; "
                            f"got {url!r}", field="store", value=url)
    if workers > 1 and scheme == "duckdb":
        raise BadInputError("workers must be 1 for a DuckDB store (one process opens the "
                            f"file); got {workers}", field="workers", value=workers)
    load_profile(profile)  # refuse an unknown profile before listening
    for name, path in (("decision_model", decision_model), ("results", results)):
        if path is not None and not path.exists():
            raise BadInputError(f"{name} must be an existing path; got {str(path)!r}",
                                field=name, value=str(path))
    os.environ[_ENV] = json.dumps({"store_url": url, "profile": profile,
                                   "decision_model": str(decision_model or ""),
                                   "results": str(results or ""),
                                   "secure_cookies": secure_cookies})
    # httptools parses HTTP in C, uvloop runs the event loop in C ("auto" takes it)
    uvicorn.run("creditdesk.web.server:app_from_env", factory=True, host=host, port=port,
                workers=workers, log_level="info", http=NoDelayHttpToolsProtocol, loop="auto")
