"""The model folder: round trip, tampering and unknown versions are refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from creditdesk.errors import NotFoundError
from creditdesk.risk.artifact import ArtifactError, load_model, save_model
from creditdesk.risk.data import FeatureSchema
from creditdesk.risk.gbm import GBMModel
from creditdesk.risk.scorecard import ScorecardModel


@pytest.fixture(scope="module")
def xy() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=800)
    X = pd.DataFrame({"x": x, "c": rng.choice(["a", "b"], 800)})
    y = (rng.random(800) < 1 / (1 + np.exp(1 + 1.5 * x))).astype(int)
    return X, y


SCHEMA = FeatureSchema(target="bad", numeric=["x"], categorical=["c"])


@pytest.fixture
def folder(tmp_path: Path, xy: tuple[pd.DataFrame, np.ndarray]) -> Path:
    save_model(tmp_path, ScorecardModel().fit(*xy), SCHEMA)
    return tmp_path


def test_round_trip_both_models(tmp_path: Path, xy: tuple[pd.DataFrame, np.ndarray]) -> None:
    for kind, model in (("scorecard", ScorecardModel()),
                        ("gbm", GBMModel(n_estimators=40, early_stopping_rounds=5))):
        model.fit(*xy)
        save_model(tmp_path / kind, model, SCHEMA)
        bundle = load_model(tmp_path / kind)
        assert bundle.model_type == kind and bundle.schema == SCHEMA
        np.testing.assert_allclose(bundle.model.predict_proba(xy[0]), model.predict_proba(xy[0]))
    manifest = json.loads((tmp_path / "gbm" / "manifest.json").read_text())
    assert set(manifest["files"]) == {"gbm.json", "gbm_model.txt"}
    assert manifest["format_version"] == 1 and "creditdesk_version" in manifest


def test_tampered_file_is_refused(folder: Path) -> None:
    path = folder / "scorecard.json"
    path.write_text(path.read_text().replace('"intercept": ', '"intercept": 1'))
    with pytest.raises(ArtifactError, match=r"scorecard\.json does not match its SHA-256"):
        load_model(folder)


def test_unknown_version_is_refused(folder: Path) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["format_version"] = 99
    path.write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="format version 99 is not supported"):
        load_model(folder)


def test_file_outside_folder_is_refused(folder: Path) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["files"]["../evil.json"] = "0" * 64
    path.write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="outside the model folder"):
        load_model(folder)


def test_missing_manifest_and_folder(folder: Path, tmp_path: Path) -> None:
    (folder / "manifest.json").unlink()
    with pytest.raises(ArtifactError, match=r"manifest\.json is missing"):
        load_model(folder)
    with pytest.raises(NotFoundError):
        load_model(tmp_path / "nowhere")


def test_no_pickle_files(folder: Path) -> None:
    assert not [p for p in folder.iterdir() if p.suffix in {".pkl", ".pickle", ".joblib"}]
