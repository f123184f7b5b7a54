"""End to end: the installed `creditdesk` script prints a schedule as JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def _creditdesk() -> str:
    local = Path(sys.executable).parent / "creditdesk"
    found = str(local) if local.exists() else shutil.which("creditdesk")
    if found is None:
        pytest.skip("the creditdesk script is not installed")
    return found


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_creditdesk(), "products", "schedule", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def test_schedule_json_from_the_real_command() -> None:
    # 3,000.00 over 3 months at 0.05 %/day, equal principal: r = 0.015;
    # interest 300,000 x 0.015 = 4,500, then 200,000 x 0.015 = 3,000, then 1,500.
    proc = _run("--principal", "300000", "--terms", "3", "--daily-rate", "0.0005",
                "--method", "equal_principal", "--start", "2024-01-31", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [
        {"term": 1, "due_date": "2024-02-29", "principal": 100000, "interest": 4500,
         "fee": 0, "total": 104500},
        {"term": 2, "due_date": "2024-03-31", "principal": 100000, "interest": 3000,
         "fee": 0, "total": 103000},
        {"term": 3, "due_date": "2024-04-30", "principal": 100000, "interest": 1500,
         "fee": 0, "total": 101500},
    ]


def test_bad_input_exits_2_with_the_option_named_on_stderr() -> None:
    proc = _run("--principal", "300000", "--terms", "0", "--daily-rate", "0.0005",
                "--method", "equal_principal", "--start", "2024-01-31", "--json")
    assert proc.returncode == 2
    assert "--terms must be a positive integer; got 0" in proc.stderr
    assert proc.stdout == ""
