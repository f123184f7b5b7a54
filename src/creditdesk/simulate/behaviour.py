"""How a simulated borrower behaves: pure, vectorised NumPy over arrays of accounts.

The core is a monthly repayment decision. When a bill (or a loan instalment) is issued
the borrower, now in repayment status ``s`` (paid duly, revolving, 1, 2, 3+ months
late), picks the status they will be in at the next bill: a multinomial logit with
calibrated logits ``theta[s, s']``, moved by their risk index, hardship and annoyance.
The same function drives the calibration (:mod:`creditdesk.simulate.calibrate`) and
the daily cycle, so the fitted model is the one that runs. The daily cycle turns the
chosen status into payments (pay in full, pay the minimum, pay part of the arrears,
pay nothing) and the ledger, not this module, decides what status results.

Contacts act on top: a read reminder turns a quarter of the inattentive late payers
into on-time ones; a right-party contact may end in a promise, kept with a set
probability; every contact adds annoyance, which raises complaints and lowers
willingness to pay.

Repayment arrangements: a debtor reached by an offer accepts it with a probability
that rises while they are in hardship and with the arrears (a settlement: with the
discount, and falls in hardship: no lump sum); a debtor in a hardship plan pays each
month's instalment with a probability that is high but falls with risk and hardship
(:func:`offer_acceptance_probability`, :func:`plan_keep_probability`).
"""

from __future__ import annotations

import numpy as np

from creditdesk.simulate.params import SimParams

__all__ = [
    "DUE",
    "FULL",
    "NONE",
    "PARTIAL",
    "STATES",
    "complaint_probability",
    "draw_next_status",
    "feasible_mask",
    "next_status_probabilities",
    "offer_acceptance_probability",
    "partial_share",
    "payment_kind",
    "plan_keep_probability",
    "promise_probability",
    "status_of",
]

STATES = ("duly", "revolving", "late_1", "late_2", "late_3plus")
#: payment kinds the daily cycle executes
NONE, FULL, DUE, PARTIAL = 0, 1, 2, 3
_LATE = np.array([0.0, 0.0, 1.0, 1.0, 1.0])


def feasible_mask() -> np.ndarray:
    """Which next statuses can follow each status in one month (5x5 booleans).

    An account can fall at most one month further behind per month, and can always
    pay its way back to any better status.

    >>> feasible_mask().astype(int)[0].tolist(), feasible_mask().astype(int)[2].tolist()
    ([1, 1, 1, 0, 0], [1, 1, 1, 1, 0])
    """
    s = np.arange(5)[:, None]
    t = np.arange(5)[None, :]
    return t <= np.minimum(4, np.maximum(s, 1) + 1)


_FEASIBLE = feasible_mask()


def next_status_probabilities(status: np.ndarray, risk: np.ndarray, theta: np.ndarray,
                              loading: np.ndarray, late_shift: np.ndarray | float = 0.0
                              ) -> np.ndarray:
    """P(next status | status, risk index) for each account, shape (n, 5).

    ``late_shift`` is added to the logits of the three late statuses (hardship,
    annoyance); infeasible statuses get probability 0.

    >>> p = next_status_probabilities(np.array([0]), np.array([0.0]), np.zeros((5, 5)),
    ...                               np.zeros(5))
    >>> np.round(p, 3).tolist()
    [[0.333, 0.333, 0.333, 0.0, 0.0]]
    """
    logits = theta[status] + risk[:, None] * loading[None, :]
    logits = logits + np.asarray(late_shift).reshape(-1, 1) * _LATE[None, :]
    logits = np.where(_FEASIBLE[status], logits, -np.inf)
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def draw_next_status(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row of a (n, 5) probability matrix."""
    u = np.asarray(rng.random(probs.shape[0]))[:, None]
    return np.minimum((probs.cumsum(axis=1) < u).sum(axis=1), 4)


def status_of(dpd: np.ndarray, revolving: np.ndarray) -> np.ndarray:
    """The Taiwan-style repayment status from the books: DPD first, then revolving.

    >>> status_of(np.array([0, 0, 12, 45, 100]), np.array([False, True, True, False, False]))
    array([0, 1, 2, 3, 4])
    """
    late = np.select([dpd > 60, dpd > 30, dpd > 0], [4, 3, 2], 0)
    return np.where(late > 0, late, np.where(revolving, 1, 0))


def payment_kind(now: np.ndarray, target: np.ndarray, is_loan: np.ndarray) -> np.ndarray:
    """What a borrower pays this cycle to reach ``target`` from ``now``.

    duly: the whole bill (a loan's instalment); revolving: the minimum and arrears;
    a late status no worse than now: part of the arrears; one step worse: nothing.

    >>> payment_kind(np.array([0, 0, 2, 3, 3]), np.array([0, 1, 2, 2, 4]),
    ...              np.array([False] * 5)).tolist()
    [1, 2, 3, 3, 0]
    """
    kind = np.where(target == 0, FULL, np.where(target == 1, DUE, PARTIAL))
    worse = (target >= 2) & (target > np.maximum(now, 1))
    kind = np.where(worse, NONE, kind)
    return np.where(is_loan & (kind == FULL), DUE, kind)


def partial_share(now: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Share of the arrears paid to move from late status ``now`` to late ``target``.

    Arrears are paid oldest first, so paying ``k`` of ``m`` months' worth moves the
    account ``k`` months back.

    Status ``late_k`` holds ``k`` months of arrears, and the coming due is missed too;
    to be ``late_j`` at the next bill the borrower pays the oldest ``k - j + 1`` months.

    >>> partial_share(np.array([2, 3, 4]), np.array([2, 3, 4])).round(2).tolist()
    [1.0, 0.5, 0.33]
    """
    months = np.maximum(now - 1, 1)
    return np.clip((now - target + 1) / months, 0.0, 1.0)


def promise_probability(channel_rate: np.ndarray, annoyance: np.ndarray, hardship: np.ndarray,
                        params: SimParams) -> np.ndarray:
    """Chance that a right-party contact ends in a promise to pay."""
    will = np.exp(-params.annoyance_willingness * annoyance)
    return np.clip(channel_rate * params.collection_effect * will
                   * np.where(hardship, 0.5, 1.0), 0.0, 0.95)


def complaint_probability(annoyance: np.ndarray, params: SimParams) -> np.ndarray:
    """Daily chance of a complaint given the annoyance built up by contacts.

    >>> from creditdesk.simulate.params import SimParams
    >>> p = complaint_probability(np.array([0.0, 5.0]), SimParams())
    >>> bool(p[1] > 20 * p[0])
    True
    """
    x = params.complaint_base_logit + params.complaint_per_annoyance * annoyance
    return 1.0 / (1.0 + np.exp(-x))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def offer_acceptance_probability(kind: np.ndarray, hardship: np.ndarray, dpd: np.ndarray,
                                 discount: np.ndarray, by_message: np.ndarray,
                                 params: SimParams) -> np.ndarray:
    """Chance that a debtor reached by an offer of ``kind`` accepts it.

    Logistic: ``offer_accept_logit[kind]``, plus ``offer_accept_hardship[kind]`` in a
    hardship spell, plus (plans and holidays) ``offer_accept_per_month_late`` per 30
    DPD beyond the first month, plus (settlements) ``offer_accept_per_discount`` x the
    share written off; an offer read in a message is accepted ``offer_read_factor`` as
    often as one explained on a call.

    >>> from creditdesk.simulate.params import SimParams
    >>> p = offer_acceptance_probability(np.array(["hardship_plan"] * 2),
    ...     np.array([False, True]), np.array([15, 15]), np.zeros(2), np.zeros(2, bool),
    ...     SimParams())
    >>> p.round(2).tolist()
    [0.27, 0.73]
    """
    kinds = np.asarray(kind).astype(str)
    base = np.array([params.offer_accept_logit[k] for k in kinds.tolist()], np.float64)
    hard = np.array([params.offer_accept_hardship[k] for k in kinds.tolist()], np.float64)
    months = np.maximum((np.asarray(dpd, np.float64) - 1) // 30, 0)
    settle = kinds == "settlement"
    x = (base + hard * np.asarray(hardship, bool)
         + np.where(settle, params.offer_accept_per_discount * np.asarray(discount, np.float64),
                    params.offer_accept_per_month_late * months))
    return _sigmoid(x) * np.where(np.asarray(by_message, bool), params.offer_read_factor, 1.0)


def plan_keep_probability(risk: np.ndarray, hardship: np.ndarray, params: SimParams
                          ) -> np.ndarray:
    """Chance that a debtor in a hardship plan pays this month's instalment.

    >>> from creditdesk.simulate.params import SimParams
    >>> plan_keep_probability(np.array([0.0, 0.7]), np.array([False, True]),
    ...                       SimParams()).round(3).tolist()
    [0.953, 0.864]
    """
    x = (params.plan_keep_logit - params.plan_keep_risk * np.asarray(risk, np.float64)
         - params.plan_keep_hardship * np.asarray(hardship, bool))
    return _sigmoid(x)
