"""Alerts as ``GET /v1/alerts`` and ``receipt alerts list`` show them: each with its deliveries.

An alert's ``status`` sums up its deliveries: ``failed`` when any delivery gave up (it stays
listed, with the last error, until retried: nothing is deleted), ``delivered`` when every
channel answered 2xx, else ``pending`` (being retried, or waiting for a first channel).
"""

from __future__ import annotations

import json
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from receipts.alerts.channels import all_channels
from receipts.alerts.messages import alert_json
from receipts.alerts.outbox import DELIVERED, FAILED
from receipts.alerts.store import Alert
from receipts.alerts.tables import AlertDeliveryRow, AlertRow
from receipts.storage.tables import table
from verifier.jsonview import iso_ms

Status = Literal["pending", "delivered", "failed"]
STATUSES: tuple[Status, ...] = ("pending", "delivered", "failed")

_ALERT = table(AlertRow)
_DELIVERY = table(AlertDeliveryRow)


def _has(*conditions: sa.ColumnElement[bool]) -> sa.Exists:
    return sa.exists().where(_DELIVERY.c.alert_id == _ALERT.c.id, *conditions)


def _status_filter(status: Status) -> sa.ColumnElement[bool]:
    failed = _has(_DELIVERY.c.state == FAILED)
    delivered = sa.and_(_has(), ~_has(_DELIVERY.c.state != DELIVERED))
    if status == "failed":
        return failed
    if status == "delivered":
        return delivered
    return sa.and_(~failed, sa.not_(delivered))


def _time(ms: int | None) -> str | None:
    return iso_ms(ms) if ms is not None else None


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _team_filter(team: str) -> sa.ColumnElement[bool]:
    """Alerts whose scope (``k=v`` pairs joined by commas, as budgets and anomalies write
    them) names ``team=TEAM``."""
    pair = f"team={team}"
    scope = _ALERT.c.scope
    return sa.or_(scope == pair,
                  scope.like(_like(pair) + ",%", escape="\\"),
                  scope.like("%," + _like(pair), escape="\\"),
                  scope.like("%," + _like(pair) + ",%", escape="\\"))


def list_alert_views(conn: Connection, limit: int = 100, status: Status | None = None,
                     team: str | None = None) -> list[dict[str, Any]]:
    """The newest alerts first, each with its deliveries and summed-up status; with ``team``,
    only the alerts whose scope names that team (what a team token reads)."""
    query = sa.select(_ALERT).order_by(_ALERT.c.created_at.desc(), _ALERT.c.id).limit(limit)
    if status is not None:
        query = query.where(_status_filter(status))
    if team is not None:
        query = query.where(_team_filter(team))
    alerts = conn.execute(query).all()
    ids = [a.id for a in alerts]
    deliveries: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    channels = all_channels(conn) if ids else {}
    if ids:
        rows = conn.execute(sa.select(_DELIVERY).where(_DELIVERY.c.alert_id.in_(ids))
                            .order_by(_DELIVERY.c.created_at, _DELIVERY.c.id)).all()
        for d in rows:
            channel = channels.get(d.channel_id)
            deliveries[d.alert_id].append({
                "id": d.id, "channel": d.channel_id,
                "kind": channel.kind if channel else None, "state": d.state,
                "attempts": d.attempts, "last_status": d.last_status,
                "last_error": d.last_error, "created_at": iso_ms(d.created_at),
                "next_attempt_at": _time(d.next_attempt_at) if d.state == "pending" else None,
                "delivered_at": _time(d.delivered_at), "failed_at": _time(d.failed_at)})
    views = []
    for a in alerts:
        alert = Alert(a.id, a.kind, a.scope, a.dedup_key, json.loads(a.payload_json),
                      a.created_at)
        mine = deliveries[a.id]
        states = {d["state"] for d in mine}
        summed: Status = ("failed" if FAILED in states else
                          "delivered" if mine and states == {DELIVERED} else "pending")
        views.append({**alert_json(alert), "status": summed, "deliveries": mine})
    return views
