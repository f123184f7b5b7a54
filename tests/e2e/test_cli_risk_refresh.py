"""`creditdesk risk refresh` refuses bad input before touching the books."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CLI = str(Path(sys.executable).parent / "creditdesk")


def test_refresh_refuses_a_malformed_date_and_an_unclosed_one(tmp_path):
    url = f"duckdb:///{tmp_path}/books.duckdb"
    bad = subprocess.run([CLI, "risk", "refresh", "--model", str(tmp_path), "--as-of",
                          "2026-02-30", "--store", url], capture_output=True, text=True)
    assert bad.returncode == 2 and "as_of" in bad.stderr.replace("-", "_")
    unclosed = subprocess.run([CLI, "risk", "refresh", "--model", str(tmp_path), "--as-of",
                               "2026-02-01", "--store", url], capture_output=True, text=True)
    assert unclosed.returncode == 2 and "closed business date" in unclosed.stderr


def test_refresh_with_the_shipped_model_on_a_twin_store(tmp_path):
    import json
    from datetime import date

    from creditdesk.risk.refresh import BEHAVIOUR_MODEL, read_scores
    from creditdesk.simulate.driver import run_twin
    from creditdesk.simulate.params import load_params
    from creditdesk.store import open_store

    url = f"duckdb:///{tmp_path}/twin.duckdb"
    store = open_store(url)
    run_twin(store, customers=300, days=31, seed=4, params=load_params())
    store.close()
    run = subprocess.run([CLI, "risk", "refresh", "--model", str(BEHAVIOUR_MODEL), "--as-of",
                          "2026-01-31", "--store", url, "--json"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["as_of"] == "2026-01-31" and summary["accounts"] > 250
    assert 0 < summary["mean_pd"] < 0.5
    store = open_store(url)
    assert read_scores(store, date(2026, 1, 31)).height == summary["accounts"]
    store.close()
