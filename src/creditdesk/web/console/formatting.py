"""Display formatting and form parsing for the console pages (pure, no I/O).

Money is stored and passed around as ``int`` minor units; it becomes text only here,
for display (``¥1,234.56``), and text becomes minor units only through
:func:`parse_amount`, which uses :class:`decimal.Decimal` (never ``float``) and refuses
anything that is not an exact amount of minor units.

>>> format_money(123456), format_money(-5, "$"), format_money(None)
('¥1,234.56', '-$0.05', '—')
>>> parse_amount("1,234.56", field="promise_amount")
123456
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from creditdesk.errors import BadInputError
from creditdesk.money import format_minor

__all__ = ["CURRENCIES", "MINOR_DIGITS", "currency_of", "format_local", "format_money",
           "format_pct", "parse_amount", "parse_day", "parse_int", "to_datetime"]

#: minor-unit digits of the currencies the profiles use (fen, cents)
MINOR_DIGITS = 2
#: the contact-rules profile -> the currency symbol the console shows
CURRENCIES: dict[str, str] = {"CN": "¥", "US": "$"}
#: the largest amount a form accepts, in minor units (10 billion major units)
MAX_MINOR = 10**12
_AMOUNT = re.compile(r"\d{1,13}(\.\d{1,6})?")
_DASH = "—"


def currency_of(profile: str) -> str:
    """The currency symbol shown for a contact-rules profile (unknown: ``¥``).

    >>> currency_of("US"), currency_of("CN")
    ('$', '¥')
    """
    return CURRENCIES.get(profile.upper(), "¥")


def format_money(minor: int | None, symbol: str = "¥") -> str:
    """Minor units as ``¥1,234.56`` (integer arithmetic: exact for any size).

    >>> format_money(0), format_money(10**15), format_money(-123)
    ('¥0.00', '¥10,000,000,000,000.00', '-¥1.23')
    """
    if minor is None:
        return _DASH
    text = format_minor(int(minor), decimals=MINOR_DIGITS)
    return f"-{symbol}{text[1:]}" if text.startswith("-") else f"{symbol}{text}"


def format_pct(share: float | None, digits: int = 1) -> str:
    """A share in [0, 1] as a percentage (``None``: a dash).

    >>> format_pct(0.1234), format_pct(None), format_pct(1.0, 0)
    ('12.3 %', '—', '100 %')
    """
    if share is None:
        return _DASH
    return f"{share * 100:.{digits}f} %"


def to_datetime(value: Any) -> datetime | None:
    """A timestamp from a ``datetime`` or an ISO string (naive means UTC); else None.

    >>> to_datetime("2026-03-14T01:30:00+00:00").hour, to_datetime("x"), to_datetime(None)
    (1, None, None)
    """
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def format_local(value: Any, tz: str | None) -> str:
    """A timestamp in the time zone ``tz`` (the customer's), as ``2026-03-14 09:30 Asia/Shanghai``.

    An unknown or missing zone shows UTC; a value that is not a timestamp, a dash.

    >>> format_local("2026-03-14T01:30:00+00:00", "Asia/Shanghai")
    '2026-03-14 09:30 Asia/Shanghai'
    >>> format_local("2026-03-14T08:00:00+08:00", None), format_local(None, "UTC")
    ('2026-03-14 00:00 UTC', '—')
    """
    at = to_datetime(value)
    if at is None:
        return _DASH
    try:
        zone = ZoneInfo(tz) if tz else None
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    if zone is None:
        return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    return f"{at.astimezone(zone):%Y-%m-%d %H:%M} {tz}"


def parse_amount(text: str | None, *, field: str, required: bool = True) -> int | None:
    """An amount typed in major units (``1234.56``, ``1,234.56``, ``¥1234``) as minor units.

    Exact: ``Decimal``, never ``float``. Refuses, naming the field and value, anything
    that is not a positive amount with at most two decimals, or above the cap.

    >>> parse_amount("0.1", field="amount"), parse_amount(" ¥ 12 ", field="amount")
    (10, 1200)
    >>> parse_amount("", field="amount", required=False) is None
    True
    >>> parse_amount("1.005", field="amount")
    Traceback (most recent call last):
    ...
    creditdesk.errors.BadInputError: amount must have at most 2 decimal places; got '1.005'
    >>> parse_amount("1e3", field="amount")
    Traceback (most recent call last):
    ...
    creditdesk.errors.BadInputError: amount must be an amount such as 1234.56; got '1e3'
    """
    raw = (text or "").strip()
    if not raw:
        if required:
            raise BadInputError(f"{field} is required", field=field, value=text)
        return None
    cleaned = raw.replace(",", "").replace(" ", "").lstrip("¥￥$")
    if not _AMOUNT.fullmatch(cleaned):
        raise BadInputError(f"{field} must be an amount such as 1234.56; got {raw!r}",
                            field=field, value=raw)
    try:
        minor = Decimal(cleaned).scaleb(MINOR_DIGITS)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise BadInputError(f"{field} must be an amount such as 1234.56; got {raw!r}",
                            field=field, value=raw) from None
    if minor != minor.to_integral_value():
        raise BadInputError(f"{field} must have at most {MINOR_DIGITS} decimal places; "
                            f"got {raw!r}", field=field, value=raw)
    amount = int(minor)
    if amount <= 0:
        raise BadInputError(f"{field} must be more than 0; got {raw!r}", field=field, value=raw)
    if amount > MAX_MINOR:
        raise BadInputError(f"{field} must be at most {format_money(MAX_MINOR, '')}; "
                            f"got {raw!r}", field=field, value=raw)
    return amount


def parse_day(text: str | None, *, field: str, required: bool = True) -> date | None:
    """A date typed as ``YYYY-MM-DD`` (what ``<input type=date>`` sends).

    >>> parse_day("2026-03-14", field="promise_date")
    datetime.date(2026, 3, 14)
    >>> parse_day("14/03/2026", field="promise_date")
    Traceback (most recent call last):
    ...
    creditdesk.errors.BadInputError: promise_date must be a date as YYYY-MM-DD; got '14/03/2026'
    """
    raw = (text or "").strip()
    if not raw:
        if required:
            raise BadInputError(f"{field} is required", field=field, value=text)
        return None
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise BadInputError(f"{field} must be a date as YYYY-MM-DD; got {raw!r}", field=field,
                            value=raw) from None


def parse_int(text: str | None, *, field: str, low: int, high: int,
              required: bool = True) -> int | None:
    """A whole number from ``low`` to ``high`` typed in a form.

    >>> parse_int("6", field="terms", low=3, high=12)
    6
    >>> parse_int("13", field="terms", low=3, high=12)
    Traceback (most recent call last):
    ...
    creditdesk.errors.BadInputError: terms must be a whole number from 3 to 12; got '13'
    """
    raw = (text or "").strip()
    if not raw:
        if required:
            raise BadInputError(f"{field} is required", field=field, value=text)
        return None
    if not raw.isdecimal() or len(raw) > 6 or not low <= int(raw) <= high:
        raise BadInputError(f"{field} must be a whole number from {low} to {high}; got {raw!r}",
                            field=field, value=raw)
    return int(raw)
