"""The product catalogue: the terms of every product a lender offers, as validated data.

A catalogue is a TOML file with one table per product under ``[products.<name>]``;
``kind`` says which model applies (``revolving`` — the Huabei-like card, or
``cash_loan`` — the Jiebei-like amortising loan). The shipped
``default_catalogue.toml`` holds one of each; a lender adds products of either
kind under any name.

Why so strict: a product's terms decide what customers are billed. A typo'd key
that silently fell back to a default, or a rate typed as a binary float, would
mis-bill every account, so unknown keys, floats and out-of-range values are all
refused with a message naming the product, the key path and the bad value:

>>> catalogue_from_dict({"products": {"card": {"kind": "revolving", "bill_day": 31}}})
Traceback (most recent call last):
...
creditdesk.errors.CatalogueError: products.card.bill_day must be between 1 and 28; got 31
"""

from __future__ import annotations

import re
import tomllib
from datetime import date
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from creditdesk.errors import BadInputError, CatalogueError
from creditdesk.money import RATE_SCALE, parse_rate
from creditdesk.products.dates import due_date_for

__all__ = [
    "METHODS",
    "CashLoanProduct",
    "Catalogue",
    "Product",
    "RevolvingProduct",
    "catalogue_from_dict",
    "default_catalogue",
    "load_catalogue",
    "parse_catalogue",
]

#: Repayment methods of a cash loan, in the order the catalogue lists them.
METHODS: tuple[str, ...] = ("equal_instalment", "equal_principal", "interest_first")

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


def _rate(value: Any) -> Decimal:
    """Before-validator for rates: decimal strings (or ints) only, at most 9 decimals.

    Nine decimals is what the vectorised kernels carry exactly (``RATE_SCALE``).
    """
    if isinstance(value, bool | float):
        raise PydanticCustomError(
            "rate_float", 'must be a decimal string such as "0.0005", not a {kind}',
            {"kind": type(value).__name__},
        )
    try:
        rate = parse_rate(value)
    except ValueError:
        raise PydanticCustomError(
            "rate", "must be a non-negative decimal string such as \"0.0005\"") from None
    if (rate * RATE_SCALE) != (rate * RATE_SCALE).to_integral_value():
        raise PydanticCustomError("rate_precision", "must have at most 9 decimals")
    return rate


Rate = Annotated[Decimal, BeforeValidator(_rate)]
StrictInt = Annotated[int, Field(strict=True)]


def _between(value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise PydanticCustomError("range", "must be between {low} and {high}",
                                  {"low": low, "high": high})
    return value


class _Product(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    charge_off_dpd: StrictInt = 180
    currency: str = "CNY"

    @field_validator("charge_off_dpd")
    @classmethod
    def _dpd(cls, value: int) -> int:
        return _between(value, 1, 3650)

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise PydanticCustomError("currency", "must be a three-letter ISO 4217 code")
        return value


class RevolvingProduct(_Product):
    """Revolving consumption credit (Huabei-like): monthly bills, an interest-free period.

    ``instalment_fee_rates`` maps a number of terms to the *total* fee of an
    instalment conversion over those terms, as a fraction of the principal.
    """

    kind: Literal["revolving"] = "revolving"
    bill_day: StrictInt = 1
    due_day: StrictInt = 10
    min_payment_rate: Rate = Decimal("0.10")
    interest_daily_rate: Rate = Decimal("0.0005")
    penalty_daily_rate: Rate = Decimal("0.0005")
    instalment_fee_rates: dict[int, Rate] = Field(default_factory=lambda: {
        3: Decimal("0.025"), 6: Decimal("0.045"), 9: Decimal("0.065"), 12: Decimal("0.088"),
    })

    @field_validator("bill_day", "due_day")
    @classmethod
    def _day(cls, value: int) -> int:
        return _between(value, 1, 28)

    @model_validator(mode="after")
    def _due_not_bill(self) -> RevolvingProduct:
        # Equal days would put the due date a whole cycle after the bill, on the
        # next bill date: no lender runs a cycle like that, so it is a typo.
        if self.due_day == self.bill_day:
            raise PydanticCustomError(
                "cross", "must differ from bill_day ({bill_day}); got {due_day}",
                {"key": "due_day", "bill_day": self.bill_day, "due_day": self.due_day,
                 "got": self.due_day})
        return self

    @field_validator("min_payment_rate")
    @classmethod
    def _min_rate(cls, value: Decimal) -> Decimal:
        if not Decimal(0) < value <= 1:
            raise PydanticCustomError("range", "must be above 0 and at most 1")
        return value

    @field_validator("instalment_fee_rates")
    @classmethod
    def _fees(cls, value: dict[int, Decimal]) -> dict[int, Decimal]:
        for terms, rate in value.items():
            if not 2 <= terms <= 60:
                raise PydanticCustomError(
                    "terms", "keys must be numbers of terms between 2 and 60; got {terms}",
                    {"terms": terms})
            if rate >= 1:
                raise PydanticCustomError(
                    "fee", "fee rate for {terms} terms must be below 1; got {rate}",
                    {"terms": terms, "rate": str(rate)})
        return dict(sorted(value.items()))

    def due_date(self, bill_date: date) -> date:
        """Due date of a bill issued on ``bill_date`` (see :func:`dates.due_date_for`).

        >>> RevolvingProduct(bill_day=25, due_day=5).due_date(date(2024, 12, 25))
        datetime.date(2025, 1, 5)
        """
        return due_date_for(bill_date, self.due_day)

    def fee_rate(self, terms: int) -> Decimal:
        """Total instalment-conversion fee rate for ``terms``; other terms are refused.

        >>> RevolvingProduct().fee_rate(3)
        Decimal('0.025')
        """
        try:
            return self.instalment_fee_rates[terms]
        except (KeyError, TypeError):
            allowed = ", ".join(str(t) for t in self.instalment_fee_rates)
            raise BadInputError(f"terms must be one of {allowed} for this product; got {terms!r}",
                                field="terms", value=terms) from None


class CashLoanProduct(_Product):
    """Cash loan (Jiebei-like): a daily rate priced by risk band, amortised monthly."""

    kind: Literal["cash_loan"] = "cash_loan"
    min_daily_rate: Rate = Decimal("0.0002")
    max_daily_rate: Rate = Decimal("0.0006")
    terms: list[StrictInt] = Field(default_factory=lambda: [3, 6, 9, 12])
    methods: list[str] = Field(default_factory=lambda: list(METHODS))
    overdue_rate_multiplier: Rate = Decimal("1.5")
    days_per_month: StrictInt = 30

    @model_validator(mode="after")
    def _rate_order(self) -> CashLoanProduct:
        if self.min_daily_rate > self.max_daily_rate:
            raise PydanticCustomError(
                "cross", "must not exceed max_daily_rate ({high}); got {low}",
                {"key": "min_daily_rate", "low": str(self.min_daily_rate),
                 "high": str(self.max_daily_rate), "got": str(self.min_daily_rate)})
        return self

    @field_validator("terms")
    @classmethod
    def _terms(cls, value: list[int]) -> list[int]:
        if not value:
            raise PydanticCustomError("empty", "must list at least one number of terms")
        if len(set(value)) != len(value):
            raise PydanticCustomError("duplicate", "must not repeat a number of terms")
        for t in value:
            if not 1 <= t <= 360:
                raise PydanticCustomError(
                    "terms", "entries must be between 1 and 360; got {t}", {"t": t})
        return sorted(value)

    @field_validator("methods")
    @classmethod
    def _methods(cls, value: list[str]) -> list[str]:
        if not value:
            raise PydanticCustomError("empty", "must list at least one method")
        if len(set(value)) != len(value):
            raise PydanticCustomError("duplicate", "must not repeat a method")
        for m in value:
            if m not in METHODS:
                raise PydanticCustomError(
                    "method", "entries must be among {allowed}; got '{m}'",
                    {"allowed": ", ".join(METHODS), "m": m})
        return value

    @field_validator("overdue_rate_multiplier")
    @classmethod
    def _multiplier(cls, value: Decimal) -> Decimal:
        if not 1 <= value <= 10:
            raise PydanticCustomError("range", "must be between 1 and 10")
        return value

    @field_validator("days_per_month")
    @classmethod
    def _dpm(cls, value: int) -> int:
        return _between(value, 28, 31)

    def check_offer(self, terms: int, daily_rate: Decimal | str, method: str) -> Decimal:
        """Refuse a loan outside this product's terms; return the parsed daily rate.

        >>> CashLoanProduct().check_offer(12, "0.0004", "equal_instalment")
        Decimal('0.0004')
        """
        if terms not in self.terms:
            raise BadInputError(
                f"terms must be one of {', '.join(map(str, self.terms))} for this product; "
                f"got {terms!r}", field="terms", value=terms)
        if method not in self.methods:
            raise BadInputError(
                f"method must be one of {', '.join(self.methods)} for this product; "
                f"got {method!r}", field="method", value=method)
        try:
            rate = parse_rate(daily_rate, field="daily_rate")
        except ValueError as exc:
            raise BadInputError(str(exc), field="daily_rate", value=daily_rate) from None
        if not self.min_daily_rate <= rate <= self.max_daily_rate:
            raise BadInputError(
                f"daily_rate must be between {self.min_daily_rate} and {self.max_daily_rate} "
                f"for this product; got {daily_rate}", field="daily_rate", value=daily_rate)
        return rate

    def overdue_daily_rate(self, daily_rate: Decimal) -> Decimal:
        """Daily rate on overdue principal: the contract rate times the multiplier.

        >>> CashLoanProduct().overdue_daily_rate(Decimal("0.0004"))
        Decimal('0.00060')
        """
        return daily_rate * self.overdue_rate_multiplier


Product = Annotated[RevolvingProduct | CashLoanProduct, Field(discriminator="kind")]


class Catalogue(BaseModel):
    """All products of a lender, by name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    products: dict[str, Product]

    @field_validator("products")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not value:
            raise PydanticCustomError("empty", "must define at least one product")
        for name in value:
            if not _NAME.match(name):
                raise PydanticCustomError(
                    "name", "names must start with a letter and use letters, digits, _ or -; "
                    "got '{name}'", {"name": name})
        return value

    def get(self, name: str) -> RevolvingProduct | CashLoanProduct:
        """The product called ``name``; an unknown name is refused listing the known ones.

        >>> default_catalogue().get("cash_loan").kind
        'cash_loan'
        """
        try:
            return self.products[name]
        except KeyError:
            known = ", ".join(sorted(self.products))
            raise CatalogueError(f"unknown product {name!r}; the catalogue has: {known}",
                                 field="product", value=name) from None

    def revolving(self, name: str) -> RevolvingProduct:
        """The revolving product called ``name`` (refused if it is another kind)."""
        product = self.get(name)
        if not isinstance(product, RevolvingProduct):
            raise CatalogueError(
                f"product {name!r} is a {product.kind} product, not a revolving one",
                field="product", value=name)
        return product

    def cash_loan(self, name: str) -> CashLoanProduct:
        """The cash-loan product called ``name`` (refused if it is another kind)."""
        product = self.get(name)
        if not isinstance(product, CashLoanProduct):
            raise CatalogueError(f"product {name!r} is a {product.kind} product, not a cash loan",
                                 field="product", value=name)
        return product

    def names(self) -> list[str]:
        """Product names in catalogue order."""
        return list(self.products)


_CUSTOM = {"range", "rate", "rate_float", "rate_precision", "fee", "terms", "empty",
           "duplicate", "method", "name", "currency"}


def _format_error(err: Any, tags: dict[str, str]) -> tuple[str, str, object]:
    """One pydantic error as (path, message, value), the discriminator tag removed."""
    loc = [str(part) for part in err["loc"]]
    # pydantic puts the union tag after the product name: products.<name>.<kind>.<key>
    if len(loc) >= 3 and loc[0] == "products" and tags.get(loc[1]) == loc[2]:
        del loc[2]
    value = err.get("input")
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if loc and loc[-1] == "[key]":  # a dict key that is not a whole number of terms
        loc.pop()
        path = ".".join(loc[:-1])
        return path, f"{path} keys must be whole numbers of terms; got {value!r}", value
    if kind == "cross":  # a check across keys names the key it blames
        loc.append(str(ctx["key"]))
    path = ".".join(loc)
    if kind == "extra_forbidden":
        return path, f"{path} is not a known key; got {value!r}", value
    if kind == "missing":
        return path, f"{path} is required", None
    if kind == "union_tag_invalid":
        tag = ctx.get("tag")
        return (f"{path}.kind", f"{path}.kind must be one of 'revolving', 'cash_loan'; "
                f"got {tag!r}", tag)
    if kind == "union_tag_not_found":
        return f"{path}.kind", f"{path}.kind is required ('revolving' or 'cash_loan')", None
    msg = err["msg"]
    if kind == "cross":
        return path, f"{path} {msg}", ctx.get("got")
    text = msg if kind in _CUSTOM else "is invalid: " + msg[:1].lower() + msg[1:]
    if isinstance(value, dict | list):
        return path, f"{path} {text}", value
    shown = value if isinstance(value, int | float) else repr(value)
    return path, f"{path} {text}; got {shown}", value


def catalogue_from_dict(data: dict[str, Any]) -> Catalogue:
    """Validate an already-parsed catalogue; errors become one :class:`CatalogueError`.

    >>> catalogue_from_dict({"products": {"c": {"kind": "cash_loan"}}}).names()
    ['c']
    """
    try:
        return Catalogue.model_validate(data)
    except ValidationError as exc:
        products = data.get("products") if isinstance(data, dict) else None
        tags = {str(k): str(v.get("kind")) for k, v in products.items()
                if isinstance(v, dict)} if isinstance(products, dict) else {}
        parts = [_format_error(e, tags) for e in exc.errors()]
        first_path, _, first_value = parts[0]
        raise CatalogueError("\n".join(p[1] for p in parts),
                             field=first_path, value=first_value) from None


def parse_catalogue(text: str, *, source: str = "<string>") -> Catalogue:
    """Parse and validate catalogue TOML text (``source`` names it in errors)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{source} is not valid TOML: {exc}", field="catalogue",
                             value=source) from None
    return catalogue_from_dict(data)


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Load and validate a catalogue file; ``None`` loads the shipped default.

    >>> sorted(load_catalogue().names())
    ['cash_loan', 'revolving']
    """
    if path is None:
        text = resources.files("creditdesk.products").joinpath(
            "default_catalogue.toml").read_text(encoding="utf-8")
        return parse_catalogue(text, source="default_catalogue.toml")
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogueError(f"catalogue file {str(p)!r} cannot be read: {exc.strerror}",
                             field="catalogue", value=str(p)) from None
    return parse_catalogue(text, source=str(p))


@lru_cache(maxsize=1)
def default_catalogue() -> Catalogue:
    """The shipped catalogue, parsed once (models are frozen, so sharing is safe)."""
    return load_catalogue(None)
