"""`creditdesk simulate compare` as a user runs it: the JSON shape, the report, the refusals."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CLI = [str(Path(sys.executable).with_name("creditdesk"))]
METRICS = ("recovery_rate", "roll_rate_m1_m2", "contacts_per_delinquent_account",
           "contacts_per_10000_recovered", "complaints_per_1000_delinquent", "cost_to_collect",
           "net_recovery", "violations")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=900)


def test_compare_two_strategies_over_two_seeds(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    res = _run("simulate", "compare", "--strategies", "frequent,bucket_rules", "--customers",
               "200", "--days", "45", "--seeds", "2", "--out", str(out), "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert set(doc["strategies"]) == {"frequent", "bucket_rules"}
    for name, figs in doc["strategies"].items():
        for m in METRICS:
            s = figs[m]
            assert set(s) >= {"mean", "ci95"}, (name, m)
            lo, hi = s["ci95"]
            if s["mean"] is not None and lo is not None:
                assert lo <= s["mean"] <= hi, (name, m, s)
        assert figs["violations"]["mean"] == 0, name
    f, b = doc["strategies"]["frequent"], doc["strategies"]["bucket_rules"]
    # contacting everyone as often as the rules allow makes many more contacts
    assert (f["contacts_per_delinquent_account"]["mean"]
            > 3 * b["contacts_per_delinquent_account"]["mean"])
    # every figure also per arm (the built-ins here have one arm, the champion)
    assert doc["arms"]["bucket_rules"]["champion"]["recovery_rate"]["mean"] == pytest.approx(
        b["recovery_rate"]["mean"])
    runs = json.loads((out / "compare.json").read_text())["runs"]
    assert sorted((r["strategy"], r["seed"]) for r in runs) == [
        ("bucket_rules", 1), ("bucket_rules", 2), ("frequent", 1), ("frequent", 2)]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "net_recovery" in page and page.count("Plotly") > 5
    assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']https?://", page)


@pytest.mark.parametrize(("args", "needle"), [
    (["--strategies", "nagging"], "strategy must be one of"),
    (["--days", "20"], "days must be between 31"),
    (["--seeds", "0"], "seeds must be between 1"),
])
def test_compare_refuses_bad_arguments(tmp_path: Path, args: list[str], needle: str) -> None:
    res = _run("simulate", "compare", "--customers", "10", "--out", str(tmp_path / "x"), *args)
    assert res.returncode == 2
    assert needle in res.stderr + res.stdout
