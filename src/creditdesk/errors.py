"""Domain errors. The CLI maps them to exit codes, the web layer to HTTP statuses."""

from __future__ import annotations

__all__ = [
    "BadInputError",
    "CatalogueError",
    "ClosedDateError",
    "CreditdeskError",
    "NotFoundError",
    "StoreError",
]


class CreditdeskError(Exception):
    """Base of every error creditdesk raises on purpose."""

    exit_code = 1


class BadInputError(CreditdeskError):
    """Input that cannot be accepted; the message names the row, field and value."""

    exit_code = 2

    def __init__(self, message: str, *, row: int | None = None, field: str | None = None,
                 value: object = None) -> None:
        self.row = row
        self.field = field
        self.value = value
        super().__init__(message)


class CatalogueError(BadInputError):
    """A product catalogue that does not validate; the message names the key."""


class ClosedDateError(BadInputError):
    """A transaction dated on or before the last closed business date."""


class NotFoundError(CreditdeskError):
    """An account, customer or other id that does not exist."""

    exit_code = 3


class StoreError(CreditdeskError):
    """The store URL or its schema is not usable."""

    exit_code = 4
