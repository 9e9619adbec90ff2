"""The client's durable spool: calls not yet receipted, in a SQLite file, in the order made.

When the receipts service cannot be reached the call body (request id included) is written here
and committed before ``record`` returns, so a crash of the agent or an outage of the service
loses nothing. Delivery (:meth:`Spool.pending`, then :meth:`Spool.delivered`) takes the oldest
first; a body is deleted only once the service has answered it. Sending a body twice (the agent
died between the answer and the delete) is harmless: the service answers the same request id and
body with the original receipt, so the ledger holds each call exactly once.

A body the service refuses for good (a 4xx about the call: it can never be receipted as sent) is
moved to the ``refused`` table with the answer, so it neither blocks the calls behind it nor
disappears.

One flusher at a time (:meth:`Spool.flushing`, an advisory lock on a ``.lock`` file beside the
spool): two processes delivering the same spool at once would not charge twice, but could
interleave, and the ledger would receive the calls out of the order they were made.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

try:
    import fcntl
except ImportError:  # pragma: no cover  (Windows: one flusher per process only)
    fcntl = None  # type: ignore[assignment]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    spooled_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS refused (
    seq INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL,
    body TEXT NOT NULL,
    status INTEGER NOT NULL,
    answer TEXT NOT NULL
);
"""


class Spooled(NamedTuple):
    """One call waiting for its receipt."""

    seq: int
    request_id: str
    body: dict[str, Any]


class Spool:
    """A SQLite file of call bodies awaiting delivery (safe across threads and processes)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False,
                                   isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # committed means on disk
        self._db.executescript(_SCHEMA)

    def add(self, body: dict[str, Any]) -> None:
        """Keep ``body`` until delivered (a request id already waiting is kept once)."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO pending (request_id, body, spooled_at) VALUES (?, ?, ?)",
                (body["request_id"], json.dumps(body, sort_keys=True), time.time()))

    def pending(self, limit: int = 1000) -> list[Spooled]:
        """The oldest waiting calls, first spooled first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, request_id, body FROM pending ORDER BY seq LIMIT ?",
                (limit,)).fetchall()
        return [Spooled(seq, rid, json.loads(body)) for seq, rid, body in rows]

    def delivered(self, seq: int) -> None:
        """The service answered this call with its receipt."""
        with self._lock:
            self._db.execute("DELETE FROM pending WHERE seq = ?", (seq,))

    def refused(self, item: Spooled, status: int, answer: str) -> None:
        """The service refused this call for good: set it aside with the answer."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO refused (seq, request_id, body, status, answer) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (item.seq, item.request_id, json.dumps(item.body, sort_keys=True),
                     status, answer))
                self._db.execute("DELETE FROM pending WHERE seq = ?", (item.seq,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    @contextmanager
    def flushing(self, *, wait: bool = False) -> Iterator[bool]:
        """Hold the right to deliver this spool; yields False (at once) when another thread or
        process holds it and ``wait`` is False, or else True once it is held."""
        if not self._flush_lock.acquire(blocking=wait):
            yield False
            return
        try:
            with (self.path.parent / (self.path.name + ".lock")).open("a") as handle:
                if fcntl is not None:
                    try:
                        fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
                    except BlockingIOError:
                        yield False
                        return
                yield True
        finally:
            self._flush_lock.release()

    def oldest(self) -> float | None:
        """When the oldest waiting call was spooled (epoch seconds), or None."""
        with self._lock:
            (when,) = self._db.execute("SELECT min(spooled_at) FROM pending").fetchone()
        return None if when is None else float(when)

    def count(self) -> int:
        """How many calls wait."""
        with self._lock:
            (n,) = self._db.execute("SELECT count(*) FROM pending").fetchone()
        return int(n)

    def refused_items(self) -> list[tuple[str, int, str]]:
        """(request id, HTTP status, answer) of every call set aside."""
        with self._lock:
            rows = self._db.execute(
                "SELECT request_id, status, answer FROM refused ORDER BY seq").fetchall()
        return [(str(r), int(s), str(a)) for r, s, a in rows]

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()
