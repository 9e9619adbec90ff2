"""Raising and listing alerts: ``raise_alert`` runs inside the caller's transaction.

Idempotent on ``dedup_key``: the insert is ``ON CONFLICT DO NOTHING`` (SQLite and PostgreSQL),
so two transactions raising the same alert concurrently store one alert and one outbox row, and
neither transaction is aborted by a unique violation.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from receipts.alerts.tables import AlertOutboxRow, AlertRow
from receipts.clock import now_ms
from receipts.storage.tables import table

_ALERT = table(AlertRow)
_OUTBOX = table(AlertOutboxRow)


@dataclass(frozen=True)
class Alert:
    """A stored alert as callers see it."""

    id: str
    kind: str
    scope: str
    dedup_key: str
    payload: dict[str, Any]
    created_at: int


def _insert(conn: Connection, table: sa.Table, values: dict[str, Any]) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).values(**values).on_conflict_do_nothing())


def _alert(row: sa.Row[Any]) -> Alert:
    return Alert(id=row.id, kind=row.kind, scope=row.scope, dedup_key=row.dedup_key,
                 payload=json.loads(row.payload_json), created_at=row.created_at)


def raise_alert(conn: Connection, kind: str, scope: str, dedup_key: str,
                payload: dict[str, Any], at: int | None = None) -> Alert:
    """Store an alert and its outbox row in ``conn``'s transaction; the stored one if it exists.

    ``payload`` must be JSON-serializable (write money as decimal strings, never floats).
    """
    created = now_ms() if at is None else at
    alert_id = "al_" + secrets.token_hex(12)
    _insert(conn, _ALERT, {"id": alert_id, "kind": kind, "scope": scope,
                           "dedup_key": dedup_key, "created_at": created,
                           "payload_json": json.dumps(payload, sort_keys=True)})
    row = conn.execute(sa.select(_ALERT).where(_ALERT.c.dedup_key == dedup_key)).one()
    if row.id == alert_id:
        _insert(conn, _OUTBOX, {"alert_id": alert_id, "attempts": 0,
                                "next_attempt_at": created})
    return _alert(row)


def list_alerts(conn: Connection, limit: int = 100) -> list[Alert]:
    """The newest alerts first."""
    rows = conn.execute(sa.select(_ALERT).order_by(_ALERT.c.created_at.desc(), _ALERT.c.id)
                        .limit(limit)).all()
    return [_alert(r) for r in rows]


def get_alert(conn: Connection, alert_id: str) -> Alert | None:
    """One alert by id."""
    row = conn.execute(sa.select(_ALERT).where(_ALERT.c.id == alert_id)).one_or_none()
    return _alert(row) if row is not None else None
