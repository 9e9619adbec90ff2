"""One calendar month of a ledger reconciled with invoices, for the monthly report.

``receipt report --invoice FILE...`` needs, per team, what ``receipt reconcile`` computes:
the invoice charged to the team in proportion to its receipts and the team's gross
|variance|. This runs the same reconciliation (:func:`receipts.reconcile.summary.reconcile`,
per UTC day) on the month only: invoice lines charged in the month, receipts issued in it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from receipts.errors import UnreadableInvoice
from receipts.reconcile.bar import Bar
from receipts.reconcile.invoices import one_currency, read_invoices
from receipts.reconcile.ledger import load_ledger
from receipts.reconcile.summary import reconcile
from receipts.reconcile.teams import TeamRow
from verifier.keys import PublicKey


@dataclass(frozen=True)
class Reconciled:
    """The month's chargeback per team (money in 10^-12 units of ``currency``, the
    invoices')."""

    invoices: tuple[str, ...]
    currency: str
    teams: Mapping[str | None, TeamRow]


def _month_ms(month: str) -> tuple[int, int]:
    first = dt.datetime.strptime(month + "-01", "%Y-%m-%d").replace(tzinfo=dt.UTC)
    nxt = first.replace(year=first.year + first.month // 12, month=first.month % 12 + 1)
    return int(first.timestamp()) * 1000, int(nxt.timestamp()) * 1000


def reconcile_month(path: Path, keys: tuple[PublicKey, ...], invoices: tuple[str, ...],
                    mapping: Mapping[str, str], month: str, require: tuple[str, ...],
                    bar: Bar, workers: int = 0) -> Reconciled:
    """Verify ``path``, reconcile its receipts of ``month`` with the invoices' lines of the
    month, and charge each team its share."""
    low, high = _month_ms(month)
    lines = [line for line in read_invoices(invoices, mapping) if low <= line.at_ms < high]
    if not lines:
        raise UnreadableInvoice(f"{', '.join(invoices)}: no charge in {month}: the invoices "
                                "bill another month")
    side = load_ledger(path, keys, one_currency(lines), "day", require, workers)
    side.cells = {k: v for k, v in side.cells.items() if k[2][:7] == month}
    result = reconcile(side, lines, invoices, "day", require, bar)
    return Reconciled(invoices, result.currency, {r.team: r for r in result.teams.teams})
