"""Pair the invoice with the verified ledger per provider, model and period.

A cell is one (provider, model, UTC day or month). Invoice lines name models as the provider
bills them (dated snapshots such as ``gpt-4o-2024-08-06``); receipts carry the price book's
name (``gpt-4o``). Each billed name is resolved against the ledger's own latest price book by
:class:`receipts.pricing.model_names.ModelNames`, the service's one name resolver, so both sides
meet under the name the receipts carry; a name it cannot place stays as billed.

Every receipt amount and every invoice line lands in exactly one cell, so the matched,
invoice-only and ledger-only amounts add up to each side's total to the last 10^-12 unit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from receipts.pricing.model_names import ModelNames
from receipts.reconcile.causes import Cause, classify
from receipts.reconcile.invoices import NOT_ITEMIZED, InvoiceCell, InvoiceLine
from receipts.reconcile.ledger import CellKey, LedgerCell, LedgerSide
from verifier.rollup import period_of

MATCHED, INVOICE_ONLY, LEDGER_ONLY = "matched", "invoice_only", "ledger_only"


@dataclass
class Cell:
    """Both sides of one provider, model and period, and what explains their difference."""

    provider: str
    model: str
    period: str
    ledger: LedgerCell | None
    invoice: InvoiceCell | None
    causes: list[Cause] = field(default_factory=list)

    @property
    def status(self) -> str:
        """``matched`` (both sides), ``invoice_only`` or ``ledger_only``."""
        if self.ledger is not None and self.invoice is not None:
            return MATCHED
        return INVOICE_ONLY if self.invoice is not None else LEDGER_ONLY

    @property
    def ledger_amount(self) -> int:
        """Priced receipts' cost (unpriced receipts add nothing: their spend is unknown)."""
        return self.ledger.amount if self.ledger is not None else 0

    @property
    def invoice_amount(self) -> int:
        """What the invoice bills."""
        return self.invoice.amount if self.invoice is not None else 0

    @property
    def variance(self) -> int:
        """Invoice minus ledger: positive when the provider billed more than the receipts."""
        return self.invoice_amount - self.ledger_amount

    @property
    def explained(self) -> int:
        """The part of the variance the classified causes account for."""
        return sum(c.amount for c in self.causes if c.amount is not None)

    @property
    def unexplained(self) -> int:
        """What no cause accounts for."""
        return self.variance - self.explained


def billed_model(names: ModelNames | None, provider: str, model: str) -> str:
    """The price book's name for a billed model name, or the name as billed."""
    if names is None or not model:
        return model
    resolved = names.resolve(provider, model)
    return resolved.model if resolved.resolved else model


def match(ledger: LedgerSide, lines: Iterable[InvoiceLine], period: str,
          variance_max: Decimal) -> list[Cell]:
    """Every cell of either side, sorted by period, provider and model, with its causes.

    Only the providers the invoices bill are compared: reconciling one provider's bill says
    nothing about another's receipts (:func:`uninvoiced` lists those). Where a provider's
    invoice lines for a period name no model (a report not grouped by line item), that period's
    receipts of the provider are compared as one cell under :data:`NOT_ITEMIZED`."""
    names = ModelNames(ledger.books[-1]) if ledger.books else None
    invoice: dict[CellKey, InvoiceCell] = {}
    for line in lines:
        when = period_of(line.at_ms, period) or ""
        key = (line.provider, billed_model(names, line.provider, line.model), when)
        invoice.setdefault(key, InvoiceCell()).add(line)
    receipts = _compared_receipts(ledger, invoice)
    keys = sorted(set(invoice) | set(receipts), key=lambda k: (k[2], k[0], k[1]))
    billed_days = {(p, d) for p, _, d in invoice}
    receipt_days = {(p, d) for p, _, d in receipts}
    cells = []
    for key in keys:
        cell = Cell(key[0], key[1], key[2], receipts.get(key), invoice.get(key))
        cell.causes = classify(key, cell.ledger, cell.invoice, ledger, billed_days,
                               receipt_days, variance_max)
        cells.append(cell)
    return cells


def _compared_receipts(ledger: LedgerSide, invoice: dict[CellKey, InvoiceCell]
                       ) -> dict[CellKey, LedgerCell]:
    invoiced = {p for p, _, _ in invoice}
    itemized = {(p, d) for p, m, d in invoice if m != NOT_ITEMIZED}
    whole = {(p, d) for p, m, d in invoice if m == NOT_ITEMIZED} - itemized
    receipts: dict[CellKey, LedgerCell] = {}
    for (provider, model, day), cell in ledger.cells.items():
        if provider not in invoiced:
            continue
        if (provider, day) in whole:
            receipts.setdefault((provider, NOT_ITEMIZED, day), LedgerCell()).merge(cell)
        else:
            receipts[(provider, model, day)] = cell
    return receipts


def uninvoiced(ledger: LedgerSide, cells: Iterable[Cell]) -> dict[str, tuple[int, int]]:
    """Receipts of providers no invoice bills: provider -> (cost, receipts)."""
    compared = {c.provider for c in cells}
    out: dict[str, tuple[int, int]] = {}
    for (provider, _, _), cell in ledger.cells.items():
        if provider not in compared:
            amount, count = out.get(provider, (0, 0))
            out[provider] = (amount + cell.amount, count + cell.receipts)
    return dict(sorted(out.items()))
