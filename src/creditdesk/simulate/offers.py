"""Repayment arrangements in the digital twin: offers made, answered, posted, and kept.

A strategy with an ``offers`` section (``optimized`` from version 3) offers hardship plans
and settlements (:mod:`creditdesk.collections.offers` decides who, inside the
arrangements policy). Here, each business date, in the daily cycle
(:mod:`creditdesk.simulate.driver`):

1. **signals** — a debtor in a hardship spell reached by a collection call may say so
   (``hardship_disclosure`` by channel; a few who are not claim it): the
   ``hardship_signal_days`` condition of an offer rule reads it;
2. **offers** — the rules are matched on yesterday's books; the cases that match are
   judged by the policy on the state ``creditdesk collect offer`` would read (the
   account day and the past-due items of the last closed date, from the kept end-of-day
   state; the arrangements the twin loaded, the only ones in its books); each offer
   the policy allows becomes a contact (the rule's channel and time) that passes the
   compliance checker with the day's other contacts;
3. **answers** — a debtor the offer reached accepts or declines
   (:func:`creditdesk.simulate.behaviour.offer_acceptance_probability`); an accepted
   offer goes to the books through :func:`creditdesk.collections.arrangements.offer`,
   the function behind ``creditdesk collect offer`` (which checks the policy again),
   and is posted at that date's end of day like any arrangement;
4. **plans** — the hardship instalments the end of day creates are read back; a debtor
   in a plan decides nine days before each instalment whether to pay it
   (:func:`creditdesk.simulate.behaviour.plan_keep_probability`) and pays it on its
   due date; one month missed breaks the plan (the ledger makes the missed instalment
   past due, collections resume). While a plan runs, the debtor also pays the bills
   and loan instalments of the account, and the account takes no new purchases.

Every offer — refused by the policy, blocked by the checker, not reached, declined,
accepted — is a row of the twin's ``offers`` table. Draws come from their own
generator (``(seed, 3, t)``), so a strategy without offers draws what it drew before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from creditdesk.collections.arrangements import (
    KINDS,
    AccountState,
    ArrangementRefused,
    PastArrangement,
    offer,
)
from creditdesk.collections.offers import NEVER, OfferDecision, OfferView, choose_offers, rule_matches
from creditdesk.collections.proposals import Proposals
from creditdesk.collections.strategy import CHANNELS, Strategy
from creditdesk.errors import BadInputError
from creditdesk.simulate import behaviour as bh
from creditdesk.simulate.params import SimParams
from creditdesk.simulate.tables import append_sim
from creditdesk.store.base import Store

__all__ = ["MAX_PLAN_TERMS", "OfferBook", "PendingOffers", "TwinOffers", "check_twin_offers"]

#: instalments of a hardship plan the twin tracks (the ledger's maximum)
MAX_PLAN_TERMS = 12
#: days before a plan instalment's due date the debtor decides (as for loan instalments)
DECIDE_DAYS = 9
_VOICE = (CHANNELS.index("robot"), CHANNELS.index("agent"))


def check_twin_offers(strategy: Strategy) -> None:
    """Refuse what the twin does not simulate: payment holidays (their moved due dates
    are not read back into the borrowers' plans yet)."""
    for i, r in enumerate(strategy.offers.rules if strategy.offers else []):
        if r.kind == "payment_holiday":
            raise BadInputError(f"offers.rules.{i}.kind: must be hardship_plan or settlement in "
                                f"the digital twin (payment holidays are not simulated yet); "
                                f"got {r.kind!r}", field=f"offers.rules.{i}.kind", value=r.kind)


@dataclass
class OfferBook:
    """Per-account state of the offers and plans (arrays over the twin's accounts)."""

    in_plan: np.ndarray           # servicing an accepted hardship plan (not broken)
    plan_due: np.ndarray          # (n, 12) due-day ordinals of the plan's instalments (-1)
    plan_total: np.ndarray        # (n, 12) their amounts
    pay_day: np.ndarray           # day the next instalment is paid (-1 none)
    pay_amount: np.ndarray
    signal_day: np.ndarray        # last day the debtor said they are in hardship
    offer_day: np.ndarray         # last day an offer was declined or refused by the policy
    history: dict[int, list[PastArrangement]] = field(default_factory=dict)

    @classmethod
    def new(cls, n: int) -> OfferBook:
        return cls(np.zeros(n, bool), np.full((n, MAX_PLAN_TERMS), -1, np.int32),
                   np.zeros((n, MAX_PLAN_TERMS), np.int64), np.full(n, -1, np.int32),
                   np.zeros(n, np.int64), np.full(n, -NEVER, np.int64),
                   np.full(n, -NEVER, np.int64))

    def plan_running(self, t: int) -> np.ndarray:
        """Accounts with a hardship instalment still to fall due (their line is frozen)."""
        return np.asarray((self.plan_due >= t).any(axis=1), bool)


@dataclass(frozen=True)
class PendingOffers:
    """The day's offers the policy allowed, waiting for their contact's outcome."""

    rows: np.ndarray              # account rows
    decisions: list[OfferDecision]
    states: list[AccountState]    # the books each was judged on


@dataclass
class TwinOffers:
    """The offers side of one twin run (strategy, policy, models, state, catalogue)."""

    strategy: Strategy
    book: OfferBook
    opened: np.ndarray            # each account's opening date (date objects)
    catalogue: Any
    seed: int
    self_cure: Any = None         # a SelfCureModel when a rule reads the score
    _day: int = -1
    _rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))

    @classmethod
    def start(cls, strategy: Strategy, opened: list[date], catalogue: Any, seed: int,
              models: Path | None) -> TwinOffers | None:
        """The offers side of a run, or None when the strategy offers nothing."""
        if strategy.offers is None:
            return None
        check_twin_offers(strategy)
        model = None
        if any(r.when.max_self_cure is not None for r in strategy.offers.rules):
            from creditdesk.collections.optimize import shipped_models
            from creditdesk.collections.scores import SelfCureModel

            folder = (models if models is not None and (Path(models) / "self_cure").is_dir()
                      else shipped_models())
            model = SelfCureModel.load(Path(folder) / "self_cure")
        return cls(strategy, OfferBook.new(len(opened)), np.array(opened, dtype=object),
                   catalogue, seed, model)

    def rng(self, t: int) -> np.random.Generator:
        """The offers' generator of date ``t`` (one stream a date, drawn in order)."""
        if self._day != t:
            self._day, self._rng = t, np.random.default_rng([self.seed, 3, t])
        return self._rng

    # ------------------------------------------------------------------ signals
    def signals(self, t: int, account: np.ndarray, channel: np.ndarray, reached: np.ndarray,
                hardship: np.ndarray, p: SimParams) -> None:
        """Debtors reached by a collection call may say they are in hardship."""
        call = reached & np.isin(channel, _VOICE)
        if not call.any():
            return
        rate = np.array([p.hardship_disclosure[c] for c in CHANNELS])[channel]
        prob = np.where(hardship, rate, p.hardship_false_claim)
        said = call & (self.rng(t).random(len(account)) < prob)
        self.book.signal_day[account[said]] = t

    # ------------------------------------------------------------------ offers
    def plan(self, store: Store, t: int, d: date, *, ids: np.ndarray, open_: np.ndarray,
             arm: np.ndarray, bucket: np.ndarray, dpd: np.ndarray, broken: np.ndarray,
             overdue: np.ndarray, features: Any, cust_ids: np.ndarray
             ) -> tuple[Proposals, PendingOffers]:
        """The day's offers: policy refusals logged, allowed ones as contacts to gate.

        ``features``: a callable giving the case features of account rows (for the
        self-cure score).
        """
        offers = self.strategy.offers
        assert offers is not None
        b = self.book
        n = len(ids)
        view = OfferView(arm=arm, bucket=bucket.astype(str), dpd=dpd.astype(np.int64),
                         broken=broken.astype(np.int64), signal_age=t - b.signal_day,
                         self_cure=np.zeros(n), past_due=overdue.astype(np.int64),
                         offer_age=t - b.offer_day)
        live = open_ & ~b.in_plan
        m = rule_matches(offers, view) & live[:, None]
        rows = np.nonzero(m.any(axis=1))[0]
        if self.self_cure is not None and len(rows):
            # the score only where a rule could still match; elsewhere it stays unread
            score = np.full(n, np.nan)
            score[rows] = self.self_cure.predict_self_cure(features(rows))
            view = OfferView(**{**view.__dict__, "self_cure": score})
            m = rule_matches(offers, view) & live[:, None]
            rows = np.nonzero(m.any(axis=1))[0]
        none = Proposals(*(np.zeros(0, dt) for dt in (np.int64, np.int64, np.int64, bool, bool,
                                                      np.int64, object)))
        if not len(rows):
            return none, PendingOffers(rows, [], [])
        last = d - timedelta(days=1)
        states = book_states(store, last, d, ids[rows], self.opened[rows])
        hist = [b.history.get(int(r), []) for r in rows]
        decisions = choose_offers(offers, m[rows], states, hist,
                                  offers.arrangement_policy(), d)
        refused = [x for x in decisions if not x.eligible]
        allowed = [x for x in decisions if x.eligible]
        if refused:
            rr = rows[[x.case for x in refused]]
            b.offer_day[rr] = t
            self._log(store, d, rr, refused, ["refused"] * len(refused), [None] * len(refused),
                      ids, cust_ids, arm, dpd, bucket, channel=[None] * len(refused))
        if not allowed:
            return none, PendingOffers(rows[:0], [], [])
        ar = rows[[x.case for x in allowed]]
        rule = {r.name: r for r in offers.rules}
        contacts = [rule[x.rule].contact for x in allowed]
        props = Proposals(
            account=ar.astype(np.int64),
            channel=np.array([CHANNELS.index(c.channel) for c in contacts], np.int64),
            minute=np.array([c.minute for c in contacts], np.int64),
            reminder=np.zeros(len(ar), bool), retry=np.zeros(len(ar), bool),
            party=np.zeros(len(ar), np.int64),
            template=np.array([c.template for c in contacts], dtype=object))
        return props, PendingOffers(ar, allowed, [states[x.case] for x in allowed])

    def answer(self, store: Store, t: int, d: date, pending: PendingOffers, *,
               allowed: np.ndarray, reached: np.ndarray, channel: np.ndarray,
               hardship: np.ndarray, ids: np.ndarray, cust_ids: np.ndarray, arm: np.ndarray,
               dpd: np.ndarray, bucket: np.ndarray, p: SimParams) -> dict[str, np.ndarray]:
        """Draw the debtors' answers to the offers their contact reached; post accepted ones.

        ``allowed``/``reached``/``channel``: the offer contacts' outcomes, in
        ``pending`` order. Returns the account rows whose offer was posted, by kind.
        """
        rows, dec = pending.rows, pending.decisions
        out: dict[str, np.ndarray] = {k: np.zeros(0, np.int64) for k in KINDS}
        if not len(rows):
            return out
        kind = np.array([x.kind for x in dec])
        amount = np.array([x.amount or 0 for x in dec], np.float64)
        balance = np.array([s.balance for s in pending.states], np.float64)
        discount = np.where(kind == "settlement", 1.0 - amount / np.maximum(balance, 1), 0.0)
        prob = bh.offer_acceptance_probability(kind, hardship[rows], dpd[rows], discount,
                                               channel < _VOICE[0], p)
        accept = reached & (self.rng(t).random(len(rows)) < prob)
        outcome: list[str] = []
        ext: list[str | None] = []
        why: list[tuple[str | None, str]] = []
        posted: dict[str, list[int]] = {k: [] for k in KINDS}
        b = self.book
        assert self.strategy.offers is not None
        policy = self.strategy.offers.arrangement_policy()
        for i, x in enumerate(dec):
            r = int(rows[i])
            e: str | None = None
            if not allowed[i]:
                o = "blocked"
            elif not reached[i]:
                o = "not_reached"
            elif not accept[i]:
                o = "declined"
                b.offer_day[r] = t
            else:
                try:
                    e = offer(store, str(ids[r]), x.kind, d, terms=x.terms,
                              amount=x.amount if x.kind == "settlement" else None,
                              policy=policy, catalogue=self.catalogue)
                    o = "accepted"
                    posted[x.kind].append(r)
                    b.history.setdefault(r, []).append(PastArrangement(x.kind, d, "pending"))
                except ArrangementRefused as exc:  # the books moved: the policy says no
                    o = "rejected"
                    why.append((exc.rule, str(exc)))
                    b.offer_day[r] = t
            outcome.append(o)
            ext.append(e)
            if o != "rejected":
                why.append((None, x.reason))
        self._log(store, d, rows, dec, outcome, ext, ids, cust_ids, arm, dpd, bucket,
                  channel=[CHANNELS[c] for c in channel.tolist()], why=why)
        hs = np.array(posted["hardship_plan"], np.int64)
        b.in_plan[hs] = True
        return {k: np.array(v, np.int64) for k, v in posted.items()}

    def _log(self, store: Store, d: date, rows: np.ndarray, dec: list[OfferDecision],
             outcome: list[str], ext: list[str | None], ids: np.ndarray, cust_ids: np.ndarray,
             arm: np.ndarray,
             dpd: np.ndarray, bucket: np.ndarray, *, channel: list[str | None],
             why: list[tuple[str | None, str]] | None = None) -> None:
        why = why or [(x.policy_rule, x.reason) for x in dec]
        append_sim(store, "offers", pl.DataFrame({
            "business_date": [d] * len(rows), "account_id": ids[rows].astype(str),
            "customer_id": cust_ids[rows].astype(str), "strategy": self.strategy.name,
            "strategy_version": self.strategy.version, "arm": arm[rows].astype(str),
            "rule": [x.rule for x in dec], "kind": [x.kind for x in dec],
            "terms": pl.Series([x.terms for x in dec], dtype=pl.Int32),
            "amount": pl.Series([x.amount for x in dec], dtype=pl.Int64),
            "channel": pl.Series(channel, dtype=pl.String), "dpd": dpd[rows].astype(np.int32),
            "bucket": bucket[rows].astype(str), "outcome": outcome,
            "policy_rule": pl.Series([w[0] for w in why], dtype=pl.String),
            "reason": [w[1] for w in why], "external_id": pl.Series(ext, dtype=pl.String)}))

    # ------------------------------------------------------------------ plans
    def read_plans(self, new: pl.DataFrame, t: int, d: date) -> None:
        """Hardship instalments the end of day created (``new``: rows of ``instalments``
        dated ``d`` of hardship plans, with the twin's ``idx``)."""
        if not new.height:
            return
        b = self.book
        i = new.get_column("idx").to_numpy()
        term = new.get_column("term").to_numpy() - 1
        due = (new.select((pl.col("due_date") - pl.lit(d)).dt.total_days() + t)
               .to_series().to_numpy().astype(np.int32))
        first = np.unique(i)
        b.plan_due[first] = -1
        b.plan_total[first] = 0
        ok = term < MAX_PLAN_TERMS
        b.plan_due[i[ok], term[ok]] = due[ok]
        b.plan_total[i[ok], term[ok]] = new.get_column("total").to_numpy()[ok]

    def finish(self, t: int) -> None:
        """A plan whose last instalment has fallen due is over (kept to the end)."""
        self.book.in_plan &= self.book.plan_running(t)

    def decide_plans(self, t: int, risk: np.ndarray, hardship: np.ndarray, open_: np.ndarray,
                     p: SimParams) -> None:
        """Nine days before each instalment, a debtor in a plan decides whether to pay it."""
        b = self.book
        rows, cols = np.nonzero(b.plan_due == t + DECIDE_DAYS)
        keep = b.in_plan[rows] & open_[rows]
        rows, cols = rows[keep], cols[keep]
        if not len(rows):
            return
        u = self.rng(t).random(len(rows))
        pays = u < bh.plan_keep_probability(risk[rows], hardship[rows], p)
        b.pay_day[rows[pays]] = b.plan_due[rows[pays], cols[pays]]
        b.pay_amount[rows[pays]] = b.plan_total[rows[pays], cols[pays]]
        b.in_plan[rows[~pays]] = False     # the plan is broken: collections take over

    def payments(self, t: int, open_: np.ndarray) -> np.ndarray:
        """Plan instalments paid today (0 elsewhere)."""
        b = self.book
        due = (b.pay_day == t) & open_
        amount = np.where(due, b.pay_amount, 0)
        b.pay_day[due] = -1
        b.pay_amount[due] = 0
        return amount

    def closed(self, closed: np.ndarray) -> None:
        """Accounts no longer open (settled, charged off) leave their plans."""
        b = self.book
        b.in_plan[closed] = False
        b.pay_day[closed] = -1


def book_states(store: Store, last: date, d: date, ids: np.ndarray, opened: np.ndarray
                ) -> list[AccountState]:
    """Each account as :func:`creditdesk.collections.arrangements.offer` reads it: the
    ``account_day`` of ``last`` (the last closed date), the balance (principal + interest +
    fee + penalty; charged off: the amount less what was recovered) and the past-due
    total (due items with a due date before ``d``)."""
    kept = getattr(store, "kept_state", None)
    state = kept(last) if kept is not None else None
    want = pl.Series("account_id", ids.astype(str))
    if state is not None and "account_day" in state and "dues" in state:
        ad, dues = state["account_day"], state["dues"]
    else:
        ad = store.read("account_day", "business_date = ?", [last])
        dues = store.read("dues", "due_date < ?", [d])
    ad = ad.filter(pl.col("account_id").is_in(want.implode()))
    past = (dues.filter(pl.col("account_id").is_in(want.implode()) & (pl.col("due_date") < d))
            .group_by("account_id")
            .agg(pl.sum_horizontal("principal", "interest", "fee", "penalty").sum()
                 .alias("past_due")))
    rows = {r["account_id"]: r for r in ad.join(past, on="account_id", how="left")
            .with_columns(pl.col("past_due").fill_null(0)).to_dicts()}
    out = []
    for a, o in zip(want.to_list(), opened.tolist(), strict=True):
        r = rows[a]
        owed = sum(int(r[c]) for c in ("principal", "interest", "fee", "penalty"))
        if r["status"] == "charged_off":
            owed = int(r["chargeoff_amount"]) - int(r["recovered_total"])
        out.append(AccountState(a, r["status"], int(r["dpd"]), r["bucket"], o, last,
                                balance=owed, past_due=int(r["past_due"])))
    return out
