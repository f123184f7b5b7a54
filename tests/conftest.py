"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from creditdesk.ledger.params import LedgerParams, ledger_params
from creditdesk.products import default_catalogue


@pytest.fixture(scope="session")
def params() -> LedgerParams:
    return ledger_params(default_catalogue())


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A PostgreSQL server for this session (``CREDITDESK_TEST_PG`` or a throwaway cluster).

    Fails, never skips, when there is none to be had: the message says what to install.
    """
    from pg_server import postgres_url, stop_postgres

    try:
        url = postgres_url()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield url
    stop_postgres()


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database of this test's own (dropped after)."""
    from pg_server import drop_database, fresh_database

    url = fresh_database(pg_server)
    yield url
    drop_database(pg_server, url)
