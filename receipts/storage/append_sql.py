# ruff: noqa: S608 - SQL text holds only fixed names and driver placeholders, never values
"""The append transaction's SQL on the raw driver connection (sqlite3 or psycopg).

Every receipt goes through these few statements, so they skip SQLAlchemy's statement building
and compilation (measured here at ~0.3 ms per statement, more than signing a receipt): the SQL
text is fixed per dialect and run on the DBAPI cursor directly. The tables are still the SQLModel
ones (:mod:`receipts.storage.tables`); only the statements are written out. Everything else in the
service uses :mod:`receipts.storage.queries`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from receipts.issuing.receipt_builder import ChainHead

if os.name == "posix":
    import fcntl
from receipts.storage.queries import PRICING_VERSION, LockedHead

RECEIPT_COLUMNS = ("chain", "seq", "id", "agent_id", "request_id", "body_hash", "issued_at",
                   "team", "project", "provider", "model", "started_at", "cost_rank", "item")
"""The order of the values in each row :meth:`AppendConnection.insert` takes."""
_COLUMNS = RECEIPT_COLUMNS
_COLUMN_TYPES = ("varchar", "int8", "varchar", "varchar", "varchar", "bytea", "int8", "varchar",
                 "varchar", "varchar", "varchar", "int8", "int8", "bytea")
"""PostgreSQL types of :data:`RECEIPT_COLUMNS` (storage.tables.ReceiptRow), for binary COPY."""
_HEAD = ("SELECT chain, size, head, last_issued_at, (SELECT value FROM receipts_meta WHERE "
         f"key = '{PRICING_VERSION}') FROM receipts_chain_head")
"""A chain head with the pricing version, in one round trip (the version is read again under
the same lock, so a book added before the lock was taken is seen)."""
IN_CHUNK = 400
SQLITE_WRITER_CACHE_KIB = 65536


class AppendConnection:
    """One writer's raw connection and the statements of an append transaction."""

    def __init__(self, raw: Any, is_sqlite: bool, writer_cache: bool = True) -> None:
        self.raw = raw  # the pool's connection proxy (returned to the pool by close())
        self.driver = raw.driver_connection
        self.is_sqlite = is_sqlite
        self.p = "?" if is_sqlite else "%s"
        p = self.p
        self.sql_insert = (f"INSERT INTO receipts_receipt ({', '.join(_COLUMNS)}) VALUES "
                           f"({', '.join([p] * len(_COLUMNS))})")
        self.sql_head = (f"UPDATE receipts_chain_head SET size = {p}, head = {p}, "
                         f"last_issued_at = {p} WHERE chain = {p}")
        self.sql_checkpoint = (f"INSERT INTO receipts_checkpoint (chain, size, head, time, item) "
                               f"VALUES ({p}, {p}, {p}, {p}, {p})")

        if not is_sqlite:
            # No server-side prepared statements: psycopg prepares a statement after five runs,
            # and PostgreSQL then keeps a generic plan made while the table was nearly empty (a
            # sequential scan); measured, the idempotency lookup went from 0.05 ms to 200 ms
            # per group after 12,000 receipts. Planning each time costs far less.
            self.driver.prepare_threshold = None
        self._writer_lock: int | None = None
        self.db_path: str | None = None
        self._pending_head: tuple[Any, ...] | None = None  # PostgreSQL: sent with the COMMIT
        if is_sqlite and writer_cache:
            # The writer's page cache. A receipt touches four indexes, one keyed by a random
            # UUID, so past ~40,000 receipts SQLite's default 2 MB cache missed on most inserts
            # (measured at 40,000-80,000 receipts: insert 11.0 -> 7.7 us per receipt). The
            # checkpoint interval stays SQLite's 1,000 pages: 4,000 saved ~3 us per receipt of
            # commit time but each larger checkpoint stalled the writer longer (p99 at half
            # the single-call rate 11-17 ms against 8-10 ms, bench/issue.py).
            self.driver.execute(f"PRAGMA cache_size=-{SQLITE_WRITER_CACHE_KIB}")
        if is_sqlite and os.name == "posix":
            path = self.driver.execute("PRAGMA database_list").fetchone()[2]
            if path:
                self.db_path = path
                self._writer_lock = os.open(path + ".writer-lock", os.O_RDWR | os.O_CREAT, 0o600)

    def _cursor(self) -> Any:
        return self.driver.cursor()

    def begin(self) -> None:
        """Start the transaction (SQLite: take the writer lock now).

        Several SQLite worker processes queue on an ``flock`` first: the kernel wakes the next
        writer the moment the lock is free, where SQLite's own busy handler sleeps and polls
        (measured: two workers' group commits lost a third of their rate to that sleeping).
        """
        if self.is_sqlite:
            if self._writer_lock is not None:
                fcntl.flock(self._writer_lock, fcntl.LOCK_EX)
            try:
                self.driver.execute("BEGIN IMMEDIATE")
            except BaseException:
                self._unlock()
                raise

    def _unlock(self) -> None:
        if self._writer_lock is not None:
            fcntl.flock(self._writer_lock, fcntl.LOCK_UN)
        # psycopg (autocommit off) opens a transaction at the first statement

    def commit(self) -> None:
        """Commit (durable when this returns)."""
        if not self.is_sqlite:
            head, self._pending_head = self._pending_head, None
            if head is None:
                self.driver.commit()
            else:
                self._send_with_commit(head)
            return
        try:
            self.driver.execute("COMMIT")
        finally:
            self._unlock()

    def _send_with_commit(self, head: tuple[Any, ...]) -> None:
        """PostgreSQL: the head's UPDATE and the COMMIT as one simple query, one round trip.

        A pipeline (``UPDATE``, ``COMMIT``, Sync) took two: psycopg syncs again when it leaves
        pipeline mode, so a commit cost twice a plain ``COMMIT``
        (measured 1.2 against 0.44 ms per group over HTTP). A client-side cursor binds the
        values (quoted by psycopg) so the statements travel in one message; if one fails the
        server skips the rest and the COMMIT, and the caller rolls back as for any error.
        """
        import psycopg

        with psycopg.ClientCursor(self.driver) as cur:
            cur.execute(f"{self.sql_head}; COMMIT", head)

    def rollback(self) -> None:
        """Abandon the transaction."""
        self._pending_head = None
        try:
            if self.is_sqlite:
                if self.driver.in_transaction:
                    self.driver.execute("ROLLBACK")
            else:
                self.driver.rollback()
        except Exception:  # noqa: S110 - the connection is being dropped anyway
            pass
        finally:
            if self.is_sqlite:
                self._unlock()

    def close(self) -> None:
        """Return the connection to the pool (or drop it if broken)."""
        if self._writer_lock is not None:
            os.close(self._writer_lock)
            self._writer_lock = None
        self.raw.close()

    def claim_chain(self, chain_ids: Sequence[str]) -> tuple[str, int] | None:
        """SQLite: claim a chain no other process has claimed, for as long as the returned
        file descriptor stays open (an ``flock``, freed when the process ends); None when all
        are taken. A claim is a hint for drafting ahead of the writer lock, never a lock on the
        chain itself: appends stay serialized by the writer lock."""
        if self.db_path is None or os.name != "posix":
            return None
        for chain in chain_ids:
            fd = os.open(f"{self.db_path}.chain-{chain}.claim", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return chain, fd
        return None

    def lock_chain(self, chain_ids: Sequence[str], preferred: str) -> LockedHead:
        """Take a chain head (PostgreSQL: a free one with SKIP LOCKED, else wait for
        ``preferred``; SQLite: ``preferred``, under the writer lock already held)."""
        cur = self._cursor()
        row = None
        if not self.is_sqlite and len(chain_ids) > 1:
            cur.execute(f"{_HEAD} WHERE chain = ANY(%s) ORDER BY random() LIMIT 1 "
                        "FOR UPDATE SKIP LOCKED", (list(chain_ids),))
            row = cur.fetchone()
        if row is None:
            lock = "" if self.is_sqlite else " FOR UPDATE"
            cur.execute(f"{_HEAD} WHERE chain = {self.p}{lock}", (preferred,))
            row = cur.fetchone()
        if row is None:
            raise LookupError(f"chain {preferred} has no head row")
        return LockedHead(ChainHead(row[0], row[1], bytes(row[2])), row[3],
                          int(row[4]) if row[4] is not None else 0)

    def pricing_version(self) -> int:
        """The price book / FX version (changes when one is added)."""
        cur = self._cursor()
        cur.execute(f"SELECT value FROM receipts_meta WHERE key = {self.p}", (PRICING_VERSION,))
        row = cur.fetchone()
        return int(row[0]) if row else 0

    def existing(self, keys: Iterable[tuple[str, str]],
                 ) -> dict[tuple[str, str], tuple[bytes, bytes]]:
        """Stored (body hash, item) for (agent, request_id) pairs."""
        found = self._stored("receipts_receipt", "item", keys)
        return {k: (digest, bytes(item)) for k, (digest, item) in found.items()}

    def _stored(self, table: str, column: str, keys: Iterable[tuple[str, str]],
                ) -> dict[tuple[str, str], tuple[bytes, Any]]:
        """(body hash, ``column``) of the rows of ``table`` stored for (agent, request_id)
        pairs: one statement per agent (and chunk of ids, on SQLite), never one per key."""
        by_agent: dict[str, list[str]] = {}
        for agent_id, request_id in set(keys):
            by_agent.setdefault(agent_id, []).append(request_id)
        found: dict[tuple[str, str], tuple[bytes, Any]] = {}
        cur = self._cursor()
        for agent_id, ids in by_agent.items():
            statements: list[tuple[str, tuple[Any, ...]]]
            if self.is_sqlite:
                select = (f"SELECT request_id, body_hash, {column} FROM {table} "
                          "WHERE agent_id = ?")
                statements = [(f"{select} AND request_id IN ({', '.join(['?'] * len(chunk))})",
                               (agent_id, *chunk))
                              for chunk in (ids[i : i + IN_CHUNK]
                                            for i in range(0, len(ids), IN_CHUNK))]
            else:
                statements = [(pg_stored_sql(table, column), (ids, agent_id))]
            for sql, params in statements:
                cur.execute(sql, params)
                for request_id, digest, value in cur.fetchall():
                    found[(agent_id, request_id)] = (bytes(digest), value)
        return found

    def active_agents(self, ids: Iterable[str]) -> set[str]:
        """Which agent ids are not revoked."""
        wanted = sorted(set(ids))
        active: set[str] = set()
        cur = self._cursor()
        if not self.is_sqlite:
            cur.execute("SELECT id FROM receipts_agent WHERE revoked_at IS NULL AND "
                        "id = ANY(%s)", (wanted,))
            return {r[0] for r in cur.fetchall()}
        for i in range(0, len(wanted), IN_CHUNK):
            chunk = wanted[i : i + IN_CHUNK]
            cur.execute(f"SELECT id FROM receipts_agent WHERE revoked_at IS NULL AND id IN "
                        f"({', '.join([self.p] * len(chunk))})", chunk)
            active.update(r[0] for r in cur.fetchall())
        return active

    def insert(self, values: list[tuple[Any, ...]]) -> None:
        """Insert signed receipts, each row's values in :data:`RECEIPT_COLUMNS` order.

        PostgreSQL: one ``COPY``, measured at 17 us per receipt against 84 for multi-row
        ``INSERT`` statements of 1,000 rows and 37 for ``executemany`` (a unique-key clash
        still fails the whole copy, as an ``IntegrityError``)."""
        if not values:
            return
        if self.is_sqlite:
            self._cursor().executemany(self.sql_insert, values)
            return
        self._copy("receipts_receipt", _COLUMNS, _COLUMN_TYPES, values)

    def _copy(self, table: str, columns: Sequence[str], types: Sequence[str],
              rows: list[tuple[Any, ...]]) -> None:
        """PostgreSQL binary ``COPY`` (``types`` are the columns' types, in order): COSE items
        travel as they are, not hex-escaped (measured 15.7 -> 11.8 us per receipt)."""
        with self._cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN "
                                 "(FORMAT BINARY)") as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)

    def save_head(self, locked: LockedHead) -> None:
        """Advance the chain head (PostgreSQL: sent with the COMMIT, in the same transaction)."""
        head = locked.head
        values = (head.size, head.head, locked.last_issued_at, head.chain)
        if self.is_sqlite:
            self._cursor().execute(self.sql_head, values)
        else:
            self._pending_head = values

    def save_checkpoint(self, chain: str, size: int, head: bytes, time: int,
                        item: bytes) -> None:
        """Store a signed checkpoint taken inside this transaction."""
        self._cursor().execute(self.sql_checkpoint, (chain, size, head, time, item))


def pg_stored_sql(table: str, column: str) -> str:
    """PostgreSQL: (request_id, body hash, ``column``) of the stored rows of one agent, one
    probe of the unique (agent_id, request_id) index per id, whatever the table's statistics.

    ``agent_id = %s AND request_id = ANY(%s)`` left the plan to the statistics, and without them
    (a table not analyzed yet: a new deployment, or autovacuum off, as on the benchmark server)
    PostgreSQL scanned every row of the agent and filtered the ids: measured 3.4 ms per group
    at 12,400 receipts, growing with the table, against 0.1 ms here. ``LIMIT 1`` keeps the
    LATERAL subquery from being flattened into a join the planner could turn into that scan;
    the ids are one array parameter, so the text is the same whatever their count.
    """
    return (f"SELECT k.request_id, t.body_hash, t.{column} FROM unnest(%s::varchar[]) AS "
            f"k(request_id) CROSS JOIN LATERAL (SELECT body_hash, {column} FROM {table} "
            "WHERE agent_id = %s AND request_id = k.request_id LIMIT 1) AS t")


def is_integrity_error(error: BaseException) -> bool:
    """A unique-key violation from either driver (another writer committed the same key)."""
    return any(cls.__name__ == "IntegrityError" for cls in type(error).__mro__)
