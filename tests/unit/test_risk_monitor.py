"""PSI worked examples and bands."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from creditdesk.risk.monitor import psi, psi_band, psi_from_shares


def test_psi_worked_example() -> None:
    # (0.6-0.5) ln(0.6/0.5) + (0.4-0.5) ln(0.4/0.5)
    expected = 0.1 * math.log(1.2) + (-0.1) * math.log(0.8)
    assert psi_from_shares(np.array([0.5, 0.5]), np.array([0.6, 0.4])) == pytest.approx(expected)
    assert expected == pytest.approx(0.0405, abs=1e-4)


def test_empty_cells_are_floored() -> None:
    value = psi_from_shares(np.array([1.0, 0.0]), np.array([0.5, 0.5]))
    assert np.isfinite(value) and value > 0.25


@pytest.mark.parametrize(("value", "band"), [(0.0, "stable"), (0.0999, "stable"),
                                              (0.1, "watch"), (0.25, "watch"),
                                              (0.2501, "shifted")])
def test_bands(value: float, band: str) -> None:
    assert psi_band(value) == band


def test_numeric_shift_is_detected() -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(size=4000)
    assert psi(base, rng.normal(size=4000)).band == "stable"
    assert psi(base, rng.normal(1.0, 1.0, size=4000)).band == "shifted"


def test_categorical_new_category_and_missing() -> None:
    base = pd.Series(["a", "b"] * 50)
    cur = pd.Series(["a", "c", None, "b"] * 25)
    result = psi(base, cur, name="city")
    assert "other" in result.bins and "missing" in result.bins
    assert sum(result.actual) == pytest.approx(1.0)
    assert result.band == "shifted"


def test_identical_samples_have_zero_psi() -> None:
    x = np.arange(1000.0)
    assert psi(x, x).psi == pytest.approx(0.0)
