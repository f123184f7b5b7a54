"""Reason codes: vectorised top-k of adverse amounts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from creditdesk.risk.reasons import reason_columns, top_reasons

NAMES = ["income", "age", "tenure", "dpd"]


def test_top_three_most_adverse_in_order() -> None:
    adverse = np.array([[10.0, 0.0, 3.0, 25.0], [0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    assert top_reasons(adverse, NAMES) == [["dpd", "income", "tenure"], ["dpd"], []]


def test_reason_columns_fill_empty_slots() -> None:
    adverse = np.array([[1.0, 2.0, 0.0, 0.0]])
    out = reason_columns(adverse, NAMES, 3, value_name="points_lost")
    assert list(out.columns) == ["reason_1", "reason_1_points_lost", "reason_2",
                                 "reason_2_points_lost", "reason_3", "reason_3_points_lost"]
    assert out.loc[0, "reason_1"] == "age" and out.loc[0, "reason_2"] == "income"
    assert out.loc[0, "reason_3"] is None and np.isnan(out.loc[0, "reason_3_points_lost"])


def test_fewer_features_than_k() -> None:
    out = reason_columns(np.array([[2.0]]), ["x"], 3)
    assert out.loc[0, "reason_1"] == "x" and out.loc[0, "reason_2"] is None


def test_ties_follow_column_order() -> None:
    assert top_reasons(np.array([[1.0, 1.0, 1.0, 1.0]]), NAMES, k=2) == [["income", "age"]]


def test_top_indices_match_a_stable_sort_with_ties_and_nan() -> None:
    from creditdesk.risk.reasons import _top_indices

    rng = np.random.default_rng(0)
    m = rng.integers(-3, 4, size=(500, 7)).astype(float)  # many ties
    m[rng.random(m.shape) < 0.05] = np.nan
    order, values = _top_indices(m, 3)
    filled = np.where(np.isnan(m), -np.inf, m)
    expected = np.argsort(-filled, axis=1, kind="stable")[:, :3]
    np.testing.assert_array_equal(order, expected)
    np.testing.assert_array_equal(values, np.take_along_axis(filled, expected, axis=1))
    assert not np.isnan(m).all(axis=1).any()


def test_reason_names_are_the_same_text_whatever_the_column_backing() -> None:
    rng = np.random.default_rng(1)
    adverse = rng.normal(size=(300, 4))
    out = reason_columns(adverse, NAMES, 3)
    expected = top_reasons(adverse, NAMES, 3)
    for i in range(3):
        got = [None if pd.isna(v) else v for v in out[f"reason_{i + 1}"]]
        assert got == [r[i] if len(r) > i else None for r in expected]
