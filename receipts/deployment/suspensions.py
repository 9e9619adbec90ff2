# ruff: noqa: S608 - SQL text holds only fixed names and driver placeholders, never values
"""Suspended agent keys: refused for writes (receipts, authorizations) until resumed.

An anomaly alert can suspend the agent it names (the setting ``RECEIPTS_ANOMALY_SUSPEND``, off
by default: :mod:`receipts.anomaly.runner`). Unlike a revocation it is reversible: the key stays
valid, it still reads its own receipts, and ``receipt agent resume`` (or ``POST
/v1/agents/{id}/resume``) lets it write again. Every suspension is kept with who suspended it,
when and why (the alert's id), and who resumed it when.

Processes keep the set of suspended agents, reread when the version ``suspensions_version`` in
``receipts_meta`` moves (every suspend and resume replaces it in its own transaction):
authorization groups read that version with the budgets' (no extra query), so an authorization
is refused from the commit of the suspension on; the HTTP edge checks it at most once a
second (:data:`CHECK_SECONDS`) for the other writes.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from receipts.budgets.raw import Raw
from receipts.errors import AgentSuspended, Conflict, NotFound
from verifier.jsonview import iso_ms

VERSION_KEY = "suspensions_version"
TABLE = "receipts_agent_suspension"
CHECK_SECONDS = 1.0
"""How stale the HTTP edge's view of suspensions may be (authorizations are exact)."""
_COLUMNS = "id, agent_id, suspended_at, suspended_by, reason, alert_id, resumed_at, resumed_by"


class SuspensionRow(SQLModel, table=True):
    """One suspension of an agent key (active while ``resumed_at`` is null)."""

    __tablename__ = TABLE
    __table_args__ = (sa.Index("ix_suspension_agent", "agent_id"),)
    id: str = Field(primary_key=True, max_length=64)
    agent_id: str = Field(max_length=64)
    suspended_at: int = Field(sa_type=sa.BigInteger)
    suspended_by: str = Field(max_length=256)
    reason: str
    alert_id: str | None = Field(default=None, max_length=64)
    resumed_at: int | None = Field(default=None, sa_type=sa.BigInteger)
    resumed_by: str | None = Field(default=None, max_length=256)


@dataclass(frozen=True)
class Suspension:
    """A stored suspension."""

    id: str
    agent_id: str
    suspended_at: int
    suspended_by: str
    reason: str
    alert_id: str | None
    resumed_at: int | None
    resumed_by: str | None

    def json(self) -> dict[str, Any]:
        """As listings and alert payloads show it (times in RFC 3339)."""
        return {"id": self.id, "agent": self.agent_id, "since": iso_ms(self.suspended_at),
                "by": self.suspended_by, "reason": self.reason, "alert": self.alert_id,
                "resumed_at": iso_ms(self.resumed_at) if self.resumed_at is not None else None,
                "resumed_by": self.resumed_by}

    def refusal(self) -> AgentSuspended:
        """The 403 a write of the suspended agent gets."""
        cause = f"alert {self.alert_id}" if self.alert_id else self.suspended_by
        return AgentSuspended(
            f"agent {self.agent_id} is suspended since {iso_ms(self.suspended_at)} ({cause}: "
            f"{self.reason}); receipts already acknowledged are kept; an admin resumes it "
            f"with `receipt agent resume {self.agent_id}` or POST /v1/agents/"
            f"{self.agent_id}/resume")


def version(raw: Raw) -> str:
    """The suspensions' version ("" before any suspension)."""
    rows = raw.rows(f"SELECT value FROM receipts_meta WHERE key = {raw.p}", (VERSION_KEY,))
    return str(rows[0][0]) if rows else ""


def _bump(raw: Raw) -> None:
    new = secrets.token_hex(16)
    if raw.run(f"UPDATE receipts_meta SET value = {raw.p} WHERE key = {raw.p}",
               (new, VERSION_KEY)) == 0:
        raw.run(f"INSERT INTO receipts_meta (key, value) VALUES ({raw.p}, {raw.p})",
                (VERSION_KEY, new))


def _suspension(row: Any) -> Suspension:
    r = list(row)
    return Suspension(str(r[0]), str(r[1]), int(r[2]), str(r[3]), str(r[4]),
                      None if r[5] is None else str(r[5]), None if r[6] is None else int(r[6]),
                      None if r[7] is None else str(r[7]))


def active(raw: Raw) -> dict[str, Suspension]:
    """The suspension in force of each suspended agent."""
    return {s.agent_id: s for s in map(_suspension, raw.rows(
        f"SELECT {_COLUMNS} FROM {TABLE} WHERE resumed_at IS NULL ORDER BY suspended_at"))}


def active_of(raw: Raw, agent_id: str) -> Suspension | None:
    """The suspension in force of one agent, if any."""
    rows = raw.rows(f"SELECT {_COLUMNS} FROM {TABLE} WHERE agent_id = {raw.p} AND resumed_at "
                    f"IS NULL", (agent_id,))
    return _suspension(rows[0]) if rows else None


def _agent_state(raw: Raw, agent_id: str) -> str | None:
    """"active", "revoked", or None for an unknown agent."""
    rows = raw.rows(f"SELECT revoked_at FROM receipts_agent WHERE id = {raw.p}{raw.for_update}",
                    (agent_id,))
    if not rows:
        return None
    return "active" if rows[0][0] is None else "revoked"


def is_active_agent(raw: Raw, agent_id: str) -> bool:
    """Whether ``agent_id`` is a known, unrevoked agent."""
    return _agent_state(raw, agent_id) == "active"


def suspend(raw: Raw, agent_id: str, *, by: str, reason: str, alert_id: str | None,
            now: int) -> tuple[Suspension | None, bool]:
    """Suspend an active agent key inside ``raw``'s transaction: (its suspension, True when
    made now); (the one in force, False) when already suspended; (None, False) when the agent is
    unknown or revoked. The agent's row is locked first, so two suspensions never overlap."""
    if _agent_state(raw, agent_id) != "active":
        return None, False
    found = active_of(raw, agent_id)
    if found is not None:
        return found, False
    made = Suspension("su_" + secrets.token_hex(12), agent_id, now, by, reason, alert_id,
                      None, None)
    raw.run(f"INSERT INTO {TABLE} ({_COLUMNS}) VALUES ({raw.marks(8)})",
            (made.id, agent_id, now, by, reason, alert_id, None, None))
    _bump(raw)
    return made, True


def resume(raw: Raw, agent_id: str, *, by: str, now: int) -> Suspension:
    """End the agent's suspension (404: no such agent; 409: not suspended); the ended one."""
    if _agent_state(raw, agent_id) is None:
        raise NotFound(f"no agent {agent_id}")
    found = active_of(raw, agent_id)
    if found is None:
        raise Conflict(f"agent {agent_id} is not suspended")
    raw.run(f"UPDATE {TABLE} SET resumed_at = {raw.p}, resumed_by = {raw.p} WHERE id = "
            f"{raw.p}", (now, by, found.id))
    _bump(raw)
    return Suspension(found.id, found.agent_id, found.suspended_at, found.suspended_by,
                      found.reason, found.alert_id, now, by)


@dataclass
class Suspended:
    """A process's copy of the suspensions in force, reloaded when the stored version moves."""

    version: str = "-"
    by_agent: Mapping[str, Suspension] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def current(self, raw: Raw, known: str | None = None) -> Mapping[str, Suspension]:
        """The suspensions as of ``raw``'s transaction (``known``: the version, when the
        caller has read it in this transaction)."""
        now = version(raw) if known is None else known
        if not now:
            return {}
        with self._lock:
            if now != self.version:
                self.by_agent, self.version = active(raw), now
            return self.by_agent
