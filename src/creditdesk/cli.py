"""The ``creditdesk`` command line.

Each command parses its options, calls one library function and formats the
result; domain errors become exit codes here and nowhere else.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer
from rich.console import Console

from creditdesk.errors import CreditdeskError

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="creditdesk: exact books, risk models and compliant collections.")
err_console = Console(stderr=True)
out_console = Console()

F = TypeVar("F", bound=Callable[..., Any])


@app.callback()
def main() -> None:
    """creditdesk: exact books, risk models and compliant collections."""


def handle_errors(func: F) -> F:
    """Turn domain errors into a one-line message on stderr and the error's exit code."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except CreditdeskError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(exc.exit_code) from exc

    return wrapper  # type: ignore[return-value]


def print_json(payload: Any) -> None:
    """Write JSON to stdout (no Rich markup, so it pipes cleanly)."""
    sys.stdout.write(json.dumps(payload, indent=2, default=str, ensure_ascii=False) + "\n")


@app.command()
def version() -> None:
    """Print the installed version."""
    from creditdesk import __version__

    out_console.print(__version__)


# Sub-apps of the domain packages. Each package owns its commands' parsing and
# formatting; the work is done by library functions they call.
from creditdesk.compliance.cli import app as _compliance_app  # noqa: E402
from creditdesk.products.cli import app as _products_app  # noqa: E402
from creditdesk.risk.cli import app as _risk_app  # noqa: E402

app.add_typer(_risk_app, name="risk")
app.add_typer(_compliance_app, name="compliance")
app.add_typer(_products_app, name="products")
