"""What a user may see: an agent sees only their own cases (anyone else's is "not found").

Answering 404 rather than 403 for another agent's case does not even confirm that the
case exists. Who sees every case is the ``view_cases_all`` permission, who sees their
own the ``view_own_cases`` one (:data:`creditdesk.web.users.PERMISSIONS`); the check
itself is :func:`creditdesk.web.deps.check_case_access`.
"""

from __future__ import annotations

from creditdesk.errors import NotFoundError
from creditdesk.store.base import Store
from creditdesk.web.deps import check_case_access
from creditdesk.web.users import User

__all__ = ["agent_of", "check_account_visible", "check_case_visible", "check_customer_visible",
           "visible_agent"]


def agent_of(store: Store, case_id: str) -> str | None:
    """The collector the case is assigned to, if any."""
    if not store.has_table("case_assignments"):
        return None
    got = store.query("SELECT agent_id FROM case_assignments WHERE case_id = ?", [case_id])
    return str(got.item(0, 0)) if got.height else None


def visible_agent(user: User) -> str | None:
    """The only agent whose cases ``user`` may see (None: every case)."""
    return None if user.can("view_cases_all") else user.username


def check_case_visible(store: Store, user: User, case_id: str) -> None:
    """Raise NotFoundError unless ``user`` may see case ``case_id``."""
    check_case_access(user, agent_of(store, case_id))


def check_account_visible(store: Store, user: User, account_id: str) -> None:
    """Who may not see every case sees an account only through one of their own cases."""
    if user.can("view_cases_all") or user.can("view_portfolio"):
        return
    if not user.can("view_own_cases") or not store.has_table("case_assignments") or store.query(
            "SELECT 1 FROM cases c JOIN case_assignments a ON a.case_id = c.case_id "
            "WHERE c.account_id = ? AND a.agent_id = ?", [account_id, user.username]).height == 0:
        raise NotFoundError(f"account_id {account_id!r} is not in the books")


def check_customer_visible(store: Store, user: User, customer_id: str) -> None:
    """Who may not see every case sees a customer only through one of their own cases."""
    if user.can("view_cases_all"):
        return
    if not store.has_table("case_assignments") or store.query(
            "SELECT 1 FROM cases c JOIN case_assignments a ON a.case_id = c.case_id "
            "WHERE c.customer_id = ? AND a.agent_id = ?", [customer_id, user.username]
    ).height == 0:
        raise NotFoundError(f"customer_id {customer_id!r} not found")
