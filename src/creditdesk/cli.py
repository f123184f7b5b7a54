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
from creditdesk.collections.cli import app as _collect_app  # noqa: E402
from creditdesk.compliance.cli import app as _compliance_app  # noqa: E402
from creditdesk.products.cli import app as _products_app  # noqa: E402
from creditdesk.risk.cli import app as _risk_app  # noqa: E402
from creditdesk.simulate.cli import app as _simulate_app  # noqa: E402
from creditdesk.web.cli import serve as _serve  # noqa: E402
from creditdesk.web.cli import store_app as _store_app  # noqa: E402
from creditdesk.web.users_cli import user_app as _user_app  # noqa: E402

app.add_typer(_risk_app, name="risk")
app.add_typer(_compliance_app, name="compliance")
app.add_typer(_products_app, name="products")
app.add_typer(_simulate_app, name="simulate")
app.add_typer(_collect_app, name="collect")
app.add_typer(_user_app, name="user")
app.add_typer(_store_app, name="store")
app.command("serve")(_serve)


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
def demo(customers: int = typer.Option(50_000, "--customers", help="customers to simulate"),
         days: int = typer.Option(120, "--days", help="business dates to run"),
         seed: int = typer.Option(7, "--seed", help="same seed, same books"),
         scenario: str = typer.Option("baseline", "--scenario",
                                      help="macro scenario: baseline, recession or recovery"),
         out: Path = typer.Option(Path("./creditdesk-demo"), "--out",
                                  help="folder for kpis.json, report.html and the store"),
         behaviour_model: Path | None = typer.Option(
             None, "--behaviour-model", help="behaviour-score model refreshed at month ends "
             "(default: the one shipped; 'none' to run without)"),
         json_out: bool = typer.Option(False, "--json")) -> None:
    """Run the digital twin's daily cycle on a new book; write figures, report and store."""
    from creditdesk.demo import check_demo_args, run_demo
    from creditdesk.money import format_minor

    check_demo_args(customers, days, scenario, out, behaviour_model)
    with _progress() as prog:
        task = prog.add_task("daily cycle", total=days)

        def tick(d: _date, i: int, n: int) -> None:
            prog.update(task, total=n, completed=i, description=f"closed {d}")

        res = run_demo(out, customers=customers, days=days, seed=seed, scenario=scenario,
                       behaviour_model=behaviour_model, on_day=tick)
    k = res.kpis
    if json_out:
        print_json(k)
        return
    t = Table(title=f"creditdesk demo: {customers:,} customers, {days} days, seed {seed}")
    t.add_column("figure")
    t.add_column("value", justify="right")
    for label, value in _demo_lines(k, format_minor):
        t.add_row(label, value)
    out_console.print(t)
    out_console.print(f"figures: {res.out / 'kpis.json'}\nreport:  {res.report}\n"
                      f"books:   {res.store_url}", soft_wrap=True)
    first = "R00000000"
    out_console.print(f"look at an account: creditdesk account show {first} --store "
                      f"{res.store_url}", soft_wrap=True)
    if any(c.name == "serve" for c in app.registered_commands):
        out_console.print(f"open the console: creditdesk serve --store {res.store_url}",
                          soft_wrap=True)


def _demo_lines(k: dict[str, Any], money: Any) -> list[tuple[str, str]]:
    """The key figures of kpis.json as (label, text) rows; absent ones are skipped."""
    rows: list[tuple[str, str]] = []
    spec = [("accounts", "accounts", str), ("receivable", "receivables (yuan)", money),
            ("delinquency_rate", "delinquency rate (dpd > 0)", lambda v: f"{v:.2%}"),
            ("recovery_rate", "recovery rate", lambda v: f"{v:.2%}"),
            ("cure_rate", "cure rate of accounts entering M1", lambda v: f"{v:.2%}"),
            ("contacts", "contacts made", lambda v: f"{v:,}"),
            ("contacts_blocked", "contacts blocked by the rules", lambda v: f"{v:,}"),
            ("complaints_per_1000_delinquent", "complaints per 1,000 delinquent accounts",
             lambda v: f"{v:.1f}"),
            ("promise_kept_rate", "promises kept", lambda v: f"{v:.2%}"),
            ("rule_violations", "rule violations (independent audit)", str),
            ("seconds", "seconds", lambda v: f"{v:.1f}")]
    for key, label, fmt in spec:
        if isinstance(k.get(key), int | float):
            rows.append((label, fmt(k[key])))
    return rows


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
