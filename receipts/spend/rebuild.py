"""Bringing a database made before the spend aggregates up to date, once, when it is opened.

New tables appear by themselves (``create_schema``), but they start empty while the receipts
are already there, and ``receipts_receipt`` lacks the ``cost_rank`` column; and aggregates
kept in an earlier layout are of no use to this code. So on open, unless the meta fact
:data:`SPEND_AGGREGATES` names the current :data:`LAYOUT`, one write transaction (holding every
chain head, so no append runs meanwhile) adds the column and its index if missing, makes the
bucket table anew (and forgets the local days made from the old one), then reads every stored
receipt, fills its ``cost_rank`` and builds its buckets exactly as the append would
(:class:`receipts.spend.buckets.SpendDelta`), and records the fact. ``receipt init`` records
it on a new database, which has no receipt to account.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from receipts.spend import local_days
from receipts.spend.buckets import SpendDelta
from receipts.spend.query import BUCKET, GROUP
from receipts.spend.tables import SPEND_LOCAL_DAY, SpendMinuteRow
from receipts.spend.upsert_sql import SpendWriter
from receipts.storage import queries as store
from receipts.storage.database import Database
from receipts.storage.tables import cost_rank, table
from verifier import cose
from verifier.encoding import decode_strict

SPEND_AGGREGATES = "spend_aggregates"
"""Meta key: the :data:`LAYOUT` of the aggregates, once they account for every stored receipt."""
LAYOUT = "3"
"""The aggregates' layout: ``"1"`` had a row per category and an hour span; ``"2"`` keeps the
main categories in the main row (:mod:`receipts.spend.tables`) and has no hour span; ``"3"``
counts ``cache_read`` among them."""
PAGE = 5000
MINUTE = table(SpendMinuteRow)


def mark_current(conn: Connection) -> None:
    """Record that the aggregates are complete (a new, empty database)."""
    store.set_meta(conn, SPEND_AGGREGATES, LAYOUT)


def _has_cost_rank(conn: Connection) -> bool:
    return any(c["name"] == "cost_rank" for c in sa.inspect(conn).get_columns("receipts_receipt"))


def ensure_current(db: Database) -> int | None:
    """Build the aggregates of a database that predates them; the receipts accounted, or None
    when they were already current."""
    with db.read() as conn:
        if store.get_meta(conn).get(SPEND_AGGREGATES) == LAYOUT:
            return None
    with db.write() as conn:
        store.lock_all_chains(conn)
        if store.get_meta(conn).get(SPEND_AGGREGATES) == LAYOUT:  # another process did it
            return None
        if not _has_cost_rank(conn):
            conn.exec_driver_sql("ALTER TABLE receipts_receipt ADD COLUMN cost_rank BIGINT")
            conn.exec_driver_sql("CREATE INDEX ix_receipt_cost ON receipts_receipt "
                                 "(cost_rank, id)")
        for made in (BUCKET, SPEND_LOCAL_DAY):  # (their columns may be an earlier layout's)
            made.drop(conn, checkfirst=True)
            made.create(conn)
        conn.execute(sa.delete(MINUTE))
        conn.execute(sa.delete(GROUP))
        local_days.forget_all(conn)
        count = _account_all(conn)
        mark_current(conn)
    return count


def _account_all(conn: Connection) -> int:
    """Fill ``cost_rank`` and the buckets from every stored receipt, a page at a time."""
    receipt = store.RECEIPT
    writer = SpendWriter(conn.connection.driver_connection, db_is_sqlite(conn))
    count = 0
    for head in store.heads(conn):
        for start in range(0, head.size, PAGE):
            items = store.chain_items(conn, head.chain, start, min(start + PAGE, head.size))
            delta = SpendDelta()
            ranks: list[dict[str, Any]] = []
            for seq, item in enumerate(items, start):
                payload = decode_strict(cose.parse(item).payload)
                delta.add(payload)
                ranks.append({"c": head.chain, "s": seq,
                              "r": cost_rank(payload["cost_reporting"])})
            if ranks:
                conn.execute(sa.update(receipt).where(
                    receipt.c.chain == sa.bindparam("c"), receipt.c.seq == sa.bindparam("s"))
                    .values(cost_rank=sa.bindparam("r")), ranks)
            writer.write(delta)
            count += len(items)
    return count


def db_is_sqlite(conn: Connection) -> bool:
    """Whether ``conn`` is on SQLite."""
    return conn.dialect.name == "sqlite"
