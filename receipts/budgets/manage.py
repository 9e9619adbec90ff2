# ruff: noqa: S608 - SQL text holds only fixed names and driver placeholders, never values
"""Setting, listing and deleting budgets, and what each one shows.

A budget set in the middle of a period starts from the receipts already in its window: its
creation transaction reads them (their signed payloads' ``cost_reporting``) after locking every
chain head, so no receipt commits between that count and the budget's first append-time count
(PostgreSQL: an append holds its chain head's lock until it commits; SQLite: the writer lock).
"""

from __future__ import annotations

import json
import secrets
from collections import defaultdict
from typing import Any

from receipts.budgets import counters, reservations, watch
from receipts.budgets.catalog import bump_version, load_all
from receipts.budgets.counters import Counter
from receipts.budgets.definition import Budget, iso, money, period_to_json
from receipts.budgets.forecast import day_of, forecast
from receipts.budgets.raw import Raw
from receipts.clock import now_ms
from receipts.errors import NotFound
from receipts.storage import queries as store
from receipts.storage.database import Database
from verifier import cose
from verifier.encoding import decode_strict

_COLUMN_OF = {"team": "team", "project": "project", "provider": "provider", "model": "model",
              "agent": "agent_id"}
"""Scope keys the receipts table has a column for (narrowing the initial scan)."""


def _initial_spend(raw: Raw, budget: Budget, start: int, end: int,
                   ) -> tuple[Counter, dict[tuple[str, int], int]]:
    """The counter and daily spend of ``budget`` over the receipts already in [start, end)."""
    where = ["issued_at >= " + raw.p, "issued_at < " + raw.p]
    params: list[object] = [start, end]
    for key, column in _COLUMN_OF.items():
        if key in budget.scope:
            where.append(f"{column} = {raw.p}")
            params.append(budget.scope[key])
    counter = Counter(end)
    days: dict[tuple[str, int], int] = defaultdict(int)
    cur = raw.driver.cursor()
    cur.execute(f"SELECT item FROM receipts_receipt WHERE {' AND '.join(where)}", tuple(params))
    while batch := cur.fetchmany(1000):
        for (item,) in batch:
            p = decode_strict(cose.parse(bytes(item)).payload)
            if not budget.covers(p["agent"], p["provider"], p["model"], p["tags"]):
                continue
            counter.receipts += 1
            if p["cost_reporting"] is None:
                counter.unpriced += 1
            else:
                counter.spent += p["cost_reporting"]
                days[(budget.id, day_of(p["issued_at"]))] += p["cost_reporting"]
    return counter, days


def _held(raw: Raw, budget_id: str, start: int) -> int:
    return sum(int(a) for (a,) in raw.rows(
        f"SELECT h.amount FROM receipts_budget_hold h JOIN receipts_reservation r ON "
        f"r.id = h.reservation_id WHERE h.budget_id = {raw.p} AND h.period_start = {raw.p} "
        "AND r.state = 'held'", (budget_id, start)))


def set_budget(db: Database, fields: dict[str, Any], currency: str) -> tuple[Budget, bool]:
    """Create the budget, or replace the one of the same name (its id, and so its alerts,
    kept); True when new. Spent starts from the receipts already in its current period."""
    now = now_ms()
    with db.write() as conn:
        store.lock_all_chains(conn)
        raw = Raw.of(conn)
        found = raw.rows(f"SELECT id FROM receipts_budget WHERE name = {raw.p}",
                         (fields["name"],))
        budget = Budget(id=found[0][0] if found else "bg_" + secrets.token_hex(8),
                        created_at=now, **fields)
        values = (json.dumps(budget.scope, sort_keys=True), period_to_json(budget.period),
                  raw.money(budget.limit), json.dumps(list(budget.thresholds)), budget.at_limit,
                  now)
        if found:
            for table in ("receipts_budget_counter", "receipts_budget_day"):
                raw.run(f"DELETE FROM {table} WHERE budget_id = {raw.p}", (budget.id,))
            raw.run(f"UPDATE receipts_budget SET scope_json = {raw.p}, period_json = {raw.p}, "
                    f"limit_units = {raw.p}, thresholds_json = {raw.p}, at_limit = {raw.p}, "
                    f"created_at = {raw.p} WHERE id = {raw.p}", (*values, budget.id))
        else:
            raw.run(f"INSERT INTO receipts_budget (id, name, scope_json, period_json, "
                    f"limit_units, thresholds_json, at_limit, created_at) VALUES "
                    f"({raw.marks(8)})", (budget.id, budget.name, *values))
        bump_version(raw)
        window = budget.window(now)
        if window is not None:
            start, end = window
            initial, days = _initial_spend(raw, budget, start, end)
            locked = counters.lock(raw, {(budget.id, start): end})
            c = locked[(budget.id, start)]
            c.spent, c.receipts, c.unpriced = initial.spent, initial.receipts, initial.unpriced
            c.reserved = _held(raw, budget.id, start)
            counters.save(raw, locked)
            counters.add_days(raw, days)
            watch.threshold_crossings(raw, budget, start, c, 0, currency, now)
    return budget, not found


def delete_budget(db: Database, name_or_id: str) -> Budget:
    """Delete a budget (by name or id) with its counters and holds (404 if unknown)."""
    with db.write() as conn:
        raw = Raw.of(conn)
        budget = next((b for b in load_all(raw) if name_or_id in (b.id, b.name)), None)
        if budget is None:
            raise NotFound(f"no budget {name_or_id!r}")
        for table in ("receipts_budget_counter", "receipts_budget_day", "receipts_budget_hold",
                      "receipts_budget"):
            column = "id" if table == "receipts_budget" else "budget_id"
            raw.run(f"DELETE FROM {table} WHERE {column} = {raw.p}", (budget.id,))
        bump_version(raw)
    return budget


def _display_window(budget: Budget, now: int) -> tuple[int, int]:
    window = budget.window(now)
    if window is None:  # a fixed window not yet begun, or over
        assert isinstance(budget.period, tuple)
        return budget.period
    return window


def status(raw: Raw, budget: Budget, now: int, currency: str) -> dict[str, Any]:
    """A budget with its current period's spent, reserved, remaining and forecast."""
    start, end = _display_window(budget, now)
    c = counters.read(raw, [(budget.id, start)]).get((budget.id, start), Counter(end))
    outlook = forecast(c.spent, counters.days(raw, budget.id, start, end), start, end,
                       min(now, end))
    return {**budget.definition_json(), "currency": currency,
            "period_start": iso(start), "period_end": iso(end),
            "spent": money(c.spent), "reserved": money(c.reserved),
            "remaining": money(budget.limit - c.spent - c.reserved), "receipts": c.receipts,
            "unpriced": c.unpriced, "forecast": {**watch.forecast_json(outlook),
                                                 "overrun": outlook.overrun(budget.limit)}}


def list_budgets(db: Database, currency: str) -> list[dict[str, Any]]:
    """Every budget's status (expired reservations released first, so reserved is current)."""
    now = now_ms()
    with db.write() as conn:
        raw = Raw.of(conn)
        reservations.release_expired(raw, now)
        return [status(raw, b, now, currency)
                for b in sorted(load_all(raw), key=lambda b: b.name)]
