"""Amounts for people to read: a cost rounded to its currency's minor unit (spec §8).

Receipts hold costs exactly, in 10^-12 currency units, and the machine-readable outputs (JSON,
CSV) keep every digit. A table is read by people, for whom ``0.004500000000`` USD is noise and
``0.00`` is the answer: there an amount is rounded to the currency's minor unit, the exponent
ISO 4217 gives it (USD 2: cents; JPY 0; KWD 3), half to even as the FX conversion rounds
(spec §5.5), so a column of rounded amounts is not biased upwards.

Only the exponents that are not 2 are listed: every other code, including codes ISO 4217 does
not know (a currency is checked for its shape only, spec §3.4), is shown with 2 decimals. The
codes ISO 4217 lists without a minor unit (gold, special drawing rights, test codes...) are
shown exact: rounding them to cents would invent a unit.
"""

from __future__ import annotations

from verifier.money import COST_SCALE, format_amount

EXPONENTS: dict[str, int] = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
                     "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}
"""ISO 4217 minor units other than 2 (the list of 2024; a later change is a table change)."""

NO_MINOR_UNIT = frozenset(("XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT",
                           "XSU", "XTS", "XUA", "XXX"))
"""ISO 4217 codes whose minor unit is "N.A.": shown with every decimal the receipt holds."""

DEFAULT_EXPONENT = 2


def minor_unit_exponent(currency: str) -> int:
    """Decimals a person reads for ``currency``: its ISO 4217 exponent, 12 (exact) when it has
    none, 2 for a code ISO 4217 does not list."""
    if currency in NO_MINOR_UNIT:
        return COST_SCALE
    return EXPONENTS.get(currency, DEFAULT_EXPONENT)


def round_half_even(amount: int, drop: int) -> int:
    """``amount / 10**drop`` rounded half to even (exact integers; ``drop`` >= 0)."""
    unit: int = 10**drop
    quotient, remainder = divmod(amount, unit)
    twice = 2 * remainder
    if twice > unit or (twice == unit and quotient % 2 == 1):
        quotient += 1
    return quotient


def display_amount(cost: int, currency: str) -> str:
    """A cost in 10^-12 units of ``currency`` as a person reads it: rounded half to even to
    the currency's minor unit (``"1234.57"`` USD, ``"1235"`` JPY)."""
    exponent = minor_unit_exponent(currency)
    return format_amount(round_half_even(cost, COST_SCALE - exponent), exponent)
