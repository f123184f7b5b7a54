"""Flexible repayment: hardship plans, payment holidays and settlements, offered by policy.

The ledger posts the arrangements (``creditdesk.ledger.arrangements``, docs/ledger.md);
this module decides who may have which (docs/collections-arrangements.md):

* :class:`ArrangementPolicy` — the rules as data, loaded from a TOML file (the shipped
  default is ``policy/arrangements.toml``): DPD and bucket windows, terms, account age,
  FFIEC-style re-ageing limits, settlement floors by bucket, approval thresholds;
* :func:`eligibility` — pure: an account's state and its past arrangements in, eligible
  or not out, a refusal naming the rule (``hardship_plan.max_reages_12_months``, ...);
* :func:`offer` — the one runner: reads the account from the books as of the last closed
  date, checks eligibility (refusing with :class:`ArrangementRefused`, the books
  untouched), computes the amount and loads the transaction through the ledger's normal
  path (``creditdesk.ledger.ingest.load_frames``) for the next business date. It is
  posted at that date's end of day.

>>> p = default_arrangement_policy()
>>> p.hardship_plan.max_reages_12_months, str(p.settlement.floor["M3"])
(1, '0.70')
>>> acc = AccountState("R1", "open", 40, "M2", date(2025, 1, 5), date(2026, 3, 22),
...                    balance=102_260, past_due=20_210)
>>> e = eligibility(acc, [], p, "hardship_plan", business_date=date(2026, 3, 23), terms=6)
>>> e.eligible, e.amount
(True, 20210)
>>> e = eligibility(acc, [], p, "settlement", business_date=date(2026, 3, 23))
>>> e.eligible, e.rule
(False, 'settlement.floor')
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from creditdesk.errors import BadInputError, NotFoundError
from creditdesk.products.dates import add_months
from creditdesk.store.base import Store

__all__ = [
    "KINDS",
    "AccountState",
    "ArrangementPolicy",
    "ArrangementRefused",
    "Eligibility",
    "PastArrangement",
    "default_arrangement_policy",
    "eligibility",
    "load_arrangement_policy",
    "offer",
    "parse_arrangement_policy",
]

#: the arrangement kinds: the ledger's transaction types
KINDS = ("hardship_plan", "payment_holiday", "settlement")
BUCKETS = ("M0", "M1", "M2", "M3", "M4", "M5", "M6", "CO")


class ArrangementRefused(BadInputError):
    """An arrangement the policy does not allow; ``rule`` names the rule (dotted)."""

    def __init__(self, message: str, *, rule: str, field: str | None = None,
                 value: object = None) -> None:
        self.rule = rule
        super().__init__(message, field=field or rule, value=value)


# --------------------------------------------------------------------------- policy
class _Rules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HardshipRules(_Rules):
    min_dpd: int = 1
    max_dpd: int = 90
    min_terms: int = 3
    max_terms: int = 12
    min_account_age_days: int = 270
    max_reages_12_months: int = 1
    max_reages_5_years: int = 2
    approval_above: int = 2_000_000

    @model_validator(mode="after")
    def _ranges(self) -> HardshipRules:
        if not 1 <= self.min_dpd <= self.max_dpd:
            raise ValueError(f"need 1 <= min_dpd <= max_dpd; got {self.min_dpd}, {self.max_dpd}")
        if not 3 <= self.min_terms <= self.max_terms <= 12:
            raise ValueError(f"need 3 <= min_terms <= max_terms <= 12 (what the ledger "
                             f"accepts); got {self.min_terms}, {self.max_terms}")
        if min(self.min_account_age_days, self.max_reages_12_months, self.max_reages_5_years,
               self.approval_above) < 0:
            raise ValueError("ages, limits and thresholds must not be negative")
        return self


class HolidayRules(_Rules):
    buckets: tuple[str, ...] = ("M0", "M1")
    min_months: int = 1
    max_months: int = 3
    max_per_12_months: int = 1
    min_account_age_days: int = 90

    @field_validator("buckets")
    @classmethod
    def _buckets(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [b for b in v if b not in BUCKETS]
        if bad:
            raise ValueError(f"buckets must be among {', '.join(BUCKETS)}; got {bad}")
        return v

    @model_validator(mode="after")
    def _ranges(self) -> HolidayRules:
        if not 1 <= self.min_months <= self.max_months <= 3:
            raise ValueError(f"need 1 <= min_months <= max_months <= 3 (what the ledger "
                             f"accepts); got {self.min_months}, {self.max_months}")
        if min(self.max_per_12_months, self.min_account_age_days) < 0:
            raise ValueError("ages and limits must not be negative")
        return self


class SettlementRules(_Rules):
    floor: dict[str, Decimal]
    approval_above_writeoff: int = 5_000_000

    @field_validator("floor")
    @classmethod
    def _floor(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        for bucket, share in v.items():
            if bucket not in BUCKETS:
                raise ValueError(f"floor buckets must be among {', '.join(BUCKETS)}; "
                                 f"got {bucket!r}")
            if not Decimal(0) < share <= Decimal(1):
                raise ValueError(f"floor.{bucket} must be a share in (0, 1]; got {share}")
        return v


class ArrangementPolicy(BaseModel):
    """Eligibility and approval rules of the three arrangements (see the TOML file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    hardship_plan: HardshipRules
    payment_holiday: HolidayRules
    settlement: SettlementRules


def parse_arrangement_policy(text: str, *, source: str = "policy") -> ArrangementPolicy:
    """Validate a policy from TOML text; errors name the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInputError(f"{source} is not valid TOML: {exc}", field="policy",
                            value=source) from None
    try:
        return ArrangementPolicy.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "policy"
        msg = err["msg"].removeprefix("Value error, ")
        raise BadInputError(f"{source}: {key}: {msg}", field=key,
                            value=err.get("input")) from None


def load_arrangement_policy(path: str | Path | None = None) -> ArrangementPolicy:
    """A policy file, or the shipped default (``None``)."""
    if path is None:
        return default_arrangement_policy()
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"arrangement policy file not found: {p}")
    return parse_arrangement_policy(p.read_text(encoding="utf-8"), source=str(p))


def default_arrangement_policy() -> ArrangementPolicy:
    """``policy/arrangements.toml`` shipped with creditdesk."""
    text = (resources.files("creditdesk.collections").joinpath("policy", "arrangements.toml")
            .read_text(encoding="utf-8"))
    return parse_arrangement_policy(text, source="arrangements.toml")


# --------------------------------------------------------------------------- pure core
@dataclass(frozen=True)
class AccountState:
    """An account as the books show it at the last closed date ``as_of``.

    ``balance``: principal + interest + fee + penalty owed (for a charged-off account,
    the amount charged off less what was recovered); ``past_due``: what is past due on
    the next date (every open due item whose due date has passed), what a hardship
    plan re-amortises.
    """

    account_id: str
    status: str
    dpd: int
    bucket: str
    opened: date
    as_of: date
    balance: int = 0
    past_due: int = 0


@dataclass(frozen=True)
class PastArrangement:
    """An arrangement already in the books (posted or pending; rejected ones do not count)."""

    kind: str
    business_date: date
    status: str = "posted"


@dataclass(frozen=True)
class Eligibility:
    """The answer: ``eligible``, or the ``rule`` that refuses and why; ``amount`` and
    ``terms`` are what the transaction carries when eligible."""

    eligible: bool
    kind: str
    reason: str
    rule: str | None = None
    amount: int | None = None
    terms: int | None = None

    def raise_if_refused(self) -> None:
        if not self.eligible:
            raise ArrangementRefused(f"{self.kind} refused by rule {self.rule}: {self.reason}",
                                     rule=self.rule or "kind", value=self.kind)


def _no(kind: str, rule: str, reason: str) -> Eligibility:
    return Eligibility(False, kind, reason, rule=rule)


def _count(history: Sequence[PastArrangement], kind: str, since: date, until: date) -> int:
    return sum(1 for h in history if h.kind == kind and h.status != "rejected"
               and since < h.business_date <= until)


def _ceil_share(amount: int, share: Decimal) -> int:
    """The least whole number of minor units that is at least ``amount x share``."""
    num, den = share.as_integer_ratio()
    return -(-amount * num // den)


def eligibility(account: AccountState, history: Sequence[PastArrangement],
                policy: ArrangementPolicy, kind: str, *, business_date: date,
                terms: int | None = None, amount: int | None = None,
                approved_by: str | None = None) -> Eligibility:
    """May ``account`` have arrangement ``kind`` on ``business_date``? Pure.

    Rules in order, the first that fails refuses (names in docs/collections-arrangements.md):
    ``account.status``, then for ``hardship_plan``: ``past_due``, ``min_dpd``, ``max_dpd``,
    ``min_account_age_days``, ``terms``, ``amount``, ``max_reages_12_months``,
    ``max_reages_5_years``, ``approval_above``; ``payment_holiday``: ``buckets``,
    ``min_account_age_days``, ``months``, ``amount``, ``max_per_12_months``;
    ``settlement``: ``floor`` (a floor for the bucket), ``balance``, ``amount`` (positive,
    at most the balance, at least the floor), ``approval_above_writeoff``. A settlement
    without ``amount`` is offered at its floor.
    """
    if kind not in KINDS:
        return _no(str(kind), "kind", f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    co = account.status == "charged_off" and kind == "settlement"
    if account.status != "open" and not co:
        return _no(kind, "account.status",
                   f"account {account.account_id} is {account.status}, not open")
    age = (business_date - account.opened).days
    year_ago, five_years_ago = add_months(business_date, -12), add_months(business_date, -60)
    if kind == "hardship_plan":
        r = policy.hardship_plan
        name = "hardship_plan"
        if account.past_due <= 0:
            return _no(kind, f"{name}.past_due", f"nothing is past due on {business_date}")
        if account.dpd < r.min_dpd:
            return _no(kind, f"{name}.min_dpd", f"DPD {account.dpd} is below {r.min_dpd}")
        if account.dpd > r.max_dpd:
            return _no(kind, f"{name}.max_dpd", f"DPD {account.dpd} is above {r.max_dpd}")
        if age < r.min_account_age_days:
            return _no(kind, f"{name}.min_account_age_days",
                       f"the account is {age} days old; at least {r.min_account_age_days}")
        if terms is None or not r.min_terms <= terms <= r.max_terms:
            return _no(kind, f"{name}.terms",
                       f"terms must be {r.min_terms} to {r.max_terms}; got {terms}")
        if amount is not None and amount != account.past_due:
            return _no(kind, f"{name}.amount", f"amount must be the past-due total "
                       f"{account.past_due}; got {amount}")
        n12 = _count(history, kind, year_ago, business_date)
        if n12 >= r.max_reages_12_months:
            return _no(kind, f"{name}.max_reages_12_months",
                       f"{n12} re-age(s) since {year_ago}; at most {r.max_reages_12_months} in "
                       f"12 months")
        n60 = _count(history, kind, five_years_ago, business_date)
        if n60 >= r.max_reages_5_years:
            return _no(kind, f"{name}.max_reages_5_years",
                       f"{n60} re-age(s) since {five_years_ago}; at most {r.max_reages_5_years} "
                       f"in 5 years")
        if account.past_due > r.approval_above and not approved_by:
            return _no(kind, f"{name}.approval_above",
                       f"a past-due total of {account.past_due} is above {r.approval_above}: "
                       f"approved_by is needed")
        return Eligibility(True, kind, f"re-amortise {account.past_due} into {terms} "
                           f"instalments", amount=account.past_due, terms=terms)
    if kind == "payment_holiday":
        h = policy.payment_holiday
        name = "payment_holiday"
        if account.bucket not in h.buckets:
            return _no(kind, f"{name}.buckets", f"bucket {account.bucket} is not one of "
                       f"{', '.join(h.buckets)}")
        if age < h.min_account_age_days:
            return _no(kind, f"{name}.min_account_age_days",
                       f"the account is {age} days old; at least {h.min_account_age_days}")
        if terms is None or not h.min_months <= terms <= h.max_months:
            return _no(kind, f"{name}.months",
                       f"months (terms) must be {h.min_months} to {h.max_months}; got {terms}")
        if amount not in (None, 0):
            return _no(kind, f"{name}.amount", f"a payment holiday has no amount; got {amount}")
        n = _count(history, kind, year_ago, business_date)
        if n >= h.max_per_12_months:
            return _no(kind, f"{name}.max_per_12_months",
                       f"{n} holiday(s) since {year_ago}; at most {h.max_per_12_months} in 12 "
                       f"months")
        return Eligibility(True, kind, f"move due dates {terms} month(s) later", amount=0,
                           terms=terms)
    s = policy.settlement
    name = "settlement"
    share = s.floor.get(account.bucket)
    if share is None:
        return _no(kind, f"{name}.floor", f"no settlement in bucket {account.bucket} (offered "
                   f"in {', '.join(s.floor)})")
    if account.balance <= 0:
        return _no(kind, f"{name}.balance", "nothing is owed")
    least = _ceil_share(account.balance, share)
    if amount is None:
        amount = least
    if amount <= 0 or amount > account.balance:
        return _no(kind, f"{name}.amount",
                   f"amount must be from 1 to the balance {account.balance}; got {amount}")
    if amount < least:
        return _no(kind, f"{name}.floor.{account.bucket}",
                   f"amount {amount} is below {share} of the balance {account.balance} "
                   f"({least})")
    written_off = account.balance - amount
    if written_off > s.approval_above_writeoff and not approved_by:
        return _no(kind, f"{name}.approval_above_writeoff",
                   f"writing off {written_off} is above {s.approval_above_writeoff}: "
                   f"approved_by is needed")
    return Eligibility(True, kind, f"pay {amount}, write off {written_off}", amount=amount)


# --------------------------------------------------------------------------- runner
def _state(store: Store, account_id: str, business_date: date
           ) -> tuple[AccountState, list[PastArrangement]]:
    acct = store.read("accounts", "account_id = ?", [account_id])
    if acct.height == 0:
        raise NotFoundError(f"account_id {account_id!r} is not in the books")
    last = store.last_closed()
    if last is None:
        raise ArrangementRefused("no business date is closed yet: an arrangement is offered "
                                 "on the books of the last closed date", rule="books.closed",
                                 field="business_date", value=business_date)
    if business_date != last + timedelta(days=1):
        raise BadInputError(f"business_date must be the next business date "
                            f"{last + timedelta(days=1)} (the books are closed through {last}); "
                            f"got {business_date}", field="business_date", value=business_date)
    day = store.read("account_day", "business_date = ? AND account_id = ?", [last, account_id])
    if day.height == 0:
        raise ArrangementRefused(f"account {account_id} has no closed date yet",
                                 rule="books.closed", field="account_id", value=account_id)
    r = day.row(0, named=True)
    owed = sum(r[c] for c in ("principal", "interest", "fee", "penalty"))
    if r["status"] == "charged_off":
        owed = r["chargeoff_amount"] - r["recovered_total"]
    dues = store.read("dues", "account_id = ? AND due_date < ?", [account_id, business_date])
    past_due = int(dues.select(pl.sum_horizontal("principal", "interest", "fee", "penalty")
                               .sum()).item() or 0)
    state = AccountState(account_id, r["status"], r["dpd"], r["bucket"],
                         acct.row(0, named=True)["opened"], last, balance=owed,
                         past_due=past_due)
    txns = store.read("transactions", f"account_id = ? AND type IN ({', '.join('?' * 3)})",
                      [account_id, *KINDS])
    posts = store.read("postings", "account_id = ?", [account_id])
    hist = (txns.join(posts.select("txn_id", "status"), on="txn_id", how="left")
            .with_columns(pl.col("status").fill_null("pending")))
    history = [PastArrangement(h["type"], h["business_date"], h["status"])
               for h in hist.sort("business_date").to_dicts()]
    return state, history


def offer(store: Store, account_id: str, kind: str, business_date: date, *,
          terms: int | None = None, amount: int | None = None, approved_by: str | None = None,
          policy: ArrangementPolicy | None = None, catalogue: Any = None) -> str:
    """Offer arrangement ``kind`` to ``account_id`` for ``business_date``; its external_id.

    ``business_date`` must be the next business date (the day after the last closed
    one): eligibility is judged on, and the amount computed from, the books of the
    last closed date, which are the state that date starts from. The amount: a
    hardship plan's is the past-due total; a settlement's is ``amount``, or the
    policy's floor for the bucket when not given; a holiday has none. The transaction
    is loaded with ``load_frames`` (``load_id`` ``arrangement:<kind>``, with
    ``:approved_by=<name>`` when given) and posted at that date's end of day.
    Offering the same again for the same account and date returns the same
    external_id and loads nothing. A refusal raises :class:`ArrangementRefused` naming
    the rule, and writes nothing.
    """
    from creditdesk.ledger.ingest import as_text, load_frames

    if kind not in KINDS:
        raise ArrangementRefused(f"kind must be one of {', '.join(KINDS)}; got {kind!r}",
                                 rule="kind", field="kind", value=kind)
    policy = policy or default_arrangement_policy()
    external_id = f"arrangement:{kind}:{account_id}:{business_date:%Y%m%d}"
    known = store.read("transactions", "external_id = ?", [external_id])
    state, history = _state(store, account_id, business_date)
    if known.height:
        k = known.row(0, named=True)
        same = (k["type"] == kind and (terms is None or k["terms"] == terms)
                and (amount is None or k["amount"] == amount))
        if not same:
            raise BadInputError(f"external_id {external_id!r} was already offered with "
                                f"other terms (terms {k['terms']}, amount {k['amount']})",
                                field="external_id", value=external_id)
        return external_id
    answer = eligibility(state, history, policy, kind, business_date=business_date,
                         terms=terms, amount=amount, approved_by=approved_by)
    answer.raise_if_refused()
    if catalogue is None:
        from creditdesk.config import settings
        from creditdesk.products import load_catalogue

        catalogue = load_catalogue(settings().catalogue)
    row = pl.DataFrame({"external_id": [external_id], "account_id": [account_id],
                        "business_date": [business_date], "type": [kind],
                        "amount": [answer.amount], "terms": [answer.terms]},
                       schema={"external_id": pl.String, "account_id": pl.String,
                               "business_date": pl.Date, "type": pl.String,
                               "amount": pl.Int64, "terms": pl.Int32})
    load_id = f"arrangement:{kind}" + (f":approved_by={approved_by}" if approved_by else "")
    load_frames(store, catalogue, transactions=as_text(row), load_id=load_id)
    return external_id
