"""``creditdesk collect``: plan a date's contacts, show a case, train the collection scores."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer
from rich.table import Table

from creditdesk.cli_support import handle_errors, out_console, print_json
from creditdesk.errors import BadInputError

app = typer.Typer(no_args_is_help=True, help="Collections: cases, the contact plan, scores.")
STORE_OPT = typer.Option(None, "--store", help="Store URL (default $CREDITDESK_STORE or "
                         "duckdb:///./creditdesk.duckdb)")


def _store(url: str | None) -> object:
    from creditdesk.config import settings
    from creditdesk.store import open_store

    return open_store(url or settings().store)


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadInputError(f"date must be YYYY-MM-DD; got {value!r}", field="date",
                            value=value) from None


@app.command("plan")
@handle_errors
def plan_cmd(
    when: str = typer.Option(..., "--date", help="the business date to plan (the day after "
                             "the last closed date)"),
    store: str | None = STORE_OPT,
    strategy: str = typer.Option("bucket_rules", "--strategy",
                                 help="frequent, bucket_rules, optimized or a YAML file"),
    models: Path | None = typer.Option(None, "--models", help="collection models folder "
                                       "(optimized; default: the shipped ones)"),
    json_out: bool = typer.Option(False, "--json", help="print the summary as JSON"),
) -> None:
    """Plan every open case's contacts for a date; the plan is stored in contact_plan."""
    from creditdesk.collections.planning import plan_date

    d = _date(when)
    st = _store(store)
    try:
        r = plan_date(st, d, strategy=strategy, models=models)
    finally:
        st.close()  # type: ignore[attr-defined]
    doc = {"business_date": r.business_date.isoformat(), "strategy": r.strategy,
           "strategy_version": r.strategy_version, "open_cases": r.open_cases,
           "planned": r.planned, "blocked": r.blocked, "by_channel": r.by_channel,
           "planner": r.planner, "assignment": r.assignment, "offers": r.offers}
    if json_out:
        print_json(doc)
        return
    t = Table(title=f"contact plan for {doc['business_date']} ({r.strategy} v{r.strategy_version})")
    for c in ("open cases", "planned", "blocked", *r.by_channel):
        t.add_column(c, justify="right")
    t.add_row(str(r.open_cases), str(r.planned), str(r.blocked),
              *[str(v) for v in r.by_channel.values()])
    out_console.print(t)
    if r.assignment.get("assigned") or r.assignment.get("kept"):
        a = r.assignment
        out_console.print(f"collectors: {a['assigned']} cases assigned, {a['kept']} kept, "
                          f"{a['unassigned']} waiting for capacity")
    if r.planner:
        out_console.print(f"planner: objective {r.planner['objective']:,.0f}, LP bound "
                          f"{r.planner['bound']:,.0f}, gap {r.planner['gap']:.4%}")


@app.command("case")
@handle_errors
def case_cmd(case_id: str, store: str | None = STORE_OPT,
             json_out: bool = typer.Option(False, "--json", help="print as JSON")) -> None:
    """Show one case: its state, history, planned contacts, contacts made and promises."""
    from creditdesk.collections.case_view import case_detail

    st = _store(store)
    try:
        doc = case_detail(st, case_id)
    finally:
        st.close()  # type: ignore[attr-defined]
    if json_out:
        print_json(doc)
        return
    c = doc["case"]
    out_console.print(f"[bold]{c['case_id']}[/] account {c['account_id']} customer "
                      f"{c['customer_id']}: {c['stage']} {c['status']}"
                      f"{' (' + c['close_reason'] + ')' if c['close_reason'] else ''}, bucket "
                      f"{c['bucket']} (worst {c['max_bucket']}), DPD {c['dpd']}, overdue "
                      f"{c['overdue_amount']} fen, queue {c['queue']}, arm {c['arm']}")
    for title, rows in (("events", doc["events"]), ("plan", doc["plan"]),
                        ("contacts", doc["contacts"]), ("promises", doc["promises"])):
        if rows:
            t = Table(title=title)
            for k in rows[0]:
                t.add_column(k)
            for r in rows[-30:]:
                t.add_row(*[("" if v is None else str(v)) for v in r.values()])
            out_console.print(t)


@app.command("train")
@handle_errors
def train_cmd(store: str | None = STORE_OPT,
              out: Path = typer.Option(..., "--out", help="folder for the fitted models"),
              json_out: bool = typer.Option(False, "--json")) -> None:
    """Fit the collection scores on the store's explore-arm decisions and their outcomes."""
    from creditdesk.collections.training import fit_models, training_frame

    st = _store(store)
    try:
        frame = training_frame(st)
    finally:
        st.close()  # type: ignore[attr-defined]
    fit = fit_models(frame)
    fit.models.save(out)
    if fit.self_cure is not None:
        fit.self_cure.save(out / "self_cure")
    doc = {"rows": fit.rows, "rows_by_treatment": fit.rows_by_treatment, "out": str(out)}
    if json_out:
        print_json(doc)
    else:
        out_console.print(f"trained on {fit.rows} explore-arm decisions; models in {out}")


@app.command("offer")
@handle_errors
def offer_cmd(
    account_id: str,
    kind: str = typer.Option(..., "--kind", help="hardship_plan, payment_holiday or settlement"),
    when: str = typer.Option(..., "--date", help="the next business date (the day after the "
                             "last closed date)"),
    terms: int | None = typer.Option(None, "--terms", help="hardship: instalments 3-12; "
                                     "holiday: months 1-3"),
    amount: int | None = typer.Option(None, "--amount", help="settlement: the lump sum in fen "
                                      "(default: the policy's floor)"),
    approved_by: str | None = typer.Option(None, "--approved-by", help="the approver's name, "
                                           "where the policy needs one"),
    policy: Path | None = typer.Option(None, "--policy", help="arrangement policy TOML "
                                       "(default: the shipped one)"),
    store: str | None = STORE_OPT,
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Offer a repayment arrangement; it is posted through the ledger at that date's end of day."""
    from creditdesk.collections.arrangements import load_arrangement_policy, offer

    pol = load_arrangement_policy(policy)
    st = _store(store)
    try:
        ext = offer(st, account_id, kind, _date(when), terms=terms, amount=amount,  # type: ignore[arg-type]
                    approved_by=approved_by, policy=pol)
    finally:
        st.close()  # type: ignore[attr-defined]
    doc = {"account_id": account_id, "kind": kind, "business_date": when, "external_id": ext}
    if json_out:
        print_json(doc)
    else:
        out_console.print(f"{kind} for {account_id} loaded as {ext}; it posts at the end of day "
                          f"of {when}")


@app.command("collector")
@handle_errors
def collector_cmd(agent_id: str, store: str | None = STORE_OPT,
                  capacity: int = typer.Option(200, "--capacity", help="most open cases at "
                                               "once"),
                  name: str | None = typer.Option(None, "--name", help="display name")) -> None:
    """Put an in-house collector on the roster (or change their capacity)."""
    from creditdesk.collections.assignment import add_collector

    st = _store(store)
    try:
        add_collector(st, agent_id, display_name=name, capacity=capacity)  # type: ignore[arg-type]
    finally:
        st.close()  # type: ignore[attr-defined]
    out_console.print(f"collector {agent_id} on the roster, capacity {capacity}")


@app.command("assign")
@handle_errors
def assign_cmd(when: str = typer.Option(..., "--date", help="the business date"),
               store: str | None = STORE_OPT,
               json_out: bool = typer.Option(False, "--json")) -> None:
    """Assign the agents' queue to collectors: sticky, largest overdue first, within capacity."""
    from creditdesk.collections.assignment import assign_cases

    st = _store(store)
    try:
        r = assign_cases(st, _date(when))  # type: ignore[arg-type]
    finally:
        st.close()  # type: ignore[attr-defined]
    if json_out:
        print_json(dict(r))
        return
    out_console.print(f"{r['assigned']} assigned, {r['kept']} kept, {r['released']} released, "
                      f"{r['unassigned']} without a collector (no capacity left)")
