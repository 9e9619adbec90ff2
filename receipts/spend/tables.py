"""Spend aggregate tables: the groups receipts fall into, and their totals per time bucket.

A *group* is everything a spend query can group or filter by that is fixed for a receipt:
agent, provider, model, the full tag set, currency, FX currency and whether it is a retry. A
*bucket* holds one group's totals over one UTC time span (15 minutes, a day or an ISO week) on
one chain: the chain is in the key so that writers holding different chains never update the
same row (on PostgreSQL, appends to different chains run in parallel; a shared row would make
them wait on each other's row lock until commit).

A bucket is one *main* row (``category = ''``) with the counts, the totals and the numbers of
the categories nearly every call has (:data:`MAIN_CATEGORIES`, in columns of their own), plus
one row per other category its receipts used (``category`` = its name, its numbers in
``receipts``, ``tokens``, ``cost_*`` and ``reporting_*``). Most receipts so touch one row per
span, where one row per category made three or four: fewer statements per append and fewer
rows per query. Every category, main or not, also counts the receipts that list it
(``receipts`` / ``<c>_receipts``): a category used with 0 tokens is still shown, as the
rollup shows it, and a query that subtracts a range knows whether anything is left.

Money sums can pass 64 bits (a receipt's cost alone may be up to 2^64 - 1 units of 10^-12),
and neither SQLite nor PostgreSQL's BIGINT holds that, while SQLite has no exact wider type:
every money sum is two BIGINT columns, ``*_hi`` and ``*_lo`` with value ``hi * 2^40 + lo`` and
``0 <= lo < 2^40`` as stored (the upsert carries ``lo`` into ``hi``), so SQL sums them exactly
on both databases (``SUM(lo)`` stays below 2^63 for up to 2^23 rows summed).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from receipts.storage.tables import METADATA

MAIN_CATEGORIES = ("input", "output", "cache_read")
"""Categories kept in a bucket's main row: every call has input and output, and with prompt
caching most have cache reads (measured at 1,000,000 receipts with a third of calls reading
the cache: out of the main row, the cache reads were 43 % of the day rows, and a query over
them a third slower). Changing them changes the table: bump
:data:`receipts.spend.rebuild.LAYOUT` so that stored aggregates are rebuilt."""


def money(name: str) -> tuple[str, str]:
    """The two columns of a money sum."""
    return f"{name}_hi", f"{name}_lo"


BUCKET_KEY = ("span", "start", "group_id", "chain", "category")
BUCKET_VALUES = (
    "receipts", "priced", "priced_reporting", "tokens", *money("cost"), *money("reporting"),
    *(column for c in MAIN_CATEGORIES for column in (
        f"{c}_receipts", f"{c}_tokens", *money(f"{c}_cost"), *money(f"{c}_reporting"))))
"""A bucket row's value columns, in the order the writer binds them."""


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


SPEND_BUCKET = sa.Table(
    "receipts_spend_bucket", METADATA,
    *(sa.Column(name, sa.BigInteger, primary_key=True, autoincrement=False)
      for name in ("span", "start", "group_id")),
    sa.Column("chain", sa.String(64), primary_key=True),
    sa.Column("category", sa.String(64), primary_key=True),
    *(sa.Column(name, sa.BigInteger, nullable=False) for name in BUCKET_VALUES),
    sqlite_with_rowid=False,  # the key is the row: one B-tree, not two
)
"""A group's totals over one span on one chain (main row, or one other category's row)."""


class SpendMinuteRow(SQLModel, table=True):
    """A group's cost in the reporting currency over one UTC minute on one chain: the series
    the anomaly detector reads (:mod:`receipts.anomaly.series`).

    One row per (minute, group, chain) that had a priced receipt, written in the fold
    transaction with the buckets (:mod:`receipts.spend.fold`), so the series is exact and no
    receipt is missed or counted twice. Money is ``hi * 2^40 + lo`` as in :data:`SPEND_BUCKET`.
    Rows older than the detector's window are pruned by the detector loop.
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


SPEND_LOCAL_DAY = sa.Table(
    "receipts_spend_local_day", METADATA,
    sa.Column("zone", sa.String(64), primary_key=True),
    sa.Column("start", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("group_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("category", sa.String(64), primary_key=True),
    *(sa.Column(name, sa.BigInteger, nullable=False) for name in BUCKET_VALUES),
    sqlite_with_rowid=False,
)
"""A group's totals over one ended local day of one time zone (``start``: its midnight in
epoch ms), every chain together, with the bucket rows' columns and categories: made once the
day has ended, from the buckets (:mod:`receipts.spend.local_days`), never by an append."""


class SpendFoldRow(SQLModel, table=True):
    """How far a chain's receipts are in the aggregates: seqs ``[0, folded)`` of ``chain`` are
    in the buckets, the minute series and the groups, the later ones not yet
    (:mod:`receipts.spend.fold`). No row: none are."""

    __tablename__ = "receipts_spend_fold"
    chain: str = Field(primary_key=True, max_length=64)
    folded: int = Field(default=0, sa_type=sa.BigInteger)


class SpendZoneRow(SQLModel, table=True):
    """A time zone whose ended days are kept in :data:`SPEND_LOCAL_DAY`, and which: every day
    starting in [``first``, ``until``) (both None: none yet)."""

    __tablename__ = "receipts_spend_zone"
    zone: str = Field(primary_key=True, max_length=64)
    first: int | None = Field(default=None, sa_type=sa.BigInteger)
    until: int | None = Field(default=None, sa_type=sa.BigInteger)
