"""What every ``creditdesk`` command shares: error-to-exit-code mapping and JSON output.

Kept apart from ``creditdesk.cli`` so the domain packages' sub-apps can use it
without importing the top-level app (which imports them).
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

__all__ = ["err_console", "handle_errors", "out_console", "print_json"]

err_console = Console(stderr=True)
out_console = Console()

F = TypeVar("F", bound=Callable[..., Any])


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
