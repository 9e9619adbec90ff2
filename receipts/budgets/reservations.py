# ruff: noqa: S608 - SQL text holds only fixed names and driver placeholders, never values
"""Reservations: an estimate held against budgets from authorization until receipt or expiry.

A reservation is ``held`` until the receipt naming it commits (``settled``, by
:func:`receipts.budgets.spend.settle`) or its time runs out (``expired``, by
:func:`release_expired`, which every authorization group and budget listing runs first). Either
way its holds are released from the counters exactly once: the state changes under the
reservation row's lock, and only the transaction that changed it releases.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from receipts.budgets import counters
from receipts.budgets.catalog import CATALOG
from receipts.budgets.raw import Raw
from receipts.errors import FieldProblem, Invalid
from receipts.storage.database import Database

DEFAULT_HOLD_MS = 10 * 60_000
"""An unused reservation expires after 10 minutes unless the request asks otherwise."""
EXPIRE_BATCH = 1000
RESERVATION = "receipts_reservation"


@dataclass(frozen=True)
class Reservation:
    """A stored reservation."""

    id: str
    agent_id: str
    request_id: str
    estimate: int
    state: str
    created_at: int
    expires_at: int


@dataclass(frozen=True)
class Ask:
    """One authorization request, priced: ``provider``/``model`` as billed, ``estimate`` in
    10^-12 units of the reporting currency."""

    agent_id: str
    request_id: str
    provider: str
    model: str
    tags: Mapping[str, str]
    estimate: int
    hold_ms: int = DEFAULT_HOLD_MS


@dataclass
class Answer:
    """The decision and its JSON body."""

    decision: str
    body: dict[str, Any] = field(default_factory=dict)


_COLUMNS = "id, agent_id, request_id, estimate, state, created_at, expires_at"


RESERVATION_ID_PATTERN = r"^rs_[0-9a-f]{24}$"
"""What reservation ids look like (``rs_`` and 24 hex digits)."""


def _reservation(row: Sequence[object]) -> Reservation:
    r = list(row)
    return Reservation(str(r[0]), str(r[1]), str(r[2]), int(str(r[3])), str(r[4]),
                       int(str(r[5])), int(str(r[6])))


def release_expired(raw: Raw, now: int) -> int:
    """Expire held reservations past their time and release their holds; how many.

    PostgreSQL skips rows another transaction holds (a receipt settling it right now)."""
    skip = "" if raw.is_sqlite else " FOR UPDATE SKIP LOCKED"
    ids = [r for (r,) in raw.rows(
        f"SELECT id FROM {RESERVATION} WHERE state = 'held' AND expires_at <= {raw.p} "
        f"ORDER BY id LIMIT {EXPIRE_BATCH}{skip}", (now,))]
    if not ids:
        return 0
    raw.many(f"UPDATE {RESERVATION} SET state = 'expired' WHERE id = {raw.p}",
             ((r,) for r in ids))
    release(raw, counters.holds_of(raw, ids))
    return len(ids)


def release(raw: Raw, holds: Iterable[tuple[str, str, int, int]]) -> None:
    """Take released holds (reservation, budget, period start, amount) off the counters."""
    by_id = {b.id: b for b in CATALOG.current(raw)}
    amounts: dict[counters.CounterKey, int] = defaultdict(int)
    ends: dict[counters.CounterKey, int] = {}
    for _, budget_id, start, amount in holds:
        budget = by_id.get(budget_id)
        window = budget.window(start) if budget is not None else None
        if window is not None:
            amounts[(budget_id, start)] += amount
            ends[(budget_id, start)] = window[1]
    locked = counters.lock(raw, ends)
    for key, amount in amounts.items():
        locked[key].reserved -= amount
    counters.save(raw, locked)


def stored(raw: Raw, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Reservation]:
    """Reservations already made for (agent, request id) pairs (authorization replays)."""
    by_agent: dict[str, list[str]] = defaultdict(list)
    for agent, request_id in set(keys):
        by_agent[agent].append(request_id)
    found = {}
    for agent, ids in by_agent.items():
        for row in raw.by_request(RESERVATION, _COLUMNS, agent, ids):
            r = _reservation(row)
            found[(r.agent_id, r.request_id)] = r
    return found


def by_id(raw: Raw, reservation_id: str) -> Reservation | None:
    """One reservation."""
    rows = raw.rows(f"SELECT {_COLUMNS} FROM {RESERVATION} WHERE id = {raw.p}",
                    (reservation_id,))
    return _reservation(rows[0]) if rows else None


def insert(raw: Raw, made: Sequence[Reservation],
           holds: Sequence[tuple[str, str, int, int]]) -> None:
    """Store new reservations and their holds (reservation, budget, period start, amount)."""
    raw.insert_rows(RESERVATION, _COLUMNS.split(", "), (
        (r.id, r.agent_id, r.request_id, raw.money(r.estimate), r.state, r.created_at,
         r.expires_at) for r in made))
    raw.insert_rows(counters.HOLDS, ("reservation_id", "budget_id", "period_start", "amount"),
                    ((r, b, s, raw.money(a)) for r, b, s, a in holds))


def holds_json(raw: Raw, reservation_id: str) -> list[tuple[str, int, int]]:
    """(budget id, period start, amount) held by one reservation."""
    return [(b, s, a) for _, b, s, a in counters.holds_of(raw, [reservation_id])]


def check_named(db: Database, agent_id: str, reservation_id: str) -> None:
    """422 naming ``reservation`` when it is another agent's reservation.

    One the service does not hold is accepted and settles nothing: the receipt records real
    spend, which must not be refused because its authorization was lost (a reservation's
    commit does not wait for the disk, see ``budgets.gate``). Ids that are not reservation
    ids at all are refused by the request schema."""
    with db.read() as conn:
        found = by_id(Raw.of(conn), reservation_id)
    if found is not None and found.agent_id != agent_id:
        raise Invalid("another agent's reservation", [FieldProblem(
            "reservation", f"{reservation_id!r} is not a reservation of this agent")])
