"""The allocation set table: every version ever recorded, as signed at ``allocations set``.

A set is content-addressed (its id is the SHA-256 of its payload bytes) and never replaced: a
correction is a new set for the same month, recorded later, which supersedes the earlier one
where it is in force (spec §8.1), while the earlier one stays in every ledger exported after,
so a month's allocations can be reproduced from the ledger alone as they were.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class AllocationSetRow(SQLModel, table=True):
    """One allocation set: its deterministic payload bytes (hash = id) and signed item."""

    __tablename__ = "receipts_allocation_set"
    __table_args__ = (sa.Index("ix_allocation_set_order", "effective_from", "created_at"),)
    id: bytes = Field(primary_key=True, sa_type=sa.LargeBinary)
    name: str = Field(max_length=256)
    effective_from: str = Field(max_length=7)
    created_at: int = Field(sa_type=sa.BigInteger)
    source_format: str = Field(max_length=8)
    payload: bytes = Field(sa_type=sa.LargeBinary)
    item: bytes = Field(sa_type=sa.LargeBinary)
