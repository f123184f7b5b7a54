"""The daily-cycle driver: borrowers act, the ledger posts and closes, contacts go out.

One business date at a time, exactly the spine of DESIGN.md:

1. contacts for the date are planned from yesterday's books by the collection
   strategy (:mod:`creditdesk.collections`: ``bucket_rules`` by default), each passed
   through the compliance checker, and their outcomes drawn (answered, read, promise);
2. complaints are drawn from the annoyance the contacts built up;
3. borrowers act: purchases against their available credit, payments planned at the
   last bill, promised payments, self-cure;
4. the day's transactions are posted through ``creditdesk load``'s validation and the
   end-of-day batch closes the date;
5. the closed books are read back: new bills and loan instalments trigger each
   borrower's monthly repayment decision.

A strategy with ``offers`` also offers repayment arrangements in step 1; the debtors'
answers, the arrangements posted through the ledger and the plans kept or broken are
:mod:`creditdesk.simulate.offers`.

Everything random comes from one seeded generator per date, so a run is a pure
function of (parameters, seed): the same seed gives the same books.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

from creditdesk.collections.features import FEATURES, case_features
from creditdesk.collections.gate import CHANNEL_NAMES, ContactLog, gate
from creditdesk.collections.optimize import CollectModels, choose, shipped_models
from creditdesk.collections.proposals import BookView, Proposals, placements, propose
from creditdesk.collections.strategy import Strategy, arm_of, load_strategy
from creditdesk.compliance import load_profile
from creditdesk.ledger.eod import run_eod
from creditdesk.ledger.ingest import as_text, load_frames
from creditdesk.ledger.params import ledger_params
from creditdesk.ledger.post_typed import post_typed
from creditdesk.products import default_catalogue
from creditdesk.products.catalogue import Catalogue
from creditdesk.simulate import behaviour as bh
from creditdesk.simulate.offers import TwinOffers
from creditdesk.simulate.params import SimParams, unemployment_path
from creditdesk.simulate.population import Population, draw_population
from creditdesk.simulate.tables import append_sim, create_sim_tables
from creditdesk.store.base import Store
from creditdesk.store.duckdb_store import DuckDBStore
from creditdesk.store.write_behind import WriteBehind

__all__ = ["TwinRun", "run_twin"]

_VIEW_COLS = ("account_id", "status", "principal", "total_due", "billed_principal",
              "overdue_amount", "dpd", "bucket", "interest_on", "accrued_interest")
_MAX_TERMS = 12
_HOLD_DAYS = 14
#: behaviour-score PD from which a current account gets pre-due reminders
FLAG_PD = 0.08


@dataclass
class TwinRun:
    """What a run did, for the KPIs: counts the books do not hold."""

    start: date
    days: int
    customers: int
    accounts: int
    strategy: str = "bucket_rules"
    seconds_by_stage: dict[str, float] = field(default_factory=dict)
    #: fen paid to collection agencies: their commission on what placed accounts repaid
    commission: int = 0
    commission_by_arm: dict[str, int] = field(default_factory=dict)


@dataclass
class _State:
    """Per-account and per-customer arrays the behaviour reads and updates."""

    idx: pl.DataFrame             # account_id -> idx
    cust: np.ndarray              # account -> customer index
    is_loan: np.ndarray
    risk: np.ndarray
    limit: np.ndarray
    spend: np.ndarray
    opened: np.ndarray            # day ordinal
    tz: np.ndarray
    phone: np.ndarray
    ids: np.ndarray
    cust_ids: np.ndarray
    # yesterday's books
    open_: np.ndarray
    principal: np.ndarray
    total_due: np.ndarray
    billed: np.ndarray
    overdue: np.ndarray
    accrued: np.ndarray           # interest accrued, not yet billed
    dpd: np.ndarray
    bucket: np.ndarray
    # plans of the borrower
    status_now: np.ndarray
    pay_day: np.ndarray
    pay_kind: np.ndarray
    pay_part: np.ndarray          # a part-payment's amount, fixed when decided
    revolved: np.ndarray          # still revolving the day after the last due date
    next_due: np.ndarray
    inattentive: np.ndarray
    promise_day: np.ndarray
    loan_due: np.ndarray          # (n, 12) due-day ordinals of a loan's instalments
    loan_total: np.ndarray        # (n, 12) instalment totals
    # per customer
    pd: np.ndarray                # latest behaviour-score PD (NaN before the first refresh)
    annoyance: np.ndarray
    hardship_until: np.ndarray
    hold_until: np.ndarray
    # collections
    arm: np.ndarray               # champion/challenger arm of each account (stable)
    broken: np.ndarray            # broken promises since the account last went current
    broken_on: np.ndarray         # day a pending promise is seen broken (-1 none)
    placed_on: np.ndarray         # day placed with an agency (-1 not placed)
    commission: np.ndarray        # the placing agency's commission rate
    made_7d: np.ndarray           # (7, customers) contacts made, by day modulo 7
    reached_7d: np.ndarray        # (7, customers) of them, reached the debtor
    # repayment arrangements offered by the strategy (None: it offers none)
    offers: TwinOffers | None = None
    #: each account's strategy segment, and the PDs it was taken from (it changes with them)
    segment: np.ndarray | None = None
    segment_pd: np.ndarray | None = None
    #: the last closed date's account ids and their state rows (see ``_rows_of``)
    rows_cache: tuple[pl.Series, np.ndarray] | None = None


def _state(pop: Population, start: date) -> _State:
    t = pop.traits
    n = t.height
    n_c = pop.customers.height
    cust_index = {c: i for i, c in enumerate(pop.customers.get_column("customer_id").to_list())}
    z = np.zeros(n, np.int64)
    return _State(
        idx=t.select("account_id", pl.col("idx").cast(pl.Int64)),
        cust=np.array([cust_index[c] for c in t.get_column("customer_id").to_list()]),
        is_loan=(t.get_column("product") == "cash_loan").to_numpy(),
        risk=t.get_column("risk").to_numpy(), limit=t.get_column("credit_limit").to_numpy(),
        spend=t.get_column("spend_daily_mean").to_numpy(),
        opened=np.array([(o - start).days for o in t.get_column("opened").to_list()]),
        tz=t.get_column("timezone").to_numpy(), phone=t.get_column("phone").to_numpy(),
        ids=t.get_column("account_id").to_numpy(),
        cust_ids=t.get_column("customer_id").to_numpy(),
        open_=np.zeros(n, bool), principal=z.copy(), total_due=z.copy(), billed=z.copy(),
        overdue=z.copy(), accrued=z.copy(), dpd=np.zeros(n, np.int32),
        bucket=np.full(n, "M0", dtype=object),
        status_now=np.zeros(n, np.int8), pay_day=np.full(n, -1, np.int32),
        pay_kind=np.zeros(n, np.int8), pay_part=z.copy(),
        revolved=np.zeros(n, bool), next_due=np.full(n, -10**6),
        inattentive=np.zeros(n, bool), promise_day=np.full(n, -1, np.int32),
        loan_due=np.full((n, _MAX_TERMS), -1, np.int32),
        loan_total=np.zeros((n, _MAX_TERMS), np.int64),
        pd=np.full(n, np.nan), annoyance=np.zeros(n_c), hardship_until=np.full(n_c, -1, np.int32),
        hold_until=np.full(n_c, -1, np.int32),
        arm=np.full(n, "champion", dtype=object), broken=np.zeros(n, np.int32),
        broken_on=np.full(n, -1, np.int32), placed_on=np.full(n, -1, np.int32),
        commission=np.zeros(n), made_7d=np.zeros((7, n_c), np.int16),
        reached_7d=np.zeros((7, n_c), np.int16),
    )


def run_twin(store: Store, *, customers: int, days: int, seed: int, params: SimParams,
             start: date = date(2026, 1, 1), profile: str = "CN",
             catalogue: Catalogue | None = None, behaviour_model: Path | None = None,
             strategy: Strategy | str = "bucket_rules", collect_models: Path | None = None,
             on_day: Callable[[date, int, int], None] | None = None,
             write_behind: bool = True) -> TwinRun:
    """Draw a population, then run ``days`` business dates of the daily cycle on ``store``.

    The store must be new (no closed date): the twin owns the book it builds. With a
    ``behaviour_model`` (a ``creditdesk risk train`` directory on the behaviour
    features), the behaviour score is refreshed after the end of day of every month
    end (``risk.refresh``) and its PD decides who gets pre-due reminders. ``strategy``
    (a built-in name, a YAML path or a :class:`Strategy`) plans the contacts; an
    ``optimized`` one values its menu with ``collect_models`` (default: the shipped ones).
    On a DuckDB store each date's writes run on a second thread while the next date is
    computed (:class:`~creditdesk.store.write_behind.WriteBehind`: same books, each date
    still one transaction); ``write_behind=False`` writes them in line.
    """
    import time

    from creditdesk.errors import BadInputError

    if days < 1:
        raise BadInputError(f"days must be at least 1; got {days}", field="days", value=days)
    if store.last_closed() is not None:
        raise BadInputError("the twin needs a new store; this one already has closed dates",
                            field="store", value=str(store.location))
    cat = catalogue or default_catalogue()
    lp = ledger_params(cat)
    strat = strategy if isinstance(strategy, Strategy) else load_strategy(strategy)
    pop = draw_population(customers, start, days, params, seed)
    st = _state(pop, start)
    st.arm = arm_of(strat, st.ids)
    models = None
    if strat.planner.kind == "optimized" and not all(a.explore for a in strat.arms):
        models = CollectModels.load(collect_models or shipped_models())
    st.offers = TwinOffers.start(strat, pop.traits.get_column("opened").to_list(), cat, seed,
                                 collect_models)
    create_sim_tables(store)
    load_frames(store, cat, customers=as_text(pop.customers), accounts=as_text(pop.accounts),
                transactions=as_text(pop.drawdowns.with_columns(
                    pl.format("sim{}-{}-open-{}", pl.lit(seed), pl.col("business_date"),
                              pl.col("account_id")).alias("external_id"))),
                load_id="twin-population")
    con = getattr(store, "con", None)
    if con is not None:
        # a closed date is durable in the write-ahead log at commit; folding the log
        # into the file (a checkpoint) after every date would rewrite the growing tables
        # daily, so let it grow to 1 GB between checkpoints (DuckDB checkpoints on close)
        con.execute("SET checkpoint_threshold = '1GB'").fetchall()
        # the twin keeps its own state in memory; DuckDB's cache need not grow past this
        con.execute(f"SET memory_limit = '{duckdb_memory_mb(pop.traits.height)}MB'").fetchall()
    log = ContactLog.new(load_profile(profile))
    unemp = unemployment_path(params.scenario, days)
    run = TwinRun(start, days, customers, pop.traits.height, strategy=strat.name)
    timer = run.seconds_by_stage
    # a date's writes run on the second core while the next date is computed
    wb = WriteBehind(store) if write_behind and isinstance(store, DuckDBStore) else None
    book: Store = wb or store
    try:
        for t in range(days):
            d = start + timedelta(days=t)
            rng = np.random.default_rng([seed, 2, t])
            t0 = time.perf_counter()
            # one transaction per date: the day's contacts, transactions, closing and the
            # decisions it triggers are on file together or not at all
            with book.transaction(business_date=d):
                _hardship(st, t, rng, params, unemp[t] / unemp[0])
                _contacts(book, st, t, d, rng, params, log, strat, models)
                _complaints(book, st, t, d, rng, params)
                t1 = time.perf_counter()
                txns = _payments(st, t, rng, params, run) + _purchases(st, t, rng, params)
                _post(book, cat, d, txns, seed)
                t2 = time.perf_counter()
                run_eod(book, d, lp, first=start)
                t2b = time.perf_counter()
                _read_back(book, st, t, d, rng, params)
                if behaviour_model is not None:
                    _refresh(book, st, d, behaviour_model)
            t3 = time.perf_counter()
            for k, v in (("behaviour_and_contacts", t1 - t0), ("post", t2 - t1),
                         ("eod", t2b - t2), ("read_back_and_commit", t3 - t2b)):
                timer[k] = timer.get(k, 0.0) + v
            if on_day:
                on_day(d, t + 1, days)
    except BaseException:
        if wb is not None:
            with suppress(Exception):  # the run's own error is the one to show
                wb.finish()
        raise
    if wb is not None:
        t4 = time.perf_counter()
        wb.finish()
        timer["write_behind_wait"] = wb.waited + 0.0
        timer["read_back_and_commit"] = (timer.get("read_back_and_commit", 0.0)
                                         + time.perf_counter() - t4)
    return run


def duckdb_memory_mb(accounts: int, ram_mb: int | None = None) -> int:
    """DuckDB's memory limit for a twin of ``accounts`` accounts, in MB.

    The twin keeps its own state in memory, so DuckDB's cache is capped: 1 GB up to
    250,000 accounts, then 4 KB an account (the month-end behaviour query, run inside the
    date's open transaction beside the date's uncommitted rows, ran out of 1 GB at
    1,300,000 accounts), never more than half the machine's memory.

    >>> duckdb_memory_mb(130_000, ram_mb=24_000), duckdb_memory_mb(1_300_000, ram_mb=24_000)
    (1024, 5078)
    >>> duckdb_memory_mb(1_300_000, ram_mb=8_000)
    4000
    """
    if ram_mb is None:
        import os

        ram_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    return int(max(1024, min(accounts * 4 // 1024, ram_mb // 2)))


def _hardship(st: _State, t: int, rng: np.random.Generator, p: SimParams, macro: float) -> None:
    hazard = p.hardship_daily_hazard * macro ** p.hardship_unemployment_elasticity
    hit = (rng.random(len(st.hardship_until)) < hazard) & (st.hardship_until < t)
    st.hardship_until[hit] = t + rng.exponential(p.hardship_days, int(hit.sum())).astype(np.int32)
    st.annoyance *= p.annoyance_decay


def _contacts(store: Store, st: _State, t: int, d: date, rng: np.random.Generator,
              p: SimParams, log: ContactLog, strat: Strategy, models: CollectModels | None
              ) -> None:
    # promises whose date passed unpaid are seen broken today; a cure forgets them
    seen = st.broken_on == t
    st.broken[seen] += 1
    st.broken_on[seen] = -1
    st.broken[st.dpd == 0] = 0
    hold_c = st.hold_until >= t
    view = BookView(
        dpd=st.dpd.astype(np.int64), days_to_due=(st.next_due - t).astype(np.int64),
        total_due=np.where(st.open_, st.total_due, 0),
        flagged=(st.pd >= FLAG_PD) | (st.status_now > 0) | (st.dpd > 0), arm=st.arm,
        segment=_segments(st, strat), hold=hold_c[st.cust],
        broken=st.broken.astype(np.int64), follow_up=seen)
    _placements(st, t, strat, view)
    st.made_7d[t % 7] = 0
    st.reached_7d[t % 7] = 0
    props = propose(strat, view)
    if strat.planner.kind == "optimized" and len(props):
        props = _optimize(store, st, t, d, rng, strat, props, models)
    n_base = len(props)
    pending = None
    if st.offers is not None:
        offer_props, pending = st.offers.plan(
            store, t, d, ids=st.ids, open_=st.open_, arm=st.arm, bucket=st.bucket, dpd=st.dpd,
            broken=st.broken, overdue=st.overdue, cust_ids=st.cust_ids,
            features=lambda rows: _features(st, t, rows))
        if len(offer_props):
            props = _concat(props, offer_props)
    if not len(props):
        return
    if t % 4 == 0:
        log.prune(int((d - date(1970, 1, 1)).days) * 86_400_000_000)
    # offer contacts draw from the offers' own generator: the day's main stream stays
    # what a strategy without offers draws
    u_connect = rng.random(n_base)
    if len(props) > n_base and st.offers is not None:
        u_connect = np.concatenate([u_connect, st.offers.rng(t).random(len(props) - n_base)])
    allowed, rules, connected, ts_us, skipped = gate(
        props, d, st.cust, st.tz, st.phone, hold_c, st.dpd, log,
        u_connect, np.array(p.rpc_by_hour), p.robot_rpc_factor, strat.templates)
    a = props.account
    ch = props.channel
    is_msg = ch <= 1
    u_read = rng.random(n_base)
    is_offer = np.arange(len(props)) >= n_base
    if st.offers is not None and is_offer.any():
        u_read = np.concatenate([u_read, st.offers.rng(t).random(len(props) - n_base)])
    read = allowed & is_msg & (u_read < p.reminder_read_rate)
    reached = np.where(is_msg, read, connected)
    # annoyance of every contact made
    add = np.array([p.annoyance_per_contact[c] for c in CHANNEL_NAMES])[ch] * allowed
    # out of hours (local, before 08:00 or from 21:00) annoys more; third-party contact
    # (annoyance_third_party) arrives with strategies that make it (collections engine)
    late_hour = (props.minute < 8 * 60) | (props.minute >= 21 * 60)
    add = add + allowed * late_hour * p.annoyance_out_of_hours
    np.add.at(st.annoyance, st.cust[a], add)
    # reminders read: a share of inattentive late payers pay on time after all
    conv_p = p.reminder_late_reduction / max(p.reminder_read_rate, 1e-9)
    u_fix = np.concatenate([rng.random(n_base), np.ones(len(props) - n_base)])
    fix = props.reminder & read & st.inattentive[a] & (u_fix < conv_p)
    fa = a[fix]
    st.pay_kind[fa] = bh.DUE
    st.pay_day[fa] = np.maximum(st.next_due[fa], t)
    st.inattentive[fa] = False
    # collection contacts that reached the debtor may end in a promise
    coll = reached & ~props.reminder & ~is_offer & (st.promise_day[a] < t)
    rate = np.array([p.promise_rate[c] for c in CHANNEL_NAMES])[ch]
    hard = st.hardship_until[st.cust[a]] >= t
    u_promise = np.concatenate([rng.random(n_base), np.ones(len(props) - n_base)])
    promise = coll & (u_promise < bh.promise_probability(
        rate, st.annoyance[st.cust[a]], hard, p))
    # one promise per account per day (the first that happened)
    pa, first = np.unique(a[promise], return_index=True)
    pidx = np.nonzero(promise)[0][first]
    promise = np.zeros(len(props), bool)
    promise[pidx] = True
    pdays = t + rng.integers(0, p.promise_days + 1, len(pa))
    kept = rng.random(len(pa)) < p.promise_kept_rate * np.where(hard[pidx], 0.5, 1.0)
    st.promise_day[pa] = np.where(kept, pdays, t + p.promise_days)  # broken: no payment
    st.broken_on[pa[~kept]] = pdays[~kept] + 1
    st.pay_kind[pa[kept]] = np.where(st.pay_kind[pa[kept]] == bh.FULL, bh.FULL, bh.DUE)
    st.pay_day[pa[kept]] = pdays[kept]
    outcome = np.where(~allowed, 0, np.where(is_msg, np.where(read, 1, 2),
                                             np.where(connected, 3, 4)))
    names = np.array(CHANNEL_NAMES)[ch]
    keep = ~skipped
    np.add.at(st.made_7d[t % 7], st.cust[a], allowed.astype(np.int16))
    np.add.at(st.reached_7d[t % 7], st.cust[a], reached.astype(np.int16))
    cost = np.array([getattr(strat.costs, c) for c in CHANNEL_NAMES], np.int64)[ch] * allowed
    ka = a[keep]
    contacts = pl.DataFrame({
        "contact_ts": pl.Series(ts_us[keep]).cast(pl.Datetime("us", "UTC")),
        "customer_id": _gather(st.cust_ids, ka), "account_id": _gather(st.ids, ka),
        "purpose": _text(np.where(props.reminder[keep], 0, np.where(is_offer[keep], 1, 2)),
                         ("reminder", "offer", "collection")),
        "channel": _text(ch[keep], CHANNEL_NAMES), "allowed": allowed[keep],
        "rule": pl.Series([r for r, k in zip(rules, keep, strict=True) if k], dtype=pl.String),
        "outcome": _text(outcome[keep], ("blocked", "read", "sent", "connected", "no_answer")),
        "promise": promise[keep], "dpd": st.dpd[ka],
        "bucket": pl.Series(st.bucket[ka], dtype=pl.String), "strategy": strat.name,
        "arm": pl.Series(st.arm[ka], dtype=pl.String), "cost": cost[keep],
        "assignee": _text((st.placed_on[ka] >= 0).astype(np.int8), ("inhouse", "agency")),
    }).with_columns(pl.lit(d).alias("business_date"))
    append_sim(store, "contacts", contacts)
    append_sim(store, "promises", pl.DataFrame({
        "business_date": [d] * len(pa), "account_id": st.ids[pa],
        "channel": names[pidx], "promise_date": [d + timedelta(days=int(x - t)) for x in pdays],
        "amount": st.overdue[pa]}))
    if st.offers is not None:
        base = ~is_offer & ~props.reminder
        st.offers.signals(t, a[base], ch[base], reached[base], hard[base], p)
        if pending is not None and len(pending.rows):
            posted = st.offers.answer(
                store, t, d, pending, allowed=allowed[is_offer], reached=reached[is_offer],
                channel=ch[is_offer], hardship=st.hardship_until[st.cust] >= t, ids=st.ids,
                cust_ids=st.cust_ids, arm=st.arm, dpd=st.dpd, bucket=st.bucket, p=p)
            for rows in posted.values():
                # the arrears are now in a plan or settled: what was planned for them goes
                st.pay_kind[rows] = bh.NONE
                st.pay_day[rows] = -1
                st.promise_day[rows] = -1
                st.broken_on[rows] = -1


def _segments(st: _State, strat: Strategy) -> np.ndarray:
    """Each account's segment: taken again only when the PDs changed (a month end)."""
    if (st.segment is None or st.segment_pd is None
            or not np.array_equal(st.segment_pd, st.pd, equal_nan=True)):
        st.segment = strat.segment_of(st.pd, st.is_loan)
        st.segment_pd = st.pd.copy()
    return st.segment


def _text(codes: np.ndarray, names: tuple[str, ...] | list[str]) -> pl.Series:
    """Small integer codes as their texts (cheaper than NumPy's fixed-width strings)."""
    return pl.Series(codes.astype(np.uint32)).replace_strict(
        list(range(len(names))), list(names), return_dtype=pl.String)


def _gather(ids: np.ndarray, rows: np.ndarray) -> pl.Series:
    """``ids[rows]`` as a text Series (``ids``: the twin's id arrays, texts)."""
    return pl.Series(ids[rows], dtype=pl.String)


def _features(st: _State, t: int, rows: np.ndarray) -> pd.DataFrame:
    """The case features of account ``rows`` this morning (what the scores see)."""
    c = st.cust[rows]
    return case_features(
        dpd=st.dpd[rows], days_to_due=st.next_due[rows] - t, total_due=st.total_due[rows],
        overdue=st.overdue[rows], is_loan=st.is_loan[rows], pd=st.pd[rows],
        contacts_7d=st.made_7d.sum(axis=0)[c], reached_7d=st.reached_7d.sum(axis=0)[c],
        promise_pending=st.promise_day[rows] >= t, broken=st.broken[rows])


def _concat(a: Proposals, b: Proposals) -> Proposals:
    return Proposals(*(np.concatenate([getattr(a, f), getattr(b, f)])
                       for f in a.__dataclass_fields__))


def _optimize(store: Store, st: _State, t: int, d: date, rng: np.random.Generator,
              strat: Strategy, menu: Proposals, models: CollectModels | None) -> Proposals:
    """The optimized strategy's pick from the menu; every decision logged with its features."""
    accs = np.unique(menu.account)
    feats = _features(st, t, accs)
    feats.index = accs
    explore = np.zeros(len(st.ids), bool)
    explore[accs] = np.isin(st.arm[accs], [a.name for a in strat.arms if a.explore])
    day = choose(strat, menu, feats, explore, st.cust, models, rng)
    lg = day.log.sort_values("account")
    la = lg["account"].to_numpy()
    f = feats.loc[la]
    append_sim(store, "treatments", pl.DataFrame({
        "business_date": [d] * len(la), "account_id": st.ids[la], "customer_id": st.cust_ids[la],
        "strategy": strat.name, "arm": st.arm[la].astype(str),
        "treatment": lg["treatment"].to_numpy().astype(str),
        "propensity": lg["propensity"].to_numpy(), "value": lg["value"].to_numpy(),
        "total_due": st.total_due[la], "overdue": st.overdue[la],
        **{k: f[k].to_numpy() for k in FEATURES}}))
    return menu.take(day.chosen)


def _placements(st: _State, t: int, strat: Strategy, view: BookView) -> None:
    """Place accounts whose bucket's path says so with the agency; recall on cure or close."""
    out = ~st.open_ | (st.dpd == 0)
    st.placed_on[out] = -1
    st.commission[out] = 0.0
    rate = placements(strat, view).rate
    new = (rate > 0) & (st.placed_on < 0) & st.open_
    st.placed_on[new] = t
    st.commission[new] = rate[new]


def _complaints(store: Store, st: _State, t: int, d: date, rng: np.random.Generator,
                p: SimParams) -> None:
    active = np.nonzero(st.annoyance > 0.05)[0]
    if not len(active):
        return
    hit = active[rng.random(len(active)) < bh.complaint_probability(st.annoyance[active], p)]
    if not len(hit):
        return
    st.hold_until[hit] = t + _HOLD_DAYS
    # the account the complaint is about: the customer's most delinquent one
    acc = pl.DataFrame({"c": st.cust, "dpd": st.dpd, "i": np.arange(len(st.cust))}).filter(
        pl.col("c").is_in(hit)).sort("dpd", descending=True).unique("c", keep="first").sort("c")
    ai = acc.get_column("i").to_numpy()
    append_sim(store, "complaints", pl.DataFrame({
        "business_date": [d] * len(ai), "customer_id": st.cust_ids[ai],
        "account_id": st.ids[ai], "dpd": st.dpd[ai],
        "annoyance": st.annoyance[st.cust[ai]]}))


def _payments(st: _State, t: int, rng: np.random.Generator, p: SimParams, run: TwinRun
              ) -> list[pl.DataFrame]:
    """Repayments dated today: planned at the bill, promised, or a self-cure."""
    due = (st.pay_day == t) & st.open_
    kind = np.where(due, st.pay_kind, bh.NONE)
    amount = np.zeros(len(kind), np.int64)
    upcoming = _upcoming_loan_total(st, t)
    # paying a revolving bill in full clears the interest accrued since it too (settled
    # before principal), plus today's accrual: a day's interest is at most 0.1 % here
    full = st.total_due + st.billed + st.accrued + (st.billed + st.accrued) // 1000 + 1
    amount = np.where(kind == bh.FULL, np.where(st.is_loan, st.overdue + upcoming, full), amount)
    amount = np.where(kind == bh.DUE, np.where(st.is_loan, st.overdue + upcoming, st.total_due),
                      amount)
    amount = np.where(kind == bh.PARTIAL, np.minimum(st.pay_part, st.overdue),
                      amount)
    if st.offers is not None:  # hardship-plan instalments, paid on their due dates
        amount = amount + st.offers.payments(t, st.open_)
    # self-cure: a delinquent account with nothing planned pays its arrears today
    idle = st.open_ & (st.dpd > 0) & (amount == 0) & (st.pay_day < t)
    hard = st.hardship_until[st.cust] >= t
    cure = idle & (rng.random(len(kind)) < p.self_cure_daily * np.where(hard, 0.3, 1.0))
    amount = np.where(cure, st.overdue, amount)
    pay = np.nonzero(amount > 0)[0]
    if not len(pay):
        return []
    placed = pay[st.placed_on[pay] >= 0]
    fee = np.round(amount[placed] * st.commission[placed]).astype(np.int64)
    run.commission += int(fee.sum())
    for arm in np.unique(st.arm[placed]).tolist():
        run.commission_by_arm[arm] = (run.commission_by_arm.get(arm, 0)
                                      + int(fee[st.arm[placed] == arm].sum()))
    return [pl.DataFrame({"account_id": st.ids[pay], "type": ["repayment"] * len(pay),
                          "amount": amount[pay]})]


def _upcoming_loan_total(st: _State, t: int) -> np.ndarray:
    """The next unbilled instalment of each loan due within ten days (0 otherwise)."""
    loans = np.flatnonzero(st.is_loan)
    due = st.loan_due[loans]
    out = np.zeros(len(st.is_loan), np.int64)
    out[loans] = (st.loan_total[loans] * ((due >= t) & (due <= t + 10))).sum(axis=1)
    return out


def _purchases(st: _State, t: int, rng: np.random.Generator, p: SimParams) -> list[pl.DataFrame]:
    n = len(st.spend)
    hard = st.hardship_until[st.cust] >= t
    buy = (~st.is_loan & st.open_ & (st.dpd == 0)
           & (rng.random(n) < p.spend_days_per_month / 30.0))
    if st.offers is not None:  # a line in a hardship plan is frozen until the plan ends
        buy &= ~st.offers.book.plan_running(t)
    mean = st.spend * 30.0 / p.spend_days_per_month * np.where(hard, p.hardship_spend_factor, 1)
    amt = (mean * rng.lognormal(-p.spend_sigma ** 2 / 2, p.spend_sigma, n)).astype(np.int64)
    room = st.limit - st.principal
    amt = np.minimum(amt, room)
    ok = np.nonzero(buy & (amt >= 100))[0]
    if not len(ok):
        return []
    return [pl.DataFrame({"account_id": st.ids[ok], "type": ["purchase"] * len(ok),
                          "amount": amt[ok]})]


def _post(store: Store, cat: Catalogue, d: date, txns: list[pl.DataFrame], seed: int
          ) -> None:
    if txns:
        # the date first: DuckDB keeps 8 bytes of a text column's bounds per row group, so
        # the loader's read of the ids in a day's range then skips the other days' groups
        df = pl.concat(txns).with_columns(
            pl.lit(d).alias("business_date"),
            pl.format("{}-sim{}-{}", pl.lit(d.strftime("%Y%m%d")), pl.lit(seed),
                      pl.int_range(pl.len()).cast(pl.String).str.zfill(7)).alias("external_id"))
        # typed, as the twin makes them: the loader's rules without the text round trip
        post_typed(store, cat, df, load_id=f"twin-{d.isoformat()}")


def _read_back(store: Store, st: _State, t: int, d: date, rng: np.random.Generator,
               p: SimParams) -> None:
    """Yesterday's books for tomorrow, and the repayment decisions new bills trigger."""
    ad = _day_view(store, d)
    i = _rows_of(st, ad.get_column("account_id"))
    st.open_[:] = False
    st.open_[i] = (ad.get_column("status") == "open").to_numpy()
    for name, col in (("principal", "principal"), ("total_due", "total_due"),
                      ("billed", "billed_principal"), ("overdue", "overdue_amount"),
                      ("dpd", "dpd"), ("accrued", "accrued_interest")):
        getattr(st, name)[i] = ad.get_column(col).fill_null(0).to_numpy()
    st.bucket[i] = _labels(ad.get_column("bucket"))
    interest_on = np.zeros(len(st.open_), bool)
    interest_on[i] = ad.get_column("interest_on").fill_null(False).to_numpy()
    # "revolving" in the Taiwan sense: the last bill was not paid in full by its due
    # date, read the day after that date (a later bill's own interest must not count)
    after_due = st.next_due == t - 1
    st.revolved[after_due] = interest_on[after_due]
    new = (store.read("instalments", "business_date = ?", [d])
           .filter(pl.col("plan_id").is_not_null()).join(st.idx, on="account_id"))
    # a hardship plan (plan_id H<txn_id>, ledger.arrangements) is the offers' to track,
    # not a loan schedule; the rest of a cash loan's schedule is the loan's
    hardship = pl.col("plan_id").str.starts_with("H")
    if st.offers is not None:
        st.offers.closed(~st.open_)
        st.offers.read_plans(new.filter(hardship), t, d)
        st.offers.finish(t)
        st.offers.decide_plans(t, st.risk, st.hardship_until[st.cust] >= t, st.open_, p)
    new = new.filter(~hardship)
    if new.height:
        li = new.get_column("idx").to_numpy()
        term = new.get_column("term").to_numpy() - 1
        ok = (term < _MAX_TERMS) & st.is_loan[li]
        dues = _ordinal(new, "due_date", d, t)
        st.loan_due[li[ok], term[ok]] = dues[ok]
        st.loan_total[li[ok], term[ok]] = new.get_column("total").to_numpy()[ok]
    bills = store.read("statements", "business_date = ?", [d]).join(st.idx, on="account_id")
    rev = bills.get_column("idx").to_numpy()
    rev_due = _ordinal(bills, "due_date", d, t)
    nothing = ((bills.get_column("statement_balance") <= 0).to_numpy()
               & (st.overdue[rev] <= 0))
    loans = np.flatnonzero(st.is_loan)  # only a loan has instalment due dates
    loan_rows, loan_cols = np.nonzero(st.loan_due[loans] == t + 9)
    loan_rows = loans[loan_rows]
    acc = np.concatenate([rev, loan_rows]).astype(np.int64)
    due = np.concatenate([rev_due, st.loan_due[loan_rows, loan_cols]]).astype(np.int64)
    idle = np.concatenate([nothing, np.zeros(len(loan_rows), bool)])
    keep = st.open_[acc]
    _decide(store, st, t, d, rng, p, acc[keep], due[keep], idle[keep])


def _rows_of(st: _State, ids: pl.Series) -> np.ndarray:
    """The state rows of the accounts ``ids`` (a closed date's, in the books' order).

    Yesterday's answer is kept: the accounts of a date are those of the day before
    (plus any opened), so most dates compare the ids instead of joining them.
    """
    cached = st.rows_cache
    if cached is not None and cached[0].equals(ids):
        return cached[1]
    rows = pl.DataFrame({"account_id": ids}).join(
        st.idx, on="account_id", how="left", maintain_order="left").get_column("idx")
    assert not rows.null_count(), "the twin's book holds only accounts it opened"
    st.rows_cache = (ids, rows.to_numpy())
    return st.rows_cache[1]


def _labels(values: pl.Series) -> np.ndarray:
    """A text column with few distinct values as a NumPy object array, each distinct
    value one Python string (converting 130,000 texts one by one costs ~15 ms a date)."""
    distinct = values.unique(maintain_order=True)
    if distinct.null_count():
        return values.to_numpy()
    codes = values.replace_strict(distinct, pl.int_range(distinct.len(), eager=True),
                                  return_dtype=pl.UInt32).to_numpy()
    return np.array(distinct.to_list(), dtype=object)[codes]


def _day_view(store: Store, d: date) -> pl.DataFrame:
    """The columns of a closed date's ``account_day`` the borrowers react to.

    The DuckDB store keeps the state of the date it just closed in memory; the file
    is read only when it does not (another process closed the date, say).
    """
    kept = getattr(store, "kept_state", None)
    state = kept(d) if kept is not None else None
    if state is not None and "account_day" in state:
        return state["account_day"].select(_VIEW_COLS)
    con = getattr(store, "con", None)
    if con is None:
        return store.read("account_day", "business_date = ?", [d]).select(_VIEW_COLS)
    rel = con.sql(f"SELECT {', '.join(_VIEW_COLS)} FROM account_day WHERE business_date = ?",
                  params=[d])
    out = pl.from_arrow(rel.to_arrow_table())
    assert isinstance(out, pl.DataFrame)
    return out


def _refresh(store: Store, st: _State, d: date, model: Path) -> None:
    """risk.refresh after the close: at a month end, score the books, keep each PD."""
    from creditdesk.risk.refresh import is_month_end, refresh_after_close

    if not is_month_end(d):
        return
    # the month's features are computed in the store, over the date's own rows too
    scores = refresh_after_close(
        store.synchronous() if isinstance(store, WriteBehind) else store, model, d)
    if scores is None:
        return
    scores = scores.join(st.idx, on="account_id")
    st.pd[:] = np.nan
    st.pd[scores.get_column("idx").to_numpy()] = scores.get_column("pd").to_numpy()


def _ordinal(df: pl.DataFrame, col: str, d: date, t: int) -> np.ndarray:
    """A date column as the twin's day ordinals (``d`` is day ``t``)."""
    days = df.select((pl.col(col) - pl.lit(d)).dt.total_days() + t).to_series()
    return days.to_numpy().astype(np.int64)


def _decide(store: Store, st: _State, t: int, d: date, rng: np.random.Generator,
            p: SimParams, acc: np.ndarray, due: np.ndarray, idle: np.ndarray) -> None:
    """Each borrower billed today picks next month's status, and so this cycle's payment."""
    if not len(acc):
        return
    c = st.cust[acc]
    s = bh.status_of(st.dpd[acc], st.revolved[acc] & ~st.is_loan[acc]).astype(np.int8)
    hard = st.hardship_until[c] >= t
    shift = hard * p.hardship_shift + p.annoyance_willingness * st.annoyance[c]
    probs = bh.next_status_probabilities(s, st.risk[acc], np.array(p.theta),
                                         np.array(p.risk_loading), shift)
    target = bh.draw_next_status(probs, rng).astype(np.int8)
    kind = bh.payment_kind(s, target, st.is_loan[acc])
    if st.offers is not None:  # a debtor keeping a hardship plan keeps the account current
        kind = np.where(st.offers.book.in_plan[acc], bh.DUE, kind)
    kind = np.where(idle, bh.NONE, kind)
    early = np.minimum(rng.geometric(1.0 / (1.0 + p.pay_early_days_mean), len(acc)) - 1, 8)
    late = rng.integers(1, p.late_pay_day_max + 1, len(acc))
    on_time = (kind == bh.FULL) | (kind == bh.DUE)
    pay_day = np.where(on_time, np.maximum(due - early, t + 1),
                       np.where(kind == bh.PARTIAL, np.minimum(due + late, t + 29), -1))
    st.status_now[acc] = s
    st.pay_kind[acc] = kind
    # arrears are paid oldest first: the part is set now, on today's arrears, so that
    # the due about to be missed is not paid with it
    st.pay_part[acc] = np.round(st.overdue[acc] * bh.partial_share(s, target)).astype(np.int64)
    st.pay_day[acc] = pay_day
    st.next_due[acc] = due
    st.inattentive[acc] = (target >= 2) & (s <= 1) & ~hard
    append_sim(store, "sim_status", pl.DataFrame({
        "business_date": [d] * len(acc), "account_id": st.ids[acc],
        "product": np.where(st.is_loan[acc], "cash_loan", "revolving"),
        "status": s, "target": target}))
