"""End to end: the installed `creditdesk risk` commands on a small shipped-data sample."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from creditdesk.datasets import taiwan_credit_default


def _creditdesk() -> str:
    local = Path(sys.executable).parent / "creditdesk"
    found = str(local) if local.exists() else shutil.which("creditdesk")
    if found is None:
        pytest.skip("the creditdesk script is not installed")
    return found


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_creditdesk(), "risk", *map(str, args)], capture_output=True,
                          text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("risk_cli")
    frame = taiwan_credit_default().sample(2000, random_state=3)
    frame.iloc[:1200].to_csv(root / "train.csv", index=False)
    frame.iloc[1200:].drop(columns=["class"]).to_parquet(root / "new.parquet")
    return root


@pytest.fixture(scope="module")
def model(work: Path) -> Path:
    proc = _run("train", "--data", work / "train.csv", "--target", "class", "--model", "gbm",
                "--out", work / "model", "--cv-folds", "2", "--monotone", "PAY_0=1", "--json")
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["model_type"] == "gbm" and len(payload["cv"]["auc_folds"]) == 2
    assert payload["gbm"]["monotone"] == {"PAY_0": 1}
    return work / "model"


def test_score_writes_reasons(model: Path, work: Path) -> None:
    proc = _run("score", "--model", model, "--data", work / "new.parquet",
                "--out", work / "scored.csv", "--income-col", "LIMIT_BAL", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["rows"] == 800
    scored = pd.read_csv(work / "scored.csv")
    assert {"ID", "pd", "score", "risk_band", "reason_1", "reason_1_shap",
            "credit_limit_minor"} <= set(scored.columns)


def test_score_with_saabas_reasons_says_so(model: Path, work: Path) -> None:
    proc = _run("score", "--model", model, "--data", work / "new.parquet",
                "--out", work / "fast.parquet", "--reason-method", "saabas", "--json")
    assert proc.returncode == 0, proc.stderr
    scored = pd.read_parquet(work / "fast.parquet")
    assert "reason_1_saabas" in scored.columns and "reason_1_shap" not in scored.columns
    proc = _run("score", "--model", model, "--data", work / "new.parquet",
                "--out", work / "bad.csv", "--reason-method", "fast")
    assert proc.returncode == 2 and "reason method must be one of shap, saabas" in proc.stderr


def test_monitor_and_cutoff_json(model: Path, work: Path) -> None:
    proc = _run("monitor", "--model", model, "--baseline", work / "train.csv",
                "--current", work / "new.parquet", "--out", work / "mon", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["score"]["band"] == "stable"
    assert (work / "mon" / "monitor.html").is_file()
    proc = _run("cutoff", "--model", model, "--data", work / "train.csv", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert len(rows) == 10 and rows[-1]["approval_rate"] == 1.0
    proc = _run("cutoff", "--model", model, "--data", work / "train.csv")
    assert proc.returncode == 0 and "expected" in proc.stdout


def test_bad_target_exits_2_naming_values(work: Path) -> None:
    proc = _run("train", "--data", work / "train.csv", "--target", "EDUCATION",
                "--out", work / "nope")
    assert proc.returncode == 2
    assert "target column 'EDUCATION' must be 0 or 1" in proc.stderr


def test_missing_column_exits_2(model: Path, work: Path) -> None:
    pd.read_parquet(work / "new.parquet").drop(columns=["PAY_0"]).to_csv(work / "bad.csv",
                                                                          index=False)
    proc = _run("score", "--model", model, "--data", work / "bad.csv", "--out", work / "x.csv")
    assert proc.returncode == 2 and "PAY_0" in proc.stderr


def test_tampered_model_exits_2(model: Path, work: Path, tmp_path: Path) -> None:
    copy = tmp_path / "m"
    shutil.copytree(model, copy)
    with (copy / "gbm_model.txt").open("a") as fh:
        fh.write("\n")
    proc = _run("score", "--model", copy, "--data", work / "new.parquet", "--out", work / "y.csv")
    assert proc.returncode == 2 and "SHA-256" in proc.stderr


def test_policy_command(tmp_path: Path) -> None:
    proc = _run("policy")
    assert proc.returncode == 0 and "[[bands]]" in proc.stdout
    bad = tmp_path / "p.toml"
    bad.write_text(proc.stdout.replace('daily_rate = "0.0006"', 'daily_rate = "0.001"'))
    proc = _run("policy", bad)
    assert proc.returncode == 2 and "bands[3].daily_rate" in proc.stderr


def test_score_threads_option(model: Path, work: Path) -> None:
    one = _run("score", "--model", model, "--data", work / "new.parquet",
               "--out", work / "t1.parquet", "--reason-method", "saabas", "--threads", "1")
    two = _run("score", "--model", model, "--data", work / "new.parquet",
               "--out", work / "t2.parquet", "--reason-method", "saabas", "--threads", "2")
    assert one.returncode == 0 and two.returncode == 0, one.stderr + two.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(work / "t1.parquet"),
                                  pd.read_parquet(work / "t2.parquet"))
    bad = _run("score", "--model", model, "--data", work / "new.parquet",
               "--out", work / "t0.csv", "--threads", "0")
    assert bad.returncode == 2 and "num_threads must be between 1 and 256; got 0" in bad.stderr
