"""``creditdesk user``: create and list console users.

The password is read from standard input (one line, the newline stripped), never from
the command line, where it would sit in the shell history and in ``ps`` output for
every user of the machine. At a terminal it is asked for twice without echo::

    printf '%s\\n' "$INITIAL_PASSWORD" | creditdesk user add li.wei --role auditor \\
        --store postgresql://creditdesk@db/books

The first admin is made this way; after that an admin can add users in the console
(``POST /api/users``). Both paths write an audit row (``user_add``).
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.table import Table

from creditdesk.cli_support import handle_errors, out_console, print_json
from creditdesk.errors import BadInputError

__all__ = ["read_password", "user_app"]

user_app = typer.Typer(no_args_is_help=True, help="Console users: add and list.")
STORE_OPT = typer.Option(None, "--store", help="Store URL (default $CREDITDESK_STORE or "
                         "duckdb:///./creditdesk.duckdb)")


def _store(url: str | None) -> Any:
    from creditdesk.config import settings
    from creditdesk.store import open_store
    from creditdesk.web.security import ensure_web_tables

    store = open_store(url or settings().store)
    ensure_web_tables(store)
    return store


def read_password(stream: Any = None) -> str:
    """One line of ``stream`` (standard input) without its line ending; empty is refused.

    At a terminal: a hidden prompt, asked twice.

    >>> import io
    >>> read_password(io.StringIO("a long passphrase\\n"))
    'a long passphrase'
    """
    stream = sys.stdin if stream is None else stream
    if stream is sys.stdin and stream.isatty():
        password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True,
                                     err=True)
    else:
        password = stream.readline().removesuffix("\n").removesuffix("\r")
    if not password:
        raise BadInputError("password must be given on standard input (one line); got an "
                            "empty line", field="password")
    return password


@user_app.command("add")
@handle_errors
def add_cmd(
    username: str = typer.Argument(..., help="3-32 characters of a-z, 0-9, '_', '.', '-'"),
    role: str = typer.Option(..., "--role", help="admin, risk_analyst, collections_agent, "
                             "supervisor or auditor"),
    store: str | None = STORE_OPT,
    display_name: str | None = typer.Option(None, "--display-name", help="shown in the "
                                            "console"),
) -> None:
    """Create a user; the password is read from standard input (never an argument)."""
    from creditdesk.web.security import add_user, audit, check_username

    check_username(username)  # a name that cannot be is refused before reading a password
    password = read_password()
    st = _store(store)
    try:
        user = add_user(st, username, role, password, display_name)
        audit(st, None, "user_add", "user", user.username,
              {"role": user.role, "display_name": user.display_name, "via": "cli"}, None)
    finally:
        st.close()
    out_console.print(f"[green]added[/] user [bold]{user.username}[/] with role "
                      f"[bold]{user.role}[/]", highlight=False)


@user_app.command("list")
@handle_errors
def list_cmd(
    store: str | None = STORE_OPT,
    json_out: bool = typer.Option(False, "--json", help="print the users as JSON"),
) -> None:
    """List the console's users (never their password hashes)."""
    from creditdesk.web.security import list_users

    st = _store(store)
    try:
        users = list_users(st)
    finally:
        st.close()
    if json_out:
        print_json([u.as_dict() for u in users])
        return
    table = Table("username", "role", "display name", "active", "created (UTC)")
    for u in users:
        table.add_row(u.username, u.role, u.display_name or "", "yes" if u.active else "no",
                      u.created_at.strftime("%Y-%m-%d %H:%M") if u.created_at else "")
    out_console.print(table)
