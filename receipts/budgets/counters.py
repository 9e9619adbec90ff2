# ruff: noqa: S608 - SQL text holds only fixed names and driver placeholders, never values
"""Per-budget, per-period counters (spent, reserved) and daily spend: locked, read, written.

Everything that changes a counter (the receipt append, an authorization, a settlement, an
expiry, an approval) locks the rows it changes in one order, by budget id then period start,
so two transactions never wait on each other in a circle. PostgreSQL: ``SELECT ... FOR
UPDATE``; SQLite: the writer lock every write transaction takes at ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from receipts.budgets.raw import Raw

CounterKey = tuple[str, int]
"""(budget id, period start)."""
COUNTERS = "receipts_budget_counter"
DAYS = "receipts_budget_day"
HOLDS = "receipts_budget_hold"


@dataclass
class Counter:
    """One period's counter as read under its lock."""

    period_end: int
    spent: int = 0
    reserved: int = 0
    receipts: int = 0
    unpriced: int = 0


def _chunks(items: list[str], size: int = 500) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


_CREATED: set[CounterKey] = set()
"""Counters this process has seen exist. A period's counter is made once and then locked by
every authorization of the period, so :func:`lock` inserts only keys not in here; one that
was deleted since (its budget replaced or deleted) is found missing, and made then."""
_CREATED_MAX = 100_000


def _create(raw: Raw, keys: Mapping[CounterKey, int], ordered: list[CounterKey]) -> None:
    zero = raw.money(0)
    raw.insert_ignore(COUNTERS, ("budget_id", "period_start", "period_end", "spent", "reserved",
                                 "receipts", "unpriced"),
                      ((b, s, keys[(b, s)], zero, zero, 0, 0) for b, s in ordered))


def lock(raw: Raw, keys: Mapping[CounterKey, int]) -> dict[CounterKey, Counter]:
    """The counters of ``keys`` (key -> period end), created at zero if absent, locked."""
    if not keys:
        return {}
    ordered = sorted(keys)
    fresh = [k for k in ordered if k not in _CREATED]
    if fresh:
        _create(raw, keys, fresh)
    found = _select(raw, keys, ordered)
    missing = [k for k in ordered if k not in found]
    if missing:  # (deleted since this process saw them)
        _create(raw, keys, missing)
        found.update(_select(raw, keys, missing))
    if len(_CREATED) > _CREATED_MAX:
        _CREATED.clear()
    _CREATED.update(found)
    return found


def _select(raw: Raw, keys: Mapping[CounterKey, int], ordered: list[CounterKey],
            ) -> dict[CounterKey, Counter]:
    """Lock and read the counters of ``ordered`` (in budget id, period start order)."""
    budgets = sorted({b for b, _ in ordered})
    starts = sorted({s for _, s in ordered})
    found: dict[CounterKey, Counter] = {}
    for chunk in _chunks(budgets):
        for b, s, end, spent, reserved, receipts, unpriced in raw.rows(
                f"SELECT budget_id, period_start, period_end, spent, reserved, receipts, unpriced "
                f"FROM {COUNTERS} WHERE budget_id IN ({raw.marks(len(chunk))}) AND period_start "
                f"IN ({raw.marks(len(starts))}) ORDER BY budget_id, period_start{raw.for_update}",
                (*chunk, *starts)):
            if (b, s) in keys:
                found[(b, s)] = Counter(end, int(spent), int(reserved), receipts, unpriced)
    return found


def read(raw: Raw, keys: Iterable[CounterKey]) -> dict[CounterKey, Counter]:
    """Counters without locking (a view; absent ones are not returned)."""
    wanted = set(keys)
    budgets = sorted({b for b, _ in wanted})
    found: dict[CounterKey, Counter] = {}
    for chunk in _chunks(budgets):
        for b, s, end, spent, reserved, receipts, unpriced in raw.rows(
                f"SELECT budget_id, period_start, period_end, spent, reserved, receipts, unpriced "
                f"FROM {COUNTERS} WHERE budget_id IN ({raw.marks(len(chunk))})", chunk):
            if (b, s) in wanted:
                found[(b, s)] = Counter(end, int(spent), int(reserved), receipts, unpriced)
    return found


def save(raw: Raw, counters: Mapping[CounterKey, Counter]) -> None:
    """Write back counters read with :func:`lock`."""
    raw.many(f"UPDATE {COUNTERS} SET spent = {raw.p}, reserved = {raw.p}, receipts = {raw.p}, "
             f"unpriced = {raw.p} WHERE budget_id = {raw.p} AND period_start = {raw.p}",
             ((raw.money(c.spent), raw.money(c.reserved), c.receipts, c.unpriced, b, s)
              for (b, s), c in sorted(counters.items())))


def add_days(raw: Raw, deltas: Mapping[tuple[str, int], int]) -> None:
    """Add spend to the daily rows of (budget id, day start), in key order."""
    if not deltas:
        return
    ordered = sorted(deltas)
    raw.insert_ignore(DAYS, ("budget_id", "day_start", "spent"),
                      ((b, d, raw.money(0)) for b, d in ordered))
    have: dict[tuple[str, int], int] = {}
    for b, d in ordered:
        rows = raw.rows(f"SELECT spent FROM {DAYS} WHERE budget_id = {raw.p} AND day_start = "
                        f"{raw.p}{raw.for_update}", (b, d))
        have[(b, d)] = int(rows[0][0])
    raw.many(f"UPDATE {DAYS} SET spent = {raw.p} WHERE budget_id = {raw.p} AND day_start = "
             f"{raw.p}", ((raw.money(have[k] + deltas[k]), k[0], k[1]) for k in ordered))


def days(raw: Raw, budget_id: str, start: int, end: int) -> dict[int, int]:
    """Spend per UTC day of one budget in [start, end)."""
    return {d: int(s) for d, s in raw.rows(
        f"SELECT day_start, spent FROM {DAYS} WHERE budget_id = {raw.p} AND day_start >= "
        f"{raw.p} AND day_start < {raw.p}", (budget_id, start, end))}


def holds_of(raw: Raw, reservation_ids: list[str]) -> list[tuple[str, str, int, int]]:
    """(reservation id, budget id, period start, amount) of each hold of these reservations."""
    found = []
    for chunk in _chunks(sorted(reservation_ids)):
        found += [(r, b, s, int(a)) for r, b, s, a in raw.rows(
            f"SELECT reservation_id, budget_id, period_start, amount FROM {HOLDS} WHERE "
            f"reservation_id IN ({raw.marks(len(chunk))})", chunk)]
    return found
