"""``collect plan``'s offers: which open cases the strategy offers an arrangement tomorrow.

A strategy with an ``offers`` section (``optimized`` from version 3) plans, besides its
contacts, the repayment arrangements its rules and the arrangements policy allow
(:mod:`creditdesk.collections.offers`, the pure part the digital twin uses too). Per
open case, on the books of the last closed date:

* the rules read the case's arm, bucket, DPD, broken promises of the current spell and
  amount past due (what the planner already has), the self-cure score (the shipped
  ``self_cure`` model on the case features, computed only where a rule reading it could
  still match; NaN elsewhere), the hardship signal (days since a ``hardship_review``
  hold was set in the workbench, released or not: the store's record of a debtor
  saying so) and the cool-down (days since an offer was planned or refused here, or
  declined/refused in the twin's ``offers`` table);
* a debtor under a hold (dispute, hardship review not yet released, recent complaint)
  is offered nothing, as they get no other contact;
* each matching case is judged by :func:`~creditdesk.collections.offers.choose_offers`
  on the state :func:`creditdesk.collections.arrangements.offer` reads (the same reader,
  ``_state``: the account day, past-due items, arrangements already on file).

An offer the policy allows becomes a contact (the rule's channel and local time) that
goes through the checker with the day's other contacts; nothing is posted: the collector
makes the offer in the call and records an acceptance with ``creditdesk collect offer``,
which judges it again. Every decision is a row of ``plan_offers`` (the twin's ``offers``
columns plus ``plan_id``; outcome ``planned``, ``blocked`` or ``refused``); planning a
date again replaces that date's rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from creditdesk.collections.arrangements import _state
from creditdesk.collections.gate import render
from creditdesk.collections.offers import NEVER, OfferDecision, OfferView, choose_offers, rule_matches
from creditdesk.collections.proposals import Proposals
from creditdesk.collections.strategy import CHANNELS, Strategy
from creditdesk.collections.tables import append_rows, table_exists
from creditdesk.simulate.tables import SIM_TABLES

__all__ = ["PLAN_OFFERS", "PlannedOffers", "offer_log", "plan_offers"]

PLAN_OFFERS: dict[str, Any] = {**SIM_TABLES["offers"], "plan_id": pl.String}


@dataclass(frozen=True)
class PlannedOffers:
    """The offers the policy allowed (as contacts to gate) and the ones it refused."""

    props: Proposals                 # the offers' contacts (account rows of the snapshot)
    allowed: list[OfferDecision]     # in props order
    refused: np.ndarray              # account rows the policy refused
    refusals: list[OfferDecision]
    template: list[str]              # contact_plan.template of each allowed offer
    message: list[str]

    def __len__(self) -> int:
        return len(self.allowed)


def _none() -> Proposals:
    return Proposals(*(np.zeros(0, dt) for dt in (np.int64, np.int64, np.int64, bool, bool,
                                                  np.int64, object)))


def _by_key(keys: np.ndarray, found: dict[str, date], d: date) -> np.ndarray:
    """Days from each key's date to ``d`` (NEVER when none)."""
    return np.array([(d - found[k]).days if k in found else NEVER for k in keys.tolist()],
                    np.int64)


def _signals(store: Any, cust_ids: np.ndarray, d: date) -> np.ndarray:
    """Days since a hardship review hold was last set on each debtor (NEVER if never)."""
    found: dict[str, date] = {}
    if table_exists(store, "holds"):
        for cid, at in store.execute("SELECT customer_id, max(set_at) FROM holds "
                                     "WHERE hold = 'hardship_review' AND set_at IS NOT NULL "
                                     "GROUP BY customer_id", []):
            found[cid] = at.date()
    return _by_key(cust_ids, found, d)


def _last_offers(store: Any, ids: np.ndarray, d: date) -> np.ndarray:
    """Days since each account's last offer planned or refused here, or declined/refused
    in the twin's ``offers`` table (the cool-down's clock; NEVER if none)."""
    found: dict[str, date] = {}
    for table, outcomes in (("plan_offers", "('planned', 'refused')"),
                            ("offers", "('declined', 'refused', 'rejected')")):
        if not table_exists(store, table):
            continue
        for acc, day in store.execute(f"SELECT account_id, max(business_date) FROM {table} "
                                      f"WHERE business_date < ? AND outcome IN {outcomes} "
                                      "GROUP BY account_id", [d]):
            found[acc] = max(day, found.get(acc, day))
    return _by_key(ids, found, d)


def _self_cure_model(models: Path | None) -> Any:
    from creditdesk.collections.optimize import shipped_models
    from creditdesk.collections.scores import SelfCureModel

    folder = (models if models is not None and (Path(models) / "self_cure").is_dir()
              else shipped_models())
    return SelfCureModel.load(Path(folder) / "self_cure")


def _message(x: OfferDecision, balance: int) -> str:
    if x.kind == "hardship_plan" and x.terms and x.amount is not None:
        return (f"offer hardship_plan {x.terms} x {-(-x.amount // x.terms)} fen "
                f"({x.amount} fen past due; rule {x.rule})")
    if x.kind == "settlement":
        return f"offer settlement {x.amount} fen of {balance} fen owed (rule {x.rule})"
    return f"offer {x.kind} {x.terms} (rule {x.rule})"


def plan_offers(store: Any, strat: Strategy, d: date, *, ids: np.ndarray, cust_ids: np.ndarray,
                live: np.ndarray, arm: np.ndarray, bucket: np.ndarray, dpd: np.ndarray,
                broken: np.ndarray, past_due: np.ndarray,
                features: Callable[[np.ndarray], Any], models: Path | None) -> PlannedOffers:
    """The day's offers for the account rows where ``live`` (open, no hold)."""
    offers = strat.offers
    assert offers is not None
    store.ensure_tables({"plan_offers": PLAN_OFFERS})
    n = len(ids)
    view = OfferView(arm=arm, bucket=bucket.astype(str), dpd=dpd.astype(np.int64),
                     broken=broken.astype(np.int64), signal_age=_signals(store, cust_ids, d),
                     self_cure=np.zeros(n), past_due=past_due.astype(np.int64),
                     offer_age=_last_offers(store, ids, d))
    # first as if every case scored 0 (a self-cure condition holds): who could match
    m = rule_matches(offers, view) & live[:, None]
    rows = np.nonzero(m.any(axis=1))[0]
    if len(rows) and any(r.when.max_self_cure is not None for r in offers.rules):
        # the score only where a rule could still match (NaN elsewhere), as in the twin
        score = np.full(n, np.nan)
        score[rows] = _self_cure_model(models).predict_self_cure(features(rows))
        view = OfferView(**{**view.__dict__, "self_cure": score})
        m = rule_matches(offers, view) & live[:, None]
        rows = np.nonzero(m.any(axis=1))[0]
    if not len(rows):
        return PlannedOffers(_none(), [], rows, [], [], [])
    judged = [_state(store, str(ids[r]), d) for r in rows.tolist()]
    decisions = choose_offers(offers, m[rows], [s for s, _ in judged], [h for _, h in judged],
                              offers.arrangement_policy(), d)
    allowed = [x for x in decisions if x.eligible]
    refusals = [x for x in decisions if not x.eligible]
    rule = {r.name: r for r in offers.rules}
    contacts = [rule[x.rule].contact for x in allowed]
    ar = rows[[x.case for x in allowed]].astype(np.int64)
    props = Proposals(
        account=ar, channel=np.array([CHANNELS.index(c.channel) for c in contacts], np.int64),
        minute=np.array([c.minute for c in contacts], np.int64),
        reminder=np.zeros(len(ar), bool), retry=np.zeros(len(ar), bool),
        party=np.zeros(len(ar), np.int64),
        template=np.array([c.template for c in contacts], dtype=object))
    template = [c.template or f"offer:{x.rule}" for c, x in zip(contacts, allowed, strict=True)]
    message = [render(strat.templates, c.template, d, int(dpd[a])) if c.template
               else _message(x, judged[x.case][0].balance)
               for c, x, a in zip(contacts, allowed, ar.tolist(), strict=True)]
    return PlannedOffers(props, allowed, rows[[x.case for x in refusals]].astype(np.int64),
                         refusals, template, [str(t) for t in message])


def offer_log(store: Any, strat: Strategy, d: date, po: PlannedOffers | None,
              plan: pl.DataFrame, *, ids: np.ndarray, cust_ids: np.ndarray, arm: np.ndarray,
              dpd: np.ndarray, bucket: np.ndarray) -> None:
    """Replace ``d``'s rows of ``plan_offers``: each allowed offer with its contact's
    status in ``plan`` (planned or blocked), each refusal with the policy's rule
    (``po`` None: a strategy without offers; only the date's old rows go)."""
    if table_exists(store, "plan_offers"):
        store.execute("DELETE FROM plan_offers WHERE business_date = ?", [d])
    if po is None:
        return
    made = plan.filter(pl.col("purpose") == "offer")
    status = dict(zip(made.get_column("account_id").to_list(),
                      zip(made.get_column("status").to_list(),
                          made.get_column("plan_id").to_list(), strict=True), strict=True))
    rows = np.concatenate([po.props.account, po.refused]).astype(np.int64)
    dec = po.allowed + po.refusals
    acc = ids[rows].astype(str).tolist()
    got = [status.get(a, ("blocked", None)) for a in acc[:len(po)]]
    outcome = [s if s == "planned" else "blocked" for s, _ in got] + ["refused"] * len(po.refusals)
    append_rows(store, "plan_offers", pl.DataFrame({
        "business_date": [d] * len(rows), "account_id": acc,
        "customer_id": cust_ids[rows].astype(str), "strategy": strat.name,
        "strategy_version": strat.version, "arm": arm[rows].astype(str),
        "rule": [x.rule for x in dec], "kind": [x.kind for x in dec],
        "terms": pl.Series([x.terms for x in dec], dtype=pl.Int32),
        "amount": pl.Series([x.amount for x in dec], dtype=pl.Int64),
        "channel": pl.Series([CHANNELS[c] for c in po.props.channel.tolist()]
                             + [None] * len(po.refusals), dtype=pl.String),
        "dpd": dpd[rows].astype(np.int32), "bucket": bucket[rows].astype(str),
        "outcome": outcome, "policy_rule": pl.Series([x.policy_rule for x in dec],
                                                     dtype=pl.String),
        "reason": [x.reason for x in dec], "external_id": pl.Series([None] * len(rows),
                                                                    dtype=pl.String),
        "plan_id": pl.Series([p for _, p in got] + [None] * len(po.refusals), dtype=pl.String),
    }), PLAN_OFFERS)
