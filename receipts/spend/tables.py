"""Spend aggregate tables: the groups receipts fall into, and their totals per time bucket.

A *group* is everything a spend query can group or filter by that is fixed for a receipt:
agent, provider, model, the full tag set, currency, FX currency and whether it is a retry. A
*bucket* holds one group's totals over one UTC time span (15 minutes, an hour or a day) on one
chain: the chain is in the key so that writers holding different chains never update the same
row (on PostgreSQL, appends to different chains run in parallel; a shared row would make them
wait on each other's row lock until commit).

Each bucket has one row per token category plus one (``category = ''``) for the counts and the
totals. Money sums can pass 64 bits (a receipt's cost alone may be up to 2^64 - 1 units of
10^-12), and neither SQLite nor PostgreSQL's BIGINT holds that, while SQLite has no exact wider
type: every money sum is two BIGINT columns, ``*_hi`` and ``*_lo`` with value
``hi * 2^40 + lo`` and ``0 <= lo < 2^40`` (the upsert carries ``lo`` into ``hi``), so SQL sums
them exactly on both databases (``SUM(lo)`` stays below 2^63 for up to 2^23 rows summed).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class SpendGroupRow(SQLModel, table=True):
    """One group: the fields of a receipt that spend queries group and filter by."""

    __tablename__ = "receipts_spend_group"
    id: int = Field(primary_key=True, sa_type=sa.BigInteger,
                    sa_column_kwargs={"autoincrement": False})
    team: str | None = Field(default=None, max_length=256, index=True)
    agent: str = Field(max_length=256)
    provider: str = Field(max_length=256)
    model: str = Field(max_length=256)
    tags_json: str
    currency: str = Field(max_length=3)
    fx_currency: str | None = Field(default=None, max_length=3)
    retry: bool


class SpendBucketRow(SQLModel, table=True):
    """A group's totals over one span on one chain, for one category ('' = counts, totals)."""

    __tablename__ = "receipts_spend_bucket"
    __table_args__ = {"sqlite_with_rowid": False}  # the key is the row: one B-tree, not two
    span: int = Field(primary_key=True, sa_type=sa.BigInteger,
                      sa_column_kwargs={"autoincrement": False})
    start: int = Field(primary_key=True, sa_type=sa.BigInteger,
                       sa_column_kwargs={"autoincrement": False})
    group_id: int = Field(primary_key=True, sa_type=sa.BigInteger,
                          sa_column_kwargs={"autoincrement": False})
    chain: str = Field(primary_key=True, max_length=64)
    category: str = Field(primary_key=True, max_length=64)
    receipts: int = Field(sa_type=sa.BigInteger)
    priced: int = Field(sa_type=sa.BigInteger)
    priced_reporting: int = Field(sa_type=sa.BigInteger)
    tokens: int = Field(sa_type=sa.BigInteger)
    cost_hi: int = Field(sa_type=sa.BigInteger)
    cost_lo: int = Field(sa_type=sa.BigInteger)
    reporting_hi: int = Field(sa_type=sa.BigInteger)
    reporting_lo: int = Field(sa_type=sa.BigInteger)


class SpendMinuteRow(SQLModel, table=True):
    """A group's cost in the reporting currency over one UTC minute on one chain: the series
    the anomaly detector reads (:mod:`receipts.anomaly.series`).

    One row per (minute, group, chain) that had a priced receipt, written in the append
    transaction like the buckets, so the series is exact and no receipt is missed or counted
    twice. Money is ``hi * 2^40 + lo`` as in :class:`SpendBucketRow`. Rows older than the
    detector's window are pruned by the detector loop.
    """

    __tablename__ = "receipts_spend_minute"
    __table_args__ = {"sqlite_with_rowid": False}
    minute: int = Field(primary_key=True, sa_type=sa.BigInteger,
                        sa_column_kwargs={"autoincrement": False})
    group_id: int = Field(primary_key=True, sa_type=sa.BigInteger,
                          sa_column_kwargs={"autoincrement": False})
    chain: str = Field(primary_key=True, max_length=64)
    cost_hi: int = Field(sa_type=sa.BigInteger)
    cost_lo: int = Field(sa_type=sa.BigInteger)
