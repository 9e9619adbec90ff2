"""Whether a call's cost fits a receipt: the format holds costs as unsigned 64-bit integers.

Costs are in 10^-12 currency units (spec §6), so a receipt holds at most 18,446,744.07...
currency units per call, in the book's currency and in the reporting currency. No LLM call costs
that; a call that would is wrong input (its usage, or an operator's price), and it is refused
before anything is signed: a signed receipt beyond the range would make the whole ledger fail
verification. The exact check bills the call; a bound from the book's largest unit price and
the largest FX rate lets nearly every call skip it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from verifier.money import COST_SCALE, FX_ONE, format_amount
from verifier.pricing import PriceBook
from verifier.schema import MAX_UINT

MAX_COST = MAX_UINT
"""The largest ``cost`` and ``cost_reporting`` a receipt holds (10^-12 currency units)."""

_LIMIT: int = MAX_COST * FX_ONE
"""The bound compared at the FX rate's scale (10^-9)."""

_LARGEST_PRICE: dict[bytes, int] = {}


def largest_unit_price(book: PriceBook) -> int:
    """The book's largest unit price over every entry, service tier and price tier."""
    found = _LARGEST_PRICE.get(book.id)
    if found is None:
        found = max((_largest(prices) for entry in book.entries.values()
                     for prices in (entry["prices"], *entry.get("service_tiers", {}).values())),
                    default=0)
        _LARGEST_PRICE[book.id] = found
    return found


def _largest(prices: Mapping[str, Any]) -> int:
    return max((price if type(price) is int
                else max(price["base"], *(t["price"] for t in price["tiers"]))
                for price in prices.values()), default=0)


def surely_fits(units: int, book: PriceBook, largest_rate: int) -> bool:
    """Whether ``units`` (every count of a call, summed) cannot cost more than a receipt holds
    under ``book`` and any FX rate up to ``largest_rate`` (False: bill the call to know)."""
    bound: int = units * largest_unit_price(book) * max(largest_rate, FX_ONE)
    return bound <= _LIMIT


def overflow(pricing: Mapping[str, Any]) -> str | None:
    """Why a receipt's pricing fields do not fit the format, or None when they do."""
    for name, currency in (("cost", pricing["currency"]),
                           ("cost_reporting", (pricing["fx"] or {}).get("currency"))):
        amount = pricing[name]
        if amount is not None and amount > MAX_COST:
            return (f"this call would cost {format_amount(amount, COST_SCALE)} {currency} "
                    f"({name}), more than a receipt holds "
                    f"({format_amount(MAX_COST, COST_SCALE)}): check its usage and prices")
    return None
