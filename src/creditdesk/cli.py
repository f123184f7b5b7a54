"""The ``creditdesk`` command line.

Each command parses its options, calls one library function and formats the
result; domain errors become exit codes here and nowhere else.
"""

from __future__ import annotations

from typing import Any

import typer

from creditdesk.cli_support import err_console, handle_errors, out_console, print_json

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="creditdesk: exact books, risk models and compliant collections.")


@app.callback()
def main() -> None:
    """creditdesk: exact books, risk models and compliant collections."""


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


# --------------------------------------------------------------------- the books
from datetime import date as _date  # noqa: E402
from pathlib import Path  # noqa: E402

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402
from rich.table import Table  # noqa: E402

from creditdesk.errors import BadInputError  # noqa: E402
from creditdesk.products.cli import schedule as _schedule  # noqa: E402

app.command("schedule", help="Print a cash-loan repayment schedule (amounts in fen).")(_schedule)
STORE_OPT = typer.Option(None, "--store", help="Store URL (default $CREDITDESK_STORE or "
                         "duckdb:///./creditdesk.duckdb)")
CATALOGUE_OPT = typer.Option(None, "--catalogue", help="Product catalogue TOML (default: built-in)")


def _parse_date(value: str, field: str) -> _date:
    try:
        return _date.fromisoformat(value)
    except ValueError as exc:
        raise BadInputError(f"{field} must be a date YYYY-MM-DD; got {value!r}", field=field,
                            value=value) from exc


def _store(url: str | None) -> Any:
    from creditdesk.config import settings
    from creditdesk.store import open_store

    return open_store(url or settings().store)


def _catalogue(path: str | None) -> Any:
    from creditdesk.config import settings
    from creditdesk.products import load_catalogue

    return load_catalogue(path or settings().catalogue)


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                    TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                    console=err_console, transient=True)


@app.command()
@handle_errors
def load(store: str | None = STORE_OPT,
         customers: Path | None = typer.Option(None, "--customers", help="customers CSV/Parquet"),
         accounts: Path | None = typer.Option(None, "--accounts", help="accounts CSV/Parquet"),
         transactions: Path | None = typer.Option(None, "--transactions",
                                                  help="transactions CSV/Parquet"),
         catalogue: str | None = CATALOGUE_OPT,
         json_out: bool = typer.Option(False, "--json")) -> None:
    """Load customers, accounts and transactions (all or nothing; see docs/ingestion.md)."""
    from creditdesk.ledger.ingest import load_frames, read_table_file

    if not (customers or accounts or transactions):
        raise BadInputError("give at least one of --customers, --accounts, --transactions")
    frames = {k: read_table_file(v) for k, v in (("customers", customers),
                                                  ("accounts", accounts),
                                                  ("transactions", transactions)) if v}
    report = load_frames(_store(store), _catalogue(catalogue), **frames,
                         load_id=str(transactions or accounts or customers))
    if json_out:
        print_json(report.__dict__)
    else:
        out_console.print(f"loaded {report.customers} customers, {report.accounts} accounts, "
                          f"{report.transactions} transactions "
                          f"({report.duplicates_skipped} already loaded, skipped)")


@app.command()
@handle_errors
def eod(through: str = typer.Option(..., "--through", help="last business date to close"),
        store: str | None = STORE_OPT, catalogue: str | None = CATALOGUE_OPT,
        json_out: bool = typer.Option(False, "--json")) -> None:
    """Close every business date after the last closed one, up to --through."""
    from creditdesk.ledger.eod import run_eod
    from creditdesk.ledger.params import ledger_params

    end = _parse_date(through, "through")
    st = _store(store)
    with _progress() as prog:
        task = prog.add_task("end of day", total=None)

        def tick(d: _date, i: int, n: int) -> None:
            prog.update(task, total=n, completed=i, description=f"closed {d}")

        report = run_eod(st, end, ledger_params(_catalogue(catalogue)), on_date=tick)
    payload = {"first": report.first, "last": report.last, "dates_closed": report.dates_closed,
               "seconds": round(report.seconds, 3), "last_closed": st.last_closed()}
    if json_out:
        print_json(payload)
    else:
        out_console.print(f"closed {report.dates_closed} date(s); books closed through "
                          f"{payload['last_closed']}")


account_app = typer.Typer(no_args_is_help=True, help="Look at one account.")
app.add_typer(account_app, name="account")


@account_app.command("show")
@handle_errors
def account_show(account_id: str, store: str | None = STORE_OPT,
                 json_out: bool = typer.Option(False, "--json")) -> None:
    """Balances, delinquency, bills, instalment schedule and payments of one account."""
    from creditdesk.ledger.account import account_view
    from creditdesk.money import format_minor

    view = account_view(_store(store), account_id)
    if json_out:
        print_json(view)
        return
    t = Table(title=f"account {account_id} as of {view['as_of']}")
    t.add_column("item")
    t.add_column("value", justify="right")
    for k in ("product", "status", "dpd", "bucket"):
        t.add_row(k, str(view.get(k)))
    for k in ("total_due", "overdue_amount", "credit_balance", "available_credit"):
        t.add_row(k, format_minor(view[k]))
    for k, v in view["balances"].items():
        t.add_row(f"balance.{k}", format_minor(v))
    out_console.print(t)


@app.command()
@handle_errors
def demo(customers: int = typer.Option(2000, "--customers", help="accounts in the sample book"),
         days: int = typer.Option(62, "--days"), seed: int = typer.Option(7, "--seed"),
         out: Path = typer.Option(Path("./creditdesk-demo"), "--out"),
         json_out: bool = typer.Option(False, "--json")) -> None:
    """Build a sample book on the embedded store, close it day by day, report the figures."""
    from creditdesk.demo import run_demo
    from creditdesk.money import format_minor

    if customers <= 0 or days <= 0:
        raise BadInputError(f"--customers and --days must be positive; got {customers}, {days}")
    with _progress() as prog:
        task = prog.add_task("end of day", total=days)

        def tick(d: _date, i: int, n: int) -> None:
            prog.update(task, total=n, completed=i, description=f"closed {d}")

        kpis = run_demo(out, accounts=customers, days=days, seed=seed, on_date=tick)
    if json_out:
        print_json(kpis)
        return
    t = Table(title=f"sample book as of {kpis['as_of']} ({kpis['accounts']} accounts)")
    for c in ("bucket", "accounts", "balance"):
        t.add_column(c, justify="right")
    for row in kpis["bucket_mix"]:
        t.add_row(row["bucket"], str(row["accounts"]), format_minor(row["balance"]))
    out_console.print(t)
    out_console.print(f"receivables {format_minor(kpis['receivable_total'])}; delinquency rate "
                      f"{kpis['delinquency_rate']:.2%}; closed {kpis['days']} days in "
                      f"{kpis['seconds']} s")
    out_console.print(f"figures: {out / 'kpis.json'}; books: {kpis['store']}")
    out_console.print(f"look at an account: creditdesk account show A00000000 --store {kpis['store']}")


bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks (not timed tests).")
app.add_typer(bench_app, name="bench")


@bench_app.command("eod")
@handle_errors
def bench_eod_cmd(accounts: int = typer.Option(100_000, "--accounts"),
                  workdir: Path = typer.Option(Path("./bench-work"), "--workdir"),
                  engine: str = typer.Option("duckdb", "--engine", help="duckdb, spark or both"),
                  json_out: bool = typer.Option(False, "--json")) -> None:
    """Time end of day on a synthetic book: an ordinary date and a bill date."""
    from creditdesk.ledger.bench import bench_eod, bench_eod_spark

    if accounts <= 0:
        raise BadInputError(f"--accounts must be positive; got {accounts}", field="accounts",
                            value=accounts)
    if engine not in ("duckdb", "spark", "both"):
        raise BadInputError(f"--engine must be duckdb, spark or both; got {engine!r}",
                            field="engine", value=engine)
    result: dict[str, Any] = {}
    with err_console.status("building the book and closing it to the eve of a bill date"):
        if engine in ("duckdb", "both"):
            result["duckdb"] = bench_eod(accounts, workdir)
        if engine in ("spark", "both"):
            result["spark"] = bench_eod_spark(accounts, workdir)
    if engine != "both":
        result = result[engine]
    if json_out:
        print_json(result)
    else:
        out_console.print_json(data=result)
