"""Calibration targets: status mapping, transition counts, the Taiwan matrix, the RDD jump."""

from __future__ import annotations

import doctest
import json
import math
from pathlib import Path

import numpy as np
import pytest

from creditdesk.errors import BadInputError
from creditdesk.simulate import targets
from creditdesk.simulate.targets import (
    STATES,
    TransitionTable,
    debt_recovery_data,
    debt_recovery_effect,
    max_abs_gap,
    rdd_jump,
    status_codes,
    taiwan_transitions,
    transition_counts,
)

SHARED = Path(targets.__file__).resolve().parents[3].parent / "shared" / "data"


def test_docstring_examples_run() -> None:
    result = doctest.testmod(targets, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_status_codes_collapse_taiwan_values() -> None:
    pay = np.array([[-2, -1, 0], [1, 2, 3], [4, 8, 0]])
    assert status_codes(pay).tolist() == [[0, 0, 1], [2, 3, 4], [4, 4, 1]]
    assert status_codes(np.array([-1.0, 2.0])).tolist() == [0, 3]


@pytest.mark.parametrize("bad", [np.array(["0", "1"]), np.array([0.5]), np.array([np.nan])])
def test_status_codes_refuse_non_integers(bad: np.ndarray) -> None:
    with pytest.raises(BadInputError) as err:
        status_codes(bad)
    assert err.value.field == "pay"


def test_transition_counts_three_customers_by_hand() -> None:
    # oldest month first; -1 = account not yet open
    statuses = np.array([
        [0, 0, 1, 1],    # duly->duly, duly->revolving, revolving->revolving
        [-1, 1, 3, 4],   # (missing pair skipped), revolving->late_2, late_2->late_3plus
        [4, 3, -1, 0],   # late_3plus->late_2, then two pairs with a missing side
    ])
    expected = np.zeros((5, 5), dtype=np.int64)
    for a, b in [(0, 0), (0, 1), (1, 1), (1, 3), (3, 4), (4, 3)]:
        expected[a, b] += 1
    got = transition_counts(statuses)
    assert got.dtype == np.int64 and got.shape == (5, 5)
    assert got.tolist() == expected.tolist()
    assert got.sum() == 6


def test_transition_counts_refuse_bad_shapes_and_states() -> None:
    with pytest.raises(BadInputError):
        transition_counts(np.array([0, 1, 2]))
    with pytest.raises(BadInputError) as err:
        transition_counts(np.array([[0, 5]]))
    assert err.value.value == 5
    with pytest.raises(BadInputError):
        transition_counts(np.array([[0.0, 1.0]]))


def test_table_rows_without_observations_are_nan_and_json_null() -> None:
    counts = np.zeros((5, 5), dtype=np.int64)
    counts[0, 0], counts[0, 1], counts[1, 1] = 3, 1, 2
    table = TransitionTable.from_counts(counts)
    assert table.probabilities[0].tolist() == [0.75, 0.25, 0.0, 0.0, 0.0]
    assert np.isnan(table.probabilities[2]).all()
    data = json.loads(json.dumps(table.to_dict(), allow_nan=False))
    assert data["probabilities"]["revolving"]["revolving"] == 1.0
    assert data["probabilities"]["late_1"]["duly"] is None
    assert data["counts"]["duly"]["duly"] == 3 and data["total"] == 6
    assert data["states"] == list(STATES)


def test_taiwan_matrix_rows_sum_to_one_over_all_transitions() -> None:
    table = taiwan_transitions()
    assert table.counts.dtype == np.int64
    assert int(table.counts.sum()) == 30_000 * 5
    assert np.allclose(table.probabilities.sum(axis=1), 1.0)
    # the bulk of customers stay where they were
    assert table.probabilities[0, 0] > 0.8 and table.probabilities[1, 1] > 0.8


def test_max_abs_gap_finds_worst_cell_and_ignores_nan() -> None:
    a = np.full((5, 5), 0.2)
    b = np.full((5, 5), 0.2)
    b[3, 1], b[3, 3] = 0.5, -0.1
    a[4] = np.nan
    b[4, 0] = 0.9  # unknown in a: ignored
    gap, frm, to = max_abs_gap(a, b)
    assert math.isclose(gap, 0.3) and (frm, to) in {("late_2", "revolving"), ("late_2", "late_2")}
    table = taiwan_transitions()
    assert max_abs_gap(table, table) == (0.0, "duly", "duly")
    with pytest.raises(BadInputError):
        max_abs_gap(np.zeros((4, 4)), np.zeros((5, 5)))
    with pytest.raises(BadInputError):
        max_abs_gap(np.full((5, 5), np.nan), np.zeros((5, 5)))


def test_rdd_recovers_a_known_jump_exactly() -> None:
    x = np.arange(900.0, 1100.0, 2.0)
    y = 100.0 + 0.5 * x + 250.0 * (x >= 1000)
    r = rdd_jump(x, y, 1000.0, (900.0, 1100.0))
    assert math.isclose(r.jump, 250.0, abs_tol=1e-8)
    assert math.isclose(r.common_slope_jump, 250.0, abs_tol=1e-8)
    assert (r.n_below, r.n_above) == (50, 50)
    # different slopes each side: only the separate-slopes model is exact
    y2 = 100.0 + 0.5 * x + (x >= 1000) * (250.0 + 2.0 * (x - 1000))
    r2 = rdd_jump(x, y2, 1000.0, (900.0, 1100.0))
    assert math.isclose(r2.jump, 250.0, abs_tol=1e-8)
    assert r2.se < 1e-6
    assert not math.isclose(r2.common_slope_jump, 250.0, abs_tol=1.0)


def test_rdd_window_is_half_open_and_outside_rows_ignored() -> None:
    x = np.concatenate([np.arange(0.0, 40.0), [40.0, 55.0, -3.0]])
    y = np.concatenate([5.0 * (np.arange(0.0, 40.0) >= 20), [1e6, 1e6, 1e6]])
    r = rdd_jump(x, y, 20.0, (0.0, 40.0))
    assert (r.n_below, r.n_above) == (20, 20)
    assert math.isclose(r.jump, 5.0, abs_tol=1e-9)
    assert r.to_dict()["window"] == [0.0, 40.0]


def test_hc1_standard_error_of_a_dummy_regression_by_hand() -> None:
    # y ~ 1 + D: the D coefficient is the difference of the means, 6 - 2 = 4.
    # Residuals -1, 0, 1 | -1, 1; HC1 variance = n/(n-k) * (sum e0^2/n0^2 + sum e1^2/n1^2)
    #   = 5/3 * (2/9 + 2/4) = 65/54.
    design = np.column_stack([np.ones(5), [0, 0, 0, 1, 1]])
    beta, se = targets._ols_hc1(design, np.array([1.0, 2.0, 3.0, 5.0, 7.0]))
    assert np.allclose(beta, [2.0, 4.0])
    assert math.isclose(se[1], math.sqrt(65 / 54))


def test_rdd_separate_slopes_se_matches_the_per_side_formula() -> None:
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.uniform(-5, 0, 12), rng.uniform(0, 5, 11)])
    y = 1.0 + 0.3 * x + 2.0 * (x >= 0) + rng.normal(0, 1, x.size) * (1 + (x > 0))
    r = rdd_jump(x, y, 0.0, (-5.0, 5.0))
    # Separate slopes = two simple regressions; the jump is the difference of their
    # intercepts at the threshold, a_s = sum w_i y_i with w_i = 1/n - xbar (x_i - xbar)/Sxx.
    var0 = 0.0
    jump = 0.0
    for side, sign in ((x < 0, -1.0), (x >= 0, 1.0)):
        xs, ys = x[side], y[side]
        xbar = xs.mean()
        sxx = ((xs - xbar) ** 2).sum()
        slope = ((xs - xbar) * (ys - ys.mean())).sum() / sxx
        intercept = ys.mean() - slope * xbar
        resid = ys - intercept - slope * xs
        w = 1 / xs.size - xbar * (xs - xbar) / sxx
        var0 += float((w ** 2 * resid ** 2).sum())
        jump += sign * intercept
    n, k = x.size, 4
    assert math.isclose(r.jump, jump, rel_tol=1e-9)
    assert math.isclose(r.se, math.sqrt(var0 * n / (n - k)), rel_tol=1e-9)


@pytest.mark.parametrize(("window", "threshold"), [((990.0, 1100.0), 1000.0),
                                                   ((900.0, 1100.0), 1200.0),
                                                   ((1100.0, 900.0), 1000.0)])
def test_rdd_refuses_thin_or_misplaced_windows(window: tuple[float, float],
                                               threshold: float) -> None:
    x = np.arange(900.0, 1100.0, 2.0)
    with pytest.raises(BadInputError) as err:
        rdd_jump(x, x * 0.5, threshold, window)
    assert err.value.field == "window"


def test_rdd_refuses_mismatched_lengths() -> None:
    with pytest.raises(BadInputError):
        rdd_jump(np.arange(30.0), np.arange(29.0), 15.0, (0.0, 30.0))


def test_debt_recovery_data_names_the_missing_path(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(BadInputError, match=str(tmp_path)) as err:
        debt_recovery_data(tmp_path)
    assert err.value.field == "data_dir"
    monkeypatch.setenv("CREDITDESK_DATA_DIR", str(tmp_path / "elsewhere"))
    with pytest.raises(BadInputError, match="elsewhere"):
        debt_recovery_data()


def test_debt_recovery_data_from_env_and_column_check(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "debt_recovery").mkdir()
    csv = tmp_path / "debt_recovery" / "bank_data.csv"
    csv.write_text("expected_recovery_amount,actual_recovery_amount\n950,1.5\n")
    monkeypatch.setenv("CREDITDESK_DATA_DIR", str(tmp_path))
    assert debt_recovery_data().height == 1
    csv.write_text("expected_recovery_amount\n950\n")
    with pytest.raises(BadInputError, match="actual_recovery_amount"):
        debt_recovery_data()


def test_debt_recovery_data_beside_the_current_directory(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "shared" / "data" / "debt_recovery"
    folder.mkdir(parents=True)
    (folder / "bank_data.csv").write_text("expected_recovery_amount,actual_recovery_amount\n1,2\n")
    (tmp_path / "work").mkdir()
    monkeypatch.delenv("CREDITDESK_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path / "work")
    assert debt_recovery_data()["actual_recovery_amount"].to_list() == [2]


def test_real_debt_recovery_effect_at_1000(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDITDESK_DATA_DIR", raising=False)
    if not (SHARED / "debt_recovery" / "bank_data.csv").is_file():
        pytest.skip(f"shared data absent: {SHARED / 'debt_recovery' / 'bank_data.csv'}")
    assert debt_recovery_data(SHARED).height == 1882
    assert debt_recovery_data().height == 1882  # found beside the repository
    r = debt_recovery_effect(SHARED)
    assert 270 <= r.common_slope_jump <= 290  # DataCamp: about 278
    assert round(r.common_slope_jump) == 278
    assert 250 <= r.jump <= 300 and r.se > 0 and r.common_slope_se > 0
    assert r.jump / r.se > 1.96  # a real effect, not noise
    assert (r.n_below, r.n_above) == (88, 95)
