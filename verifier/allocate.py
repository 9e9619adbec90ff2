"""Applying allocation sets to a month's verified totals (spec §8.1), exactly.

The input is a rollup grouped by every name the ledger's sets read (their ``by``, the names
their splits match and their distributions are scoped by), per month, in the reporting
currency: :func:`allocation_spec` says which. So the allocation reads the same verified totals
as every other rollup, and never a receipt the verification did not pass. Each rule gives
groups *lines*; a group's total is its receipts' cost plus its lines, and the groups' totals
add up to the month's invoice total to the 10^-12 unit (:func:`share_out` hands out every unit
of a pool).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from verifier.allocation import AllocationSet, Distribute, Fixed, Split, in_force
from verifier.rollup import Rollup, RollupSpec

Group = str | None
G = TypeVar("G", bound=str | None)


def group_order(group: Group) -> tuple[bool, str]:
    """Spec §8's order of group values: a missing value first, then text order."""
    return (group is not None, group or "")


def share_out(pool: int, weights: Mapping[G, int], unit: int) -> dict[G, int]:
    """Share ``pool`` among the groups of positive weight in whole ``unit``s by the
    largest-remainder rule (spec §7.8); the parts add up to ``pool`` exactly."""
    positive = [(g, w) for g, w in weights.items() if w > 0]
    total = sum(w for _, w in positive)
    if not positive or pool == 0:
        return {}
    parts: dict[G, int] = {}
    remainders: list[tuple[int, G]] = []
    for group, weight in positive:
        base = pool * weight // (total * unit) * unit
        parts[group] = base
        remainders.append((pool * weight - base * total, group))
    left = pool - sum(parts.values())
    order = [g for _, g in sorted(remainders, key=lambda r: (-r[0], group_order(r[1])))]
    for group in order:  # each group gets at most one more unit (every floor lost < one)
        if left <= 0:
            break
        step = min(unit, left)
        parts[group] += step
        left -= step
    return parts


@dataclass(frozen=True)
class Cell:
    """Verified totals of the receipts of one month that share every name's value."""

    values: Mapping[str, str | None]
    receipts: int
    unpriced: int
    cost: int


@dataclass
class AllocatedRow:
    """One group's month (spec §8.1): its receipts' cost, its lines, its total."""

    by: str
    group: Group
    period: str
    currency: str | None
    allocation_set: bytes | None
    receipts: int = 0
    unpriced: int = 0
    receipts_cost: int = 0
    lines: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Receipts' cost plus every line."""
        return self.receipts_cost + sum(self.lines.values())


def allocation_spec(sets: Sequence[AllocationSet], exclude_retries: bool = False) -> RollupSpec:
    """The rollup that holds what :func:`allocate` needs: grouped by every name the sets
    read, per month, in the reporting currency."""
    names: list[str] = []
    for aset in sets:
        names += [n for n in aset.names if n not in names]
    return RollupSpec(tuple(names), "month", "reporting", exclude_retries)


def cells(rollup: Rollup) -> dict[str, list[Cell]]:
    """The rollup's groups as cells, per month."""
    by_month: dict[str, list[Cell]] = defaultdict(list)
    for row in rollup.rows():
        assert row.period is not None
        values = dict(zip(rollup.spec.by, row.values, strict=True))
        by_month[row.period].append(Cell(values, row.group.receipts, row.group.unpriced,
                                         row.group.cost))
    return by_month


def allocate(rollup: Rollup, sets: Sequence[AllocationSet]) -> list[AllocatedRow]:
    """Every month of ``rollup`` (from :func:`allocation_spec`) with the set in force applied
    (a month without one: its groups by the earliest set's ``by``, without lines)."""
    if not sets:
        return []
    earliest = min(sets, key=lambda s: (s.effective_from, s.created_at, s.id))
    currency = earliest.currency
    rows: list[AllocatedRow] = []
    for month, month_cells in sorted(cells(rollup).items()):
        aset = in_force(sets, month)
        rows += _month(aset or earliest, aset is not None, month, month_cells, currency)
    return rows


def _matches(values: Mapping[str, str | None], wanted: Mapping[str, str]) -> bool:
    return all(values.get(name) == value for name, value in wanted.items())


class _Month:
    """One month's accounting under one set."""

    def __init__(self, aset: AllocationSet, month: str, month_cells: Iterable[Cell],
                 currency: str | None) -> None:
        self.aset = aset
        self.splits = [r for r in aset.rules if isinstance(r, Split)]
        self.cells = [(c, self._taken_by(c)) for c in month_cells]
        self.rows: dict[Group, AllocatedRow] = {}
        self.month, self.currency = month, currency

    def _taken_by(self, cell: Cell) -> int | None:
        """The first split rule whose ``match`` the cell meets (spec §8.1 step 2)."""
        for k, rule in enumerate(self.splits):
            if _matches(cell.values, rule.match):
                return k
        return None

    def row(self, group: Group) -> AllocatedRow:
        row = self.rows.get(group)
        if row is None:
            row = self.rows[group] = AllocatedRow(self.aset.by, group, self.month,
                                                  self.currency, self.aset.id)
        return row

    def receipts(self) -> None:
        """Step 1: each group's receipts and their cost."""
        for cell, _ in self.cells:
            row = self.row(cell.values.get(self.aset.by))
            row.receipts += cell.receipts
            row.unpriced += cell.unpriced
            row.receipts_cost += cell.cost

    def spend(self, scope: Mapping[str, str]) -> dict[Group, int]:
        """Steps 2-3: cost per group after the splits, of the receipts matching ``scope``;
        ``lines`` also records each split's lines when the scope is empty."""
        spend: dict[Group, int] = defaultdict(int)
        pools = [0] * len(self.splits)
        for cell, taken in self.cells:
            if not _matches(cell.values, scope):
                continue
            group = cell.values.get(self.aset.by)
            spend[group] += cell.cost
            if taken is not None:
                spend[group] -= cell.cost
                pools[taken] += cell.cost
                if not scope:
                    self._line(group, self.splits[taken].name, -cell.cost)
        for rule, pool in zip(self.splits, pools, strict=True):
            for group, part in share_out(pool, rule.ratios, rule.unit).items():
                spend[group] += part
                if not scope and part:
                    self._line(group, rule.name, part)
        return spend

    def _line(self, group: Group, name: str, amount: int) -> None:
        lines = self.row(group).lines
        lines[name] = lines.get(name, 0) + amount

    def charges(self, spend: Mapping[Group, int]) -> None:
        """Step 4: the fixed and distributed lines, in set order."""
        for rule in self.aset.rules:
            sign = -1 if getattr(rule, "credit", False) else 1
            if isinstance(rule, Fixed):
                for group, quantity in rule.quantities.items():
                    if quantity:
                        self._line(group, rule.name, sign * quantity * rule.unit_price)
            elif isinstance(rule, Distribute):
                weights: Mapping[Group, int] = (
                    self.spend(rule.scope) if rule.scope else spend)
                if rule.weights is not None:
                    weights = {g: w for g, w in rule.weights.items()}  # noqa: C416 (typing)
                parts = share_out(rule.amount, weights, rule.unit) or {None: rule.amount}
                for receiver, part in parts.items():
                    if part:
                        self._line(receiver, rule.name, sign * part)


def _month(aset: AllocationSet, apply: bool, month: str, month_cells: Iterable[Cell],
           currency: str | None) -> list[AllocatedRow]:
    state = _Month(aset, month, month_cells, currency)
    state.receipts()
    if apply:
        state.charges(state.spend({}))
    else:
        for row in state.rows.values():
            row.allocation_set = None
    return sorted(state.rows.values(), key=lambda r: (-r.total, group_order(r.group)))


def invoice_total(rows: Iterable[AllocatedRow]) -> int:
    """The sum of the rows' totals: every receipt and every fixed or distributed amount."""
    return sum(r.total for r in rows)
