"""Bringing a database made before the current spend aggregates up to date, once, when opened.

New tables appear by themselves (``create_schema``), but they start empty while the receipts
are already there, and ``receipts_receipt`` may lack the ``cost_rank`` column; and aggregates
kept in an earlier layout are of no use to this code. So on open, unless the meta fact
:data:`SPEND_AGGREGATES` names the current :data:`LAYOUT`, one write transaction (holding every
chain head, so no append runs meanwhile) either

- takes layout ``"3"`` as it is: its buckets were written in each append's transaction, so
  they hold exactly the receipts stored, and every chain is recorded as folded to its head
  (:mod:`receipts.spend.fold`); or
- for any older layout, adds the column and its index if missing and fills ``cost_rank``,
  makes the bucket table anew (and forgets the local days made from the old one), empties the
  minutes, the groups and the fold positions,

and records the fact; the receipts are then folded, a page per transaction (a reader folds
what is left meanwhile, so its answers are exact throughout). ``receipt init`` records the
fact on a new database, which has no receipt to account.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from receipts.spend import fold, local_days
from receipts.spend.query import BUCKET, GROUP
from receipts.spend.tables import SPEND_LOCAL_DAY, SpendFoldRow, SpendMinuteRow
from receipts.storage import queries as store
from receipts.storage.database import Database
from receipts.storage.tables import cost_rank, table
from verifier import cose
from verifier.encoding import decode_strict

SPEND_AGGREGATES = "spend_aggregates"
"""Meta key: the :data:`LAYOUT` of the aggregates, once their fold positions are right for it."""
LAYOUT = "4"
"""The aggregates' layout: ``"1"`` had a row per category and an hour span; ``"2"`` keeps the
main categories in the main row (:mod:`receipts.spend.tables`) and has no hour span; ``"3"``
counts ``cache_read`` among them; ``"4"`` is ``"3"`` folded after the appends rather than in
them (:mod:`receipts.spend.fold`)."""
FOLDED_IN_APPENDS = "3"
PAGE = 5000
MINUTE = table(SpendMinuteRow)
FOLD = table(SpendFoldRow)


def mark_current(conn: Connection) -> None:
    """Record that the aggregates are complete (a new, empty database)."""
    store.set_meta(conn, SPEND_AGGREGATES, LAYOUT)


def _has_cost_rank(conn: Connection) -> bool:
    return any(c["name"] == "cost_rank" for c in sa.inspect(conn).get_columns("receipts_receipt"))


def ensure_current(db: Database) -> int | None:
    """Bring the aggregates of a database that predates them (or their layout) up to date;
    the receipts folded, or None when they were already current."""
    with db.read() as conn:
        if store.get_meta(conn).get(SPEND_AGGREGATES) == LAYOUT:
            return None
    with db.write() as conn:
        store.lock_all_chains(conn)
        layout = store.get_meta(conn).get(SPEND_AGGREGATES)
        if layout == LAYOUT:  # another process did it
            return None
        if layout == FOLDED_IN_APPENDS:
            _record_folded(conn)
        else:
            _start_over(conn)
        mark_current(conn)
    if layout == FOLDED_IN_APPENDS:
        return 0
    return fold.catch_up(db.engine)


def _record_folded(conn: Connection) -> None:
    """Every chain's receipts are in the aggregates already (appends wrote them)."""
    conn.execute(sa.delete(FOLD))
    rows = [{"chain": h.chain, "folded": h.size} for h in store.heads(conn)]
    if rows:
        conn.execute(sa.insert(FOLD), rows)


def _start_over(conn: Connection) -> None:
    """Empty aggregates, none folded (and ``cost_rank`` filled, if the column is new)."""
    if not _has_cost_rank(conn):
        conn.exec_driver_sql("ALTER TABLE receipts_receipt ADD COLUMN cost_rank BIGINT")
        conn.exec_driver_sql("CREATE INDEX ix_receipt_cost ON receipts_receipt "
                             "(cost_rank, id)")
        _fill_cost_rank(conn)
    for made in (BUCKET, SPEND_LOCAL_DAY):  # (their columns may be an earlier layout's)
        made.drop(conn, checkfirst=True)
        made.create(conn)
    for emptied in (MINUTE, GROUP, FOLD):
        conn.execute(sa.delete(emptied))
    local_days.forget_all(conn)


def _fill_cost_rank(conn: Connection) -> None:
    """Each stored receipt's ``cost_rank``, from its signed payload, a page at a time."""
    receipt = store.RECEIPT
    for head in store.heads(conn):
        for start in range(0, head.size, PAGE):
            items = store.chain_items(conn, head.chain, start, min(start + PAGE, head.size))
            ranks = [{"c": head.chain, "s": seq,
                      "r": cost_rank(decode_strict(cose.parse(item).payload)["cost_reporting"])}
                     for seq, item in enumerate(items, start)]
            if ranks:
                conn.execute(sa.update(receipt).where(
                    receipt.c.chain == sa.bindparam("c"), receipt.c.seq == sa.bindparam("s"))
                    .values(cost_rank=sa.bindparam("r")), ranks)
