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
