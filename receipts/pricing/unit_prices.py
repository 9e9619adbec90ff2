"""Exact conversion of decimal prices into the format's integer unit prices.

A unit price is an integer number of 10^-6 currency units per 1,000,000 units (tokens,
requests, seconds...). Sources quote prices per some other count (``genai-prices``: per 1M
tokens, per 1K requests, per hour of audio). The conversion is done in exact rational arithmetic
and a price that does not land on an integer is refused, never rounded: $3 per audio hour is
833.333... per 1M seconds at 10^-6, and a receipt signed with a rounded price would disagree
with the provider's invoice on every call.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from receipts.errors import InexactPriceError
from verifier.schema import MAX_UINT

UNITS_PER_PRICE = 1_000_000
"""Unit prices are per 1M units."""
MICRO = 1_000_000
"""Unit prices are in 10^-6 currency units."""


def unit_price(value: Decimal | int | str, per: int, where: str) -> int:
    """``value`` currency per ``per`` units as integer 10^-6 currency per 1M units, exactly.

    Raises :class:`InexactPriceError` naming ``where`` when the price is negative, not finite,
    or not representable at that scale.
    """
    if isinstance(value, float):
        raise InexactPriceError(f"{where}: {value!r} is a float; give prices as decimal strings")
    number = Decimal(value)
    if not number.is_finite() or number < 0:
        raise InexactPriceError(f"{where}: {value} is not a finite non-negative price")
    scaled = Fraction(number) * MICRO * UNITS_PER_PRICE / per
    if scaled.denominator != 1:
        raise InexactPriceError(
            f"{where}: {value} per {per:,} units is {_describe(scaled / MICRO)} per 1M units, "
            f"not a whole number of 10^-6 units"
        )
    if scaled > MAX_UINT:
        raise InexactPriceError(f"{where}: {value} per {per:,} units is past the largest unit "
                                f"price the format holds ({_describe(Fraction(MAX_UINT, MICRO))} "
                                "per 1M units)")
    return int(scaled)


def _describe(value: Fraction) -> str:
    """Exact decimal form when it terminates, else 15 significant places and an ellipsis."""
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator == 1:
        digits = 0
        while (value * 10**digits).denominator != 1:
            digits += 1
        return f"{Decimal(value.numerator) / Decimal(value.denominator):.{digits}f}"
    return f"{Decimal(value.numerator) / Decimal(value.denominator):.15f}..."


def price_value(value: Any, per: int, where: str) -> int | dict[str, Any]:
    """A flat or tiered price (``base`` + ``tiers[start, price]``) in the book's integer form."""
    if isinstance(value, dict):
        tiers = [{"start": int(t["start"]), "price": unit_price(t["price"], per, where)}
                 for t in value["tiers"]]
        return {"base": unit_price(value["base"], per, where),
                "tiers": sorted(tiers, key=lambda t: t["start"])}
    return unit_price(value, per, where)


def scale_price(price: int | dict[str, Any], factor: Fraction, where: str) -> int | dict[str, Any]:
    """``price × factor`` (a negotiated discount), refusing results that are not exact."""
    def one(amount: int) -> int:
        scaled = amount * factor
        if scaled.denominator != 1:
            raise InexactPriceError(
                f"{where}: {Decimal(amount) / MICRO} × {factor} is not exact at 10^-6 per 1M"
            )
        return int(scaled)

    if isinstance(price, dict):
        return {"base": one(price["base"]),
                "tiers": [{"start": t["start"], "price": one(t["price"])} for t in price["tiers"]]}
    return one(price)
