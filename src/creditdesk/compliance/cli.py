"""`creditdesk compliance` commands (a Typer sub-app registered in creditdesk.cli)."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="compliance commands")
