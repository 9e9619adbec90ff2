"""Rollups recomputed from receipts: totals per group of tags, period and currency (spec §8).

A :class:`RollupSpec` says how to group; :class:`Rollup` accumulates exact integer totals. Workers
each fill a partial ``Rollup`` and the verifier merges them, so memory grows with the number of
groups, never with the number of receipts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

UNATTRIBUTED = "(unattributed)"
PERIODS = ("day", "month")
CURRENCY_MODES = ("native", "reporting")


@dataclass(frozen=True)
class RollupSpec:
    """Grouping: tag names (``provider`` and ``model`` name receipt fields), period, currency."""

    by: tuple[str, ...]
    period: str | None = None
    currency: str = "native"


FIELD_GROUPS = ("provider", "model", "agent", "chain", "status", "pricing_status")
"""Group names that read a receipt field rather than a tag (a tag of that name is ignored)."""


DAY_MS = 86_400_000
_days: dict[int, str] = {}


def utc_day(ms: int) -> str:
    """The UTC date ``YYYY-MM-DD`` of a millisecond timestamp (cached: receipts share days)."""
    index = ms // DAY_MS
    day = _days.get(index)
    if day is None:
        day = dt.datetime.fromtimestamp(index * 86_400, tz=dt.UTC).strftime("%Y-%m-%d")
        if len(_days) < 100_000:
            _days[index] = day
    return day


def period_of(issued_at_ms: int, period: str | None) -> str | None:
    """``2026-11-25`` or ``2026-11`` in UTC, or None when not grouping by period."""
    if period is None:
        return None
    day = utc_day(issued_at_ms)
    return day if period == "day" else day[:7]


@dataclass
class Group:
    """Totals of one group. Money is integer 10^-12 units of ``currency``."""

    receipts: int = 0
    priced: int = 0
    unpriced: int = 0
    cost: int = 0
    tokens: dict[str, int] = field(default_factory=dict)

    def merge(self, other: Group) -> None:
        """Add another partial group's totals into this one."""
        self.receipts += other.receipts
        self.priced += other.priced
        self.unpriced += other.unpriced
        self.cost += other.cost
        for category, count in other.tokens.items():
            self.tokens[category] = self.tokens.get(category, 0) + count


GroupKey = tuple[str | None, ...]


@dataclass
class Rollup:
    """Groups keyed by (tag values..., period, currency)."""

    spec: RollupSpec
    groups: dict[GroupKey, Group] = field(default_factory=dict)

    def add(self, receipt: dict[str, Any]) -> None:
        """Account one verified receipt payload."""
        spec = self.spec
        tags = receipt["tags"]
        values: list[str | None] = [
            (receipt[name] if name in FIELD_GROUPS else tags.get(name)) or UNATTRIBUTED
            for name in spec.by
        ]
        values.append(period_of(receipt["issued_at"], spec.period))
        if spec.currency == "reporting":
            fx = receipt["fx"]
            values.append(fx["currency"] if fx else None)
            amount = receipt["cost_reporting"]
        else:
            values.append(receipt["currency"])
            amount = receipt["cost"]
        key = tuple(values)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = Group()
        group.receipts += 1
        if amount is None:
            group.unpriced += 1
        else:
            group.priced += 1
            group.cost += amount
        tokens = group.tokens
        for category, count in receipt["usage"].items():
            tokens[category] = tokens.get(category, 0) + count

    def merge(self, other: Rollup) -> None:
        """Merge a worker's partial rollup."""
        for key, group in other.groups.items():
            mine = self.groups.get(key)
            if mine is None:
                self.groups[key] = group
            else:
                mine.merge(group)
