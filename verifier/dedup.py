"""Duplicate detection with memory bounded whatever the ledger size.

Receipt ids and (agent, request_id) pairs must be unique across a ledger. Their 16-byte digests
are kept in a Python set (fast; about 100 bytes each with the set's own overhead) until it holds
``memory_entries`` of them (~60 MB at the default 600,000, i.e. 300,000 receipts); beyond that
they move to a temporary on-disk SQLite table (standard library) whose primary key finds
repeats, slower per receipt but flat in memory, so the verifier stays under 150 MB whatever the
ledger size. In memory the first occurrence's position is not
kept (that would double the memory); on disk it is.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path
from types import TracebackType

DEFAULT_MEMORY_ENTRIES = 600_000


class DuplicateIndex:
    """Remembers 16-byte digests; :meth:`add_many` reports the first repeat."""

    def __init__(self, memory_entries: int = DEFAULT_MEMORY_ENTRIES) -> None:
        self._memory_entries = memory_entries
        self._seen: set[bytes] = set()
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._db: sqlite3.Connection | None = None

    def add_many(self, entries: list[tuple[bytes, int]]) -> tuple[int | None, int] | None:
        """Add (digest, position) pairs; on a repeat return (first position if known, repeat
        position)."""
        if self._db is None:
            seen = self._seen
            for digest, pos in entries:
                if digest in seen:
                    return None, pos
                seen.add(digest)
            if len(seen) > self._memory_entries:
                self._spill()
            return None
        return self._add_on_disk(entries)

    def add_block(self, digests: list[bytes], first_position: int, per_position: int
                  ) -> tuple[int | None, int] | None:
        """:meth:`add_many` for ``digests`` where every ``per_position`` consecutive digests
        share one position, starting at ``first_position``: the verifier's per-batch call.
        Without a repeat (the normal case) it costs two set operations, not a loop."""
        if self._db is None:
            block = set(digests)
            if len(block) == len(digests) and self._seen.isdisjoint(block):
                self._seen |= block
                if len(self._seen) > self._memory_entries:
                    self._spill()
                return None
        return self.add_many([(digest, first_position + k // per_position)
                              for k, digest in enumerate(digests)])

    def _spill(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="receipt-verify-")
        self._db = sqlite3.connect(str(Path(self._dir.name) / "seen.db"))
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-16000"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute("CREATE TABLE seen (k BLOB PRIMARY KEY, pos INTEGER) WITHOUT ROWID")
        with self._db:
            self._db.executemany("INSERT INTO seen VALUES (?, NULL)",
                                 ((v,) for v in sorted(self._seen)))
        self._seen = set()

    def _add_on_disk(self, entries: list[tuple[bytes, int]]) -> tuple[int | None, int] | None:
        assert self._db is not None
        try:
            with self._db:
                self._db.executemany("INSERT INTO seen VALUES (?, ?)", sorted(entries))
            return None
        except sqlite3.IntegrityError:
            pass  # the batch was rolled back; find the first repeat in order
        with self._db:
            for digest, pos in entries:
                row = self._db.execute("SELECT pos FROM seen WHERE k = ?", (digest,)).fetchone()
                if row is not None:
                    return (None if row[0] is None else int(row[0])), pos
                self._db.execute("INSERT INTO seen VALUES (?, ?)", (digest, pos))
        raise AssertionError("IntegrityError without a repeat")  # pragma: no cover

    def close(self) -> None:
        """Drop the temporary table, if any."""
        if self._db is not None:
            self._db.close()
        if self._dir is not None:
            self._dir.cleanup()
        self._seen = set()

    def __enter__(self) -> DuplicateIndex:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
