"""Shared fixtures."""

from __future__ import annotations

import pytest

from creditdesk.ledger.params import LedgerParams, ledger_params
from creditdesk.products import default_catalogue


@pytest.fixture(scope="session")
def params() -> LedgerParams:
    return ledger_params(default_catalogue())
