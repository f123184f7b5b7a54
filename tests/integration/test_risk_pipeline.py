"""Train, score, monitor and cut-off end to end on real (sampled) and synthetic data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from creditdesk.datasets import taiwan_credit_default
from creditdesk.errors import BadInputError
from creditdesk.risk import (
    TrainOptions,
    cutoff_analysis,
    load_model,
    monitor_tables,
    score_table,
    train_model,
)


@pytest.fixture(scope="module")
def taiwan() -> pd.DataFrame:
    return taiwan_credit_default().sample(3000, random_state=11).reset_index(drop=True)


@pytest.fixture(scope="module", params=["scorecard", "gbm"])
def trained(request: pytest.FixtureRequest, taiwan: pd.DataFrame,
            tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, dict]:
    out = tmp_path_factory.mktemp(request.param)
    # CV only for the (cheap) gbm: the scorecard's CV runs through the same code path
    folds = 2 if request.param == "gbm" else 0
    result = train_model(taiwan, "class", out, TrainOptions(model=request.param, cv_folds=folds))
    return request.param, out, result.metrics


def test_model_folder_contents(trained: tuple[str, Path, dict]) -> None:
    kind, out, metrics = trained
    names = {p.name for p in out.iterdir()}
    assert {"manifest.json", "metrics.json", "report.html"} <= names
    if kind == "scorecard":
        assert {"points_table.csv", "points_table.html", "scorecard.json"} <= names
    else:
        assert {"gbm.json", "gbm_model.txt"} <= names
    on_disk = json.loads((out / "metrics.json").read_text())
    for key in ("auc", "gini", "ks", "brier", "log_loss", "calibration"):
        assert key in on_disk["holdout"]
    if kind == "gbm":
        assert len(on_disk["cv"]["auc_folds"]) == 2
    else:
        assert on_disk["cv"] is None
    assert on_disk["dropped"] == {"ID": "id-like (unique per row)"}
    assert 0.70 < metrics["holdout"]["auc"] < 0.85
    page = (out / "report.html").read_text()
    assert "<script src=" not in page and "Plotly.newPlot" in page


def test_score_rows(trained: tuple[str, Path, dict], taiwan: pd.DataFrame) -> None:
    _, out, _ = trained
    bundle = load_model(out)
    scored = score_table(bundle, taiwan.drop(columns=["class"]).head(500),
                         income_col="LIMIT_BAL")
    assert len(scored) == 500 and scored["ID"].tolist() == taiwan["ID"].head(500).tolist()
    assert scored["pd"].between(0, 1).all()
    assert {"risk_band", "decision", "daily_rate", "credit_limit_minor", "reason_1",
            "reason_2", "reason_3"} <= set(scored.columns)
    risky = scored.sort_values("pd").iloc[-1]
    assert isinstance(risky["reason_1"], str)
    # a higher PD never gets a higher score
    order = scored.sort_values("pd")
    assert (np.diff(order["score"].to_numpy()) <= 1).all()


def test_missing_column_refused(trained: tuple[str, Path, dict], taiwan: pd.DataFrame) -> None:
    with pytest.raises(BadInputError, match=r"lacks the model's columns: .*PAY_0"):
        score_table(load_model(trained[1]), taiwan.drop(columns=["PAY_0"]).head(10))


def test_monitor_and_cutoff(trained: tuple[str, Path, dict], taiwan: pd.DataFrame) -> None:
    bundle = load_model(trained[1])
    same = monitor_tables(bundle, taiwan.iloc[:1500], taiwan.iloc[1500:])
    assert same.score.band == "stable"
    shifted = taiwan.iloc[1500:].assign(PAY_0=3)
    result = monitor_tables(bundle, taiwan.iloc[:1500], shifted)
    assert result.status == "shifted" and result.features[0].name == "PAY_0"
    rows = cutoff_analysis(bundle, taiwan)
    assert len(rows) == 10 and "observed_bad_rate" in rows[0]
    assert rows[0]["observed_bad_rate"] < rows[-1]["observed_bad_rate"]


def _synthetic(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    util = rng.uniform(0, 1.2, n)
    util[rng.random(n) < 0.15] = np.nan
    channel = rng.choice(["web", "app", "branch", "broker"], n, p=[0.4, 0.3, 0.2, 0.1])
    region = pd.Series(rng.choice(["r1", "r2", "r3"], n)).where(rng.random(n) > 0.1, None)
    month = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    logit = -2.5 + 2.0 * np.nan_to_num(util, nan=0.8) + (channel == "broker") * 1.0
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"application": [f"APP{i:06d}" for i in range(n)], "util": util,
                         "channel": channel, "region": region,
                         "applied": month.strftime("%Y-%m-%d"), "is_bad": y})


@pytest.mark.parametrize("kind", ["scorecard", "gbm"])
def test_synthetic_categorical_missing_unseen_and_out_of_time(kind: str, tmp_path: Path) -> None:
    frame = _synthetic(2500, 0)
    result = train_model(frame, "is_bad", tmp_path, TrainOptions(model=kind, time_col="applied",
                                                                 cv_folds=0))
    assert result.metrics["split"]["kind"] == "out-of-time"
    assert result.schema.categorical == ["channel", "region"]
    assert result.schema.dropped == {"application": "id-like (unique per row)"}
    assert result.metrics["holdout"]["auc"] > 0.6
    new = _synthetic(200, 1)
    new.loc[:49, "channel"] = "kiosk"  # unseen at training
    new.loc[50:99, "region"] = None
    new.loc[100:149, "util"] = np.nan
    scored = score_table(load_model(tmp_path), new.drop(columns=["is_bad"]))
    assert scored["pd"].notna().all() and scored["application"].iloc[0] == "APP000000"
    fast = score_table(load_model(tmp_path), new, n_reasons=0)
    assert "reason_1" not in fast.columns
    np.testing.assert_allclose(fast["pd"], scored["pd"])


def test_csv_and_parquet_inputs_agree(tmp_path: Path, taiwan: pd.DataFrame) -> None:
    small = taiwan.head(1200)
    small.to_csv(tmp_path / "t.csv", index=False)
    small.to_parquet(tmp_path / "t.parquet")
    a = train_model(tmp_path / "t.csv", "class", tmp_path / "a",
                    TrainOptions(model="gbm", cv_folds=0))
    b = train_model(tmp_path / "t.parquet", "class", tmp_path / "b",
                    TrainOptions(model="gbm", cv_folds=0))
    assert a.metrics["holdout"]["auc"] == pytest.approx(b.metrics["holdout"]["auc"])


def test_reason_method_is_named_in_the_columns(trained: tuple[str, Path, dict],
                                               taiwan: pd.DataFrame) -> None:
    kind, folder, _ = trained
    bundle = load_model(folder)
    rows = taiwan.head(200)
    fast = score_table(bundle, rows, reason_method="saabas")
    exact = score_table(bundle, rows)
    np.testing.assert_allclose(fast["pd"], exact["pd"], atol=1e-10)
    np.testing.assert_array_equal(fast["score"], exact["score"])
    if kind == "gbm":
        assert "reason_1_saabas" in fast.columns and "reason_1_shap" in exact.columns
    else:  # the scorecard's reasons are exact points lost whatever the method
        assert "reason_1_points_lost" in fast.columns
    with pytest.raises(BadInputError, match="reason method"):
        score_table(bundle, rows, reason_method="nope")


def test_default_cv_runs_up_to_large_tables_only() -> None:
    from creditdesk.risk.data import LARGE_ROWS
    from creditdesk.risk.train import cv_folds_for, n_steps

    assert cv_folds_for(TrainOptions(), LARGE_ROWS) == 5
    assert cv_folds_for(TrainOptions(), LARGE_ROWS + 1) == 0
    assert cv_folds_for(TrainOptions(cv_folds=3), 10 * LARGE_ROWS) == 3
    assert cv_folds_for(TrainOptions(cv_folds=0), 100) == 0
    assert n_steps(TrainOptions()) == 9
    TrainOptions(cv_folds=None).validate()
    with pytest.raises(BadInputError, match="cv_folds must be 0"):
        TrainOptions(cv_folds=1).validate()


def test_train_auc_is_measured_on_the_training_rows(trained: tuple[str, Path, dict]) -> None:
    _, _, metrics = trained
    assert metrics["train_auc_rows"] == metrics["split"]["n_train"]  # all of them below 200k
