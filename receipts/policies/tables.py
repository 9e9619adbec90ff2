"""Policy tables: every version of the policy, and the flags raised on receipts.

Flags live beside the ledger, keyed by receipt id: a signed payload is never changed, and a
flag is the service's opinion of a receipt under one policy version, not part of the receipt.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class PolicyVersionRow(SQLModel, table=True):
    """One ``policy set``: the source as given, its SHA-256 and when; the highest is current."""

    __tablename__ = "receipts_policy_version"
    version: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    sha256: str = Field(max_length=64)
    format: str = Field(max_length=8)
    source: str
    created_at: int = Field(sa_type=sa.BigInteger)


class PolicyFlagRow(SQLModel, table=True):
    """A ``flag`` rule a receipt broke (one row per receipt and rule)."""

    __tablename__ = "receipts_policy_flag"
    __table_args__ = (sa.Index("ix_policy_flag_created", "created_at", "receipt_id"),)
    receipt_id: str = Field(primary_key=True, max_length=64)
    rule: str = Field(primary_key=True, max_length=64)
    policy_version: int
    field: str = Field(max_length=128)
    message: str
    detail: str
    team: str | None = Field(default=None, max_length=256)
    agent_id: str = Field(max_length=64)
    created_at: int = Field(sa_type=sa.BigInteger)
