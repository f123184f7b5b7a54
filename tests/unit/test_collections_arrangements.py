"""Arrangement policy and eligibility: every rule refuses with its own name."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from creditdesk.collections.arrangements import (
    AccountState,
    ArrangementPolicy,
    ArrangementRefused,
    PastArrangement,
    default_arrangement_policy,
    eligibility,
    load_arrangement_policy,
    parse_arrangement_policy,
)
from creditdesk.errors import BadInputError, NotFoundError

D = date(2026, 3, 23)
POLICY = default_arrangement_policy()


def account(**kw) -> AccountState:
    base = {"account_id": "R1", "status": "open", "dpd": 40, "bucket": "M2",
            "opened": date(2025, 1, 5), "as_of": date(2026, 3, 22), "balance": 102_260,
            "past_due": 20_210}
    return AccountState(**(base | kw))


def test_the_shipped_policy_and_its_documented_defaults():
    p = load_arrangement_policy()
    assert p == POLICY and p.version
    h = p.hardship_plan
    assert (h.min_dpd, h.max_dpd, h.min_terms, h.max_terms) == (1, 90, 3, 12)
    assert (h.min_account_age_days, h.max_reages_12_months, h.max_reages_5_years) == (270, 1, 2)
    assert p.payment_holiday.buckets == ("M0", "M1")
    assert (p.payment_holiday.min_months, p.payment_holiday.max_months) == (1, 3)
    assert p.settlement.floor["M3"] == Decimal("0.70")
    assert p.settlement.floor["M6"] == Decimal("0.50")
    assert "M2" not in p.settlement.floor


@pytest.mark.parametrize("edit, key", [
    (("min_terms = 3", "min_terms = 2"), "hardship_plan"),
    (("max_months = 3", "max_months = 4"), "payment_holiday"),
    (('M3 = "0.70"', 'M3 = "1.5"'), "settlement.floor"),
    (('M3 = "0.70"', 'M9 = "0.70"'), "settlement.floor"),
    (('buckets = ["M0", "M1"]', 'buckets = ["M0", "X1"]'), "payment_holiday.buckets"),
    (("min_dpd = 1 ", "min_dpd = 1\nmax_age = 5 "), "hardship_plan.max_age"),
])
def test_a_bad_policy_is_refused_naming_the_key(edit, key):
    from importlib import resources

    text = (resources.files("creditdesk.collections").joinpath("policy", "arrangements.toml")
            .read_text(encoding="utf-8"))
    assert edit[0] in text
    with pytest.raises(BadInputError) as err:
        parse_arrangement_policy(text.replace(edit[0], edit[1], 1), source="mine.toml")
    assert err.value.field is not None and err.value.field.startswith(key)
    assert "mine.toml" in str(err.value) and key in str(err.value)


def test_policy_file_errors(tmp_path):
    with pytest.raises(NotFoundError):
        load_arrangement_policy(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("version = ")
    with pytest.raises(BadInputError, match="not valid TOML"):
        load_arrangement_policy(bad)


# --------------------------------------------------------------------------- eligible
def test_hardship_plan_is_eligible_with_the_past_due_total():
    e = eligibility(account(), [], POLICY, "hardship_plan", business_date=D, terms=6)
    assert (e.eligible, e.rule, e.amount, e.terms) == (True, None, 20_210, 6)


def test_payment_holiday_is_eligible_for_a_current_account():
    e = eligibility(account(dpd=0, bucket="M0", past_due=0), [], POLICY, "payment_holiday",
                    business_date=D, terms=2)
    assert (e.eligible, e.amount, e.terms) == (True, 0, 2)


def test_settlement_defaults_to_the_floor_rounded_up():
    # M3 floor 70 %: 102,261 x 0.7 = 71,582.7 -> 71,583
    e = eligibility(account(dpd=70, bucket="M3", balance=102_261), [], POLICY, "settlement",
                    business_date=D)
    assert (e.eligible, e.amount) == (True, 71_583)
    e = eligibility(account(dpd=70, bucket="M3", balance=102_261), [], POLICY, "settlement",
                    business_date=D, amount=80_000)
    assert (e.eligible, e.amount) == (True, 80_000)


def test_settlement_of_a_charged_off_account():
    e = eligibility(account(status="charged_off", bucket="CO", dpd=200, balance=100_000), [],
                    POLICY, "settlement", business_date=D)
    assert (e.eligible, e.amount) == (True, 30_000)


# --------------------------------------------------------------------------- refusals
REFUSALS = [
    # (kind, account overrides, kwargs, history, rule)
    ("gift", {}, {}, [], "kind"),
    ("hardship_plan", {"status": "charged_off", "bucket": "CO"}, {"terms": 6}, [],
     "account.status"),
    ("hardship_plan", {"status": "settled"}, {"terms": 6}, [], "account.status"),
    ("hardship_plan", {"past_due": 0, "dpd": 0, "bucket": "M0"}, {"terms": 6}, [],
     "hardship_plan.past_due"),
    ("hardship_plan", {"dpd": 0, "bucket": "M0"}, {"terms": 6}, [], "hardship_plan.min_dpd"),
    ("hardship_plan", {"dpd": 91, "bucket": "M4"}, {"terms": 6}, [], "hardship_plan.max_dpd"),
    ("hardship_plan", {"opened": date(2025, 7, 1)}, {"terms": 6}, [],
     "hardship_plan.min_account_age_days"),
    ("hardship_plan", {}, {"terms": 2}, [], "hardship_plan.terms"),
    ("hardship_plan", {}, {"terms": 13}, [], "hardship_plan.terms"),
    ("hardship_plan", {}, {}, [], "hardship_plan.terms"),
    ("hardship_plan", {}, {"terms": 6, "amount": 20_000}, [], "hardship_plan.amount"),
    ("hardship_plan", {}, {"terms": 6}, [PastArrangement("hardship_plan", date(2025, 6, 1))],
     "hardship_plan.max_reages_12_months"),
    ("hardship_plan", {}, {"terms": 6},
     [PastArrangement("hardship_plan", date(2023, 1, 1)),
      PastArrangement("hardship_plan", date(2024, 6, 1))], "hardship_plan.max_reages_5_years"),
    ("hardship_plan", {"past_due": 2_000_001, "balance": 3_000_000}, {"terms": 6}, [],
     "hardship_plan.approval_above"),
    ("payment_holiday", {"bucket": "M2"}, {"terms": 1}, [], "payment_holiday.buckets"),
    ("payment_holiday", {"bucket": "M1", "opened": date(2026, 1, 1)}, {"terms": 1}, [],
     "payment_holiday.min_account_age_days"),
    ("payment_holiday", {"bucket": "M1"}, {"terms": 4}, [], "payment_holiday.months"),
    ("payment_holiday", {"bucket": "M1"}, {}, [], "payment_holiday.months"),
    ("payment_holiday", {"bucket": "M1"}, {"terms": 1, "amount": 500}, [],
     "payment_holiday.amount"),
    ("payment_holiday", {"bucket": "M0"}, {"terms": 1},
     [PastArrangement("payment_holiday", date(2025, 12, 1))],
     "payment_holiday.max_per_12_months"),
    ("payment_holiday", {"status": "charged_off", "bucket": "CO"}, {"terms": 1}, [],
     "account.status"),
    ("settlement", {"bucket": "M2"}, {}, [], "settlement.floor"),
    ("settlement", {"bucket": "M3", "balance": 0}, {}, [], "settlement.balance"),
    ("settlement", {"bucket": "M3"}, {"amount": 0}, [], "settlement.amount"),
    ("settlement", {"bucket": "M3"}, {"amount": -5}, [], "settlement.amount"),
    ("settlement", {"bucket": "M3"}, {"amount": 102_261}, [], "settlement.amount"),
    ("settlement", {"bucket": "M3"}, {"amount": 71_581}, [], "settlement.floor.M3"),
    ("settlement", {"bucket": "M6", "balance": 10_000_010}, {}, [],
     "settlement.approval_above_writeoff"),
    ("settlement", {"status": "settled", "bucket": "M0"}, {}, [], "account.status"),
]


@pytest.mark.parametrize("kind, acc, kw, history, rule", REFUSALS,
                         ids=[f"{r[4]}-{i}" for i, r in enumerate(REFUSALS)])
def test_each_rule_refuses_with_its_name(kind, acc, kw, history, rule):
    e = eligibility(account(**acc), history, POLICY, kind, business_date=D, **kw)
    assert not e.eligible and e.rule == rule, e
    assert e.reason
    with pytest.raises(ArrangementRefused) as err:
        e.raise_if_refused()
    assert err.value.rule == rule and rule in str(err.value)
    assert isinstance(err.value, BadInputError) and err.value.field == rule


def test_approval_lifts_the_approval_rules():
    big = account(past_due=2_000_001, balance=3_000_000)
    assert eligibility(big, [], POLICY, "hardship_plan", business_date=D, terms=6,
                       approved_by="lee").eligible
    m6 = account(bucket="M6", dpd=160, balance=10_000_010)
    assert eligibility(m6, [], POLICY, "settlement", business_date=D,
                       approved_by="lee").eligible


def test_re_ageing_windows_count_from_the_offer_date():
    # a re-age exactly 12 months ago no longer counts against the 12-month limit
    e = eligibility(account(), [PastArrangement("hardship_plan", date(2025, 3, 23))], POLICY,
                    "hardship_plan", business_date=D, terms=6)
    assert e.eligible
    # rejected attempts do not count; other kinds do not count
    e = eligibility(account(), [PastArrangement("hardship_plan", date(2026, 1, 1), "rejected"),
                                PastArrangement("payment_holiday", date(2026, 1, 1))],
                    POLICY, "hardship_plan", business_date=D, terms=6)
    assert e.eligible


def test_a_custom_policy_changes_the_answer():
    lenient = POLICY.model_copy(update={"hardship_plan": POLICY.hardship_plan.model_copy(
        update={"max_reages_12_months": 2})})
    assert isinstance(lenient, ArrangementPolicy)
    hist = [PastArrangement("hardship_plan", date(2025, 6, 1))]
    assert not eligibility(account(), hist, POLICY, "hardship_plan", business_date=D,
                           terms=6).eligible
    assert eligibility(account(), hist, lenient, "hardship_plan", business_date=D,
                       terms=6).eligible
