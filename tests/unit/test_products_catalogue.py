"""The product catalogue: the shipped defaults, custom products, and refusals that name the key."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from creditdesk.errors import BadInputError, CatalogueError
from creditdesk.products import (
    CashLoanProduct,
    RevolvingProduct,
    catalogue_from_dict,
    default_catalogue,
    load_catalogue,
    parse_catalogue,
)


def test_shipped_catalogue_has_exactly_the_two_default_products() -> None:
    cat = load_catalogue()
    assert cat.names() == ["revolving", "cash_loan"]
    rev = cat.revolving("revolving")
    assert (rev.bill_day, rev.due_day) == (1, 10)
    assert rev.min_payment_rate == Decimal("0.10")
    assert rev.interest_daily_rate == rev.penalty_daily_rate == Decimal("0.0005")
    assert rev.instalment_fee_rates == {3: Decimal("0.025"), 6: Decimal("0.045"),
                                        9: Decimal("0.065"), 12: Decimal("0.088")}
    assert rev.charge_off_dpd == 180 and rev.currency == "CNY"
    loan = cat.cash_loan("cash_loan")
    assert (loan.min_daily_rate, loan.max_daily_rate) == (Decimal("0.0002"), Decimal("0.0006"))
    assert loan.terms == [3, 6, 9, 12]
    assert loan.methods == ["equal_instalment", "equal_principal", "interest_first"]
    assert loan.overdue_rate_multiplier == Decimal("1.5") and loan.days_per_month == 30


def test_shipped_catalogue_equals_the_model_defaults() -> None:
    # The TOML and the Python defaults must not drift apart.
    cat = default_catalogue()
    assert cat.get("revolving") == RevolvingProduct()
    assert cat.get("cash_loan") == CashLoanProduct()


def test_default_catalogue_is_cached_and_frozen() -> None:
    assert default_catalogue() is default_catalogue()
    with pytest.raises(ValidationError):
        default_catalogue().get("revolving").bill_day = 5  # type: ignore[misc]


def test_lender_adds_products_of_either_kind_under_any_name(tmp_path: Path) -> None:
    path = tmp_path / "lender.toml"
    path.write_text("""
[products.gold_card]
kind = "revolving"
bill_day = 25
due_day = 5
min_payment_rate = "0.05"
[products.gold_card.instalment_fee_rates]
6 = "0.03"

[products.quick-loan]
kind = "cash_loan"
min_daily_rate = "0.0003"
max_daily_rate = "0.0003"
terms = [12, 6]
methods = ["equal_principal"]
""", encoding="utf-8")
    cat = load_catalogue(path)
    card = cat.revolving("gold_card")
    assert card.instalment_fee_rates == {6: Decimal("0.03")}
    # bill day 25, due day 5 -> the 5th of the next month
    assert card.due_date(date(2024, 12, 25)) == date(2025, 1, 5)
    loan = cat.cash_loan("quick-loan")
    assert loan.terms == [6, 12]  # kept sorted
    assert loan.check_offer(6, "0.0003", "equal_principal") == Decimal("0.0003")


def test_due_date_of_the_default_card_is_the_tenth_of_the_same_month() -> None:
    assert default_catalogue().revolving("revolving").due_date(date(2024, 3, 1)) \
        == date(2024, 3, 10)


BASE_TOML = '[products.revolving]\nkind = "revolving"\n'


@pytest.mark.parametrize(("extra", "expected"), [
    # typo'd key: named, with the value
    ("bil_day = 3\n", "products.revolving.bil_day is not a known key; got 3"),
    # float rate: refused because 0.1 is not exactly one tenth
    ("min_payment_rate = 0.1\n",
     'products.revolving.min_payment_rate must be a decimal string such as "0.0005", '
     "not a float; got 0.1"),
    ("bill_day = 31\n", "products.revolving.bill_day must be between 1 and 28; got 31"),
    ("due_day = 0\n", "products.revolving.due_day must be between 1 and 28; got 0"),
    ("due_day = 1\n", "products.revolving.due_day must differ from bill_day (1); got 1"),
    ('bill_day = "3"\n', "products.revolving.bill_day is invalid: input should be a valid "
                         "integer; got '3'"),
    ('interest_daily_rate = "abc"\n', "products.revolving.interest_daily_rate must be a "
                                      'non-negative decimal string such as "0.0005"'),
    ('penalty_daily_rate = "0.0000000001"\n',
     "products.revolving.penalty_daily_rate must have at most 9 decimals"),
    ('currency = "cny"\n', "products.revolving.currency must be a three-letter ISO 4217 code"),
    ("[products.revolving.instalment_fee_rates]\n3 = 0.025\n",
     "products.revolving.instalment_fee_rates.3 must be a decimal string"),
    ('[products.revolving.instalment_fee_rates]\nx = "0.025"\n',
     "products.revolving.instalment_fee_rates keys must be whole numbers of terms; got 'x'"),
])
def test_bad_revolving_values_are_refused_naming_the_key(extra: str, expected: str) -> None:
    with pytest.raises(CatalogueError) as err:
        parse_catalogue(BASE_TOML + extra)
    assert expected in str(err.value)


def test_unknown_kind_is_refused_naming_the_key_and_value() -> None:
    with pytest.raises(CatalogueError) as err:
        parse_catalogue('[products.home]\nkind = "mortgage"\n')
    assert str(err.value) == ("products.home.kind must be one of 'revolving', 'cash_loan'; "
                              "got 'mortgage'")
    assert err.value.field == "products.home.kind" and err.value.value == "mortgage"


def test_missing_kind_is_refused() -> None:
    with pytest.raises(CatalogueError, match=r"products\.home\.kind is required"):
        parse_catalogue("[products.home]\nbill_day = 2\n")


@pytest.mark.parametrize(("body", "expected"), [
    ('min_daily_rate = "0.001"\n',
     "products.loan.min_daily_rate must not exceed max_daily_rate (0.0006); got 0.001"),
    ("terms = []\n", "products.loan.terms must list at least one number of terms"),
    ("terms = [3, 3]\n", "products.loan.terms must not repeat"),
    ("terms = [0]\n", "products.loan.terms entries must be between 1 and 360; got 0"),
    ('methods = ["balloon"]\n', "products.loan.methods entries must be among"),
    ("methods = []\n", "products.loan.methods must list at least one method"),
    ('overdue_rate_multiplier = "0.5"\n',
     "products.loan.overdue_rate_multiplier must be between 1 and 10; got '0.5'"),
    ("days_per_month = 365\n", "products.loan.days_per_month must be between 28 and 31"),
    ("max_daily_rate = 0.0006\n", "products.loan.max_daily_rate must be a decimal string"),
])
def test_bad_cash_loan_values_are_refused_naming_the_key(body: str, expected: str) -> None:
    with pytest.raises(CatalogueError) as err:
        parse_catalogue('[products.loan]\nkind = "cash_loan"\n' + body)
    assert expected in str(err.value)


def test_every_error_is_reported_and_is_a_bad_input_error() -> None:
    with pytest.raises(BadInputError) as err:  # CatalogueError is a BadInputError: exit 2
        catalogue_from_dict({"products": {"a": {"kind": "revolving", "bill_day": 31,
                                                "due_day": 40}}})
    lines = str(err.value).splitlines()
    assert lines == ["products.a.bill_day must be between 1 and 28; got 31",
                     "products.a.due_day must be between 1 and 28; got 40"]
    assert err.value.exit_code == 2


def test_empty_and_misnamed_top_level_are_refused() -> None:
    with pytest.raises(CatalogueError, match="products must define at least one product"):
        catalogue_from_dict({"products": {}})
    with pytest.raises(CatalogueError, match="prods is not a known key"):
        catalogue_from_dict({"products": {"a": {"kind": "cash_loan"}}, "prods": {}})


def test_get_unknown_product_names_it_and_the_known_ones() -> None:
    with pytest.raises(CatalogueError) as err:
        default_catalogue().get("platinum")
    assert str(err.value) == "unknown product 'platinum'; the catalogue has: cash_loan, revolving"


def test_kind_specific_getters_refuse_the_other_kind() -> None:
    with pytest.raises(CatalogueError, match="'revolving' is a revolving product, not a cash"):
        default_catalogue().cash_loan("revolving")
    with pytest.raises(CatalogueError, match="'cash_loan' is a cash_loan product"):
        default_catalogue().revolving("cash_loan")


def test_unreadable_and_malformed_files_are_catalogue_errors(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="cannot be read"):
        load_catalogue(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("products = [", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"bad\.toml is not valid TOML"):
        load_catalogue(bad)


def test_check_offer_refuses_terms_methods_and_rates_outside_the_product() -> None:
    loan = CashLoanProduct()
    with pytest.raises(BadInputError, match="terms must be one of 3, 6, 9, 12 for this "
                                            "product; got 5"):
        loan.check_offer(5, "0.0004", "equal_instalment")
    with pytest.raises(BadInputError, match="method must be one of"):
        loan.check_offer(3, "0.0004", "balloon")
    with pytest.raises(BadInputError, match=r"daily_rate must be between 0\.0002 and 0\.0006"):
        loan.check_offer(3, "0.0007", "equal_instalment")
    with pytest.raises(BadInputError, match="daily_rate must be a decimal string"):
        loan.check_offer(3, 0.0004, "equal_instalment")  # type: ignore[arg-type]
    # overdue rate = contract rate x 1.5: 0.0004 -> 0.0006
    assert loan.overdue_daily_rate(Decimal("0.0004")) == Decimal("0.0006")


def test_fee_rate_refuses_terms_outside_the_fee_table() -> None:
    with pytest.raises(BadInputError, match="terms must be one of 3, 6, 9, 12 for this "
                                            "product; got 24"):
        RevolvingProduct().fee_rate(24)
