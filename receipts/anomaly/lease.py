"""A named lease in the database: what makes a background job run once across every worker
process and replica sharing the database.

One row per job (``receipts_lease``): its holder's token and when the lease ends. A worker
holds the lease while ``lease_until`` is in the future and ``holder`` is its token; it renews
it on every pass, and any worker takes it over once it has lapsed (the holder died, was killed
or lost the database). Taking and renewing are one guarded ``UPDATE`` (or the first ``INSERT``
of the row, ``ON CONFLICT DO NOTHING``), atomic on SQLite (one writer) and on PostgreSQL (the
second of two concurrent updates waits for the first and re-checks the condition), so at most
one worker holds a live lease at any time. The holder renews in the same transaction as the
work it does under it: a holder whose lease lapsed meanwhile does nothing.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlmodel import Field, SQLModel

from receipts.storage.tables import table


class LeaseRow(SQLModel, table=True):
    """One background job's lease."""

    __tablename__ = "receipts_lease"
    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=64)
    lease_until: int = Field(sa_type=sa.BigInteger)


_LEASE = table(LeaseRow)


def take(conn: Connection, name: str, holder: str, now: int, lease_ms: int) -> bool:
    """Take or renew the lease ``name`` for ``holder`` until ``now + lease_ms``; whether it
    is held (in ``conn``'s write transaction: commit it for the lease to count)."""
    until = now + lease_ms
    updated = conn.execute(_LEASE.update()
                           .where(_LEASE.c.name == name,
                                  sa.or_(_LEASE.c.holder == holder,
                                         _LEASE.c.lease_until <= now))
                           .values(holder=holder, lease_until=until))
    if updated.rowcount:
        return True
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    # (RETURNING, not rowcount: psycopg's rowcount of an INSERT ... ON CONFLICT DO NOTHING
    # was -1, true, when the row existed, so every worker took a held lease)
    inserted = conn.execute(dialect.insert(_LEASE)
                            .values(name=name, holder=holder, lease_until=until)
                            .on_conflict_do_nothing().returning(_LEASE.c.name))
    return inserted.first() is not None


def release(conn: Connection, name: str, holder: str) -> None:
    """Give the lease up (at shutdown: another worker takes over at once, not after expiry)."""
    conn.execute(_LEASE.update().where(_LEASE.c.name == name, _LEASE.c.holder == holder)
                 .values(lease_until=0))

