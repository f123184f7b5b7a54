"""The console's security errors; :func:`creditdesk.web.deps.install_security` maps them to HTTP.

They are domain errors like the rest of :mod:`creditdesk.errors` (so the CLI's
``handle_errors`` reports them too) but live here because only the console has
sessions and permissions.

>>> AuthError("bad username or password").status_code
401
>>> issubclass(CsrfError, ForbiddenError)
True
"""

from __future__ import annotations

from creditdesk.errors import CreditdeskError

__all__ = ["AuthError", "CsrfError", "ForbiddenError", "LoginRequired", "TooManyAttempts",
           "WebError"]


class WebError(CreditdeskError):
    """Base of the console's security errors; ``status_code`` is the HTTP answer."""

    status_code = 500
    exit_code = 5


class AuthError(WebError):
    """No valid session, or a username/password that does not verify (401)."""

    status_code = 401


class ForbiddenError(WebError):
    """A signed-in user whose role lacks the permission (403)."""

    status_code = 403


class CsrfError(ForbiddenError):
    """An unsafe request without the session's CSRF token (403)."""


class LoginRequired(WebError):
    """A console page asked for without a session: the app redirects to ``/login`` (303)."""

    status_code = 303

    def __init__(self, message: str = "sign in to continue", *, next_url: str = "/") -> None:
        self.next_url = next_url
        super().__init__(message)


class TooManyAttempts(WebError):
    """Too many failed logins for one username from one client (429)."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(message)
