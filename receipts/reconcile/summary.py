"""One reconciliation: the cells, each side's totals, the chargeback and the verdict.

The totals are sums of the cells, so the identity finance checks first holds by construction
and is tested: matched + ledger-only = the ledger total, matched + invoice-only = the invoice
total, exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from receipts.reconcile.invoices import InvoiceLine
from receipts.reconcile.ledger import LedgerSide
from receipts.reconcile.matching import (
    INVOICE_ONLY,
    LEDGER_ONLY,
    MATCHED,
    Cell,
    match,
    uninvoiced,
)
from receipts.reconcile.teams import Bar, Chargeback, chargeback


@dataclass
class Totals:
    """Sums over cells (10^-12 units): each side split by status, variance net and gross."""

    ledger: int = 0
    invoice: int = 0
    matched_ledger: int = 0
    matched_invoice: int = 0
    ledger_only: int = 0
    invoice_only: int = 0
    abs_variance: int = 0
    explained: int = 0
    attributable: int = 0

    @property
    def variance(self) -> int:
        """Invoice minus ledger."""
        return self.invoice - self.ledger

    @property
    def unexplained(self) -> int:
        """Net variance no cause accounts for."""
        return self.variance - self.explained


@dataclass
class Reconciliation:
    """Everything the report prints."""

    ledger: LedgerSide
    invoices: tuple[str, ...]
    period: str
    require: tuple[str, ...]
    bar: Bar
    cells: list[Cell]
    totals: Totals
    teams: Chargeback
    uninvoiced: dict[str, tuple[int, int]]

    @property
    def currency(self) -> str:
        """The invoice currency every amount is in."""
        return self.ledger.currency

    @property
    def met(self) -> bool:
        """Whether the whole meets the chargeback bar."""
        t = self.totals
        return self.bar.met(t.attributable, t.ledger, t.abs_variance, t.invoice)


def reconcile(ledger: LedgerSide, lines: Iterable[InvoiceLine], invoices: tuple[str, ...],
              period: str, require: tuple[str, ...], bar: Bar) -> Reconciliation:
    """Match, classify, total and charge back."""
    cells = match(ledger, lines, period, bar.variance_max)
    totals = Totals()
    for cell in cells:
        totals.ledger += cell.ledger_amount
        totals.invoice += cell.invoice_amount
        totals.abs_variance += abs(cell.variance)
        totals.explained += cell.explained
        if cell.status == MATCHED:
            totals.matched_ledger += cell.ledger_amount
            totals.matched_invoice += cell.invoice_amount
        elif cell.status == LEDGER_ONLY:
            totals.ledger_only += cell.ledger_amount
        else:
            assert cell.status == INVOICE_ONLY
            totals.invoice_only += cell.invoice_amount
        if cell.ledger is not None:
            totals.attributable += sum(p.attributable for p in cell.ledger.teams.values())
    return Reconciliation(ledger, invoices, period, require, bar, cells, totals,
                          chargeback(cells), uninvoiced(ledger, cells))
