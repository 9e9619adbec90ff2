"""Policy SQL: storing and reading versions, recording and listing flags.

A new version takes the next number under a lock on the current highest (PostgreSQL: ``FOR
UPDATE`` then the primary key refuses a duplicate; SQLite: the write transaction holds the one
writer lock), so two concurrent ``policy set`` get two versions, never one overwritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from receipts.policies.evaluate import Violation
from receipts.policies.rules import Policy, canonical_json, parse_policy, sha256_hex
from receipts.policies.tables import PolicyFlagRow, PolicyVersionRow
from receipts.storage.tables import table

VERSION = table(PolicyVersionRow)
FLAG = table(PolicyFlagRow)


@dataclass(frozen=True)
class PolicyVersion:
    """A stored version: its number, digest, source text and format, time, and the rules."""

    version: int
    sha256: str
    format: str
    source: str
    created_at: int
    policy: Policy


def _version(row: Any) -> PolicyVersion:
    return PolicyVersion(row.version, row.sha256, row.format, row.source, row.created_at,
                         parse_source(row.source, row.format))


def parse_source(text: str, fmt: str) -> Policy:
    """A stored version's rules (stored sources were checked when stored)."""
    from receipts.policies.source import decode

    return parse_policy(decode(text, fmt))


def add_version(conn: Connection, source: str, fmt: str, now: int) -> PolicyVersion:
    """Store ``source`` (already checked) as the next version."""
    last = conn.execute(sa.select(VERSION.c.version).order_by(VERSION.c.version.desc())
                        .limit(1).with_for_update()).scalar()
    number = (last or 0) + 1
    digest = sha256_hex(source)
    conn.execute(sa.insert(VERSION).values(version=number, sha256=digest, format=fmt,
                                           source=source, created_at=now))
    return PolicyVersion(number, digest, fmt, source, now, parse_source(source, fmt))


def add_policy(conn: Connection, policy: Policy, now: int) -> PolicyVersion:
    """Store a policy given as data (HTTP) as its canonical JSON."""
    return add_version(conn, canonical_json(policy), "json", now)


def current(conn: Connection) -> PolicyVersion | None:
    """The newest version (None: no policy was ever set)."""
    row = conn.execute(sa.select(VERSION).order_by(VERSION.c.version.desc()).limit(1)).first()
    return _version(row) if row is not None else None


def current_number(conn: Connection) -> int:
    """The newest version's number (0: none); one index probe, for caches."""
    return int(conn.execute(sa.select(sa.func.max(VERSION.c.version))).scalar() or 0)


def version(conn: Connection, number: int) -> PolicyVersion | None:
    """One version by number."""
    row = conn.execute(sa.select(VERSION).where(VERSION.c.version == number)).first()
    return _version(row) if row is not None else None


def versions(conn: Connection) -> list[dict[str, Any]]:
    """Every version's number, digest, format, time and rule count, oldest first."""
    rows = conn.execute(sa.select(VERSION).order_by(VERSION.c.version)).all()
    return [{"version": r.version, "sha256": r.sha256, "format": r.format,
             "created_at": r.created_at,
             "rules": len(parse_source(r.source, r.format).rules)} for r in rows]


def record_flags(conn: Connection, receipt_id: str, agent_id: str, team: str | None,
                 policy_version: int, flags: Sequence[Violation], now: int) -> None:
    """Record the flag rules a receipt broke (again for the same receipt: no change)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    for f in flags:
        conn.execute(dialect.insert(FLAG).values(
            receipt_id=receipt_id, rule=f.rule, policy_version=policy_version, field=f.field,
            message=f.message, detail=f.detail, team=team, agent_id=agent_id, created_at=now,
        ).on_conflict_do_nothing())


def list_flags(conn: Connection, *, team: str | None = None, receipt_id: str | None = None,
               rule: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Flags, newest first, filtered by team, receipt or rule."""
    query = sa.select(FLAG)
    for column, value in (("team", team), ("receipt_id", receipt_id), ("rule", rule)):
        if value is not None:
            query = query.where(FLAG.c[column] == value)
    rows = conn.execute(query.order_by(FLAG.c.created_at.desc(), FLAG.c.receipt_id,
                                       FLAG.c.rule).limit(limit)).all()
    return [{"receipt_id": r.receipt_id, "rule": r.rule, "policy_version": r.policy_version,
             "field": r.field, "message": r.message, "detail": r.detail, "team": r.team,
             "agent": r.agent_id, "created_at": r.created_at} for r in rows]


def stored_request(conn: Connection, agent_id: str, request_id: str) -> bool:
    """Whether this agent already has a receipt for ``request_id`` (a replay answers with it,
    whatever the policy says now)."""
    from receipts.storage.queries import RECEIPT

    return conn.execute(sa.select(RECEIPT.c.id).where(
        RECEIPT.c.agent_id == agent_id, RECEIPT.c.request_id == request_id)).first() is not None


def flag_counts(conn: Connection) -> dict[str, int]:
    """Flags per rule (for ``receipt policy show``)."""
    rows = conn.execute(sa.select(FLAG.c.rule, sa.func.count()).group_by(FLAG.c.rule)).all()
    return {r[0]: int(r[1]) for r in rows}

