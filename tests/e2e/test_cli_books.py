"""The real `creditdesk` command: load, eod, account show, and a kill -9 in the middle of a date."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

CLI = [str(Path(sys.executable).parent / "creditdesk")]


def write_book(tmp: Path) -> dict[str, Path]:
    from datetime import date

    from creditdesk.ledger.synthetic import synthetic_book

    book = synthetic_book(60, date(2026, 1, 1), 45, seed=3)
    paths = {}
    for name, df in book.items():
        paths[name] = tmp / f"{name}.csv"
        df.write_csv(paths[name])
    return paths


def cli(*args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    res = subprocess.run([*CLI, *args], capture_output=True, text=True,
                         env={**os.environ, **(env or {})}, timeout=300)
    if check:
        assert res.returncode == 0, res.stderr
    return res


def test_load_eod_and_account_show(tmp_path):
    p = write_book(tmp_path)
    url = f"duckdb:///{tmp_path}/books.duckdb"
    out = cli("load", "--store", url, "--customers", str(p["customers"]), "--accounts",
              str(p["accounts"]), "--transactions", str(p["transactions"]), "--json")
    loaded = json.loads(out.stdout)
    assert loaded["accounts"] == 60 and loaded["transactions"] > 100
    again = json.loads(cli("load", "--store", url, "--transactions", str(p["transactions"]),
                           "--json").stdout)
    assert again["transactions"] == 0 and again["duplicates_skipped"] == loaded["transactions"]
    res = json.loads(cli("eod", "--store", url, "--through", "2026-02-14", "--json").stdout)
    assert res["dates_closed"] == 45 and res["last_closed"] == "2026-02-14"
    view = json.loads(cli("account", "show", "A00000000", "--store", url, "--json").stdout)
    for key in ("account_id", "as_of", "dpd", "bucket", "total_due", "overdue_amount", "balances"):
        assert key in view
    assert set(view["balances"]) >= {"principal", "interest", "fee", "penalty"}
    assert all(isinstance(v, int) for v in view["balances"].values())


def test_bad_input_exits_non_zero_naming_the_field(tmp_path):
    p = write_book(tmp_path)
    url = f"duckdb:///{tmp_path}/books.duckdb"
    cli("load", "--store", url, "--customers", str(p["customers"]), "--accounts",
        str(p["accounts"]))
    bad = tmp_path / "bad.csv"
    bad.write_text("external_id,account_id,business_date,type,amount\n"
                   "b1,A00000001,2026-01-02,purchase,100\n"
                   "b2,A00000001,2026-01-02,purchase,-100\n")
    res = cli("load", "--store", url, "--transactions", str(bad), check=False)
    assert res.returncode == 2
    assert "row 2" in res.stderr and "amount" in res.stderr and "-100" in res.stderr
    res = cli("eod", "--store", url, "--through", "2026-13-01", check=False)
    assert res.returncode == 2 and "through" in res.stderr
    res = cli("account", "show", "NOPE", "--store", url, check=False)
    assert res.returncode == 3 and "NOPE" in res.stderr


def tables(url: str) -> dict[str, pl.DataFrame]:
    from creditdesk.store import open_store

    s = open_store(url)
    try:
        return {t: s.read(t).sort(pl.all()) for t in
                ("account_day", "journal", "dues", "plan_state", "statements", "postings",
                 "closed_dates")}
    finally:
        s.close()


def test_kill_9_mid_date_leaves_previous_date_and_rerun_matches(tmp_path):
    p = write_book(tmp_path)
    urls = {}
    for name in ("killed", "clean"):
        urls[name] = f"duckdb:///{tmp_path}/{name}.duckdb"
        cli("load", "--store", urls[name], "--customers", str(p["customers"]), "--accounts",
            str(p["accounts"]), "--transactions", str(p["transactions"]))
    flag = tmp_path / "pause.flag"
    env = {"CREDITDESK_TEST_PAUSE_MID_DATE": "2026-01-20",
           "CREDITDESK_TEST_PAUSE_MID_DATE_FILE": str(flag)}
    proc = subprocess.Popen([*CLI, "eod", "--store", urls["killed"], "--through", "2026-02-10"],
                            env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not flag.exists():
        assert proc.poll() is None, "eod ended before reaching the pause"
        assert time.time() < deadline
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    mid = tables(urls["killed"])
    # the books are exactly as of 19 January: nothing of the 20th survived
    assert mid["closed_dates"]["business_date"].max().isoformat() == "2026-01-19"
    assert mid["account_day"]["business_date"].max().isoformat() == "2026-01-19"
    assert mid["journal"]["business_date"].max().isoformat() <= "2026-01-19"
    cli("eod", "--store", urls["killed"], "--through", "2026-02-10")
    cli("eod", "--store", urls["clean"], "--through", "2026-02-10")
    killed, clean = tables(urls["killed"]), tables(urls["clean"])
    for t in ("account_day", "journal", "dues", "plan_state", "statements", "postings"):
        assert killed[t].equals(clean[t]), t


def test_demo_writes_its_books_inside_a_relative_out_folder(tmp_path):
    res = subprocess.run([*CLI, "demo", "--customers", "40", "--days", "35", "--out", "demo-out",
                          "--json"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert res.returncode == 0, res.stderr
    kpis = json.loads(res.stdout)
    assert (tmp_path / "demo-out" / "creditdesk.duckdb").exists()
    assert (tmp_path / "demo-out" / "kpis.json").exists()
    assert kpis["customers"] == 40 and kpis["accounts"] >= 40 and kpis["days"] == 35
    view = json.loads(cli("account", "show", "R00000000", "--store", kpis["store"],
                          "--json").stdout)
    assert view["as_of"] == kpis["as_of"]
