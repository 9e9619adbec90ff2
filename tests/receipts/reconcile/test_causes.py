"""Causes on hand-made cells: amounts that explain the variance to the last unit."""

from __future__ import annotations

from decimal import Decimal

from receipts.pricing.books import shipped_price_book
from receipts.reconcile.invoices import InvoiceLine
from receipts.reconcile.ledger import LedgerCell, LedgerSide, TeamPart
from receipts.reconcile.summary import Reconciliation, reconcile
from receipts.reconcile.teams import Bar

T0 = 1_764_547_200_000  # 2025-12-01
USD = 10**12
BAR = Bar(Decimal(95), Decimal(2))


def side(model: str, amount: int, **tokens: int) -> LedgerSide:
    cell = LedgerCell(amount, 10, 0, dict(tokens), {"search": TeamPart(amount, amount, 10)})
    return LedgerSide("l", "USD", "native", {("openai", model, "2025-12-01"): cell},
                      [shipped_price_book()[1]], 10)


def line(model: str, amount: int, kind: str | None = None, batch: bool = False
         ) -> InvoiceLine:
    return InvoiceLine("x", "openai", model, T0 + 1000, amount, "USD", kind, batch)


def run(ledger: LedgerSide, *lines: InvoiceLine) -> Reconciliation:
    return reconcile(ledger, list(lines), ("x",), "day", ("team",), BAR)


def test_batch_and_cache_together_explain_every_unit() -> None:
    # receipts: 1M gpt-4o input tokens at $2.50/M, no cache reads recorded
    ledger = side("gpt-4o", 5 * USD // 2, input=1_000_000)
    # the bill: batch, 600k input at $1.25/M and 400k cached at $0.625/M
    result = run(ledger, line("gpt-4o-2024-08-06", 0),
                 line("gpt-4o", 3 * USD // 4, "input", True),
                 line("gpt-4o", USD // 4, "cache_read", True))
    (cell,) = result.cells
    assert cell.variance == -3 * USD // 2
    assert {c.code: c.amount for c in cell.causes} == {
        "alias": 0, "batch_discount": -USD, "cache_pricing": -USD // 2}
    assert cell.unexplained == 0


def test_half_the_receipts_unmarked_reads_as_batch() -> None:
    result = run(side("gpt-4o", 2 * USD + 1), line("gpt-4o", USD))
    (cell,) = result.cells
    assert [(c.code, c.amount) for c in cell.causes] == [("batch_discount", -USD)]
    assert cell.unexplained == -1  # the odd unit the half leaves
    assert not result.met


def test_no_cause_is_stretched_to_cover_a_difference() -> None:
    result = run(side("gpt-4o", 2 * USD, input=800_000), line("gpt-4o", 3 * USD))
    (cell,) = result.cells
    assert cell.causes == [] and cell.unexplained == USD  # not itemized by kind: no cache
    tiered = LedgerSide("l", "USD", "native", {("google", "gemini-2.5-pro", "2025-12-01"):
                                               LedgerCell(USD, 1, 0, {"input": 10},
                                                          {None: TeamPart(USD, 0, 1)})},
                        [shipped_price_book()[1]], 1)
    result = reconcile(tiered, [InvoiceLine("x", "google", "gemini-2.5-pro", T0, USD // 3,
                                            "USD", "cache_read")], ("x",), "day", ("team",),
                       BAR)
    assert [c.code for c in result.cells[0].causes] == []  # tiered prices: not quantified
    assert result.teams.teams[0].team is None and not result.met  # 0% attributable


def test_an_exact_match_within_the_bar() -> None:
    result = run(side("gpt-4o", 100 * USD), line("gpt-4o", 100 * USD + USD))
    assert result.met  # 1% of the invoice
    result = run(side("gpt-4o", 100 * USD), line("gpt-4o", 103 * USD))
    assert not result.met
