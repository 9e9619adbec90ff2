"""A statement as one structure: usage lines by day and model, their receipts, the totals.

Every renderer (JSON, the two CSVs, HTML, PDF) prints this one structure, and both sources
give the same records, so a statement regenerated from the ledger equals the deployment's.

Rules:

* A *line* is one UTC day, provider, model and currency; lines are numbered from 1 in that
  order (``line``), the key the records CSV refers to.
* A line's *cost* is the sum of its priced receipts (exact, 10^-12 units, printed with 12
  decimals); null when none of them is priced: unknown spend is never $0 (spec §8).
  ``unpriced`` counts the receipts without a cost in the currency.
* *Tokens* are summed per usage category as the receipts record them (disjoint categories:
  ``input`` is uncached input).
* The receipts of a line are listed by id, in the order they were issued.
* *Totals* are per currency (one in reporting mode).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from receipts.statements.records import Ask, UsageRecord
from receipts.statements.sources import Usage
from verifier.money import COST_SCALE, format_amount


@dataclass
class Sums:
    """Exact totals of some records."""

    receipts: int = 0
    unpriced: int = 0
    priced: int = 0
    cost: int = 0
    tokens: dict[str, int] = field(default_factory=dict)

    def add(self, r: UsageRecord) -> None:
        """Count one record in."""
        self.receipts += 1
        if r.cost is None:
            self.unpriced += 1
        else:
            self.priced += 1
            self.cost += r.cost
        for category, count in r.tokens.items():
            self.tokens[category] = self.tokens.get(category, 0) + count

    def json(self) -> dict[str, Any]:
        """The sums as a statement prints them."""
        return {"receipts": self.receipts, "unpriced": self.unpriced,
                "tokens": dict(sorted(self.tokens.items())),
                "cost": format_amount(self.cost, COST_SCALE) if self.priced else None}


LineKey = tuple[str, str, str, str]
"""(day, provider, model, currency)."""


def _lines(records: Iterable[UsageRecord]) -> dict[LineKey, tuple[Sums, list[UsageRecord]]]:
    out: dict[LineKey, tuple[Sums, list[UsageRecord]]] = {}
    for r in records:
        sums, mine = out.setdefault((r.day, r.provider, r.model, r.currency), (Sums(), []))
        sums.add(r)
        mine.append(r)
    return out


def build(usage: Usage, ask: Ask) -> dict[str, Any]:
    """The statement as one JSON-ready structure (keys and lists in a fixed order)."""
    lines = []
    totals: dict[str, Sums] = {}
    models: dict[tuple[str, str, str], Sums] = {}
    for n, (key, (sums, mine)) in enumerate(sorted(_lines(usage.records).items()), 1):
        day, provider, model, currency = key
        lines.append({"line": n, "day": day, "provider": provider, "model": model,
                      "currency": currency, **sums.json(),
                      "receipt_ids": [r.id for r in sorted(mine, key=lambda r: (
                          r.issued_at, r.id))]})
        for r in mine:
            totals.setdefault(currency, Sums()).add(r)
            models.setdefault((provider, model, currency), Sums()).add(r)
    return {
        "statement": "tenant", "tenant": ask.tenant, "tenant_tag": ask.tag,
        "month": ask.month, "currency_mode": ask.mode,
        "currency": ask.reporting if ask.mode == "reporting" else None,
        "source": usage.source, "receipts_verified": usage.receipts_verified,
        "lines": lines,
        "models": [{"provider": k[0], "model": k[1], "currency": k[2], **v.json()}
                   for k, v in sorted(models.items())],
        "totals": [{"currency": c, **v.json()} for c, v in sorted(totals.items())],
    }
