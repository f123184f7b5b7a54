"""The twin's behaviour core, parameters and population: pure, hand-checked."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditdesk.errors import BadInputError
from creditdesk.simulate import behaviour as bh
from creditdesk.simulate.params import SCENARIOS, SimParams, load_params, unemployment_path
from creditdesk.simulate.population import draw_population, taiwan_profiles


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=1, max_size=30),
       st.floats(-3, 3), st.floats(0, 4))
def test_next_status_probabilities_are_distributions_over_feasible_states(
        status: list[int], risk: float, shift: float) -> None:
    s = np.array(status)
    p = bh.next_status_probabilities(s, np.full(len(s), risk), np.array(SimParams().theta),
                                     np.array(SimParams().risk_loading), shift)
    assert np.allclose(p.sum(axis=1), 1.0)
    assert (p[~bh.feasible_mask()[s]] == 0).all()  # never more than one month further behind


def test_risk_and_hardship_move_mass_to_the_late_states() -> None:
    theta, load = np.array(SimParams().theta), np.array(SimParams().risk_loading)
    s = np.zeros(3, dtype=int)
    p = bh.next_status_probabilities(s, np.array([-1.0, 0.0, 1.0]), theta, load)
    late = p[:, 2:].sum(axis=1)
    assert late[0] < late[1] < late[2]
    hard = bh.next_status_probabilities(s[:1], np.zeros(1), theta, load, 1.6)
    assert hard[0, 2:].sum() > p[1, 2:].sum()


def test_draw_next_status_follows_the_probabilities() -> None:
    probs = np.tile([0.5, 0.3, 0.2, 0.0, 0.0], (200_000, 1))
    draws = bh.draw_next_status(probs, np.random.default_rng(1))
    shares = np.bincount(draws, minlength=5) / len(draws)
    assert np.allclose(shares, [0.5, 0.3, 0.2, 0, 0], atol=0.005)


def test_status_payment_kind_and_partial_share_by_hand() -> None:
    assert bh.status_of(np.array([0, 0, 1, 30, 31, 60, 61]),
                        np.array([False, True, False, False, False, False, True])).tolist() == [
        0, 1, 2, 2, 3, 3, 4]
    loan = np.array([True, False])
    assert bh.payment_kind(np.array([0, 0]), np.array([0, 0]), loan).tolist() == [bh.DUE, bh.FULL]
    # late_2 (two months of arrears) staying late_2 pays the oldest of the two months
    assert bh.partial_share(np.array([3]), np.array([3])).tolist() == [0.5]


def test_complaints_rise_with_annoyance() -> None:
    p = bh.complaint_probability(np.array([0.0, 1.0, 4.5]), SimParams())
    assert p[0] < p[1] < p[2]
    assert 0.003 < p[2] < 0.006  # daily agent calls: about 13 % a month (params doc)


def test_every_parameter_names_its_source() -> None:
    from dataclasses import fields

    for f in fields(SimParams):
        assert len(SimParams.source(f.name)) > 10, f.name


@pytest.mark.parametrize(("override", "field"), [
    ({"scenario": "boom"}, "scenario"), ({"loan_share": 1.5}, "loan_share"),
    ({"tier_mix": (0.5, 0.5, 0.5, 0.5)}, "tier_mix")])
def test_impossible_parameters_are_refused_naming_the_field(override: dict[str, object],
                                                             field: str) -> None:
    with pytest.raises(BadInputError) as err:
        load_params(**override)
    assert err.value.field == field


def test_unknown_parameter_is_refused() -> None:
    with pytest.raises(BadInputError, match="unknown simulator parameter 'speed'"):
        load_params(speed=3)


def test_shipped_calibration_is_loaded() -> None:
    import json

    from creditdesk.simulate.params import CALIBRATED

    fitted = json.loads(CALIBRATED.read_text())
    p = load_params()
    assert p.collection_effect == fitted["collection_effect"]
    assert [list(r) for r in p.theta] == fitted["theta"]


def test_unemployment_paths() -> None:
    assert set(SCENARIOS) == {"baseline", "recession", "recovery"}
    path = unemployment_path("recession", 181)
    assert path[0] == 5.2 and path[-1] == pytest.approx(8.2) and (np.diff(path) > 0).all()


def test_population_keeps_the_taiwan_joint_distribution() -> None:
    pop = draw_population(20_000, date(2026, 1, 1), 120, SimParams(), seed=5)
    tw = taiwan_profiles()
    revolving = pop.traits.filter(pop.traits["product"] == "revolving")
    # the limit ranks like Taiwan's (scaled) and stays correlated with risk as there
    sim_r = np.corrcoef(np.log(revolving["credit_limit"].to_numpy()),
                        revolving["risk"].to_numpy())[0, 1]
    real_r = np.corrcoef(np.log(tw["limit"].to_numpy()), tw["risk"].to_numpy())[0, 1]
    assert sim_r < 0 and real_r < 0
    assert abs(sim_r - real_r) < 0.25  # diluted by tier shift and the random effect
    med = float(np.median(revolving["credit_limit"].to_numpy())) / 100
    assert 8_000 < med < 14_000  # yuan: Taiwan median 140,000 TWD x 0.08
    tiers = pop.customers["city_tier"].value_counts().sort("city_tier")["count"].to_numpy()
    assert np.allclose(tiers / tiers.sum(), SimParams().tier_mix, atol=0.015)
    loans = pop.traits.filter(pop.traits["product"] == "cash_loan").height
    assert abs(loans / 20_000 - SimParams().loan_share) < 0.015
    assert set(pop.customers["timezone"].unique()) == {"Asia/Shanghai", "Asia/Urumqi"}
    # riskier down-market: tier 4 customers carry a higher mean risk index than tier 1
    joined = revolving.join(pop.customers.select("customer_id", "city_tier"), on="customer_id")
    by_tier = joined.group_by("city_tier").agg(pl.col("risk").mean()).sort("city_tier")
    assert by_tier["risk"][3] - by_tier["risk"][0] > 0.5


def test_population_is_deterministic_for_a_seed() -> None:
    a = draw_population(500, date(2026, 1, 1), 60, SimParams(), seed=9)
    b = draw_population(500, date(2026, 1, 1), 60, SimParams(), seed=9)
    c = draw_population(500, date(2026, 1, 1), 60, SimParams(), seed=10)
    assert a.traits.equals(b.traits) and a.drawdowns.equals(b.drawdowns)
    assert not a.traits.equals(c.traits)


def test_population_refuses_no_customers() -> None:
    with pytest.raises(BadInputError) as err:
        draw_population(0, date(2026, 1, 1), 60, SimParams(), seed=1)
    assert err.value.field == "customers"
