"""The ``optimized`` strategy's day: score the menu, plan with HiGHS, or explore at random.

The strategy's paths give each open case a *menu* of contacts for the day
(:func:`creditdesk.collections.proposals.propose`). Here

* accounts in an ``explore`` arm draw one item of their menu, or nothing, uniformly at
  random (the known propensity is logged): the randomised data the uplift scores learn
  from (:mod:`creditdesk.collections.training`);
* every other menu item gets a value: the uplift in expected amount repaid within the
  horizon over doing nothing, minus the contact's cost, minus the complaint price times
  the uplift in complaint probability (:class:`CollectModels`), and the contact planner
  (:func:`creditdesk.collections.planner.solve`) picks at most
  ``max_per_customer_per_day`` per debtor under the channel capacities (agent minutes
  and robot lines per hour, SMS and push per day), leaving out what is not worth it.

Nothing here reads a store: the twin and ``creditdesk collect plan`` pass arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from creditdesk.collections.complaints import ComplaintModel
from creditdesk.collections.planner import PlanProblem, PlanSolution, solve
from creditdesk.collections.proposals import Proposals
from creditdesk.collections.strategy import CHANNELS, Strategy
from creditdesk.collections.uplift import TreatmentUplift
from creditdesk.errors import BadInputError

__all__ = ["CONTROL", "CollectModels", "DayChoice", "choose", "menu_labels", "shipped_models"]

#: the "do nothing" treatment
CONTROL = "none"
_SMS, _PUSH, _ROBOT, _AGENT = range(4)
#: capacity rows: 0 SMS a day, 1 push a day, 2..25 robot calls by hour, 26..49 agent minutes
N_RESOURCES = 50


def menu_labels(menu: Proposals) -> np.ndarray:
    """A treatment label per menu row: ``channel@HH:MM`` (the slot matters: answer rates vary).

    >>> from creditdesk.collections.proposals import BookView, propose
    >>> from creditdesk.collections.strategy import load_strategy
    >>> m = propose(load_strategy("optimized"), BookView.of(dpd=[3], days_to_due=[-3],
    ...             total_due=[1], flagged=[True], arm=["champion"]))
    >>> menu_labels(m).tolist()
    ['push@09:00', 'sms@09:30', 'robot@10:00', 'robot@19:00', 'agent@12:15', 'agent@19:30']
    """
    if not len(menu):
        return np.zeros(0, dtype="<U11")
    ch = np.array(CHANNELS, dtype=object)[menu.channel]
    hh = np.char.zfill((menu.minute // 60).astype(str), 2)
    mm = np.char.zfill((menu.minute % 60).astype(str), 2)
    return np.char.add(np.char.add(ch.astype(str), "@"), np.char.add(np.char.add(hh, ":"), mm))


@dataclass(frozen=True)
class CollectModels:
    """The two uplift models the planner's values come from.

    ``recovery``: amount repaid on the account within the horizon (fen), per treatment;
    ``complaint``: probability the debtor complains within a week, per treatment.
    """

    recovery: TreatmentUplift
    complaint: ComplaintModel

    @classmethod
    def load(cls, folder: Path) -> CollectModels:
        folder = Path(folder)
        if not (folder / "recovery").is_dir() or not (folder / "complaint").is_dir():
            raise BadInputError(f"collection models must be a folder with recovery/ and "
                                f"complaint/ (creditdesk collect train); got {str(folder)!r}",
                                field="models", value=str(folder))
        return cls(TreatmentUplift.load(folder / "recovery"),
                   ComplaintModel.load(folder / "complaint"))

    def save(self, folder: Path) -> Path:
        folder = Path(folder)
        self.recovery.save(folder / "recovery")
        self.complaint.save(folder / "complaint")
        return folder


def shipped_models() -> Path:
    """The models shipped in the package (trained on a twin run's explore arm)."""
    return Path(str(resources.files("creditdesk.collections").joinpath("models/collect")))


@dataclass(frozen=True)
class DayChoice:
    """The day's choice over the menu and the decision log (one row per account offered)."""

    chosen: np.ndarray            # bool per menu row
    log: pd.DataFrame             # account, treatment, propensity (NaN when planned), value
    solution: PlanSolution | None


def _resources(menu: Proposals, strategy: Strategy) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    cfg = strategy.planner
    hour = (menu.minute // 60).astype(np.int32)
    res = np.select([menu.channel == _SMS, menu.channel == _PUSH, menu.channel == _ROBOT],
                    [0, 1, 2 + hour], 26 + hour).astype(np.int32)
    use = np.where(menu.channel == _AGENT, cfg.agent_minutes_per_call, 1.0)
    cap = np.concatenate([[cfg.sms_per_day, cfg.push_per_day],
                          np.full(24, cfg.robot_calls_per_hour),
                          np.full(24, cfg.agent_minutes_per_hour)])
    return res, use, cap


def _explore(menu: Proposals, rows: np.ndarray, rng: np.random.Generator
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uniform over each account's menu items and nothing: (chosen row or -1, k options)."""
    acc = menu.account[rows]
    uniq, first, k = np.unique(acc, return_index=True, return_counts=True)
    order = np.argsort(acc, kind="stable")
    start = np.concatenate([[0], np.cumsum(k)[:-1]])
    pick = (rng.random(len(uniq)) * (k + 1)).astype(np.int64)  # k means nothing
    row = np.where(pick < k, rows[order][np.minimum(start + pick, len(rows) - 1)], -1)
    del first
    return uniq, row, k


def _uplift(model: TreatmentUplift | ComplaintModel, X: pd.DataFrame, pos: np.ndarray, labels: np.ndarray
            ) -> np.ndarray:
    """Each menu row's uplift over doing nothing; NaN for a treatment the model never saw."""
    up = model.predict_uplift(X)
    col = {t: j for j, t in enumerate(model.treatments_)}
    j = np.array([col.get(lab, -1) for lab in labels.tolist()], np.int64)
    return np.where(j >= 0, up[pos, np.maximum(j, 0)], np.nan)


def choose(strategy: Strategy, menu: Proposals, features: pd.DataFrame, explore: np.ndarray,
           unit: np.ndarray, models: CollectModels | None, rng: np.random.Generator
           ) -> DayChoice:
    """Choose the day's contacts from ``menu``.

    ``features``: one row per menu account (index = account row, see
    :func:`creditdesk.collections.features.case_features`); ``explore``: bool per
    account row; ``unit``: the debtor (customer index) per account row, the per-debtor
    daily limit's unit. ``models`` may be None only if no account is planned.
    """
    labels = menu_labels(menu)
    chosen = np.zeros(len(menu), bool)
    logs: list[pd.DataFrame] = []
    is_exp = explore[menu.account] if len(menu) else np.zeros(0, bool)
    if is_exp.any():
        accs, row, k = _explore(menu, np.nonzero(is_exp)[0], rng)
        chosen[row[row >= 0]] = True
        logs.append(pd.DataFrame({"account": accs, "treatment": np.where(
            row >= 0, labels[np.maximum(row, 0)], CONTROL), "propensity": 1.0 / (k + 1),
            "value": np.nan}))
    plan = np.nonzero(~is_exp)[0]
    solution = None
    if len(plan):
        if models is None:
            raise BadInputError("the optimized planner needs collection models; got none",
                                field="models", value=None)
        accs = np.unique(menu.account[plan])
        X = features.loc[accs]
        pos = np.searchsorted(accs, menu.account[plan])
        rec = _uplift(models.recovery, X, pos, labels[plan])
        comp = _uplift(models.complaint, X, pos, labels[plan])
        value = np.full(len(menu), -np.inf)
        value[plan] = rec - float(strategy.planner.complaint_price) * comp
        cost = np.array([getattr(strategy.costs, c) for c in CHANNELS], np.float64)
        value[plan] -= cost[menu.channel[plan]]
        cand = plan[np.nan_to_num(value[plan], nan=-1.0) > 0]
        if len(cand):
            res, use, cap = _resources(menu, strategy)
            units, case = np.unique(unit[menu.account[cand]], return_inverse=True)
            problem = PlanProblem(case=case.astype(np.int64), value=value[cand],
                                  resource=res[cand], use=use[cand], capacity=cap,
                                  case_limit=np.full(len(units),
                                                     strategy.planner.max_per_customer_per_day,
                                                     np.int64))
            solution = solve(problem)
            chosen[cand[solution.chosen]] = True
        planned_acc = np.unique(menu.account[plan])
        pick = chosen[plan]
        treat = pd.Series(CONTROL, index=planned_acc, dtype=object)
        val = pd.Series(0.0, index=planned_acc)
        treat.loc[menu.account[plan][pick]] = labels[plan][pick]
        val.loc[menu.account[plan][pick]] = value[plan][pick]
        logs.append(pd.DataFrame({"account": planned_acc, "treatment": treat.to_numpy(),
                                  "propensity": np.nan, "value": val.to_numpy()}))
    log = (pd.concat(logs, ignore_index=True) if logs else
           pd.DataFrame({"account": np.zeros(0, np.int64), "treatment": [], "propensity": [],
                         "value": []}))
    return DayChoice(chosen, log, solution)
