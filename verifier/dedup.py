"""Duplicate detection with memory bounded whatever the ledger size.

Receipt ids and (agent, request_id) pairs must be unique across a ledger. Keeping every one in a
Python set would make memory grow with the number of receipts, so 16-byte digests go into a
temporary on-disk SQLite table (standard library) whose primary key finds duplicates.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path
from types import TracebackType


class DuplicateIndex:
    """Remembers 16-byte digests; :meth:`add_many` returns the position of the first repeat."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="receipt-verify-")
        self._db = sqlite3.connect(str(Path(self._dir.name) / "seen.db"))
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("PRAGMA cache_size=-8000")
        self._db.execute("CREATE TABLE seen (k BLOB PRIMARY KEY, pos INTEGER) WITHOUT ROWID")

    def add_many(self, entries: list[tuple[bytes, int]]) -> tuple[int, int] | None:
        """Insert (digest, position) pairs; on a repeat return (first position, repeat position)."""
        try:
            with self._db:
                self._db.executemany("INSERT INTO seen VALUES (?, ?)", entries)
            return None
        except sqlite3.IntegrityError:
            pass
        for digest, pos in entries:  # slow path, only on a duplicate: find which one
            row = self._db.execute("SELECT pos FROM seen WHERE k = ?", (digest,)).fetchone()
            if row is not None:
                return int(row[0]), pos
            self._db.execute("INSERT INTO seen VALUES (?, ?)", (digest, pos))
        return None  # pragma: no cover - IntegrityError implies a repeat

    def close(self) -> None:
        """Drop the temporary table."""
        self._db.close()
        self._dir.cleanup()

    def __enter__(self) -> DuplicateIndex:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
