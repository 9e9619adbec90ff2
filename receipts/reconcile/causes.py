"""What explains a cell's variance, where the data shows it.

Each :class:`Cause` names a usual reason an invoice and the receipts differ, with the evidence
and, when the data allows, the amount of the variance (invoice minus ledger, 10^-12 units) it
accounts for. What no cause accounts for stays *unexplained*: a cause is never stretched to
cover the whole difference.

* ``alias``: the invoice bills a dated snapshot or alias (``gpt-4o-2024-08-06``) of the model
  the receipts name (``gpt-4o``); matched under one name, it accounts for no money.
* ``batch_discount``: Batch API charges, 50% off the list price the receipts were priced at.
  With lines marked batch (OpenAI ``line_item`` mentioning batch, Anthropic ``service_tier``
  ``batch``) the receipts priced those calls at twice the billed amount: it accounts for minus
  that amount. Without the mark, an invoice within ``--variance-max`` of half the ledger is
  read as a batch month or day billed at half: minus half the ledger.
* ``cache_pricing``: cached input billed at one price and recorded at another. When the invoice
  is broken down by token kind (OpenAI ``cached input``, Anthropic ``cache_read_input_tokens``),
  its cached-input amount over the book's cache-read price is the number of tokens it billed as
  cached; the difference from the cache reads the receipts recorded, times the book's input
  minus cache-read price, is what moving those tokens between the two prices accounts for
  (Batch API lines are counted at their unbatched price: ``batch_discount`` accounts for the
  halving).
* ``missing_day``: invoice charges for a provider on a day (or month) with no receipt of that
  provider at all: the receipts of that day are missing; accounts for the whole amount.
* ``not_billed``: receipts of a provider on a day the invoices bill nothing for it (billing lag,
  or an invoice page not given); accounts for the whole ledger amount.
* ``not_in_ledger`` / ``not_invoiced``: one side only, on a day both sides have that provider.
* ``not_itemized``: the invoice names no model for the provider and period (a report not
  grouped by line item): the provider's receipts of the period are compared as one cell.
* ``unpriced_receipts``: receipts whose model the price book does not price: their spend is
  missing from the ledger amount (not quantified).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from receipts.reconcile.invoices import NOT_ITEMIZED, InvoiceCell
from receipts.reconcile.ledger import CellKey, LedgerCell, LedgerSide

CODES = ("alias", "batch_discount", "cache_pricing", "missing_day", "not_billed",
         "not_in_ledger", "not_invoiced", "not_itemized", "unpriced_receipts")


@dataclass(frozen=True)
class Cause:
    """One reason for a difference: ``amount`` is the part of the variance it accounts for
    (None: shown by the data but not quantifiable)."""

    code: str
    amount: int | None
    detail: str


def classify(key: CellKey, ledger: LedgerCell | None, invoice: InvoiceCell | None,
             side: LedgerSide, billed_days: set[tuple[str, str]],
             receipt_days: set[tuple[str, str]], variance_max: Decimal) -> list[Cause]:
    """The causes the data shows for one cell (``variance_max`` in percent)."""
    provider, model, period = key
    causes: list[Cause] = []
    if model == NOT_ITEMIZED:
        causes.append(Cause("not_itemized", 0, f"the invoice names no model: every {provider} "
                            f"receipt of {period} is compared with its total"))
    elif invoice is not None:
        others = sorted(n for n in invoice.names if n != model)
        if others and ledger is not None:
            causes.append(Cause("alias", 0, f"billed as {', '.join(others)}; the receipts name "
                                f"{model}: the same model in the price book"))
    if ledger is not None and ledger.unpriced:
        causes.append(Cause("unpriced_receipts", None, f"{ledger.unpriced} receipt(s) of "
                            f"{model} have no cost (unpriced by the price book): their spend "
                            "is not in the ledger amount"))
    if ledger is None:
        assert invoice is not None
        if (provider, period) not in receipt_days:
            causes.append(Cause("missing_day", invoice.amount, f"no {provider} receipt at all "
                                f"on {period}: that period's receipts are missing"))
        else:
            causes.append(Cause("not_in_ledger", None, f"billed, but no receipt names {model} "
                                f"on {period}"))
        return causes
    if invoice is None:
        if (provider, period) not in billed_days:
            causes.append(Cause("not_billed", -ledger.amount, f"the invoices bill nothing for "
                                f"{provider} on {period} (billing lag, or a page not given)"))
        else:
            causes.append(Cause("not_invoiced", None, f"receipts, but the invoices do not bill "
                                f"{model} on {period}"))
        return causes
    variance = invoice.amount - ledger.amount
    if variance == 0:
        return causes
    causes += _batch(ledger, invoice, variance, variance_max)
    causes += _cache(side.entry(provider, model), ledger, invoice, variance)
    return causes


def _batch(ledger: LedgerCell, invoice: InvoiceCell, variance: int,
           variance_max: Decimal) -> list[Cause]:
    if invoice.batch > 0:
        if abs(variance + invoice.batch) < abs(variance):  # the discount brings them closer
            return [Cause("batch_discount", -invoice.batch, "the invoice bills Batch API "
                          "charges at 50% off; the receipts priced those calls at the standard "
                          "rate, twice the billed amount")]
        return []
    half = ledger.amount // 2
    if ledger.amount > 0 and abs(invoice.amount - half) * 100 <= variance_max * half:
        return [Cause("batch_discount", -half, "the invoice is half the receipts (within "
                      f"{variance_max}%): the Batch API's 50% discount, not in the receipts")]
    return []


def _cache(entry: dict[str, Any] | None, ledger: LedgerCell, invoice: InvoiceCell,
           variance: int) -> list[Cause]:
    prices = entry.get("prices", {}) if entry else {}
    base, cached = prices.get("input"), prices.get("cache_read")
    if type(base) is not int or type(cached) is not int or cached <= 0 or base <= cached:
        return []  # no flat prices to compare (tiered or missing): not quantifiable here
    if not any(k != "other" for k in invoice.kinds):
        return []  # the invoice does not say what it billed as cached input
    # billed cached tokens x the standard cache-read price (batch lines count at their
    # unbatched price: the batch discount is accounted for apart)
    billed = invoice.standard.get("cache_read", 0)
    recorded = ledger.tokens.get("cache_read", 0)
    # cached tokens the receipts recorded beyond those billed (negative: billed beyond
    # recorded) moved between the input and cache-read prices
    amount = _div_round((recorded * cached - billed) * (base - cached), cached)
    if amount == 0 or abs(variance - amount) >= abs(variance):
        return []
    if amount < 0:
        detail = (f"the invoice bills more cached input than the {recorded} cache-read tokens "
                  "the receipts recorded: the rest was priced as input in the receipts")
    else:
        detail = (f"the receipts recorded {recorded} cache-read tokens; the invoice bills "
                  "fewer as cached input: the rest was billed as plain input")
    ratio = Decimal(base) / Decimal(cached)
    return [Cause("cache_pricing", amount, f"{detail} (input is {ratio:g}x the cache-read "
                  "price)")]


def _div_round(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` (denominator > 0) rounded half to even."""
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient
