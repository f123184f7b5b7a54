"""Decision policy: validation names the key; limits, prices and cut-offs."""

from __future__ import annotations

import numpy as np
import pytest

from creditdesk.risk.policy import (
    DEFAULT_POLICY_TOML,
    PolicyError,
    cutoff_table,
    decide,
    default_policy,
    load_policy,
    parse_policy,
)


def _edit(old: str, new: str) -> str:
    assert old in DEFAULT_POLICY_TOML
    return DEFAULT_POLICY_TOML.replace(old, new, 1)


@pytest.mark.parametrize(("old", "new", "message"), [
    ('daily_rate = "0.0003"', 'daily_rate = "0.0009"',
     r"bands\[1\]\.daily_rate: must be between 0.0002 and 0.0006; got 0.0009"),
    ('daily_rate = "0.0003"', "daily_rate = 0.0003",
     r"bands\[1\]\.daily_rate: must be a decimal string"),
    ('daily_rate = "0.0003"', "", r"bands\[1\]: daily_rate is required"),
    ("term_days = 180", "term_dayz = 180", r"economics\.term_dayz: Extra inputs"),
    ('max_pd = "0.08"', 'max_pd = "0.01"', "bands must have increasing max_pd"),
    ('cap = "50000"', 'cap = "-1"', r"limit\.cap: Input should be greater than 0"),
    ('decision = "approve"', 'decision = "maybe"', r"bands\[0\]\.decision"),
])
def test_validation_errors_name_the_key(old: str, new: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(_edit(old, new))


def test_not_toml() -> None:
    with pytest.raises(PolicyError, match="not valid TOML"):
        parse_policy("bands = [")


def test_default_policy_loads(tmp_path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(DEFAULT_POLICY_TOML)
    assert load_policy(path) == default_policy() == load_policy(None)


def test_bands_limits_and_rates() -> None:
    policy = default_policy()
    out = decide(policy, [0.01, 0.03, 0.05, 0.2, 0.9], income=[10_000, 10_000, 30_000, 1_000, 5])
    assert out["risk_band"].tolist() == ["A", "A", "B", "D", "E"]
    assert out["decision"].tolist() == ["approve"] * 4 + ["decline"]
    assert out["daily_rate"].tolist()[:4] == ["0.0002", "0.0002", "0.0003", "0.0006"]
    assert out["daily_rate"].isna().tolist()[4]
    # 10,000 x 3 x 1.0 = 30,000; 30,000 x 3 x 0.8 = 72,000 capped at 50,000; 1,000 x 3 x 0.4
    assert out["credit_limit_minor"].tolist()[:4] == [3_000_000, 3_000_000, 5_000_000, 120_000]
    assert out["credit_limit_minor"].isna().tolist()[4]


def test_limit_rounds_down_to_step() -> None:
    out = decide(default_policy(), [0.01], income=[1234.0])
    assert out["credit_limit_minor"].iloc[0] == 370_000  # 3,702 -> 3,700


def test_cutoff_table_approval_grows_and_bad_rate_rises() -> None:
    rng = np.random.default_rng(0)
    pd_ = rng.beta(1, 12, 5000)
    y = (rng.random(5000) < pd_).astype(int)
    rows = cutoff_table(default_policy(), pd_, y=y, scores=-pd_)
    rates = [r["approval_rate"] for r in rows]
    assert rates == sorted(rates) and rates[-1] == 1.0
    bads = [r["expected_bad_rate"] for r in rows]
    assert bads == sorted(bads)
    assert sum(r["best"] for r in rows) == 1
    assert "observed_bad_rate" in rows[0] and "min_score" in rows[0]
