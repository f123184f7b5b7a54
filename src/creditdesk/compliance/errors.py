"""Errors of the compliance package.

Both are :class:`~creditdesk.errors.BadInputError` subclasses, so the CLI maps them
to exit code 2 and the web layer to a 4xx: a malformed request or profile is the
caller's to fix, and nothing is written when one is raised.
"""

from __future__ import annotations

from creditdesk.errors import BadInputError

__all__ = ["ComplianceInputError", "ProfileError"]


class ComplianceInputError(BadInputError):
    """A contact request, history event or customer state that cannot be checked.

    The message starts with the field path (``history[3].ts``) and quotes the value,
    because an operator fixing a feed needs both.

    >>> err = ComplianceInputError.for_field("proposed.channel", "fax", "unknown channel")
    >>> str(err)
    "proposed.channel: unknown channel (got 'fax')"
    >>> err.field, err.value
    ('proposed.channel', 'fax')
    """

    @classmethod
    def for_field(cls, field: str, value: object, problem: str,
                  row: int | None = None) -> ComplianceInputError:
        """Build the error with the conventional ``field: problem (got value)`` message."""
        return cls(f"{field}: {problem} (got {value!r})", row=row, field=field, value=value)

    def with_prefix(self, prefix: str, row: int | None = None) -> ComplianceInputError:
        """The same error re-anchored under ``prefix`` (``history[3].`` + ``ts``).

        >>> ComplianceInputError.for_field("ts", "x", "bad").with_prefix("history[3].", 3).field
        'history[3].ts'
        """
        field = prefix + (self.field or "")
        message = prefix + str(self)
        return type(self)(message, row=row if row is not None else self.row, field=field,
                          value=self.value)


class ProfileError(ComplianceInputError):
    """A rule profile (built-in or a lender's overlay) that does not validate."""
