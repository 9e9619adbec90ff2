"""The delivery queue in the database: fan-out per channel, leases, retries with backoff.

Every step is one short transaction, so a worker killed at any point (kill -9 included) loses
nothing:

* **fan-out**: an alert's outbox row becomes one delivery row per channel, and the outbox row is
  marked handed over, in one transaction. While no channel exists the outbox row waits.
* **claim**: a worker takes due rows by writing a lease (``lease_until``, its ``lease_token``) and
  counting the attempt. On PostgreSQL the rows are picked with ``FOR UPDATE SKIP LOCKED``, so
  workers and replicas never wait on, or take, each other's rows; on SQLite (one writer at a
  time) each row is taken by an ``UPDATE`` that only matches while no live lease holds it.
* **result**: a 2xx marks the row delivered; anything else schedules the next attempt after an
  exponential backoff with jitter, or marks it failed after the last attempt. A worker that
  dies mid-delivery records nothing: its lease expires and another worker retries the row with
  the same event id (at least once, deduplicated by the receiver).
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from receipts.alerts.tables import AlertChannelRow, AlertDeliveryRow, AlertOutboxRow
from receipts.storage.tables import table

_OUTBOX = table(AlertOutboxRow)
_DELIVERY = table(AlertDeliveryRow)
_CHANNEL = table(AlertChannelRow)

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
_JITTER = random.Random()
MAX_ERROR = 500


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long a delivery is retried, and how long a claim lasts.

    The wait before attempt n+1 is ``min(cap, base * 2**(n-1))``, of which a random half is
    jitter (so receivers coming back are not hit by every worker at once). With the defaults
    (1 s base, 5 min cap, 20 attempts) a delivery is retried for about an hour.
    """

    base_ms: int = 1000
    cap_ms: int = 300_000
    max_attempts: int = 20
    lease_ms: int = 60_000

    def delay_ms(self, attempts: int, rng: random.Random | None = None) -> int:
        """The wait after the ``attempts``-th failed attempt."""
        full = min(self.cap_ms, self.base_ms << max(0, min(attempts - 1, 40)))
        return full - full // 2 + (rng or _JITTER).randint(0, full // 2)

    @property
    def timeout_s(self) -> float:
        """An HTTP attempt's time limit: well inside the lease, so a slow receiver does not
        let a second worker claim a row that is still being delivered."""
        return min(10.0, self.lease_ms / 3000)


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker holds the lease of; ``attempt`` counts this one."""

    id: str
    alert_id: str
    channel_id: str
    attempt: int


def _insert_ignore(conn: Connection, table: sa.Table) -> sa.Insert:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def _is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def has_work(conn: Connection, now: int) -> bool:
    """Anything to hand over or to attempt now (a read, so idle workers take no lock)."""
    due = conn.execute(sa.select(_DELIVERY.c.id).where(*_due(now)).limit(1)).first()
    if due is not None:
        return True
    waiting = conn.execute(sa.select(_OUTBOX.c.alert_id)
                           .where(_OUTBOX.c.delivered_at.is_(None)).limit(1)).first()
    if waiting is None:
        return False
    return conn.execute(sa.select(_CHANNEL.c.id).where(_CHANNEL.c.removed_at.is_(None))
                        .limit(1)).first() is not None


def fan_out(conn: Connection, now: int, limit: int = 100) -> int:
    """Turn waiting outbox rows into one delivery per channel; the number of alerts handed."""
    channels = [r.id for r in conn.execute(sa.select(_CHANNEL.c.id)
                                           .where(_CHANNEL.c.removed_at.is_(None))).all()]
    if not channels:
        return 0
    query = (sa.select(_OUTBOX.c.alert_id).where(_OUTBOX.c.delivered_at.is_(None))
             .order_by(_OUTBOX.c.next_attempt_at).limit(limit))
    if _is_postgres(conn):
        query = query.with_for_update(skip_locked=True)
    alerts = [r.alert_id for r in conn.execute(query).all()]
    if not alerts:
        return 0
    conn.execute(_insert_ignore(conn, _DELIVERY), [
        {"id": "dl_" + secrets.token_hex(12), "alert_id": alert_id, "channel_id": channel,
         "state": PENDING, "attempts": 0, "next_attempt_at": now, "created_at": now}
        for alert_id in alerts for channel in channels])
    conn.execute(_OUTBOX.update().where(_OUTBOX.c.alert_id.in_(alerts))
                 .values(delivered_at=now))
    return len(alerts)


def _due(now: int) -> tuple[sa.ColumnElement[bool], ...]:
    return (_DELIVERY.c.state == PENDING, _DELIVERY.c.next_attempt_at <= now,
            sa.or_(_DELIVERY.c.lease_until.is_(None), _DELIVERY.c.lease_until <= now))


def claim(conn: Connection, now: int, lease_ms: int, token: str, limit: int) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries to ``token`` and count the attempt."""
    pick = (sa.select(_DELIVERY.c.id).where(*_due(now))
            .order_by(_DELIVERY.c.next_attempt_at, _DELIVERY.c.id).limit(limit))
    taken = {"lease_until": now + lease_ms, "lease_token": token,
             "attempts": _DELIVERY.c.attempts + 1}
    returning = (_DELIVERY.c.id, _DELIVERY.c.alert_id, _DELIVERY.c.channel_id,
                 _DELIVERY.c.attempts)
    if _is_postgres(conn):
        rows = conn.execute(_DELIVERY.update()
                            .where(_DELIVERY.c.id.in_(pick.with_for_update(skip_locked=True)
                                                      .scalar_subquery()))
                            .values(**taken).returning(*returning)).all()
    else:
        rows = []
        for delivery_id in conn.execute(pick).scalars().all():
            rows += conn.execute(_DELIVERY.update()
                                 .where(_DELIVERY.c.id == delivery_id, *_due(now))
                                 .values(**taken).returning(*returning)).all()
    return sorted((Claimed(r.id, r.alert_id, r.channel_id, r.attempts) for r in rows),
                  key=lambda c: c.id)


def record_delivered(conn: Connection, delivery_id: str, status: int, now: int) -> None:
    """A 2xx: the delivery is done (whichever worker's attempt it was)."""
    conn.execute(_DELIVERY.update()
                 .where(_DELIVERY.c.id == delivery_id, _DELIVERY.c.state != DELIVERED)
                 .values(state=DELIVERED, delivered_at=now, last_status=status,
                         last_error=None, lease_until=None))


def record_failure(conn: Connection, claimed: Claimed, token: str, status: int | None,
                   error: str, now: int, policy: RetryPolicy, final: bool = False) -> str:
    """Schedule the next attempt, or fail the delivery after the last one; the new state.

    Only the lease holder records a failure: a worker whose lease ran out while it waited
    must not push back a row another worker now holds.
    """
    state = FAILED if final or claimed.attempt >= policy.max_attempts else PENDING
    values: dict[str, object] = {"last_status": status, "last_error": error[:MAX_ERROR],
                                 "lease_until": None, "lease_token": None, "state": state}
    if state == FAILED:
        values["failed_at"] = now
    else:
        values["next_attempt_at"] = now + policy.delay_ms(claimed.attempt)
    conn.execute(_DELIVERY.update()
                 .where(_DELIVERY.c.id == claimed.id, _DELIVERY.c.lease_token == token,
                        _DELIVERY.c.state == PENDING)
                 .values(**values))
    return state


def retry_failed(conn: Connection, alert_id: str, now: int) -> int:
    """Put an alert's failed deliveries to channels still in place back in the queue, each
    with a fresh series of attempts; the number requeued (its event ids stay the same)."""
    active = sa.select(_CHANNEL.c.id).where(_CHANNEL.c.removed_at.is_(None))
    result = conn.execute(_DELIVERY.update()
                          .where(_DELIVERY.c.alert_id == alert_id,
                                 _DELIVERY.c.state == FAILED,
                                 _DELIVERY.c.channel_id.in_(active.scalar_subquery()))
                          .values(state=PENDING, attempts=0, next_attempt_at=now,
                                  failed_at=None, lease_until=None, lease_token=None))
    return result.rowcount or 0
