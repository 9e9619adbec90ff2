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
    """A pending delivery of one alert; deleted-free: ``delivered_at`` marks completion."""

    __tablename__ = "receipts_alert_outbox"
    __table_args__ = (sa.Index("ix_alert_outbox_due", "delivered_at", "next_attempt_at"),)
    alert_id: str = Field(primary_key=True, max_length=64)
    attempts: int = Field(default=0)
    next_attempt_at: int = Field(sa_type=sa.BigInteger)
    lease_until: int | None = Field(default=None, sa_type=sa.BigInteger)
    delivered_at: int | None = Field(default=None, sa_type=sa.BigInteger)
