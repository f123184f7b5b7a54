"""`creditdesk products ...` through Typer's CliRunner on the products sub-app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from creditdesk.products.cli import app

runner = CliRunner()
LOAN = ["schedule", "--principal", "1000000", "--terms", "12", "--daily-rate", "0.0004",
        "--method", "equal_instalment", "--start", "2024-01-31"]


def test_schedule_json() -> None:
    result = runner.invoke(app, [*LOAN, "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 12
    # payment 899.75; first interest 1,000,000 x 0.012 = 12,000 fen
    assert rows[0] == {"term": 1, "due_date": "2024-02-29", "principal": 77975,
                       "interest": 12000, "fee": 0, "total": 89975}
    assert sum(r["principal"] for r in rows) == 1_000_000
    assert all(isinstance(r["total"], int) for r in rows)


def test_schedule_table_shows_totals_in_yuan() -> None:
    result = runner.invoke(app, LOAN)
    assert result.exit_code == 0, result.output
    assert "899.75" in result.stdout
    assert "10,000.00" in result.stdout and "797.05" in result.stdout  # principal, interest


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--terms", "0", "--terms must be a positive integer; got 0"),
    ("--method", "balloon", "--method must be one of equal_instalment, equal_principal, "
                            "interest_first; got 'balloon'"),
    ("--daily-rate", "abc", "--daily-rate must be a decimal number; got 'abc'"),
    ("--principal", "-5", "--principal must be a positive integer number of minor units; got -5"),
    ("--start", "2024-02-30", "--start must be an ISO date (YYYY-MM-DD); got '2024-02-30'"),
])
def test_schedule_bad_input_exits_2_naming_option_and_value(option: str, value: str,
                                                            message: str) -> None:
    args = list(LOAN)
    args[args.index(option) + 1] = value
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_schedule_checked_against_a_product() -> None:
    ok = runner.invoke(app, [*LOAN, "--product", "cash_loan", "--json"])
    assert ok.exit_code == 0, ok.output
    out_of_range = list(LOAN)
    out_of_range[out_of_range.index("--daily-rate") + 1] = "0.0009"
    result = runner.invoke(app, [*out_of_range, "--product", "cash_loan"])
    assert result.exit_code == 2
    assert "--daily-rate must be between 0.0002 and 0.0006 for this product" in result.stderr


def test_list_json_and_table() -> None:
    result = runner.invoke(app, ["list", "--json"])
    assert result.exit_code == 0, result.output
    products = json.loads(result.stdout)
    assert [p["name"] for p in products] == ["revolving", "cash_loan"]
    assert products[0]["instalment_fee_rates"]["12"] == "0.088"  # rates stay strings
    table = runner.invoke(app, ["list"])
    assert table.exit_code == 0 and "cash_loan" in table.stdout


def test_check_accepts_a_good_catalogue_and_refuses_a_bad_one(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[products.card]\nkind = "revolving"\n', encoding="utf-8")
    result = runner.invoke(app, ["check", str(good)])
    assert result.exit_code == 0 and "card (revolving)" in result.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('[products.card]\nkind = "revolving"\nbill_day = 31\n', encoding="utf-8")
    result = runner.invoke(app, ["check", str(bad)])
    assert result.exit_code == 2
    assert "products.card.bill_day must be between 1 and 28; got 31" in result.stderr
    typo = tmp_path / "typo.toml"
    typo.write_text('[products.card]\nkind = "revolving"\ndue_dya = 5\n', encoding="utf-8")
    result = runner.invoke(app, ["list", "--catalogue", str(typo)])
    assert result.exit_code == 2
    assert "products.card.due_dya is not a known key; got 5" in result.stderr
