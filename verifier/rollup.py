"""Rollups recomputed from receipts: totals per group of tags, period and currency (spec §8).

A :class:`RollupSpec` says how to group; :class:`Rollup` accumulates exact integer totals. Workers
each fill a partial ``Rollup`` and the verifier merges them, so memory grows with the number of
groups, never with the number of receipts. :meth:`Rollup.rows` puts the groups in the order of
spec §8; how rows are printed (JSON, CSV, a table for people) is :mod:`verifier.rollup_view`.

A receipt without the tag grouped by is in the group whose value is ``None`` (*unattributed*),
never in a group named by a string: any string, ``"(unattributed)"`` included, is a value an
agent may send, and must not merge with spend nobody attributed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

UNATTRIBUTED = "(unattributed)"
"""How people are told about the ``None`` group (a note under the table); never a group key."""
PERIODS = ("day", "month")
CURRENCY_MODES = ("native", "reporting")


@dataclass(frozen=True)
class RollupSpec:
    """Grouping: tag names (``provider`` and ``model`` name receipt fields), period, currency;
    ``exclude_retries`` leaves out the receipts that carry ``retry_of`` (first attempts only).
    ``allocations``: group as the ledger's allocation sets need (spec §8.1), which the
    verification fixes once it has read them (:func:`verifier.allocate.allocation_spec`)."""

    by: tuple[str, ...]
    period: str | None = None
    currency: str = "native"
    exclude_retries: bool = False
    allocations: bool = False


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
    """Totals of one group. Money is integer 10^-12 units of ``currency``.

    ``retries`` counts the receipts that carry ``retry_of``; they are in every other total too,
    since a retried call is a real, billed call: the count shows what retrying costs.
    """

    receipts: int = 0
    priced: int = 0
    unpriced: int = 0
    retries: int = 0
    cost: int = 0
    tokens: dict[str, int] = field(default_factory=dict)

    @property
    def amount(self) -> int | None:
        """The group's cost, or None when no receipt of it is priced: such spend is unknown,
        never $0 (spec §8)."""
        return self.cost if self.priced else None

    def merge(self, other: Group) -> None:
        """Add another partial group's totals into this one."""
        self.receipts += other.receipts
        self.priced += other.priced
        self.unpriced += other.unpriced
        self.retries += other.retries
        self.cost += other.cost
        for category, count in other.tokens.items():
            self.tokens[category] = self.tokens.get(category, 0) + count


GroupKey = tuple[str | None, ...]


@dataclass(frozen=True)
class Row:
    """One group as printed: its ``--by`` values (None: unattributed), period, currency, totals."""

    values: tuple[str | None, ...]
    period: str | None
    currency: str | None
    group: Group


def _text_order(value: str | None) -> tuple[bool, str]:
    """Group values compared as text, a missing one (None) before every text."""
    return (value is not None, value or "")


@dataclass
class Rollup:
    """Groups keyed by (tag values..., period, currency); ``excluded_retries`` counts the
    receipts that ``spec.exclude_retries`` left out."""

    spec: RollupSpec
    groups: dict[GroupKey, Group] = field(default_factory=dict)
    excluded_retries: int = 0

    def add(self, receipt: dict[str, Any]) -> None:
        """Account one verified receipt payload."""
        spec = self.spec
        retry = "retry_of" in receipt
        if retry and spec.exclude_retries:
            self.excluded_retries += 1
            return
        tags = receipt["tags"]
        values: list[str | None] = [
            (receipt[name] if name in FIELD_GROUPS else tags.get(name)) or None
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
        if retry:
            group.retries += 1
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
        self.excluded_retries += other.excluded_retries
        for key, group in other.groups.items():
            mine = self.groups.get(key)
            if mine is None:
                self.groups[key] = group
            else:
                mine.merge(group)

    def rows(self) -> list[Row]:
        """The groups sorted by period, then cost (largest first), then group values as text
        (spec §8)."""
        width = len(self.spec.by)

        def order(item: tuple[GroupKey, Group]) -> tuple[Any, ...]:
            key, group = item
            return (key[width] or "", -group.cost, tuple(_text_order(v) for v in key))

        return [Row(key[:width], key[width], key[width + 1], group)
                for key, group in sorted(self.groups.items(), key=order)]
