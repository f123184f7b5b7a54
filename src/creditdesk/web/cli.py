"""``creditdesk serve``: the console and API on one store; ``creditdesk store copy``."""

from __future__ import annotations

from pathlib import Path

import typer

from creditdesk.cli_support import handle_errors, out_console, print_json

__all__ = ["serve", "store_app"]

store_app = typer.Typer(help="Store administration: copy a book between stores.",
                        no_args_is_help=True)


@handle_errors
def serve(store: str | None = typer.Option(None, "--store", help="duckdb:///path or "
                                           "postgresql://user:pw@host/db"),
          host: str = typer.Option("127.0.0.1", "--host"),
          port: int = typer.Option(8000, "--port", min=1, max=65535),
          profile: str = typer.Option("CN", "--profile", help="contact-rules profile"),
          decision_model: Path | None = typer.Option(None, "--decision-model",
                                                     help="application model folder "
                                                     "(default: the shipped scorecard)"),
          results: Path | None = typer.Option(None, "--results", help="simulate compare "
                                              "--json output (file or folder) for the "
                                              "strategy lab"),
          secure_cookies: bool = typer.Option(False, "--secure-cookies",
                                              help="mark cookies Secure (behind HTTPS)"),
          workers: int = typer.Option(1, "--workers", min=1, max=64,
                                      help="server processes (PostgreSQL stores only)")) -> None:
    """Serve the web console and the JSON API (OpenAPI at /docs and /openapi.json)."""
    from creditdesk.web.server import run_server

    run_server(store, host=host, port=port, profile=profile, decision_model=decision_model,
               results=results, secure_cookies=secure_cookies, workers=workers)


@store_app.command("copy")
@handle_errors
def copy_cmd(source: str = typer.Option(..., "--from", help="source store URL"),
             target: str = typer.Option(..., "--to", help="target store URL (empty)"),
             json_out: bool = typer.Option(False, "--json")) -> None:
    """Copy every table of one store into another, empty one (one transaction)."""
    from creditdesk.store import open_store
    from creditdesk.store.copy import copy_store

    counts = copy_store(open_store(source), open_store(target))
    if json_out:
        print_json(counts)
    else:
        out_console.print(f"copied {sum(counts.values()):,} rows in {len(counts)} tables")
