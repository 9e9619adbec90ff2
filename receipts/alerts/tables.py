"""Alert tables: the alert itself and its outbox row, in the service's own database.

The outbox row is written in the same transaction as the alert (and as whatever state change
raised it), so an alert that committed is never lost: a delivery worker finds the row after any
restart. ``lease_until`` lets exactly one worker claim a row at a time.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class AlertRow(SQLModel, table=True):
    """One alert; ``dedup_key`` is unique so raising the same alert twice stores it once."""

    __tablename__ = "receipts_alert"
    id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=64)
    scope: str = Field(max_length=512)
    dedup_key: str = Field(unique=True, max_length=512)
    payload_json: str
    created_at: int = Field(sa_type=sa.BigInteger)


class AlertOutboxRow(SQLModel, table=True):
    """An alert waiting to be handed to the channels; never deleted.

    The delivery worker turns it into one :class:`AlertDeliveryRow` per channel and sets
    ``delivered_at`` (handed over) in the same transaction; while no channel exists it stays
    pending, so the first channel added receives what was raised before it."""

    __tablename__ = "receipts_alert_outbox"
    __table_args__ = (sa.Index("ix_alert_outbox_due", "delivered_at", "next_attempt_at"),)
    alert_id: str = Field(primary_key=True, max_length=64)
    attempts: int = Field(default=0)
    next_attempt_at: int = Field(sa_type=sa.BigInteger)
    lease_until: int | None = Field(default=None, sa_type=sa.BigInteger)
    delivered_at: int | None = Field(default=None, sa_type=sa.BigInteger)


class AlertChannelRow(SQLModel, table=True):
    """Where alerts go. ``sealed`` holds the URL and secret encrypted (AES-256-GCM with a key
    derived from the signing key, :mod:`receipts.alerts.sealing`); ``display_url`` is what
    listings show. Removing a channel sets ``removed_at``: its delivery history stays."""

    __tablename__ = "receipts_alert_channel"
    id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=32)
    display_url: str = Field(max_length=2048)
    sealed: bytes = Field(sa_type=sa.LargeBinary)
    has_secret: bool = Field(default=False)
    created_at: int = Field(sa_type=sa.BigInteger)
    removed_at: int | None = Field(default=None, sa_type=sa.BigInteger)


class AlertDeliveryRow(SQLModel, table=True):
    """One alert to one channel: claimed under a lease, retried with backoff, never deleted.

    ``id`` is the delivery's stable event id (sent on every attempt, so a receiver drops
    duplicates); ``state`` is ``pending``, ``delivered`` (after a 2xx) or ``failed`` (after
    the last attempt). A worker owns a row while ``lease_until`` is in the future and
    ``lease_token`` is its own; a worker killed mid-delivery leaves a lease that expires.
    """

    __tablename__ = "receipts_alert_delivery"
    __table_args__ = (sa.UniqueConstraint("alert_id", "channel_id"),
                      sa.Index("ix_alert_delivery_due", "state", "next_attempt_at"))
    id: str = Field(primary_key=True, max_length=64)
    alert_id: str = Field(max_length=64, index=True)
    channel_id: str = Field(max_length=64)
    state: str = Field(default="pending", max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: int = Field(sa_type=sa.BigInteger)
    lease_until: int | None = Field(default=None, sa_type=sa.BigInteger)
    lease_token: str | None = Field(default=None, max_length=64)
    last_status: int | None = Field(default=None)
    last_error: str | None = Field(default=None, max_length=512)
    created_at: int = Field(sa_type=sa.BigInteger)
    delivered_at: int | None = Field(default=None, sa_type=sa.BigInteger)
    failed_at: int | None = Field(default=None, sa_type=sa.BigInteger)
