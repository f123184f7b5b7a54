"""Reason codes: vectorised top-k of adverse amounts."""

from __future__ import annotations

import numpy as np

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
