# ruff: noqa: S608 - SQL text holds only fixed names and driver placeholders, never values
"""Approvals: a call held for a human because an ``approve`` budget is at its limit.

The agent polls ``GET /v1/approvals/{id}``; an admin approves or denies with ``POST``. An
approved call gets a reservation under the authorization's own request id, so the agent's
retry of ``POST /v1/authorize`` with that request id is answered ``allow`` with it.
"""

from __future__ import annotations

import json
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from receipts.budgets.definition import Budget, iso, money, parse_money
from receipts.budgets.raw import Raw
from receipts.budgets.reservations import Ask

APPROVAL = "receipts_approval"
_COLUMNS = ("id", "agent_id", "request_id", "budget_id", "reason", "request_json", "state",
            "reservation_id", "created_at", "decided_at")


@dataclass(frozen=True)
class Approval:
    """A stored approval (fields in :data:`_COLUMNS` order)."""

    id: str
    agent_id: str
    request_id: str
    budget_id: str
    reason: str
    request_json: str
    state: str
    reservation_id: str | None
    created_at: int
    decided_at: int | None

    def ask(self) -> Ask:
        """The authorization request it holds."""
        r = json.loads(self.request_json)
        return Ask(self.agent_id, self.request_id, r["provider"], r["model"], r["tags"],
                   parse_money(r["estimate"], "estimate", positive=False), r["hold_ms"])


def new(ask: Ask, budget: Budget, reason: str, now: int) -> tuple[Any, ...]:
    """A pending approval's row."""
    request = {"provider": ask.provider, "model": ask.model, "tags": dict(ask.tags),
               "estimate": money(ask.estimate), "hold_ms": ask.hold_ms,
               "budget": budget.name}
    return ("ap_" + secrets.token_hex(12), ask.agent_id, ask.request_id, budget.id, reason,
            json.dumps(request, sort_keys=True), "pending", None, now, None)


def insert(raw: Raw, rows: Sequence[tuple[Any, ...]]) -> None:
    """Store new approvals."""
    raw.insert_rows(APPROVAL, _COLUMNS, rows)


def stored(raw: Raw, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Approval]:
    """Approvals already made for (agent, request id) pairs."""
    by_agent: dict[str, list[str]] = defaultdict(list)
    for agent, request_id in set(keys):
        by_agent[agent].append(request_id)
    found = {}
    for agent, ids in by_agent.items():
        for row in raw.by_request(APPROVAL, ", ".join(_COLUMNS), agent, ids):
            a = Approval(*row)
            found[(a.agent_id, a.request_id)] = a
    return found


def fetch(raw: Raw, approval_id: str, lock: bool = False) -> Approval | None:
    """One approval (locked for a decision when ``lock``)."""
    rows = raw.rows(f"SELECT {', '.join(_COLUMNS)} FROM {APPROVAL} WHERE id = {raw.p}"
                    + (raw.for_update if lock else ""), (approval_id,))
    return Approval(*rows[0]) if rows else None


def decided(raw: Raw, approval_id: str, state: str, reservation_id: str | None,
            now: int) -> None:
    """Record the human's decision."""
    raw.run(f"UPDATE {APPROVAL} SET state = {raw.p}, reservation_id = {raw.p}, decided_at = "
            f"{raw.p} WHERE id = {raw.p}", (state, reservation_id, now, approval_id))


def body(a: Approval) -> dict[str, Any]:
    """The approval as the API shows it (``decision`` as ``POST /v1/authorize`` answers)."""
    request = json.loads(a.request_json)
    return {"decision": "approval_required", "approval": {
        "id": a.id, "status": a.state, "budget": request["budget"], "budget_id": a.budget_id,
        "reason": a.reason, "estimate": request["estimate"], "provider": request["provider"],
        "model": request["model"], "tags": request["tags"], "reservation": a.reservation_id,
        "created_at": iso(a.created_at),
        "decided_at": iso(a.decided_at) if a.decided_at is not None else None}}
