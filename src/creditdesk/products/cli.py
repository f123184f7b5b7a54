"""`creditdesk products` commands (a Typer sub-app registered in creditdesk.cli).

Commands parse options, call one library function and format its result.
``schedule`` is a module-level function so the main CLI can also register it at
the top level (``creditdesk schedule``); it is registered here as
``creditdesk products schedule`` as well.

Domain errors are handled here rather than with ``creditdesk.cli.handle_errors``,
which this module cannot import (``creditdesk.cli`` imports this module).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import date
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from creditdesk.errors import BadInputError, CreditdeskError
from creditdesk.money import format_minor
from creditdesk.products.catalogue import (
    CashLoanProduct,
    Catalogue,
    RevolvingProduct,
    load_catalogue,
)
from creditdesk.products.schedules import Instalment, cash_loan_schedule

__all__ = ["app", "handle_product_errors", "schedule"]

app = typer.Typer(no_args_is_help=True, help="Product catalogue and schedule calculators.")

F = TypeVar("F", bound=Callable[..., Any])

# Library messages start with the argument's name; the CLI user knows the option.
_OPTION_NAMES = {"principal": "--principal", "terms": "--terms", "daily_rate": "--daily-rate",
                 "method": "--method", "start": "--start", "product": "--product"}


def _err_console() -> Console:
    return Console(stderr=True, highlight=False)


def _out_console() -> Console:
    return Console(highlight=False)


def handle_product_errors(func: F) -> F:
    """Turn domain errors into ``error: <message>`` on stderr and the error's exit code
    (2 for bad input), naming the CLI option instead of the Python argument."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except CreditdeskError as exc:
            message = str(exc)
            field = getattr(exc, "field", None)
            if field in _OPTION_NAMES and message.startswith(field):
                message = _OPTION_NAMES[field] + message[len(field):]
            _err_console().print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
            raise typer.Exit(exc.exit_code) from exc

    return wrapper  # type: ignore[return-value]


def _print_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


def _parse_start(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadInputError(f"--start must be an ISO date (YYYY-MM-DD); got {value!r}",
                            field="start", value=value) from None


def _schedule_table(rows: list[Instalment], title: str) -> Table:
    table = Table(title=title, show_footer=True)
    totals = {k: sum(getattr(r, k) for r in rows) for k in ("principal", "interest", "fee",
                                                             "total")}
    table.add_column("term", justify="right", footer="total")
    table.add_column("due date", footer="")
    for name in ("principal", "interest", "fee", "total"):
        table.add_column(name, justify="right", footer=format_minor(totals[name]))
    for r in rows:
        table.add_row(str(r.term), r.due_date.isoformat(), format_minor(r.principal),
                      format_minor(r.interest), format_minor(r.fee), format_minor(r.total))
    return table


@handle_product_errors
def schedule(
    principal: Annotated[int, typer.Option("--principal",
                                           help="Loan principal in minor units (fen).")],
    terms: Annotated[int, typer.Option("--terms", help="Number of monthly terms.")],
    daily_rate: Annotated[str, typer.Option("--daily-rate",
                                            help='Daily rate as a decimal, e.g. "0.0004".')],
    method: Annotated[str, typer.Option(
        "--method", help="equal_instalment, equal_principal or interest_first.")],
    start: Annotated[str, typer.Option("--start", help="Start date, YYYY-MM-DD.")],
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    product: Annotated[str | None, typer.Option(
        "--product", help="Check the loan against this cash-loan product of the catalogue.")
    ] = None,
    catalogue: Annotated[Path | None, typer.Option(
        "--catalogue", help="Catalogue TOML file (default: the shipped one).")] = None,
) -> None:
    """Print the repayment schedule of a cash loan (amounts in fen in JSON)."""
    start_date = _parse_start(start)
    days_per_month = 30
    if product is not None:
        loan = load_catalogue(catalogue).cash_loan(product)
        loan.check_offer(terms, daily_rate, method)
        days_per_month = loan.days_per_month
    rows = cash_loan_schedule(principal, terms, daily_rate, method, start_date,
                              days_per_month=days_per_month)
    if json_out:
        _print_json([r.as_dict() for r in rows])
        return
    title = (f"{format_minor(principal)} over {terms} terms at {daily_rate}/day, {method}, "
             f"from {start_date.isoformat()}")
    _out_console().print(_schedule_table(rows, title))


app.command("schedule")(schedule)


def _summary(p: RevolvingProduct | CashLoanProduct) -> str:
    if isinstance(p, RevolvingProduct):
        fees = ", ".join(f"{t}: {r}" for t, r in p.instalment_fee_rates.items())
        return (f"bill day {p.bill_day}, due day {p.due_day}, min {p.min_payment_rate}, "
                f"interest {p.interest_daily_rate}/day, penalty {p.penalty_daily_rate}/day, "
                f"instalment fees {{{fees}}}")
    return (f"daily rate {p.min_daily_rate}..{p.max_daily_rate}, terms "
            f"{', '.join(map(str, p.terms))}, methods {', '.join(p.methods)}, overdue x"
            f"{p.overdue_rate_multiplier}")


def _catalogue_json(cat: Catalogue) -> list[dict[str, Any]]:
    return [{"name": name, **p.model_dump(mode="json")} for name, p in cat.products.items()]


@app.command("list")
@handle_product_errors
def list_products(
    catalogue: Annotated[Path | None, typer.Option(
        "--catalogue", help="Catalogue TOML file (default: the shipped one).")] = None,
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List the products of a catalogue and their terms."""
    cat = load_catalogue(catalogue)
    if json_out:
        _print_json(_catalogue_json(cat))
        return
    table = Table(title=f"products ({catalogue or 'shipped default catalogue'})")
    for col in ("name", "kind", "currency", "charge-off DPD", "terms"):
        table.add_column(col)
    for name, p in cat.products.items():
        table.add_row(name, p.kind, p.currency, str(p.charge_off_dpd), _summary(p))
    _out_console().print(table)


@app.command("check")
@handle_product_errors
def check(
    file: Annotated[Path, typer.Argument(help="Catalogue TOML file to validate.")],
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Validate a catalogue file; exit 2 naming the bad key and value."""
    cat = load_catalogue(file)
    if json_out:
        _print_json({"ok": True, "file": str(file),
                     "products": {n: p.kind for n, p in cat.products.items()}})
        return
    listed = ", ".join(f"{n} ({p.kind})" for n, p in cat.products.items())
    _out_console().print(f"ok: {file} defines {len(cat.products)} product(s): {listed}",
                         markup=False, soft_wrap=True)
