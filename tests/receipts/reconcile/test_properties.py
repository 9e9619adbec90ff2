"""Properties finance relies on: every 10^-12 unit of either side is in exactly one place."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from receipts.reconcile.invoices import NOT_ITEMIZED, InvoiceLine
from receipts.reconcile.ledger import LedgerCell, LedgerSide, TeamPart
from receipts.reconcile.matching import INVOICE_ONLY, LEDGER_ONLY, MATCHED
from receipts.reconcile.summary import reconcile
from receipts.reconcile.teams import Bar, allocate

DAY_MS = 86_400_000
T0 = 1_764_547_200_000
PROVIDERS = st.sampled_from(["openai", "anthropic", "google"])
MODELS = st.sampled_from(["m1", "m2", "m3"])
BILLED_MODELS = st.sampled_from(["m1", "m2", "m3", NOT_ITEMIZED])
DAYS = st.integers(0, 3)
TEAMS = st.sampled_from(["search", "support", None])
AMOUNTS = st.integers(0, 10**15)


@st.composite
def ledger_sides(draw: st.DrawFn) -> LedgerSide:
    cells: dict[tuple[str, str, str], LedgerCell] = {}
    for _ in range(draw(st.integers(0, 12))):
        key = (draw(PROVIDERS), draw(MODELS), f"2025-12-0{draw(DAYS) + 1}")
        cell = cells.setdefault(key, LedgerCell())
        team = draw(TEAMS)
        amount = draw(AMOUNTS)
        part = cell.teams.setdefault(team, TeamPart())
        part.amount += amount
        part.attributable += amount if team is not None and draw(st.booleans()) else 0
        part.receipts += 1
        cell.amount += amount
        cell.receipts += 1
        cell.tokens["cache_read"] = draw(st.integers(0, 10**6))
    return LedgerSide("ledger", "USD", "native", cells, [], sum(c.receipts
                                                                for c in cells.values()))


@st.composite
def invoice_lines(draw: st.DrawFn) -> list[InvoiceLine]:
    return [InvoiceLine(f"x:{i}", draw(PROVIDERS), draw(BILLED_MODELS),
                        T0 + draw(DAYS) * DAY_MS + draw(st.integers(0, DAY_MS - 1)),
                        draw(st.integers(-10**12, 10**15)), "USD",
                        draw(st.sampled_from([None, "input", "cache_read", "output"])),
                        draw(st.booleans()))
            for i in range(draw(st.integers(0, 15)))]


@settings(max_examples=120, deadline=None)
@given(ledger_sides(), invoice_lines(), st.sampled_from(["day", "month"]))
def test_matched_and_one_sided_amounts_add_up_to_both_totals(
        side: LedgerSide, lines: list[InvoiceLine], period: str) -> None:
    bar = Bar(Decimal(95), Decimal(2))
    result = reconcile(side, lines, ("x",), period, ("team",), bar)
    t = result.totals
    invoiced = {line.provider for line in lines}
    ledger_total = sum(c.amount for k, c in side.cells.items() if k[0] in invoiced)
    not_compared = sum(c.amount for k, c in side.cells.items() if k[0] not in invoiced)
    invoice_total = sum(line.amount for line in lines)
    assert t.matched_ledger + t.ledger_only == t.ledger == ledger_total
    assert t.matched_invoice + t.invoice_only == t.invoice == invoice_total
    assert sum(a for a, _ in result.uninvoiced.values()) == not_compared
    by_status = {s: sum(c.ledger_amount for c in result.cells if c.status == s)
                 for s in (MATCHED, LEDGER_ONLY)}
    assert by_status[MATCHED] == t.matched_ledger and by_status[LEDGER_ONLY] == t.ledger_only
    assert sum(c.invoice_amount for c in result.cells if c.status == INVOICE_ONLY) == \
        t.invoice_only
    assert t.variance == sum(c.variance for c in result.cells)
    assert t.explained + t.unexplained == t.variance
    for c in result.cells:
        assert c.explained + c.unexplained == c.variance
    charged = sum(r.charged for r in result.teams.teams)
    assert charged + result.teams.unallocated == invoice_total
    assert sum(r.ledger for r in result.teams.teams) == ledger_total


@given(st.integers(-10**18, 10**18),
       st.lists(st.integers(0, 10**15), min_size=1, max_size=8).filter(lambda w: sum(w) > 0))
def test_allocation_is_exact_and_proportional(total: int, weights: list[int]) -> None:
    shares = allocate(total, weights)
    assert sum(shares) == total
    whole = sum(weights)
    for share, weight in zip(shares, weights, strict=True):
        assert abs(share * whole - total * weight) < whole  # within one unit of the exact part
