"""Metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from creditdesk.errors import BadInputError
from creditdesk.risk import metrics as m

Y = np.array([0, 0, 1, 1])
P = np.array([0.1, 0.4, 0.35, 0.8])


def test_auc_gini_ks_by_hand() -> None:
    # pairs (bad, good): (0.35>0.1) yes, (0.35>0.4) no, (0.8>0.1) yes, (0.8>0.4) yes -> 3/4
    assert m.auc(Y, P) == pytest.approx(0.75)
    assert m.gini(Y, P) == pytest.approx(0.5)
    # thresholds: at 0.8 TPR .5 FPR 0 -> KS .5
    assert m.ks_statistic(Y, P) == pytest.approx(0.5)


def test_brier_and_log_loss_by_hand() -> None:
    assert m.brier_score(Y, P) == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    expected = -(math.log(0.9) + math.log(0.6) + math.log(0.35) + math.log(0.8)) / 4
    assert m.log_loss(Y, P) == pytest.approx(expected)


def test_calibration_by_decile_groups_sorted_by_pd() -> None:
    p = np.linspace(0.01, 0.99, 100)
    y = (np.arange(100) % 2).astype(int)
    rows = m.calibration_by_decile(y, p)
    assert len(rows) == 10 and sum(r["count"] for r in rows) == 100
    assert rows[0]["mean_pd"] < rows[-1]["mean_pd"]
    assert rows[0]["bad_rate"] == pytest.approx(0.5)


def test_information_value_worked_example() -> None:
    # two bins; good shares (3/4, 1/4), bad shares (1/4, 3/4), half-count smoothing
    x = pd.Series(["a"] * 4 + ["b"] * 4)
    y = [0, 0, 0, 1, 0, 1, 1, 1]
    gs = np.array([3.5, 1.5]) / 4
    bs = np.array([1.5, 3.5]) / 4
    expected = float(np.sum((np.array([0.75, 0.25]) - np.array([0.25, 0.75])) * np.log(gs / bs)))
    assert m.information_value(x, y) == pytest.approx(expected)


def test_information_value_numeric_with_missing_is_finite() -> None:
    x = pd.Series([1.0, 2.0, np.nan, 4.0] * 50)
    y = [0, 1, 1, 0] * 50
    assert np.isfinite(m.information_value(x, y))


def test_one_class_target_is_refused() -> None:
    with pytest.raises(BadInputError, match="both 0 and 1"):
        m.auc([0, 0], [0.1, 0.2])


def test_summary_has_every_figure() -> None:
    out = m.summary(Y, P)
    assert {"auc", "gini", "ks", "brier", "log_loss", "calibration"} <= set(out)
