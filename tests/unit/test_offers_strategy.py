"""Offers in a strategy: the YAML section parsed and refused naming the key; the built-ins."""

from __future__ import annotations

from pathlib import Path

import pytest

from creditdesk.collections.strategy import load_strategy
from creditdesk.errors import BadInputError
from creditdesk.simulate.offers import TwinOffers, check_twin_offers

SRC = Path(__file__).parents[2] / "src/creditdesk/collections/strategies/optimized.yaml"

RULE = ('    - name: plan\n      kind: hardship_plan\n      terms: 6\n'
        '      when: {min_dpd: 5}\n      contact: {channel: agent, at: "19:00"}\n')


def _with_offers(tmp_path: Path, body: str) -> Path:
    base = SRC.read_text(encoding="utf-8")
    base = base[:base.index("offers:\n")]
    f = tmp_path / "s.yaml"
    f.write_text(base + body, encoding="utf-8")
    return f


def _refused(tmp_path: Path, body: str) -> str:
    with pytest.raises(BadInputError) as err:
        load_strategy(_with_offers(tmp_path, body))
    return str(err.value)


def test_the_builtins() -> None:
    assert load_strategy("frequent").offers is None
    assert load_strategy("bucket_rules").offers is None
    opt = load_strategy("optimized")
    assert opt.version >= 3 and opt.offers is not None
    assert {r.kind for r in opt.offers.rules} == {"hardship_plan", "settlement"}
    # the explore arm stays a pure contact experiment
    assert all(r.arms == ["champion"] for r in opt.offers.rules)
    check_twin_offers(opt)


def test_strategies_without_offers_make_none_in_the_twin() -> None:
    for name in ("frequent", "bucket_rules"):
        assert TwinOffers.start(load_strategy(name), [], None, 1, None) is None
    opt = TwinOffers.start(load_strategy("optimized"), [], None, 1, None)
    assert opt is not None and opt.self_cure is not None  # its rules read the score


def test_a_good_section_loads(tmp_path: Path) -> None:
    s = load_strategy(_with_offers(tmp_path, "offers:\n  rules:\n" + RULE))
    assert s.offers is not None and s.offers.cooldown_days == 30
    r = s.offers.rules[0]
    assert (r.kind, r.terms, r.when.min_dpd, r.contact.minute) == ("hardship_plan", 6, 5, 1140)
    assert s.offers.arrangement_policy().hardship_plan.min_account_age_days == 270


@pytest.mark.parametrize(("body", "expected"), [
    (RULE.replace("hardship_plan", "loan"),
     "must be one of hardship_plan, payment_holiday, settlement; got 'loan'"),
    (RULE.replace("      terms: 6\n", ""), "terms: must be given for a hardship_plan"),
    (RULE.replace("hardship_plan", "settlement"), "terms: must be empty for a settlement"),
    (RULE.replace("terms: 6", "terms: 24"),
     "rules.0.terms: must be 3 to 12 for a hardship_plan (the arrangements policy); got 24"),
    (RULE.replace("kind: hardship_plan", "kind: payment_holiday"),
     "rules.0.terms: must be 1 to 3 for a payment_holiday"),
    (RULE.replace("{min_dpd: 5}", "{buckets: [M2, M9]}"), "must be among M0, M1"),
    (RULE.replace("{min_dpd: 5}", "{min_dpd: 40, max_dpd: 30}"),
     "min_dpd must be at most max_dpd; got 40 > 30"),
    (RULE.replace("{min_dpd: 5}", "{max_self_cure: 1.5}"), "max_self_cure"),
    (RULE.replace('at: "19:00"', 'at: "25:00"'), "must be a local time HH:MM; got '25:00'"),
    (RULE.replace('at: "19:00"', 'at: "19:00", template: nope'),
     "offers.rules.0.contact.template: must be one of the strategy's templates; got 'nope'"),
    (RULE + "      arms: [challenger]\n",
     "offers.rules.0.arms: must be among champion, explore; got 'challenger'"),
    (RULE + RULE, "rules: names must be unique; got 'plan' twice"),
])
def test_bad_rules_are_refused_naming_the_key(tmp_path: Path, body: str, expected: str) -> None:
    assert expected in _refused(tmp_path, "offers:\n  rules:\n" + body)


def test_bad_section_keys(tmp_path: Path) -> None:
    assert "offers.rules" in _refused(tmp_path, "offers:\n  rules: []\n")
    assert "offers.cooldown_days" in _refused(tmp_path, "offers:\n  cooldown_days: -1\n"
                                              "  rules:\n" + RULE)
    assert "offers.surprise" in _refused(tmp_path, "offers:\n  surprise: 1\n  rules:\n" + RULE)
    msg = _refused(tmp_path, "offers:\n  policy: /nowhere/policy.toml\n  rules:\n" + RULE)
    assert "policy: must be 'default' or an arrangements policy file; got" in msg


def test_a_policy_file_bounds_the_terms(tmp_path: Path) -> None:
    pol = (Path(__file__).parents[2] / "src/creditdesk/collections/policy/arrangements.toml"
           ).read_text(encoding="utf-8").replace("max_terms = 12", "max_terms = 4")
    (tmp_path / "p.toml").write_text(pol, encoding="utf-8")
    msg = _refused(tmp_path, f"offers:\n  policy: {tmp_path / 'p.toml'}\n  rules:\n" + RULE)
    assert "must be 3 to 4 for a hardship_plan" in msg


def test_the_twin_refuses_payment_holidays(tmp_path: Path) -> None:
    body = RULE.replace("hardship_plan", "payment_holiday").replace("terms: 6", "terms: 2")
    s = load_strategy(_with_offers(tmp_path, "offers:\n  rules:\n" + body))
    with pytest.raises(BadInputError) as err:
        check_twin_offers(s)
    assert "offers.rules.0.kind: must be hardship_plan or settlement in the digital twin" in \
        str(err.value)
