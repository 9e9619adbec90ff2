"""Chargeback: each team's share of the invoice, its variance, and the confidence bar.

The invoice does not know teams; the receipts do. A matched cell's invoice amount is charged
to the teams in proportion to their receipts' cost in that cell, in whole 10^-12 units by the
largest-remainder rule, so the teams' charges add up to the invoice exactly. A team's
*variance* is the sum over cells of |charged − its receipts| (a ledger-only cell charges
nothing: the whole receipt amount is variance); invoice-only cells have no receipts to follow
and stay *unallocated*. *Attributable* spend is the cost of receipts carrying every required
tag; receipts without a team are the ``None`` team (shown as unattributed).

The bar (:mod:`receipts.reconcile.bar`: by default at least 95% attributable, at most 2%
variance) is applied per team and to the whole: overall variance is the sum of every cell's
|variance| over the invoice total, so an overcharge on one day never hides a missing day on
another.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from receipts.reconcile.bar import Bar, percent
from receipts.reconcile.matching import Cell

__all__ = ["Bar", "Chargeback", "TeamRow", "allocate", "chargeback", "percent"]
"""``Bar`` and ``percent`` live in :mod:`receipts.reconcile.bar` (the report applies the
same bar); they are named here too for the callers that import them from here."""


@dataclass
class TeamRow:
    """One team's totals (money in 10^-12 units of the invoice currency)."""

    team: str | None
    ledger: int = 0
    attributable: int = 0
    charged: int = 0
    variance: int = 0
    abs_variance: int = 0
    receipts: int = 0
    unpriced: int = 0


def allocate(total: int, weights: list[int]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` (non-negative, not all 0) into integers
    that add up to ``total`` exactly: floors, then the largest remainders get one unit more."""
    whole = sum(weights)
    shares = [total * w // whole for w in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    for i in remainders[: total - sum(shares)]:
        shares[i] += 1
    return shares


@dataclass
class Chargeback:
    """Per-team rows and what no team can be charged."""

    teams: list[TeamRow] = field(default_factory=list)
    unallocated: int = 0


def chargeback(cells: Iterable[Cell]) -> Chargeback:
    """Charge every matched cell's invoice amount to its teams."""
    rows: dict[str | None, TeamRow] = {}
    result = Chargeback()
    for cell in cells:
        if cell.ledger is None:
            result.unallocated += cell.invoice_amount
            continue
        parts = sorted(cell.ledger.teams.items(), key=lambda kv: (kv[0] is not None, kv[0] or ""))
        weights = [p.amount for _, p in parts]
        if cell.invoice_amount and sum(weights) > 0:
            charges = allocate(cell.invoice_amount, weights)
        else:
            charges = [0] * len(parts)
            result.unallocated += cell.invoice_amount
        for (team, part), charged in zip(parts, charges, strict=True):
            row = rows.setdefault(team, TeamRow(team))
            row.ledger += part.amount
            row.attributable += part.attributable
            row.charged += charged
            row.variance += charged - part.amount
            row.abs_variance += abs(charged - part.amount)
            row.receipts += part.receipts
            row.unpriced += part.unpriced
    result.teams = sorted(rows.values(), key=lambda r: (r.team is None, -r.charged,
                                                        r.team or ""))
    return result
