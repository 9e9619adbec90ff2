"""Exact money: integer minor units with one fixed scale per field (spec §5).

* ``cost`` and ``cost_reporting``: integers in 10^-12 of the currency ("pico-units").
* unit prices: integers in 10^-6 of the currency per 1,000,000 tokens (so 10^-12 per token).
* FX rates: integers in 10^-9 units of the quote currency per unit of the base currency.

With these scales ``cost = Σ usage[c] × unit_prices[c]`` is exact integer arithmetic, with no
division and no rounding. The only rounding in the format is the FX conversion, fixed here:
``cost_reporting = round_half_even(cost × rate / 10^9)``. Both the service and the verifier call
these functions, so they agree to the byte.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, Inexact, localcontext

COST_SCALE = 12
UNIT_PRICE_SCALE = 6
FX_RATE_SCALE = 9
FX_ONE = 10**FX_RATE_SCALE


def cost_of(usage: Mapping[str, int], unit_prices: Mapping[str, int]) -> int:
    """Cost in 10^-12 currency units: Σ tokens × unit price (10^-6 per 1M tokens)."""
    total = 0
    for category, tokens in usage.items():  # a plain loop: faster than map() for a few items
        total += tokens * unit_prices[category]
    return total


def convert(cost: int, rate: int) -> int:
    """Convert a cost with an FX rate (10^-9 scale), rounding half to even to 10^-12 units."""
    quotient: int
    remainder: int
    quotient, remainder = divmod(cost * rate, FX_ONE)
    twice = 2 * remainder
    if twice > FX_ONE or (twice == FX_ONE and quotient % 2 == 1):
        quotient += 1
    return quotient


def to_decimal(amount: int, scale: int) -> Decimal:
    """The exact ``Decimal`` value of an integer amount at ``scale`` (keeps the fixed exponent)."""
    return Decimal(amount).scaleb(-scale)


def format_amount(amount: int, scale: int) -> str:
    """Decimal string in currency units with exactly ``scale`` decimals (JSON and CSV form)."""
    sign = "-" if amount < 0 else ""
    digits = str(abs(amount)).rjust(scale + 1, "0")
    return f"{sign}{digits[:-scale]}.{digits[-scale:]}" if scale else f"{sign}{digits}"


def parse_amount(text: str, scale: int) -> int:
    """Parse a decimal string into integer units at ``scale``; refuses excess precision."""
    with localcontext() as ctx:
        ctx.prec = 200  # exact for any amount a receipt can hold (uint64 at most 20 digits)
        ctx.traps[Inexact] = True
        value = Decimal(text)
        if not value.is_finite():
            raise ValueError(f"{text!r} is not a finite amount")
        scaled = value.scaleb(scale)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{text!r} has more than {scale} decimals")
        return int(scaled)
