"""``creditdesk simulate compare``: prove a collection strategy in the twin before it touches anyone.

Each strategy runs the whole daily cycle once per seed on its own new store; the
same seed draws the same population and the same random stream for every strategy
(common random numbers), so the differences between strategies are the strategies'.
The figures per run come from the books and the collections tables, with SQL inside
the store (:func:`run_figures`); across seeds each figure is reported as the mean and
a 95 % Student-t interval (:func:`summarise`). Definitions: ``docs/collections.md``.

>>> summarise([1.0, 2.0, 3.0])["mean"]
2.0
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from creditdesk.errors import BadInputError
from creditdesk.simulate.params import SEASONED_BOOK

__all__ = ["METRICS", "OFFER_FIGURES", "arm_figures", "compare_strategies", "offer_figures",
           "run_figures", "summarise"]

#: the figures compared, in report order; True where more is better
METRICS: dict[str, bool] = {
    "recovery_rate": True,
    "roll_rate_m1_m2": False,
    "contacts_per_delinquent_account": False,
    "contacts_per_10000_recovered": False,
    "complaints_per_1000_delinquent": False,
    "cost_to_collect": False,
    "net_recovery": True,
    "violations": False,
}
#: "per 10,000 recovered": per 10,000 of the currency's major unit (10,000 yuan = 1e6 fen)
PER_10000_MAJOR = 1_000_000
#: repayment arrangements offered (the twin's ``offers`` table) and what the books show of
#: them; reported beside the compared figures (definitions in docs/collections.md)
OFFER_FIGURES = (
    "offers_made", "offers_reached", "offers_accepted", "offers_declined",
    "offers_refused_by_policy", "offers_blocked", "offer_acceptance_rate",
    "hardship_plans", "arrears_restructured", "plan_repaid", "plans_back_in_arrears",
    "settlements", "settlement_paid", "settlement_written_off",
)

_OFFERS_SQL = """
SELECT count(*) FILTER (WHERE outcome IN ('not_reached', 'declined', 'accepted', 'rejected'))
         ::BIGINT AS offers_made,
       count(*) FILTER (WHERE outcome IN ('declined', 'accepted', 'rejected'))::BIGINT
         AS offers_reached,
       count(*) FILTER (WHERE outcome = 'accepted')::BIGINT AS offers_accepted,
       count(*) FILTER (WHERE outcome = 'declined')::BIGINT AS offers_declined,
       count(*) FILTER (WHERE outcome = 'refused')::BIGINT AS offers_refused_by_policy,
       count(*) FILTER (WHERE outcome = 'blocked')::BIGINT AS offers_blocked
FROM offers
"""

_PLANS_SQL = """
WITH hp AS (SELECT plan_id, account_id, principal, business_date FROM plans
            WHERE kind = 'hardship'),
owed AS (
  SELECT hp.plan_id,
         coalesce((SELECT sum(s.remaining_principal) FROM plan_state s
                   WHERE s.plan_id = hp.plan_id AND s.status IN ('active', 'billed_out')), 0)
         + coalesce((SELECT sum(u.principal + u.interest + u.fee + u.penalty) FROM dues u
                     WHERE u.plan_id = hp.plan_id), 0) AS owed,
         coalesce((SELECT max(s.status) FROM plan_state s WHERE s.plan_id = hp.plan_id), '')
           AS status,
         EXISTS (SELECT 1 FROM account_day a WHERE a.account_id = hp.account_id
                 AND a.business_date > hp.business_date AND a.dpd > 0) AS back
  FROM hp)
SELECT count(*)::BIGINT AS hardship_plans,
       coalesce(sum(hp.principal), 0)::BIGINT AS arrears_restructured,
       coalesce(sum(hp.principal - o.owed) FILTER (WHERE o.status <> 'settled'), 0)::BIGINT
         AS plan_repaid,
       count(*) FILTER (WHERE o.back)::BIGINT AS plans_back_in_arrears
FROM hp JOIN owed o USING (plan_id)
"""

_SETTLE_SQL = """
SELECT count(*)::BIGINT AS settlements, coalesce(sum(t.amount), 0)::BIGINT AS settlement_paid,
       coalesce((SELECT sum(debit) FROM journal WHERE event = 'settlement_discount'
                 AND ledger_account = 'settlement_discount'), 0)::BIGINT
         AS settlement_written_off
FROM transactions t JOIN postings p USING (txn_id)
WHERE t.type = 'settlement' AND p.status = 'posted'
"""

_ROLL_SQL = """
WITH entered AS (  -- the first day of each spell in arrears: DPD 1
  SELECT account_id, business_date AS d1 FROM account_day WHERE dpd = 1
), last AS (SELECT max(business_date) AS d FROM account_day)
SELECT count(*)::BIGINT AS entered,
       count(*) FILTER (WHERE EXISTS (
         SELECT 1 FROM account_day a WHERE a.account_id = e.account_id
           AND a.business_date = e.d1 + 30 AND a.dpd >= 31))::BIGINT AS rolled
FROM entered e, last WHERE e.d1 + 30 <= last.d
"""


def _ratio(num: float, den: float, scale: float = 1.0) -> float | None:
    return None if den == 0 else round(num * scale / den, 6)


def run_figures(store: Any, commission: int) -> dict[str, float | int | None]:
    """The compared figures of one finished twin run, from its store.

    ``commission``: fen paid to agencies (the twin counts it as repayments arrive).
    Recovery is the twin's arrears recovery (:func:`creditdesk.simulate.kpis.recovery`);
    the M1 -> M2 roll rate is a flow rate: of the spells that reached DPD 1 at least 30
    days before the last date, the share still unpaid 30 days later (DPD >= 31).
    """
    from creditdesk.simulate.kpis import recovery, rule_violations, run_query

    rec = recovery(store)
    delinquent = int(rec["delinquent_accounts"])
    collected = int(rec["arrears_collected"])
    roll = run_query(store, _ROLL_SQL).row(0, named=True)
    c = run_query(store, "SELECT count(*) FILTER (WHERE allowed)::BIGINT AS made, "
                         "coalesce(sum(cost), 0)::BIGINT AS cost FROM contacts").row(0, named=True)
    complaints = int(run_query(store, "SELECT count(*) AS n FROM complaints").item())
    made = int(c["made"] or 0)
    cost = int(c["cost"] or 0) + int(commission)
    return {
        "recovery_rate": rec["recovery_rate"],
        "roll_rate_m1_m2": _ratio(int(roll["rolled"] or 0), int(roll["entered"] or 0)),
        "contacts_per_delinquent_account": _ratio(made, delinquent),
        "contacts_per_10000_recovered": _ratio(made, collected, PER_10000_MAJOR),
        "complaints_per_1000_delinquent": _ratio(complaints, delinquent, 1000),
        "cost_to_collect": cost,
        "net_recovery": collected - cost,
        "violations": int(rule_violations(store)["total"]),
        # context, not compared
        "delinquent_accounts": delinquent, "arrears_collected": collected, "contacts": made,
        "complaints": complaints,
        **offer_figures(store),
    }


def offer_figures(store: Any) -> dict[str, float | int | None]:
    """The repayment arrangements of one finished run (:data:`OFFER_FIGURES`).

    From the twin's ``offers`` table: offers made (their contact allowed by the checker),
    reached, accepted, declined, refused by the arrangements policy (no contact) and
    blocked by the checker, and the acceptance rate (accepted / reached). From the
    books: hardship plans posted, the arrears they restructured, ``plan_repaid`` (what
    was restructured less what is still owed on the plans at the last date: instalments
    not yet due plus due items unpaid; plans of accounts later settled left out),
    ``plans_back_in_arrears`` (plans whose account was past due on a later date), and
    settlements posted, the money paid and the amount written off. The recovery rate
    counts arrears moved into a plan as cleared without a payment, and plan instalments
    paid on time as no collection: these figures show what it leaves out.
    """
    from creditdesk.simulate.kpis import run_query

    out: dict[str, float | int | None] = {}
    for sql in (_OFFERS_SQL, _PLANS_SQL, _SETTLE_SQL):
        row = run_query(store, sql).row(0, named=True)
        out.update({k: int(v or 0) for k, v in row.items()})
    out["offer_acceptance_rate"] = _ratio(int(out["offers_accepted"] or 0),
                                          int(out["offers_reached"] or 0))
    return {k: out[k] for k in OFFER_FIGURES}


def arm_figures(db: Path, strategy: str, commission_by_arm: dict[str, int]
                ) -> dict[str, dict[str, float | int | None]]:
    """:func:`run_figures` for each champion/challenger arm of a finished run's store.

    The run's file is attached read-only to a private connection in which every table
    with an ``account_id`` is a view restricted to the arm's accounts (the arm of an
    account is the strategy's stable hash), so each figure is computed exactly as for
    the whole run.
    """
    import duckdb
    import pyarrow as pa

    from creditdesk.collections.strategy import arm_of, load_strategy

    strat = load_strategy(strategy)
    out: dict[str, dict[str, float | int | None]] = {}
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{db}' AS src (READ_ONLY)").fetchall()
        ids = [r[0] for r in con.sql("SELECT account_id FROM src.accounts").fetchall()]
        arms = arm_of(strat, ids)
        con.register("_arms", pa.table({"account_id": ids, "arm": arms.astype(str).tolist()}))
        tables = [r[0] for r in con.sql(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'src'").fetchall()]
        cols = {t: {r[0] for r in con.sql(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = 'src' "
            "AND table_name = ?", params=[t]).fetchall()} for t in tables}
        for arm in strat.arms:
            for t in tables:
                where = (f" WHERE account_id IN (SELECT account_id FROM _arms WHERE arm = "
                         f"'{arm.name}')" if "account_id" in cols[t] else "")
                con.execute(f"CREATE OR REPLACE VIEW {t} AS SELECT * FROM src.{t}{where}"
                            ).fetchall()
            out[arm.name] = run_figures(con, commission_by_arm.get(arm.name, 0))
    finally:
        con.close()
    return out


def summarise(values: Sequence[float | int | None]) -> dict[str, Any]:
    """Mean and 95 % Student-t interval over seeds (``None`` bounds with fewer than 2).

    >>> s = summarise([10, 12, 14])
    >>> s["mean"], [round(x, 3) for x in s["ci95"]]
    (12.0, [7.032, 16.968])
    >>> summarise([5])["ci95"]
    [None, None]
    """
    from scipy.stats import t as student_t

    xs = [float(v) for v in values if v is not None]
    if not xs:
        return {"mean": None, "ci95": [None, None], "n": 0}
    mean = sum(xs) / len(xs)
    if len(xs) < 2:
        return {"mean": round(mean, 6), "ci95": [None, None], "n": 1}
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1))
    half = float(student_t.ppf(0.975, len(xs) - 1)) * sd / math.sqrt(len(xs))
    return {"mean": round(mean, 6), "ci95": [round(mean - half, 6), round(mean + half, 6)],
            "n": len(xs)}


def _check(strategies: Sequence[str], customers: int, days: int, seeds: int) -> None:
    from creditdesk.collections.strategy import load_strategy

    if not strategies:
        raise BadInputError("strategies must name at least one strategy; got none",
                            field="strategies", value="")
    for s in strategies:
        load_strategy(s)
    if not 1 <= customers <= 10_000_000:
        raise BadInputError(f"customers must be between 1 and 10000000; got {customers}",
                            field="customers", value=customers)
    if not 31 <= days <= 3660:
        raise BadInputError(f"days must be between 31 and 3660 (a roll rate needs 30 days); "
                            f"got {days}", field="days", value=days)
    if not 1 <= seeds <= 100:
        raise BadInputError(f"seeds must be between 1 and 100; got {seeds}", field="seeds",
                            value=seeds)


def compare_strategies(strategies: Sequence[str], *, customers: int, days: int, seeds: int,
                       first_seed: int = 1, scenario: str = "baseline",
                       start: date = date(2026, 1, 1), behaviour_model: Path | None = None,
                       workdir: Path | None = None,
                       seasoning_months: tuple[int, int] = SEASONED_BOOK,
                       on_run: Callable[[str, int, int, int], None] | None = None
                       ) -> dict[str, Any]:
    """Run the twin once per strategy and seed; figures per run and their summary.

    Returns ``{"strategies": {name: {metric: {"mean", "ci95", "n"}}}, "arms": {name:
    {arm: {metric: ...}}}, "runs": [...], ...}``: every figure also per champion /
    challenger arm; beside the compared :data:`METRICS`, the repayment arrangements'
    :data:`OFFER_FIGURES`. Each run's store is deleted after its figures are read unless
    ``workdir`` is given (then ``workdir/<strategy>-<seed>.duckdb`` stays for audit).
    The book is seasoned (``seasoning_months``, default
    :data:`~creditdesk.simulate.params.SEASONED_BOOK`): the customers there on day 0
    have accounts 1-36 months old, as in a lender's book, so that the arrangements
    policy's account-age rule can be met by a strategy that offers hardship plans.
    """
    from creditdesk.risk.refresh import BEHAVIOUR_MODEL
    from creditdesk.simulate.driver import run_twin
    from creditdesk.simulate.params import load_params
    from creditdesk.store import open_store

    _check(strategies, customers, days, seeds)
    params = load_params(scenario=scenario, seasoning_months=tuple(seasoning_months))
    model = BEHAVIOUR_MODEL if behaviour_model is None else behaviour_model
    tmp = Path(tempfile.mkdtemp(prefix="creditdesk-compare-")) if workdir is None else workdir
    tmp.mkdir(parents=True, exist_ok=True)
    runs: list[dict[str, Any]] = []
    total = len(strategies) * seeds
    try:
        for seed in range(first_seed, first_seed + seeds):
            for name in strategies:
                db = tmp / f"{Path(name).stem}-{seed}.duckdb"
                for p in (db, db.with_suffix(".duckdb.wal")):
                    p.unlink(missing_ok=True)
                store = open_store(f"duckdb:///{db}")
                try:
                    run = run_twin(store, customers=customers, days=days, seed=seed,
                                   params=params, start=start, strategy=name,
                                   behaviour_model=None if str(model) == "none" else model)
                    figs = run_figures(store, run.commission)
                finally:
                    store.close()
                by_arm = arm_figures(db, name, run.commission_by_arm)
                if workdir is None:
                    db.unlink(missing_ok=True)
                    db.with_suffix(".duckdb.wal").unlink(missing_ok=True)
                runs.append({"strategy": run.strategy, "seed": seed, **figs, "arms": by_arm})
                if on_run:
                    on_run(name, seed, len(runs), total)
    finally:
        if workdir is None:
            shutil.rmtree(tmp, ignore_errors=True)
    names = [r["strategy"] for r in runs]
    out: dict[str, Any] = {"strategies": {}, "runs": runs, "customers": customers,
                           "days": days, "seeds": list(range(first_seed, first_seed + seeds)),
                           "scenario": scenario}
    out["arms"] = {}
    for name in dict.fromkeys(names):
        mine = [r for r in runs if r["strategy"] == name]
        out["strategies"][name] = {m: summarise([r[m] for r in mine])
                                   for m in (*METRICS, *OFFER_FIGURES)}
        out["arms"][name] = {arm: {m: summarise([r["arms"][arm][m] for r in mine])
                                   for m in (*METRICS, *OFFER_FIGURES)}
                             for arm in mine[0]["arms"]}
    return out
