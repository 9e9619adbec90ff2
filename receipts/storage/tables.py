"""Database tables (SQLModel): the service's whole durable state, and nothing else.

Receipts are stored as the exact signed COSE bytes that go into the ledger (``item``); the other
columns are copies of payload fields kept only so that queries can filter and page without
decoding. Price books and FX rates are stored as their signed items too, so an export writes the
very bytes that were in force. Timestamps are integer milliseconds since the Unix epoch (the
format's unit), in BIGINT columns. Money lives inside the signed payload; the one money column,
``cost_rank``, is a sort key copied from it (and the spend aggregates, :mod:`receipts.spend.tables`,
are sums derived from it), never a value read back as a receipt's cost.
"""

from __future__ import annotations

from typing import cast

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class MetaRow(SQLModel, table=True):
    """Facts fixed at ``receipt init``: issuer, reporting currency, key id, admin token hash."""

    __tablename__ = "receipts_meta"
    key: str = Field(primary_key=True, max_length=64)
    value: str


class AgentRow(SQLModel, table=True):
    """An agent API key, stored only as its SHA-256, with the team and tags it is bound to."""

    __tablename__ = "receipts_agent"
    id: str = Field(primary_key=True, max_length=64)
    key_hash: bytes = Field(sa_type=sa.LargeBinary, unique=True)
    team: str = Field(max_length=256)
    tags_json: str
    created_at: int = Field(sa_type=sa.BigInteger)
    revoked_at: int | None = Field(default=None, sa_type=sa.BigInteger)


class RoleTokenRow(SQLModel, table=True):
    """A read-only role token (finance, or one team), stored only as its SHA-256."""

    __tablename__ = "receipts_role_token"
    id: str = Field(primary_key=True, max_length=64)
    key_hash: bytes = Field(sa_type=sa.LargeBinary, unique=True)
    role: str = Field(max_length=16)
    team: str | None = Field(default=None, max_length=256)
    name: str = Field(default="", max_length=256)
    created_at: int = Field(sa_type=sa.BigInteger)
    revoked_at: int | None = Field(default=None, sa_type=sa.BigInteger)


class ChainHeadRow(SQLModel, table=True):
    """Where each chain stands. Appends lock this row (the serialization point of a chain)."""

    __tablename__ = "receipts_chain_head"
    chain: str = Field(primary_key=True, max_length=64)
    size: int = Field(sa_type=sa.BigInteger)
    head: bytes = Field(sa_type=sa.LargeBinary)
    last_issued_at: int = Field(sa_type=sa.BigInteger)


class ReceiptRow(SQLModel, table=True):
    """One signed receipt: its ledger bytes plus query columns copied from its payload."""

    __tablename__ = "receipts_receipt"
    __table_args__ = (
        sa.UniqueConstraint("agent_id", "request_id", name="uq_receipt_agent_request"),
        sa.Index("ix_receipt_issued", "issued_at", "id"),
        sa.Index("ix_receipt_cost", "cost_rank", "id"),
    )
    chain: str = Field(primary_key=True, max_length=64)
    seq: int = Field(primary_key=True, sa_type=sa.BigInteger, sa_column_kwargs={
        "autoincrement": False})
    id: str = Field(unique=True, max_length=64)
    agent_id: str = Field(max_length=64)
    request_id: str = Field(max_length=256)
    body_hash: bytes = Field(sa_type=sa.LargeBinary)
    issued_at: int = Field(sa_type=sa.BigInteger)
    team: str | None = Field(default=None, max_length=256)
    project: str | None = Field(default=None, max_length=256)
    provider: str = Field(max_length=256)
    model: str = Field(max_length=256)
    started_at: int | None = Field(default=None, sa_type=sa.BigInteger)
    cost_rank: int | None = Field(default=None, sa_type=sa.BigInteger)
    item: bytes = Field(sa_type=sa.LargeBinary)


COST_RANK_OFFSET = 1 << 63
"""``cost_rank = cost_reporting - 2^63``: a cost is an unsigned 64-bit integer, which a signed
BIGINT holds only shifted; the shift keeps the order exact (null: no reporting cost)."""


def cost_rank(cost_reporting: int | None) -> int | None:
    """The sort key of a receipt's ``cost_reporting``."""
    return None if cost_reporting is None else cost_reporting - COST_RANK_OFFSET


class PriceBookRow(SQLModel, table=True):
    """A price book: its deterministic payload bytes (hash = id) and its signed ledger item."""

    __tablename__ = "receipts_price_book"
    id: bytes = Field(primary_key=True, sa_type=sa.LargeBinary)
    effective_from: int = Field(sa_type=sa.BigInteger)
    added_at: int = Field(sa_type=sa.BigInteger)
    payload: bytes = Field(sa_type=sa.LargeBinary)
    item: bytes = Field(sa_type=sa.LargeBinary)


class FxRateRow(SQLModel, table=True):
    """A published FX rate and its signed ledger item."""

    __tablename__ = "receipts_fx_rate"
    id: int | None = Field(default=None, primary_key=True)
    base: str = Field(max_length=3)
    quote: str = Field(max_length=3)
    date: str = Field(max_length=10)
    rate: int = Field(sa_type=sa.BigInteger)
    source: str = Field(max_length=256)
    published_at: int = Field(sa_type=sa.BigInteger)
    item: bytes = Field(sa_type=sa.LargeBinary)


class CheckpointRow(SQLModel, table=True):
    """A signed checkpoint of one chain (the start-up self-check resumes from the newest)."""

    __tablename__ = "receipts_checkpoint"
    chain: str = Field(primary_key=True, max_length=64)
    size: int = Field(primary_key=True, sa_type=sa.BigInteger,
                      sa_column_kwargs={"autoincrement": False})
    head: bytes = Field(sa_type=sa.LargeBinary)
    time: int = Field(sa_type=sa.BigInteger)
    item: bytes = Field(sa_type=sa.LargeBinary)


def table(model: type[SQLModel]) -> sa.Table:
    """The Core table of a model (the append path uses Core statements, not the ORM)."""
    return cast(sa.Table, model.__table__)  # type: ignore[attr-defined]


METADATA = SQLModel.metadata
