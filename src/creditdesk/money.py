"""Minor-unit money arithmetic and the rounding rules of the books.

Every stored amount is an ``int`` count of minor units (fen, cents). Rates are
decimal strings in configuration and :class:`decimal.Decimal` in code. The only
place a fractional amount becomes an integer is :func:`round_half_up`, so the
rounding rule of the whole system is written down exactly once:

* interest, penalties and fees are rounded **half-up** (away from zero at .5)
  to the minor unit when posted;
* a schedule distributes rounding so that its parts sum exactly to the
  principal: every part but the last is rounded, the last absorbs the rest.

Vectorised kernels use :func:`round_half_up_array`, which gives the same
answer as :func:`round_half_up` for every non-negative product below 2**53
(checked by a property test).

>>> round_half_up(Decimal("12.5"))
13
>>> round_half_up(Decimal("-12.5"))
-13
>>> split_evenly(100, 3)
[33, 33, 34]
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import numpy as np

__all__ = [
    "Decimal",
    "format_minor",
    "parse_rate",
    "round_half_up",
    "round_half_up_array",
    "split_evenly",
]


def parse_rate(value: str | Decimal | int, *, field: str = "rate") -> Decimal:
    """Parse a decimal rate given as a string (``"0.0005"`` is 0.05 %).

    Floats are refused: a rate typed as ``0.1`` is not exactly one tenth.

    >>> parse_rate("0.0005")
    Decimal('0.0005')
    """
    if isinstance(value, float):
        raise ValueError(f"{field} must be a decimal string such as \"0.0005\"; got float {value!r}")
    try:
        rate = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"{field} must be a decimal number; got {value!r}") from exc
    if not rate.is_finite() or rate < 0:
        raise ValueError(f"{field} must be a non-negative decimal; got {value!r}")
    return rate


def round_half_up(amount: Decimal) -> int:
    """Round a fractional minor-unit amount half away from zero.

    >>> round_half_up(Decimal("0.49")), round_half_up(Decimal("0.5"))
    (0, 1)
    """
    return int(amount.to_integral_value(rounding=ROUND_HALF_UP))


# Rates are applied in vectorised kernels as an exact rational: numerator over
# a power of ten. 10**9 covers every rate with up to nine decimals.
RATE_SCALE = 10**9


def rate_to_scaled(rate: Decimal) -> int:
    """Express a rate as an integer count of 1e-9, refusing anything finer."""
    scaled = rate * RATE_SCALE
    if scaled != scaled.to_integral_value():
        raise ValueError(f"rate must have at most 9 decimals; got {rate}")
    return int(scaled)


def round_half_up_array(amount: np.ndarray, scaled_rate: np.ndarray | int) -> np.ndarray:
    """``round_half_up(amount * rate)`` for arrays of int64 amounts, exactly.

    ``scaled_rate`` is the rate times :data:`RATE_SCALE` (an integer), so the
    product is an exact integer and the division rounds half-up in integer
    arithmetic — no floating point touches the money.
    """
    amount = np.asarray(amount, dtype=np.int64)
    prod = amount * np.asarray(scaled_rate, dtype=np.int64)
    sign = np.sign(prod)
    return sign * ((np.abs(prod) + RATE_SCALE // 2) // RATE_SCALE)


def split_evenly(total: int, parts: int) -> list[int]:
    """Split ``total`` minor units into ``parts`` equal parts; the last absorbs the rest.

    >>> split_evenly(1000, 3)
    [333, 333, 334]
    """
    if parts <= 0:
        raise ValueError(f"parts must be a positive integer; got {parts}")
    base = total // parts
    return [base] * (parts - 1) + [total - base * (parts - 1)]


def format_minor(amount: int, *, decimals: int = 2) -> str:
    """Format minor units for display: ``123456`` -> ``"1,234.56"``.

    >>> format_minor(-5)
    '-0.05'
    """
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(int(amount)), 10**decimals)
    return f"{sign}{whole:,}.{frac:0{decimals}d}"
