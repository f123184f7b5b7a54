"""``creditdesk collect plan``: tomorrow's contacts for every open case, stored for audit.

The runner around the pure parts: it reads the books as of the last closed date (one
snapshot query), brings the cases up to that date (:mod:`~creditdesk.collections.cases`,
once per closed date), lets the strategy propose (:mod:`~creditdesk.collections.proposals`)
or, for ``optimized``, value its menu and plan it with HiGHS
(:mod:`~creditdesk.collections.optimize`), passes every contact through the one checker
with each debtor's last week of contacts (:mod:`~creditdesk.collections.gate`: planned
calls count as answered, the conservative reading of every cap), and writes
``contact_plan``: ``planned`` rows, ``blocked`` ones with the blocking rule, and
``if_unreached`` retries (made only if the earlier call did not reach the debtor, and
checked again then). A strategy with ``offers`` also plans the arrangements its rules and
the policy allow (:mod:`~creditdesk.collections.plan_offers`): ``purpose = 'offer'``
contacts gated with the others, nothing posted. Planning a date again replaces that
date's plan.

Every read and write goes through the store's portable methods in SQL both DuckDB and
PostgreSQL run (``?`` parameters, no engine-only functions), so ``collect plan`` gives
the same plan on a ``postgresql://`` book as on the embedded one; rows whose order
matters are sorted here, byte by byte, not by the database's collation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from creditdesk.collections.assignment import assign_cases
from creditdesk.collections.cases import CASES, empty_cases, update_cases
from creditdesk.collections.contact_events import contact_event, debtor_lines
from creditdesk.collections.features import case_features
from creditdesk.collections.gate import ContactLog, gate, render
from creditdesk.collections.optimize import CollectModels, choose, shipped_models
from creditdesk.collections.plan_offers import PlannedOffers, offer_log, plan_offers
from creditdesk.collections.proposals import BookView, Proposals, placements, propose
from creditdesk.collections.strategy import CHANNELS, Strategy, arm_of, load_strategy
from creditdesk.collections.tables import (
    CONTACT_PLAN,
    append_rows,
    create_collections_tables,
    sql_store,
    table_exists,
)
from creditdesk.compliance import ContactEvent, load_profile
from creditdesk.compliance.history import History
from creditdesk.errors import BadInputError

__all__ = ["FLAG_PD", "PlanResult", "plan_date", "read_snapshot"]

#: behaviour-score PD from which a current account gets a pre-due case
FLAG_PD = 0.08
_HOLD_DAYS = 14


@dataclass(frozen=True)
class PlanResult:
    """What ``collect plan`` did for a date."""

    business_date: date
    strategy: str
    strategy_version: int
    open_cases: int
    planned: int
    blocked: int
    by_channel: dict[str, int]
    planner: dict[str, Any] = field(default_factory=dict)
    #: collectors' assignment counts (:func:`~creditdesk.collections.assignment.assign_cases`)
    assignment: dict[str, int] = field(default_factory=dict)
    #: arrangement offers planned (``purpose = 'offer'``, allowed by the checker)
    offers: int = 0


def _sql_snapshot() -> str:
    """One row per account on the last closed date; parameters: the planned date, the last."""
    return """
WITH nd AS (SELECT account_id, min(due_date) AS next_due FROM instalments
            WHERE due_date >= ? GROUP BY account_id)
SELECT ad.account_id, a.customer_id, a.product, ad.status, ad.dpd, ad.bucket,
       ad.overdue_amount, ad.total_due, c.timezone,
       CASE WHEN a.product = 'cash_loan' THEN nd.next_due
            ELSE ad.statement_due_date END AS next_due
FROM account_day ad JOIN accounts a USING (account_id) JOIN customers c USING (customer_id)
LEFT JOIN nd USING (account_id)
WHERE ad.business_date = ?"""


#: each account's latest behaviour score up to a date (``arg_max`` in portable SQL)
_SQL_LATEST_PD = """
SELECT b.account_id, b.pd FROM behaviour_scores b
JOIN (SELECT account_id, max(as_of) AS as_of FROM behaviour_scores WHERE as_of <= ?
      GROUP BY account_id) m ON m.account_id = b.account_id AND m.as_of = b.as_of"""


def read_snapshot(store: Any, last: date, d: date) -> pl.DataFrame:
    """One row per account as of ``last``, with the days to its next due date from ``d``.

    Sorted by account id here (byte order, whatever the database's collation): the
    plan's row numbers follow this order.
    """
    st = sql_store(store)
    snap = st.query(_sql_snapshot(), [d, last]).sort("account_id")
    pd = pl.DataFrame(schema={"account_id": pl.String, "pd": pl.Float64})
    if table_exists(st, "behaviour_scores"):
        pd = (st.query(_SQL_LATEST_PD, [last]).cast({"pd": pl.Float64})
              .unique("account_id", keep="first"))
    return snap.join(pd, on="account_id", how="left").with_columns(
        (pl.col("next_due") - pl.lit(d)).dt.total_days().fill_null(-1).alias("days_to_due"))


def _histories(store: Any, d: date, customers: set[str], line: dict[str, str]
               ) -> dict[str, History]:
    """The last eight days of contacts made, per customer (the rules look back 7 days)."""
    if not table_exists(store, "contacts") or not customers:
        return {}
    rows = store.execute("SELECT customer_id, contact_ts, channel, outcome FROM contacts "
                         "WHERE allowed AND business_date >= ? AND business_date < ? "
                         "ORDER BY contact_ts", [d - timedelta(days=8), d])
    out: dict[str, list[ContactEvent]] = {}
    for cid, ts, ch, outcome in rows:
        if cid in customers:  # read as the workbench reads it (collections.contact_events)
            out.setdefault(cid, []).append(contact_event(ts, ch, outcome, line[cid]))
    return {k: History(v) for k, v in out.items()}


def _customer_set(store: Any, sql: str, params: list[Any]) -> set[str]:
    return {r[0] for r in store.execute(sql, params)}


def plan_date(store: Any, d: date, *, strategy: str | Path | Strategy = "bucket_rules",
              models: Path | None = None, profile: str | None = None) -> PlanResult:
    """Plan the contacts of business date ``d`` (the day after the last closed date)."""
    sql_store(store)  # a clear error on a store without SQL (a Spark lake)
    last = store.last_closed()
    if last is None or d != last + timedelta(days=1):
        raise BadInputError(f"date must be the day after the last closed date "
                            f"({last.isoformat() if last else 'none closed'}); got {d.isoformat()}",
                            field="date", value=d.isoformat())
    strat = strategy if isinstance(strategy, Strategy) else load_strategy(strategy)
    prof = load_profile(profile or strat.jurisdiction)
    create_collections_tables(store)
    snap = read_snapshot(store, last, d)
    n = snap.height
    ids = snap.get_column("account_id").to_numpy()
    cust_ids = snap.get_column("customer_id").to_numpy()
    dpd = snap.get_column("dpd").fill_null(0).to_numpy().astype(np.int64)
    is_loan = (snap.get_column("product") == "cash_loan").to_numpy()
    pd = snap.get_column("pd").fill_null(np.nan).to_numpy()
    open_ = (snap.get_column("status") == "open").to_numpy()
    total_due = np.where(open_, snap.get_column("total_due").fill_null(0).to_numpy(), 0)
    days_to_due = snap.get_column("days_to_due").to_numpy().astype(np.int64)
    arms = arm_of(strat, ids)
    held = (_customer_set(store, "SELECT DISTINCT customer_id FROM complaints WHERE "
                               "business_date > ?", [last - timedelta(days=_HOLD_DAYS)])
            if table_exists(store, "complaints") else set())
    if table_exists(store, "holds"):  # disputes and hardship reviews set in the workbench
        held |= _customer_set(store, "SELECT DISTINCT customer_id FROM holds "
                                     "WHERE released_at IS NULL", [])
    hold = np.array([c in held for c in cust_ids.tolist()], bool)
    flagged = (pd >= FLAG_PD) | (dpd > 0)
    broken = np.zeros(n, np.int64)
    follow = np.zeros(n, bool)
    pending = np.zeros(n, bool)
    if table_exists(store, "promises"):
        from creditdesk.collections.promises import promise_status

        ps = promise_status(store, last).join(
            pl.DataFrame({"account_id": ids, "i": np.arange(n)}), on="account_id")
        # broken promises of the current spell in arrears (made since it reached DPD 1),
        # as the twin counts them; the follow-up is due the first day one is seen broken
        spell = pl.DataFrame({"i": np.arange(n), "since": [
            last - timedelta(days=int(x) - 1) if x > 0 else None for x in dpd.tolist()]},
            schema={"i": pl.Int64, "since": pl.Date})
        br = ps.filter(pl.col("status") == "broken").join(spell, on="i").filter(
            pl.col("business_date") >= pl.col("since"))
        np.add.at(broken, br.get_column("i").to_numpy(), 1)
        follow[br.filter(pl.col("promise_date") == last).get_column("i").to_numpy()] = True
        pending[ps.filter(pl.col("status") == "open").get_column("i").to_numpy()] = True
    view = BookView(dpd=dpd, days_to_due=days_to_due, total_due=total_due, flagged=flagged,
                    arm=arms, segment=strat.segment_of(pd, is_loan), hold=hold, broken=broken,
                    follow_up=follow)
    cases = _bring_cases_up(store, snap, view, strat, last)
    props = propose(strat, view)
    planner: dict[str, Any] = {}
    value = np.full(len(props), np.nan)
    if strat.planner.kind == "optimized" and len(props):
        props, value, planner = _optimized(store, strat, props, snap, view, pending, d, models)
    po: PlannedOffers | None = None
    bucket = snap.get_column("bucket").fill_null("").to_numpy().astype(str)
    if strat.offers is not None:
        po = plan_offers(
            store, strat, d, ids=ids, cust_ids=cust_ids, live=open_ & ~hold, arm=arms,
            bucket=bucket, dpd=dpd, broken=broken,
            past_due=snap.get_column("overdue_amount").fill_null(0).to_numpy(),
            features=lambda rows: _features(store, snap, view, pending, d, rows),
            models=models)
        props = Proposals(*(np.concatenate([getattr(props, f), getattr(po.props, f)])
                            for f in props.__dataclass_fields__))
        value = np.concatenate([value, np.full(len(po), np.nan)])
    rows = _gate_and_rows(props, value, strat, prof, store, d, snap, arms, cases, po)
    with store.transaction(business_date=d):
        store.execute("DELETE FROM contact_plan WHERE business_date = ?", [d])
        append_rows(store, "contact_plan", rows)
        offer_log(store, strat, d, po, rows, ids=ids, cust_ids=cust_ids, arm=arms, dpd=dpd,
                  bucket=bucket)
    made = rows.filter(pl.col("status") == "planned")
    by_ch = {c: int(made.filter(pl.col("channel") == c).height) for c in CHANNELS}
    assigned = assign_cases(store, d)  # the agents' queue to collectors, after the cases moved
    return PlanResult(d, strat.name, strat.version,
                      int(cases.filter(pl.col("status") == "open").height), made.height,
                      rows.height - made.height, by_ch, planner, dict(assigned),
                      made.filter(pl.col("purpose") == "offer").height)


def _open_cases(store: Any) -> pl.DataFrame:
    """The open cases, in the table's exact types (an empty frame has them too)."""
    cur = store.query(f"SELECT {', '.join(CASES)} FROM cases WHERE status = 'open'")
    return cur.cast(CASES) if cur.height else empty_cases()


def _bring_cases_up(store: Any, snap: pl.DataFrame, view: BookView, strat: Strategy,
                    last: date) -> pl.DataFrame:
    """Update the cases to the last closed date once; return the open cases."""
    done = store.execute("SELECT count(*) FROM case_runs WHERE as_of = ?", [last])[0][0]
    cur = _open_cases(store)
    if done:
        return cur
    place = placements(strat, view)
    s = snap.select("account_id", "customer_id", "status", "dpd", "bucket", "overdue_amount",
                    "total_due", "days_to_due").with_columns(
        pl.Series("flagged", view.flagged), pl.Series("arm", view.arm.astype(str)),
        pl.Series("placement_agency", place.agency.tolist(), dtype=pl.String),
        pl.Series("placement_commission", place.rate),
        pl.Series("placement_recall_days", place.recall_days))
    changed, events = update_cases(cur, s, last)
    with store.transaction(business_date=last):
        if changed.height:
            # the changed ids as one array parameter (a list on DuckDB, text[] on
            # PostgreSQL), not one placeholder each: any number of cases, one statement
            store.execute("DELETE FROM cases WHERE case_id IN "
                        "(SELECT unnest(CAST(? AS TEXT[])))",
                        [changed.get_column("case_id").to_list()])
            append_rows(store, "cases", changed)
        append_rows(store, "case_events", events)
        store.execute("INSERT INTO case_runs (as_of, strategy) VALUES (?, ?)", [last, strat.name])
    return _open_cases(store)


def _features(store: Any, snap: pl.DataFrame, view: BookView, pending: np.ndarray, d: date,
              accs: np.ndarray) -> Any:
    """The case features of account rows ``accs`` (index: the rows), the last week's
    contacts read from ``contacts``."""
    cust = snap.get_column("customer_id").to_numpy()
    made7 = np.zeros(len(accs))
    reach7 = np.zeros(len(accs))
    if table_exists(store, "contacts"):
        cnt = store.query(
            "SELECT customer_id, count(*) FILTER (WHERE allowed) AS made, "
            "count(*) FILTER (WHERE allowed AND outcome IN ('connected', 'read')) AS reached "
            "FROM contacts WHERE business_date >= ? AND business_date < ? GROUP BY customer_id",
            [d - timedelta(days=7), d])
        m = pl.DataFrame({"customer_id": cust[accs]}).join(cnt, on="customer_id", how="left")
        made7 = m.get_column("made").fill_null(0).to_numpy()
        reach7 = m.get_column("reached").fill_null(0).to_numpy()
    feats = case_features(
        dpd=view.dpd[accs], days_to_due=view.days_to_due[accs], total_due=view.total_due[accs],
        overdue=snap.get_column("overdue_amount").fill_null(0).to_numpy()[accs],
        is_loan=(snap.get_column("product") == "cash_loan").to_numpy()[accs],
        pd=snap.get_column("pd").fill_null(np.nan).to_numpy()[accs], contacts_7d=made7,
        reached_7d=reach7, promise_pending=pending[accs], broken=view.broken[accs])
    feats.index = accs
    return feats


def _optimized(store: Any, strat: Strategy, menu: Proposals, snap: pl.DataFrame, view: BookView,
               pending: np.ndarray, d: date, models: Path | None
               ) -> tuple[Proposals, np.ndarray, dict[str, Any]]:
    accs = np.unique(menu.account)
    cust = snap.get_column("customer_id").to_numpy()
    feats = _features(store, snap, view, pending, d, accs)
    explore = np.isin(view.arm, [a.name for a in strat.arms if a.explore])
    unit = np.unique(cust, return_inverse=True)[1]
    loaded = CollectModels.load(models or shipped_models())
    # the plan's randomisation must be reproducible: seeded by the date
    rng = np.random.default_rng([d.toordinal(), 17])
    day = choose(strat, menu, feats, explore, unit, loaded, rng)
    value = np.full(len(menu), np.nan)
    lg = day.log.set_index("account")["value"]
    value[day.chosen] = lg.reindex(menu.account[day.chosen]).to_numpy()
    info: dict[str, Any] = {}
    if day.solution is not None:
        info = {"objective": day.solution.objective, "bound": day.solution.bound,
                "gap": day.solution.gap, "seconds": day.solution.seconds,
                "method": day.solution.method}
    return menu.take(day.chosen), value[day.chosen], info


def _gate_and_rows(props: Proposals, value: np.ndarray, strat: Strategy, prof: Any, store: Any,
                   d: date, snap: pl.DataFrame, arms: np.ndarray, cases: pl.DataFrame,
                   offers: PlannedOffers | None = None) -> pl.DataFrame:
    """Gate the proposals and build the plan's rows; ``offers``: the last proposals are
    these offers' contacts (purpose, template and message of the offer)."""
    if not len(props):
        return pl.DataFrame(schema=CONTACT_PLAN)
    cust_ids = snap.get_column("customer_id").to_numpy()
    ids = snap.get_column("account_id").to_numpy()
    customers, cust_idx = np.unique(cust_ids, return_inverse=True)
    log = ContactLog.new(prof)
    pos = {c: i for i, c in enumerate(customers.tolist())}
    line = debtor_lines(store, customers.tolist())
    hist = _histories(store, d, set(cust_ids[props.account].tolist()), line)
    log.histories.update({pos[c]: h for c, h in hist.items()})
    tz = snap.get_column("timezone").to_numpy()
    phone = np.array([line[c] for c in cust_ids.tolist()], dtype=object)  # per account row
    no_hold = np.zeros(len(customers), bool)
    allowed, rules, _, ts_us, skipped = gate(
        props, d, cust_idx, tz, phone, no_hold, snap.get_column("dpd").fill_null(0).to_numpy(),
        log, np.zeros(len(props)), np.ones(24), 1.0, strat.templates)
    case_of = dict(zip(cases.get_column("account_id").to_list(),
                       cases.get_column("case_id").to_list(), strict=True))
    acc = ids[props.account]
    k = np.arange(len(props))
    dpd = snap.get_column("dpd").fill_null(0).to_numpy()
    message = [render(strat.templates, t, d, 0 if rem else int(dpd[a]))
               for t, rem, a in zip(props.template.tolist(), props.reminder.tolist(),
                             props.account.tolist(), strict=True)]
    purpose = np.where(props.reminder, "reminder", "collection").astype(object)
    template = props.template.tolist()
    if offers is not None and len(offers):
        k0 = len(props) - len(offers)
        purpose[k0:] = "offer"
        template[k0:] = offers.template
        message[k0:] = offers.message
    return pl.DataFrame({
        "business_date": [d] * len(props),
        "plan_id": [f"{d:%Y%m%d}-{a}-{i:03d}" for a, i in zip(acc.tolist(), k.tolist(),
                                                              strict=True)],
        "case_id": [case_of.get(a) for a in acc.tolist()],
        "account_id": acc, "customer_id": cust_ids[props.account],
        "channel": np.array(CHANNELS)[props.channel],
        "party": np.where(props.party == 1, "third_party", "debtor"),
        "planned_at": pl.Series(ts_us).cast(pl.Datetime("us", "UTC")),
        "local_time": [f"{m // 60:02d}:{m % 60:02d}" for m in props.minute.tolist()],
        "purpose": pl.Series(purpose.tolist(), dtype=pl.String),
        "template": pl.Series(template, dtype=pl.String),
        "message": pl.Series(message, dtype=pl.String),
        "conditional": props.retry, "strategy": strat.name, "strategy_version": strat.version,
        "arm": arms[props.account].astype(str),
        "value": pl.Series(value, dtype=pl.Float64).fill_nan(None),
        # a retry "only if the earlier call did not reach the debtor": planning assumes
        # every call is answered, so it is kept as conditional and checked when made
        "status": np.where(skipped, "if_unreached", np.where(allowed, "planned", "blocked")),
        "rule": pl.Series(rules, dtype=pl.String),
    }).cast(CONTACT_PLAN).sort("planned_at", "plan_id")  # type: ignore[arg-type]
