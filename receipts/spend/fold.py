# ruff: noqa: S608 - SQL text holds only fixed names and driver placeholders, never values
"""Adding appended receipts to the spend aggregates after their appends, a batch at a time.

Why not in the append transaction: each append then upserted a row per span (3) and a minute
row for every receipt, measured at a third of a lone call's append on PostgreSQL and a quarter
of a group commit's (``bench/spend.py``): most receipts of a busy ledger fall in different
groups, so the rows of one append hardly coalesce. Folded a second's receipts at a time, the
rows of every append of that second are written once, and the append writes nothing for them.

Exactly once: ``receipts_spend_fold`` (:class:`~receipts.spend.tables.SpendFoldRow`) holds, per
chain, how many of its receipts are folded; a fold locks that row, reads the chain's next
receipts (a chain's committed receipts are always a prefix of it: its appends run one after
the other under the chain head's lock), adds them to the aggregates (the same
:class:`~receipts.spend.buckets.SpendDelta` rows every path makes, from the signed payloads)
and moves the position, all in one transaction. Two folders of one chain wait for each other
on that row; the second finds the receipts already folded.

Who folds: every worker's :class:`FoldLoop` every :data:`PASS_SECONDS`, and every reader of the
aggregates first (:func:`catch_up`: the spend API, the dashboard, the reports, the local days,
the anomaly detector), so an answer counts every receipt committed before it was asked for.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Collection

from sqlalchemy.engine import Engine

from receipts.errors import ReceiptsError
from receipts.spend.buckets import SpendDelta
from receipts.spend.upsert_sql import SpendWriter
from receipts.storage.append_sql import AppendConnection
from verifier import cose
from verifier.encoding import decode_strict

log = logging.getLogger("receipts.spend.fold")

PAGE = 5000
"""Receipts folded per transaction (a long backlog, after a rebuild, goes a page at a time)."""
PASS_SECONDS = 1.0
"""How often each worker folds: a reader folds the rest itself, at most about this much."""
_BEHIND = ("SELECT h.chain FROM receipts_chain_head h LEFT JOIN receipts_spend_fold f "
           "ON f.chain = h.chain WHERE h.size > COALESCE(f.folded, 0) ORDER BY h.chain")


class FoldGap(ReceiptsError):
    """A chain's receipts after its fold position are not a run of consecutive seqs (a
    database edited by hand?): nothing is folded, rather than folding a wrong total."""


class Folder:
    """Folds one database's receipts; remembers which groups are stored (one per engine)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._lock = threading.Lock()  # (one fold at a time in a process; others wait)
        self._known: set[int] = set()
        p = "?" if self.is_sqlite else "%s"
        self._position = ("INSERT INTO receipts_spend_fold (chain, folded) VALUES "
                          f"({p}, 0) ON CONFLICT (chain) DO UPDATE SET folded = "
                          "receipts_spend_fold.folded RETURNING folded")
        self._items = (f"SELECT seq, item FROM receipts_receipt WHERE chain = {p} AND seq >= {p} "
                       f"ORDER BY seq LIMIT {PAGE}")
        self._move = f"UPDATE receipts_spend_fold SET folded = {p} WHERE chain = {p}"

    def catch_up(self, chains: Collection[str] | None = None) -> int:
        """Fold every receipt committed so far (of ``chains``, default all); how many."""
        with self._lock:
            conn = AppendConnection(self.engine.raw_connection(), self.is_sqlite)
            try:
                return sum(self._fold_chain(conn, chain) for chain in self._behind(conn)
                           if chains is None or chain in chains)
            finally:
                conn.close()

    def _behind(self, conn: AppendConnection) -> list[str]:
        """Chains with receipts not yet folded (a read: nothing is locked)."""
        cur = conn.driver.cursor()
        cur.execute(_BEHIND)
        chains = [row[0] for row in cur.fetchall()]
        if not self.is_sqlite:
            conn.driver.commit()  # (ends the read's transaction)
        return chains

    def _fold_chain(self, conn: AppendConnection, chain: str) -> int:
        total = 0
        while True:
            folded = self._fold_page(conn, chain)
            total += folded
            if folded < PAGE:
                return total

    def _fold_page(self, conn: AppendConnection, chain: str) -> int:
        """One transaction: lock the chain's position, fold the next page, move it."""
        writer = SpendWriter(conn.driver, self.is_sqlite, self._known)
        conn.begin()
        try:
            cur = conn.driver.cursor()
            cur.execute(self._position, (chain,))
            start = int(cur.fetchone()[0])
            cur.execute(self._items, (chain, start))
            rows = cur.fetchall()
            delta = SpendDelta()
            for offset, (seq, item) in enumerate(rows):
                if seq != start + offset:
                    raise FoldGap(f"chain {chain}: receipt {start + offset} is missing "
                                  f"(found {seq} after the fold position {start})")
                delta.add(decode_strict(cose.parse(bytes(item)).payload))
            if rows:
                writer.write(delta)
                cur.execute(self._move, (start + len(rows), chain))
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        writer.committed()
        return len(rows)


_folders: weakref.WeakKeyDictionary[Engine, Folder] = weakref.WeakKeyDictionary()
_folders_lock = threading.Lock()


def folder(engine: Engine) -> Folder:
    """The folder of ``engine`` (one per engine, so its known groups are shared)."""
    with _folders_lock:
        found = _folders.get(engine)
        if found is None:
            found = _folders[engine] = Folder(engine)
        return found


def catch_up(engine: Engine) -> int:
    """Fold every receipt committed so far, before reading the aggregates; how many."""
    return folder(engine).catch_up()


class FoldLoop:
    """A worker's fold thread: :func:`catch_up` every :data:`PASS_SECONDS` until stopped."""

    def __init__(self, engine: Engine, pass_seconds: float = PASS_SECONDS) -> None:
        self.engine = engine
        self.pass_seconds = pass_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Fold in a daemon thread until :meth:`stop`."""
        self._thread = threading.Thread(target=self._loop, name="spend-fold", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop after the pass under way (what it folded is committed, or not at all)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(self.pass_seconds):
            try:
                catch_up(self.engine)
            except Exception:  # (a database hiccup must not end the job for good)
                log.exception("spend fold failed; retrying")
