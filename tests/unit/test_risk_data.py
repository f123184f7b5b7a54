"""Column roles are inferred from data, never names; bad targets and columns are refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from creditdesk.errors import BadInputError, NotFoundError
from creditdesk.risk.data import coerce_features, infer_schema, read_table, target_vector


def _frame(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "key": np.arange(10_000, 10_000 + n),
        "ref": [f"R{i:05d}" for i in range(n)],
        "amount": rng.normal(100, 10, n).round(0),
        "grade": rng.choice(list("ABC"), n),
        "opened": pd.date_range("2020-01-01", periods=n, freq="D").strftime("%Y/%m/%d"),
        "always": 1,
        "bad": rng.integers(0, 2, n),
    })


def test_roles_inferred_from_values() -> None:
    schema = infer_schema(_frame(), "bad")
    assert schema.numeric == ["amount", "opened"]
    assert schema.dates == ["opened"]
    assert schema.categorical == ["grade"]
    assert schema.dropped == {"key": "id-like (unique per row)",
                              "ref": "id-like (unique per row)", "always": "constant"}


def test_renamed_columns_get_the_same_roles() -> None:
    frame = _frame()
    renamed = frame.set_axis([f"c{i}" for i in range(frame.shape[1])], axis=1)
    a, b = infer_schema(frame, "bad"), infer_schema(renamed, "c6")
    assert (len(a.numeric), len(a.categorical), len(a.dropped)) == \
        (len(b.numeric), len(b.categorical), len(b.dropped))


def test_unique_floats_are_not_ids() -> None:
    frame = pd.DataFrame({"x": np.linspace(0, 1, 500), "bad": [0, 1] * 250})
    assert infer_schema(frame, "bad").numeric == ["x"]


@pytest.mark.parametrize(("values", "message"), [
    ([0, 1, 2, 1], "target column 'bad' must be 0 or 1; got 2"),
    (["good", "bad", "bad", "good"], "must be 0 or 1; got 'good'"),
    ([0, 1, None, 1], "got 1 missing values"),
    ([0, 0, 0, 0], "must hold both 0 and 1"),
])
def test_bad_targets_name_column_and_values(values: list, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        target_vector(pd.DataFrame({"bad": values}), "bad")


def test_boolean_target_accepted() -> None:
    assert target_vector(pd.DataFrame({"t": [True, False]}), "t").tolist() == [1, 0]


def test_missing_target_column() -> None:
    with pytest.raises(BadInputError, match="target column 'y' is not in the data"):
        infer_schema(_frame(), "y")


def test_coerce_refuses_missing_columns_and_text_in_numbers() -> None:
    schema = infer_schema(_frame(), "bad")
    with pytest.raises(BadInputError, match="lacks the model's columns: grade"):
        coerce_features(_frame().drop(columns=["grade"]), schema)
    bad = _frame().astype({"amount": object})
    bad.loc[3, "amount"] = "lots"
    with pytest.raises(BadInputError, match="column 'amount' must be numeric; got 'lots'"):
        coerce_features(bad, schema)


def test_coerce_keeps_missing_values() -> None:
    frame = _frame()
    schema = infer_schema(frame, "bad")
    frame.loc[0, "grade"] = None
    frame.loc[1, "amount"] = np.nan
    out = coerce_features(frame, schema)
    assert out.loc[0, "grade"] is None and np.isnan(out.loc[1, "amount"])
    assert out["opened"].iloc[0] == (pd.Timestamp("2020-01-01") - pd.Timestamp("1970-01-01")).days


def test_read_table_csv_parquet_and_missing(tmp_path) -> None:
    frame = _frame(30)
    frame.to_csv(tmp_path / "a.csv", index=False)
    frame.to_parquet(tmp_path / "a.parquet")
    assert read_table(tmp_path / "a.csv").shape == read_table(tmp_path / "a.parquet").shape
    with pytest.raises(NotFoundError):
        read_table(tmp_path / "none.csv")


def test_stratified_sample_keeps_the_bad_rate() -> None:
    from creditdesk.risk.data import stratified_sample

    y = (np.random.default_rng(0).random(100_000) < 0.07).astype(int)
    rows = stratified_sample(y, 10_000)
    assert len(rows) == 10_000 and len(np.unique(rows)) == 10_000
    assert (np.diff(rows) > 0).all()
    assert abs(y[rows].mean() - y.mean()) < 1e-3
    np.testing.assert_array_equal(stratified_sample(y[:50], 100), np.arange(50))
    np.testing.assert_array_equal(stratified_sample(y, 10_000), rows)  # seeded
