"""`creditdesk compliance` commands (a Typer sub-app registered in creditdesk.cli).

Each command parses its options, calls one function of
:mod:`creditdesk.compliance.service`, and formats the result. Domain errors become
a one-line message on stderr and the error's exit code (2 for bad input).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from creditdesk.compliance.model import CHANNELS, PARTIES
from creditdesk.compliance.service import check_request_json, describe_rules
from creditdesk.errors import CreditdeskError

app = typer.Typer(no_args_is_help=True, help="Contact rules: check a contact, list the rules.")

_err = Console(stderr=True)
_out = Console()

ProfileOpt = Annotated[str, typer.Option("--profile", "-p",
                                         help="CN, US, or the path of a profile/overlay TOML.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _fail(exc: CreditdeskError) -> typer.Exit:
    _err.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(exc.exit_code)


def _print_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


@app.command("check")
def check_cmd(
    profile: ProfileOpt,
    as_json: JsonOpt = False,
    audit: Annotated[Path | None, typer.Option(
        "--audit", help="Append the decision to this DuckDB file's compliance_audit table.",
        dir_okay=False)] = None,
) -> None:
    """Check one contact request read as JSON on stdin (format: docs/compliance.md)."""
    try:
        result = check_request_json(sys.stdin.read(), profile, audit)
    except CreditdeskError as exc:
        raise _fail(exc) from exc
    if as_json:
        _print_json(result)
        return
    if result["allowed"]:
        _out.print(f"[green]allowed[/] under {result['profile']} {result['profile_version']}")
    else:
        nxt = result["next_allowed_at"] or "never, without a change of state"
        _out.print(f"[red]blocked[/] by [bold]{result['rule']}[/]: {result['reason']}\n"
                   f"next allowed at: {nxt}", highlight=False)


@app.command("rules")
def rules_cmd(profile: ProfileOpt, as_json: JsonOpt = False) -> None:
    """List a profile's rules with their parameters and sources."""
    try:
        info = describe_rules(profile)
    except CreditdeskError as exc:
        raise _fail(exc) from exc
    if as_json:
        _print_json(info)
        return
    table = Table(title=f"{info['name']} {info['version']} — {info['description']}")
    table.add_column("rule", no_wrap=True)  # ids stay whole, so they can be grepped
    for col in ("kind", "parameters", "source"):
        table.add_column(col, overflow="fold")
    for r in info["rules"]:
        params = "; ".join(f"{k}={_short(k, v)}" for k, v in r["params"].items()
                           if _short(k, v) != "all")
        table.add_row(r["id"], r["kind"], escape(params), escape(r["source"]))
    _out.print(table)
    for key, title in info["sources"].items():
        _out.print(f"[bold]{escape(key)}[/]: {escape(title)}", highlight=False)


def _short(key: str, value: Any) -> str:
    if not isinstance(value, list | tuple):
        return str(value)
    if (key == "channels" and set(value) == set(CHANNELS)) or (
            key == "parties" and set(value) == set(PARTIES)):
        return "all"
    items = [str(v) for v in value]
    more = f" … +{len(items) - 6}" if len(items) > 6 else ""
    return ",".join(items[:6]) + more
