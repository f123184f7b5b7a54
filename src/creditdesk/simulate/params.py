"""Every parameter of the digital twin, named, with its value and where the value comes from.

A simulator is only as credible as its parameters. Each one here says its source: a
published study, a public data set (and the calibration that fitted it), a product
rule, or — said plainly — an assumption of ours that no public data pins down. The
calibrated values (the monthly repayment-status logits and the collection effect) are
written by ``creditdesk simulate calibrate --write`` to ``calibrated.json`` next to this
file and loaded from there, so the shipped twin is the calibrated one and a re-fit is
one command.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from creditdesk.errors import BadInputError

__all__ = ["SCENARIOS", "SEASONED_BOOK", "SimParams", "load_params", "unemployment_path"]

CALIBRATED = Path(__file__).with_name("calibrated.json")

#: Macro scenarios: the unemployment rate (per cent) at the start and at the end of the
#: horizon, moved linearly between them. Baseline 5.2 % is China's surveyed urban
#: unemployment rate of 2023-2024 (NBS); the recession path adds 3 points, about the
#: rise of the 2008-2009 downturn in the US (BLS), the recovery path takes it back.
SCENARIOS: dict[str, tuple[float, float]] = {
    "baseline": (5.2, 5.2),
    "recession": (5.2, 8.2),
    "recovery": (8.2, 5.2),
}


#: ``seasoning_months`` of a seasoned book (``simulate compare``): the accounts there on day 0
#: were opened 1 to 36 months before the start
SEASONED_BOOK = (1, 36)


def _p(default: Any, source: str) -> Any:
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata={"source": source})
    return field(default=default, metadata={"source": source})


@dataclass(frozen=True)
class SimParams:
    """The twin's parameters (see the module docstring; ``source`` in each field's metadata).

    >>> p = SimParams()
    >>> p.reminder_late_reduction, p.scenario
    (0.25, 'baseline')
    >>> SimParams.source("reminder_late_reduction").startswith("Cadena")
    True
    """

    # -- population ---------------------------------------------------------------------
    limit_scale: float = _p(0.08, "assumption: Taiwan limits (TWD, median 140,000) scaled to "
                            "Huabei-like CNY limits (median about 11,000 yuan)")
    limit_jitter: float = _p(0.15, "assumption: log-normal noise on resampled limits so that "
                             "resampled rows are not copies")
    loan_share: float = _p(0.3, "assumption: share of customers who also hold a cash loan")
    loan_limit_share: tuple[float, float] = _p((0.2, 0.8), "assumption: loan principal as a "
                                               "uniform share of the credit limit")
    tier_mix: tuple[float, float, float, float] = _p(
        (0.15, 0.25, 0.30, 0.30), "assumption: city tiers 1-4 of a lender expanding "
        "down-market (tier 3-4 cities hold most of China's population, NBS)")
    tier_risk_shift: tuple[float, float, float, float] = _p(
        (-0.2, 0.0, 0.25, 0.5), "assumption: added to the risk index by city tier (riskier "
        "down-market); 0 at tier 2, which the Taiwan calibration stands for")
    far_west_share: float = _p(0.04, "assumption: customers in Xinjiang/Tibet on Asia/Urumqi "
                               "time (about 2 % of China's population, plus migration)")
    opening_spread: float = _p(0.5, "assumption: half the book is open on day 0, the other half "
                               "opens evenly over the first half of the horizon (new vintages)")
    seasoning_months: tuple[int, int] = _p(
        (0, 0), "assumption: (lo, hi) months: the customers there on day 0 are a seasoned book "
        "taken over with nothing owed, their revolving line and cash-loan line (Jiebei-like; "
        "the loan is drawn on day 0) opened uniformly lo..hi months (30 days each) before "
        "the start. (0, 0), the default: a new book, every account opened in the run. "
        "`simulate compare` uses SEASONED_BOOK: a lender's book is mostly accounts older "
        "than a year, and the FFIEC re-ageing rule of the arrangements policy (270 days on "
        "book) needs accounts that old")

    # -- spending -------------------------------------------------------------------------
    spend_days_per_month: float = _p(6.0, "assumption: purchase days a month on a Huabei-like "
                                     "account (a few purchases a week)")
    spend_sigma: float = _p(0.9, "assumption: log-normal spread of a purchase around the "
                            "customer's mean, from Taiwan BILL_AMT dispersion")

    # -- monthly repayment decision (calibrated) ------------------------------------------
    theta: tuple[tuple[float, ...], ...] = _p(
        ((0.0, -2.4, -3.4, -9.0, -9.0),
         (-2.9, 0.0, -3.0, -9.0, -9.0),
         (-0.5, 0.0, 0.3, -1.5, -9.0),
         (-1.8, -0.9, -1.6, 0.0, -2.3),
         (-2.2, -2.2, -1.8, -0.6, 0.0)),
        "calibrated: monthly repayment-status logits (rows: status now; columns: next status "
        "duly, revolving, 1, 2, 3+ months late) fitted by maximum likelihood to the Taiwan "
        "PAY_6..PAY_0 transitions (simulate calibrate)")
    risk_loading: tuple[float, ...] = _p(
        (0.0, 0.6, 1.0, 1.0, 1.0), "assumption: how a customer's risk index moves each next "
        "status's logit (riskier people revolve and fall late more)")
    risk_sigma: float = _p(0.8, "calibrated: spread of the unobserved part of the risk index")

    # -- timing around the due date --------------------------------------------------------
    pay_early_days_mean: float = _p(2.0, "assumption: mean days before the due date an on-time "
                                    "payer pays (geometric); many pay on the day")
    late_pay_day_max: int = _p(25, "assumption: a late payer who pays does so uniformly within "
                               "this many days after the due date")

    # -- macro and hardship ----------------------------------------------------------------
    scenario: str = _p("baseline", "see SCENARIOS")
    hardship_daily_hazard: float = _p(0.0004, "assumption: about 14 % a year at 5.2 % "
                                      "unemployment: job loss, illness and family shocks")
    hardship_unemployment_elasticity: float = _p(1.5, "assumption: hardship hazard scales with "
                                                 "(unemployment / baseline) ** elasticity")
    hardship_days: int = _p(90, "assumption: mean length of a hardship spell (exponential)")
    hardship_shift: float = _p(1.6, "assumption: added to the late logits during hardship")
    hardship_spend_factor: float = _p(0.4, "assumption: spending falls to this share")

    # -- reminders ---------------------------------------------------------------------------
    reminder_late_reduction: float = _p(
        0.25, "Cadena & Schoar (NBER w17020, 2011): SMS reminders raised on-time repayment by "
        "7-9 points on a base of about 2/3 on time, i.e. they removed about a quarter of the "
        "late payments that were not caused by hardship")
    reminder_read_rate: float = _p(0.85, "assumption: share of reminders read (SMS and push)")

    # -- collection channels ------------------------------------------------------------------
    rpc_by_hour: tuple[float, ...] = _p(
        (0.05, 0.03, 0.02, 0.02, 0.02, 0.03, 0.06, 0.12, 0.20, 0.24, 0.25, 0.24,
         0.28, 0.26, 0.22, 0.22, 0.23, 0.25, 0.30, 0.33, 0.31, 0.25, 0.15, 0.08),
        "assumption shaped on industry reports: right-party contact rate of a call by local "
        "hour, highest at lunch and in the early evening")
    robot_rpc_factor: float = _p(0.85, "assumption: people hang up on robots more")
    promise_rate: dict[str, float] = _p(
        {"agent": 0.40, "robot": 0.22, "sms": 0.04, "push": 0.02},
        "assumption, scaled by the calibrated collection_effect: chance that a right-party "
        "contact (or a read message) ends in a promise to pay")
    promise_kept_rate: float = _p(0.6, "assumption: industry rule of thumb, 50-70 % kept")
    promise_days: int = _p(5, "assumption: promised payment within this many days")
    self_cure_daily: float = _p(0.012, "calibrated: daily chance a delinquent account pays its "
                                "overdue amount with no contact (debt_recovery level 0)")
    collection_effect: float = _p(1.0, "calibrated: multiplier on promise rates, fitted so "
                                  "that a stronger collection effort adds what the "
                                  "debt_recovery RDD shows at the 1000 threshold")

    # -- repayment arrangements: hardship signals, offers, plans --------------------------
    hardship_disclosure: dict[str, float] = _p(
        {"agent": 0.5, "robot": 0.25, "sms": 0.0, "push": 0.0},
        "assumption: chance that a debtor in a hardship spell, reached by a call, says so "
        "(an agent asks why; a robot's script asks less well); messages carry no answer")
    hardship_false_claim: float = _p(0.03, "assumption: chance that a reached debtor who is "
                                     "not in hardship claims to be (a plan costs nothing)")
    offer_accept_logit: dict[str, float] = _p(
        {"hardship_plan": -1.0, "payment_holiday": -1.5, "settlement": -2.5},
        "assumption: logit of accepting an offer explained on a call, for a debtor not in "
        "hardship and one month late (27 % for an interest-free plan; settlements need a "
        "lump sum)")
    offer_accept_hardship: dict[str, float] = _p(
        {"hardship_plan": 2.0, "payment_holiday": 2.5, "settlement": -1.0},
        "assumption: added to the acceptance logit while the debtor is in a hardship spell "
        "(a plan or a holiday is what they need, 73 %; a lump sum is out of reach); it "
        "goes when the spell ends, so acceptance falls as the income shock recovers")
    offer_accept_per_month_late: float = _p(
        0.3, "assumption: added to the acceptance logit of a plan or holiday per 30 days past "
        "due beyond the first month (deeper arrears, more pressure to restructure)")
    offer_accept_per_discount: float = _p(
        4.0, "assumption: added to a settlement's acceptance logit per unit of the share "
        "written off (30 % off: +1.2), the discount that makes a lump sum worth finding")
    offer_read_factor: float = _p(0.5, "assumption: an offer by a message that was read is "
                                  "accepted this much as often as one explained on a call")
    plan_keep_logit: float = _p(
        3.0, "assumption: logit that a debtor in a hardship plan pays the month's instalment "
        "(95 % for a debtor out of hardship with risk index 0). With the hardship and risk "
        "terms a typical accepter keeps about 86 % of months in hardship and 93 % after, "
        "so about half of six-month plans are completed: of the order of the re-default "
        "of modified loans in the OCC Mortgage Metrics reports (roughly a quarter to over "
        "half re-default within a year, by vintage and payment reduction)")
    plan_keep_hardship: float = _p(0.8, "assumption: subtracted from the keep logit while "
                                   "the debtor is in a hardship spell")
    plan_keep_risk: float = _p(0.5, "assumption: subtracted from the keep logit per unit of "
                               "the risk index")

    # -- annoyance and complaints --------------------------------------------------------------
    annoyance_decay: float = _p(0.9, "assumption: daily retention of annoyance (half-life "
                                "about a week)")
    annoyance_per_contact: dict[str, float] = _p(
        {"agent": 0.3, "robot": 0.2, "sms": 0.05, "push": 0.03},
        "assumption: annoyance added by a contact attempt per channel")
    annoyance_out_of_hours: float = _p(1.0, "assumption: extra annoyance of a contact before "
                                       "08:00 or after 21:00 local")
    annoyance_third_party: float = _p(1.5, "assumption: extra annoyance of a third-party call")
    complaint_base_logit: float = _p(-9.0, "assumption: about 1 complaint a 10,000 "
                                     "account-days at zero annoyance")
    complaint_per_annoyance: float = _p(0.8, "assumption: logit slope of complaints in "
                                        "annoyance; daily agent calls (annoyance about 4.5) "
                                        "give about 13 % a month, a robot call every other "
                                        "day under 1 %")
    annoyance_willingness: float = _p(0.25, "assumption: late logits rise by this per unit of "
                                      "annoyance (harassed debtors pay less willingly)")

    @staticmethod
    def source(name: str) -> str:
        """Where a parameter's value comes from."""
        for f in fields(SimParams):
            if f.name == name:
                return str(f.metadata["source"])
        raise BadInputError(f"unknown simulator parameter {name!r}", field="name", value=name)

    def validate(self) -> SimParams:
        """Refuse impossible values, naming the parameter."""
        if self.scenario not in SCENARIOS:
            raise BadInputError(f"scenario must be one of {', '.join(SCENARIOS)}; got "
                                f"{self.scenario!r}", field="scenario", value=self.scenario)
        for name in ("loan_share", "far_west_share", "opening_spread", "promise_kept_rate",
                     "reminder_late_reduction", "reminder_read_rate", "annoyance_decay",
                     "hardship_false_claim", "offer_read_factor"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise BadInputError(f"{name} must be within [0, 1]; got {v}", field=name, value=v)
        lo, hi = self.seasoning_months
        if not 0 <= lo <= hi <= 600:
            raise BadInputError(f"seasoning_months must be (lo, hi) with 0 <= lo <= hi <= 600; "
                                f"got {self.seasoning_months}", field="seasoning_months",
                                value=self.seasoning_months)
        if abs(sum(self.tier_mix) - 1.0) > 1e-9:
            raise BadInputError(f"tier_mix must sum to 1; got {self.tier_mix}", field="tier_mix",
                                value=self.tier_mix)
        if len(self.rpc_by_hour) != 24:
            raise BadInputError("rpc_by_hour must have 24 values", field="rpc_by_hour",
                                value=len(self.rpc_by_hour))
        return self

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def load_params(path: Path | None = None, **overrides: Any) -> SimParams:
    """The default parameters with the calibrated values applied, then ``overrides``.

    >>> load_params(scenario="recession").scenario
    'recession'
    """
    p = SimParams()
    src = path or CALIBRATED
    if src.exists():
        fitted = json.loads(src.read_text())
        known = {f.name for f in fields(SimParams)}
        bad = sorted(set(fitted) - known)
        if bad:
            raise BadInputError(f"{src}: unknown simulator parameter {bad[0]!r}", field=bad[0])
        p = replace(p, **{k: _tupled(v) for k, v in fitted.items()})
    unknown = sorted(set(overrides) - {f.name for f in fields(SimParams)})
    if unknown:
        raise BadInputError(f"unknown simulator parameter {unknown[0]!r}", field=unknown[0])
    return replace(p, **overrides).validate()


def _tupled(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_tupled(x) for x in v)
    return v


def unemployment_path(scenario: str, days: int) -> np.ndarray:
    """Daily unemployment rate (per cent) over ``days`` for a named scenario.

    >>> unemployment_path("recession", 3).round(2).tolist()
    [5.2, 6.7, 8.2]
    """
    if scenario not in SCENARIOS:
        raise BadInputError(f"scenario must be one of {', '.join(SCENARIOS)}; got {scenario!r}",
                            field="scenario", value=scenario)
    a, b = SCENARIOS[scenario]
    return np.linspace(a, b, days) if days > 1 else np.array([a])
