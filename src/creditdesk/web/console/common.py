"""What the page modules share: permission checks that answer with a page, the context."""

from __future__ import annotations

from fastapi import Request

from creditdesk.web.console.render import PageError
from creditdesk.web.context import Context
from creditdesk.web.users import User

__all__ = ["ctx_of", "need", "not_found"]

_VERBS = {
    "view_portfolio": "see the portfolio", "view_cases_all": "see every case",
    "view_own_cases": "work a queue of cases", "record_outcome": "record contact outcomes",
    "offer_plan": "offer repayment arrangements", "reveal_pii": "reveal personal data",
    "view_strategies": "see the strategy lab", "read_audit": "read the audit log",
    "view_users": "see the list of users",
}


def ctx_of(request: Request) -> Context:
    """The app's :class:`~creditdesk.web.context.Context`."""
    ctx = request.app.state.ctx
    assert isinstance(ctx, Context)
    return ctx


def need(user: User, *permissions: str) -> None:
    """A 403 page unless ``user``'s role holds one of ``permissions``."""
    if any(user.can(p) for p in permissions):
        return
    what = " or ".join(_VERBS.get(p, p.replace("_", " ")) for p in permissions)
    raise PageError(403, "Not allowed", f"Your role ({user.role.replace('_', ' ')}) may not "
                                        f"{what}.")


def not_found(what: str = "case") -> PageError:
    """The 404 page: the same for a case that does not exist and one the user may not see."""
    return PageError(404, "Not found", f"There is no such {what}, or it is not one of yours.")
