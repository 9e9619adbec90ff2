# ruff: noqa: S608 - SQL text holds only fixed names and driver placeholders, never values
"""Budget spend kept exact and current: counted inside the transaction that appends receipts.

:func:`record` is the one call the receipt append makes (``issuing.service``), with the payload
of every new receipt and the reservation its request named. In the same transaction it adds
each receipt's ``cost_reporting`` to the counter of every budget period covering it (a receipt
without FX or unpriced adds nothing and is counted as unpriced), releases the holds of the
reservations the receipts settle, and raises the alerts the change calls for. A budget's spent
is therefore never behind the ledger, and a reservation is settled exactly when its receipt
commits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from receipts.budgets import counters, watch
from receipts.budgets.catalog import CATALOG
from receipts.budgets.counters import Counter, CounterKey
from receipts.budgets.definition import Budget
from receipts.budgets.forecast import day_of
from receipts.budgets.raw import Raw
from receipts.clock import now_ms

Spend = tuple[Mapping[str, Any], "str | None"]
"""A new receipt's payload and the reservation id its request named (if any)."""


def settle(raw: Raw, by_reservation: Mapping[str, str]) -> list[tuple[str, str, int, int]]:
    """Mark the held reservations of ``by_reservation`` (id -> receipt id) settled; their holds
    (reservation, budget, period start, amount), to be released from the counters."""
    ids = sorted(by_reservation)
    held = []
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        held += [r for r, state in raw.rows(
            f"SELECT id, state FROM receipts_reservation WHERE id IN ({raw.marks(len(chunk))}) "
            f"ORDER BY id{raw.for_update}", chunk) if state == "held"]
    raw.many(f"UPDATE receipts_reservation SET state = 'settled', receipt_id = {raw.p} "
             f"WHERE id = {raw.p}", ((by_reservation[r], r) for r in held))
    return counters.holds_of(raw, held) if held else []


def record(driver: Any, is_sqlite: bool, spends: Sequence[Spend]) -> None:
    """Count new receipts against budgets, inside the append transaction on ``driver``."""
    if not spends:
        return
    raw = Raw(driver, is_sqlite)
    budgets = CATALOG.current(raw)
    named = {r: p["id"] for p, r in spends if r}
    if not budgets and not named:
        return
    releases = settle(raw, named) if named else []
    spent: dict[CounterKey, list[int]] = defaultdict(lambda: [0, 0, 0])  # cost, receipts, unpr.
    ends: dict[CounterKey, int] = {}
    day_spend: dict[tuple[str, int], int] = defaultdict(int)
    currency = None
    for payload, _ in spends:
        matching = [b for b in budgets if b.covers(payload["agent"], payload["provider"],
                                                    payload["model"], payload["tags"])]
        if not matching:
            continue
        cost, at = payload["cost_reporting"], payload["issued_at"]
        if cost is not None:
            currency = payload["fx"]["currency"]
        for b in matching:
            window = b.window(at)
            if window is None:
                continue
            key = (b.id, window[0])
            ends[key] = window[1]
            entry = spent[key]
            entry[1] += 1
            if cost is None:
                entry[2] += 1
            else:
                entry[0] += cost
                day_spend[(b.id, day_of(at))] += cost
    by_id = {b.id: b for b in budgets}
    released: dict[CounterKey, int] = defaultdict(int)
    for _, budget_id, start, amount in releases:
        budget = by_id.get(budget_id)
        window = budget.window(start) if budget is not None else None
        if window is not None:
            ends[(budget_id, start)] = window[1]
            released[(budget_id, start)] += amount
    if not ends:
        return
    locked = counters.lock(raw, ends)
    before = {k: c.spent for k, c in locked.items()}
    for key, (cost, n, unpriced) in spent.items():
        c = locked[key]
        c.spent, c.receipts, c.unpriced = c.spent + cost, c.receipts + n, c.unpriced + unpriced
    for key, amount in released.items():
        locked[key].reserved -= amount
    counters.save(raw, locked)
    counters.add_days(raw, day_spend)
    _alerts(raw, by_id, locked, before, currency)


def _alerts(raw: Raw, by_id: Mapping[str, Budget], locked: Mapping[CounterKey, Counter],
            before: Mapping[CounterKey, int], currency: str | None) -> None:
    now = now_ms()
    for (budget_id, start), c in sorted(locked.items()):
        if c.spent == before[(budget_id, start)]:
            continue
        budget = by_id[budget_id]
        watch.threshold_crossings(raw, budget, start, c, before[(budget_id, start)], currency,
                                  now)
        watch.forecast_overrun(raw, budget, start, c, currency, now)
