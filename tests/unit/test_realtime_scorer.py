"""The real-time scorer gives ``score_table``'s answers, one application at a time.

Equality is checked row by row on 2,000 rows: for the shipped application scorecard on the
Taiwan data, and for a scorecard and a gbm trained here on Taiwan rows with a categorical
column (with missing values and categories unseen in training), a date column and
missing numbers added. Decision, band, limit, rate, score and reasons (names and values)
must be equal exactly; the PD within 1e-9.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from creditdesk.datasets import taiwan_credit_default
from creditdesk.errors import BadInputError
from creditdesk.risk.artifact import ModelBundle, load_model, save_model
from creditdesk.risk.data import coerce_features, infer_schema
from creditdesk.risk.gbm import GBMModel
from creditdesk.risk.realtime import APPLICATION_MODEL, RealtimeScorer, load_scorer
from creditdesk.risk.scorecard import ScorecardModel
from creditdesk.risk.scoring import score_table

N_ROWS = 2000


@pytest.fixture(scope="module")
def taiwan() -> pd.DataFrame:
    return taiwan_credit_default()


def _incomes(n: int, seed: int) -> list[int | None]:
    """Monthly incomes in minor units: random, at step boundaries, above the cap, missing."""
    rng = np.random.default_rng(seed)
    out: list[int | None] = [int(v) for v in rng.integers(1, 4_000_000, size=n)]
    special = [1, 99, 100, 333_334, 1_000_000, 1_250_000, 1_666_667, 2_500_000, 5_000_000,
               50_000_000, None]
    for i, v in enumerate(special * 10):
        out[(i * 37) % n] = v
    return out


def _with_extras(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Taiwan rows plus a categorical column, a date column and missing numbers."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    n = len(out)
    channel = np.array(["branch", "web", "app", "agent", "partner"], dtype=object)[
        (out["EDUCATION"].to_numpy() + rng.integers(0, 2, n)) % 5]
    channel[rng.random(n) < 0.05] = None
    out["channel"] = pd.Series(channel, index=out.index, dtype=object)
    days = rng.integers(0, 3000, n)
    out["opened"] = [str(pd.Timestamp("2015-01-01") + pd.Timedelta(days=int(d)))[:10]
                     for d in days]
    for col in ("AGE", "BILL_AMT1", "PAY_AMT1"):
        out[col] = out[col].astype("float64").mask(rng.random(n) < 0.05)
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, taiwan: pd.DataFrame
            ) -> dict[str, tuple[ModelBundle, pd.DataFrame]]:
    """A scorecard and a gbm fitted on 3,000 extended Taiwan rows, and 2,000 other rows to
    score (with categories the models never saw)."""
    data = _with_extras(taiwan.sample(5000, random_state=3), seed=3)
    train, test = data.iloc[:3000], data.iloc[3000:].copy()
    unseen = np.random.default_rng(4).random(len(test)) < 0.05
    test.loc[unseen, "channel"] = "kiosk"
    schema = infer_schema(train, "class", drop=["SEX", "MARRIAGE"])
    assert schema.categorical == ["channel"] and schema.dates == ["opened"]
    X = coerce_features(train, schema)
    y = train["class"].to_numpy()
    out = {}
    for name, model in (("scorecard", ScorecardModel(C=0.1)),
                        ("gbm", GBMModel(n_estimators=120, early_stopping_rounds=30,
                                         min_category_count=5))):
        folder = tmp_path_factory.mktemp(name)
        save_model(folder, model.fit(X, y), schema)
        out[name] = (load_model(folder), test)
    return out


def _records(frame: pd.DataFrame, drop: list[str]) -> list[dict[str, Any]]:
    rows = frame.drop(columns=drop).to_dict("records")
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in rows]


def _assert_same(bundle: ModelBundle, frame: pd.DataFrame, seed: int) -> None:
    frame = frame.head(N_ROWS).reset_index(drop=True)
    incomes = _incomes(len(frame), seed)
    table_in = frame.assign(income_units=[np.nan if v is None else v / 100 for v in incomes])
    table = score_table(bundle, table_in, income_col="income_units", num_threads=1)
    scorer = RealtimeScorer(bundle)
    value = scorer.reason_value
    assert value == ("points_lost" if bundle.model_type == "scorecard" else "shap")
    rows = _records(frame, ["class"])
    approved = declined = 0
    for i, (row, income) in enumerate(zip(rows, incomes, strict=True)):
        got = scorer.decide(row, income)
        want = table.iloc[i]
        assert abs(got["pd"] - want["pd"]) <= 1e-9, i
        assert got["score"] == want["score"], i
        assert got["band"] == want["risk_band"], i
        assert got["decision"] == want["decision"], i
        assert got["daily_rate"] == (None if pd.isna(want["daily_rate"]) else want["daily_rate"])
        limit = want["credit_limit_minor"]
        assert got["limit"] == (None if pd.isna(limit) else int(limit)), (i, income)
        assert isinstance(got["limit"], int | type(None))
        expected = [{"feature": want[f"reason_{k}"], "value": want[f"reason_{k}_{value}"]}
                    for k in (1, 2, 3) if not pd.isna(want[f"reason_{k}"])]
        # the batch path sums LightGBM's per-tree SHAP values in another order (1e-15)
        assert [r["feature"] for r in got["reasons"]] == [r["feature"] for r in expected], i
        assert all(abs(g["value"] - w["value"]) <= 1e-12
                   for g, w in zip(got["reasons"], expected, strict=True)), i
        approved += got["decision"] == "approve"
        declined += got["decision"] == "decline"
    assert approved > 100 and declined > 100  # both branches were exercised


def test_shipped_scorecard_equals_score_table(taiwan: pd.DataFrame) -> None:
    bundle = load_model(APPLICATION_MODEL)
    _assert_same(bundle, taiwan.sample(N_ROWS, random_state=11), seed=11)


def test_trained_scorecard_with_categories_dates_and_missing(
        trained: dict[str, tuple[ModelBundle, pd.DataFrame]]) -> None:
    bundle, test = trained["scorecard"]
    assert set(bundle.model.features_) & {"channel", "opened"}  # the extras are scored
    _assert_same(bundle, test, seed=12)


def test_gbm_equals_score_table(trained: dict[str, tuple[ModelBundle, pd.DataFrame]]) -> None:
    bundle, test = trained["gbm"]
    _assert_same(bundle, test, seed=13)


# -- input rules -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped() -> RealtimeScorer:
    return load_scorer()


@pytest.fixture
def row(taiwan: pd.DataFrame) -> dict[str, Any]:
    return _records(taiwan.head(3), ["class", "ID", "SEX", "MARRIAGE"])[2]


def _error(scorer: RealtimeScorer, application: Any, income: Any = None) -> BadInputError:
    with pytest.raises(BadInputError) as info:
        scorer.decide(application, income)
    return info.value


def test_unknown_feature_is_refused_by_name(shipped: RealtimeScorer, row: dict) -> None:
    err = _error(shipped, {**row, "PAY_O": 0})
    assert err.field == "PAY_O" and "unknown feature 'PAY_O'" in str(err)


def test_dropped_columns_are_accepted_and_ignored(shipped: RealtimeScorer, row: dict) -> None:
    plain = shipped.decide(row, 1_000_000)
    assert shipped.decide({**row, "ID": 7, "SEX": 2, "MARRIAGE": 1}, 1_000_000) == plain


def test_absent_feature_is_refused_by_name(shipped: RealtimeScorer, row: dict) -> None:
    del row["PAY_0"]
    err = _error(shipped, row)
    assert err.field == "PAY_0" and "lacks the model's feature PAY_0" in str(err)


def test_null_and_nan_are_missing(shipped: RealtimeScorer, row: dict, taiwan: pd.DataFrame
                                  ) -> None:
    row["PAY_0"] = None
    got = shipped.decide(row)
    assert shipped.decide({**row, "PAY_0": float("nan")}) == got
    frame = taiwan.head(3).iloc[[2]].assign(PAY_0=np.nan)
    want = score_table(shipped.bundle, frame).iloc[0]
    assert got["score"] == want["score"] and abs(got["pd"] - want["pd"]) <= 1e-9


@pytest.mark.parametrize("value", ["2", True, [1], {"a": 1}, float("inf"), 10 ** 400])
def test_wrong_numeric_values_are_refused(shipped: RealtimeScorer, row: dict, value: Any
                                          ) -> None:
    err = _error(shipped, {**row, "AGE": value})
    assert err.field == "AGE" and "'AGE'" in str(err)


def test_categorical_takes_strings_only(trained: dict[str, tuple[ModelBundle, pd.DataFrame]]
                                        ) -> None:
    bundle, test = trained["gbm"]
    scorer = RealtimeScorer(bundle)
    row = _records(test.head(1), ["class"])[0]
    err = _error(scorer, {**row, "channel": 3})
    assert err.field == "channel" and "must be a string" in str(err)
    err = _error(scorer, {**row, "opened": "not a date"})
    assert err.field == "opened"


@pytest.mark.parametrize("income", [0, -5, 12.5, 1e6, "100000", True])
def test_income_must_be_a_positive_integer(shipped: RealtimeScorer, row: dict, income: Any
                                           ) -> None:
    err = _error(shipped, row, income)
    assert err.field == "income" and "positive integer of minor units" in str(err)


def test_not_a_mapping(shipped: RealtimeScorer) -> None:
    assert _error(shipped, [1, 2, 3]).field == "features"


def test_no_reasons_and_bad_n_reasons(row: dict) -> None:
    bundle = load_model(APPLICATION_MODEL)
    assert RealtimeScorer(bundle, n_reasons=0).decide(row)["reasons"] == []
    with pytest.raises(BadInputError, match="n_reasons"):
        RealtimeScorer(bundle, n_reasons=-1)


def test_model_hash_is_stable_and_names_the_model(shipped: RealtimeScorer, tmp_path: Path
                                                  ) -> None:
    assert load_scorer().model_hash == shipped.model_hash
    assert len(shipped.model_hash) == 64 and shipped.model_type == "scorecard"
