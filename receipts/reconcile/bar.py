"""The chargeback bar: when a team's spend is clean enough to bill it (chargeback) rather
than only show it (showback).

One rule, read by ``receipt reconcile`` (per team and for the whole invoice) and by the
monthly report's chargeback section: at least ``attributable_min`` percent of the spend
carries every required tag, and, when an invoice is reconciled, the gross |variance| is at
most ``variance_max`` percent of what the invoice charges. The comparisons are exact integer
arithmetic on 10^-12 units; no rounded percentage ever decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from receipts.errors import FieldProblem, Invalid

PERCENT_PLACES = Decimal("0.0001")
DEFAULT_ATTRIBUTABLE_MIN = Decimal(95)
DEFAULT_VARIANCE_MAX = Decimal(2)


def percent(part: int, whole: int) -> Decimal | None:
    """``part / whole`` in percent, to 4 decimals (None when ``whole`` is 0)."""
    if whole == 0:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(PERCENT_PLACES, ROUND_HALF_EVEN)


def threshold(text: str, name: str) -> Decimal:
    """A percentage option (``95``, ``2.5`` or ``95%``) from 0 to 100, else :class:`Invalid`
    naming ``name``."""
    try:
        value = Decimal(text.strip().removesuffix("%"))
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or not 0 <= value <= 100:
        raise Invalid(f"{name}: {text!r} is not a percentage from 0 to 100",
                      [FieldProblem(name.lstrip("-").replace("-", "_"),
                                    "a percentage from 0 to 100")])
    return value


@dataclass(frozen=True)
class Bar:
    """The chargeback bar: minimum attributable and maximum variance, in percent."""

    attributable_min: Decimal = DEFAULT_ATTRIBUTABLE_MIN
    variance_max: Decimal = DEFAULT_VARIANCE_MAX

    def attributable_ok(self, attributable: int, ledger: int) -> bool:
        """Enough of ``ledger`` carries the required tags (no spend: nothing to charge)."""
        return ledger > 0 and attributable * 100 >= self.attributable_min * ledger

    def variance_ok(self, abs_variance: int, invoice: int, ledger: int) -> bool:
        """The gross |variance| is within the bar of what the invoice charges; with nothing
        charged, only a ledger with spend and no variance passes."""
        if invoice > 0:
            return abs_variance * 100 <= self.variance_max * invoice
        return abs_variance == 0 and ledger > 0

    def met(self, attributable: int, ledger: int, abs_variance: int, invoice: int) -> bool:
        """Both criteria."""
        return (self.attributable_ok(attributable, ledger)
                and self.variance_ok(abs_variance, invoice, ledger))
