"""Duplicate detection with memory bounded whatever the ledger size.

Receipt ids and (agent, request_id) pairs must be unique across a ledger. Their 16-byte digests
are kept in a Python set (fast; about 100 bytes each with the set's own overhead) until it holds
``memory_entries`` of them (~60 MB at the default 600,000, i.e. 300,000 receipts). Past that,
the set stops growing: each new digest is still looked up in it (a repeat of an earlier one is
found at once), then kept with its position in one of 256 bucket files, chosen by the digest's
first byte (digests are uniform, so buckets fill evenly). Repeats among those digests are found
by :meth:`DuplicateIndex.finish`, one bucket at a time: a bucket is a few hundred kilobytes to a
few megabytes, checked with C-level set and sort operations. Sequential disk work instead of a
random-access index per receipt, so a ledger past the threshold keeps most of its speed and the
verifier stays under 150 MB. In memory the first occurrence's position is not kept (that would
double the memory); on disk it is.
"""

from __future__ import annotations

import hashlib
import os
import struct
import sys
import tempfile
from pathlib import Path
from types import TracebackType

DEFAULT_MEMORY_ENTRIES = 600_000
RECORD = 24
"""A spilled entry: the 16-byte digest, then its position as 8 bytes big-endian (so records
sort by digest, then by position)."""
FLUSH_EVERY = 100_000
"""Spilled records kept in memory before they are appended to their bucket files (~6 MB with
the Python objects, on top of the full set)."""
BUCKETS = 256

Repeat = tuple[int | None, int]
"""(position of the first occurrence if known, position of the repeat)."""


# --- the digests -------------------------------------------------------------------------------
# Each receipt gives two 16-byte digests: of its id, and of its (agent, request_id) pair (the
# agent length-prefixed, so no pair is ambiguous). Two ways to make them, both 128 bits:
#
# * keyed: four values of Python's own string hash, which is SipHash keyed by a random secret
#   drawn when the interpreter starts; two per key, over the key behind two different control
#   characters, so 128 bits must collide. Several times faster than SHA-256 on short text (the
#   hash runs in C, with no hash object). A ledger is written before the run draws its secret,
#   so its author cannot aim at it; a real repeat always gives equal digests. Every process
#   comparing digests must share the secret: the main process and workers it forks do.
# * sha256: truncated SHA-256 (as before any of this was tuned), for everywhere else: string
#   hashing not keyed SipHash (PYTHONHASHSEED=0, other builds), or workers that were spawned.

_TWO_HASHES = struct.Struct("<2q").pack
_HASH_SEED = None if sys.flags.ignore_environment else os.environ.get("PYTHONHASHSEED")
"""As the interpreter read it when it started (read before anything could change it)."""


def keyed_digests_available() -> bool:
    """Whether this interpreter's string hash is SipHash (64-bit) with a random key: not with
    PYTHONHASHSEED set to a number (a key anyone can derive), nor on other builds."""
    info = sys.hash_info
    return info.algorithm.startswith("siphash") and info.hash_bits == 64 \
        and bool(sys.flags.hash_randomization) and _HASH_SEED in (None, "random")


def keyed_digests(receipt_id: str, agent: str, request_id: str) -> tuple[bytes, bytes]:
    """The receipt's two digests, keyed (see above). Each hashed string starts with its own
    control character, so no id digest can equal a pair digest but by chance (2^-128)."""
    pair = f"\x03{len(agent)}:{agent}{request_id}"
    return (_TWO_HASHES(hash("\x00" + receipt_id), hash("\x01" + receipt_id)),
            _TWO_HASHES(hash(pair), hash("\x02" + pair)))


def sha256_digests(receipt_id: str, agent: str, request_id: str) -> tuple[bytes, bytes]:
    """The receipt's two digests, as truncated SHA-256."""
    return (hashlib.sha256(f"id\x00{receipt_id}".encode()).digest()[:16],
            hashlib.sha256(f"rq{len(agent)}:{agent}{request_id}".encode()).digest()[:16])


class DuplicateIndex:
    """Remembers 16-byte digests and reports the first repeat."""

    def __init__(self, memory_entries: int = DEFAULT_MEMORY_ENTRIES,
                 flush_every: int = FLUSH_EVERY) -> None:
        self._memory_entries = memory_entries
        self._flush_every = flush_every
        self._seen: set[bytes] = set()
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._pending: list[list[bytes]] = [[] for _ in range(BUCKETS)]  # not yet on disk
        self._pending_count = 0

    def add_many(self, entries: list[tuple[bytes, int]]) -> Repeat | None:
        """Add (digest, position) pairs; return the first repeat found now, if any (past the
        memory threshold, repeats among spilled digests wait for :meth:`finish`)."""
        seen = self._seen
        if self._dir is None:
            for digest, pos in entries:
                if digest in seen:
                    return None, pos
                seen.add(digest)
            if len(seen) >= self._memory_entries:
                self._start_spilling()
            return None
        batch: dict[bytes, int] = {}
        for digest, pos in entries:
            if digest in seen:
                return None, pos
            if digest in batch:
                return batch[digest], pos
            batch[digest] = pos
        self._spill(list(batch), list(batch.values()))
        return None

    def add_block(self, digests: list[bytes], first_position: int, per_position: int
                  ) -> Repeat | None:
        """:meth:`add_many` for ``digests`` where every ``per_position`` consecutive digests
        share one position, starting at ``first_position``: the verifier's per-batch call.
        Without a repeat (the normal case) it costs a few set operations, not a loop."""
        seen = self._seen
        if seen.isdisjoint(digests):  # no repeat of an earlier digest; maybe one within
            if self._dir is None:
                size = len(seen)
                seen.update(digests)
                if len(seen) == size + len(digests):
                    if len(seen) >= self._memory_entries:
                        self._start_spilling()
                    return None
                return _first_repeat_within(digests, first_position, per_position)
            if len(set(digests)) == len(digests):
                self._spill(digests, [first_position + k // per_position
                                      for k in range(len(digests))])
                return None
        return self.add_many([(digest, first_position + k // per_position)
                              for k, digest in enumerate(digests)])

    def _start_spilling(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="receipt-verify-")

    def _spill(self, digests: list[bytes], positions: list[int]) -> None:
        """Keep digests and their positions for :meth:`finish`, in their buckets."""
        pending = self._pending
        for digest, position in zip(digests, positions, strict=True):
            pending[digest[0]].append(digest + position.to_bytes(8, "big"))
        self._pending_count += len(digests)
        if self._pending_count >= self._flush_every:
            self._write_buckets()

    def _write_buckets(self) -> None:
        assert self._dir is not None
        for bucket, records in enumerate(self._pending):
            if records:
                with (Path(self._dir.name) / f"bucket{bucket}").open("ab") as f:
                    f.write(b"".join(records))
                records.clear()
        self._pending_count = 0

    def finish(self) -> Repeat | None:
        """The repeat with the smallest position among digests added past the memory
        threshold (none were looked up against each other until now), or None: each bucket
        file checked in turn. Frees the in-memory set first: it runs once, at the end of a
        pass."""
        if self._dir is None:
            return None
        self._seen = set()
        self._write_buckets()
        best: Repeat | None = None
        for bucket in range(BUCKETS):
            path = Path(self._dir.name) / f"bucket{bucket}"
            if not path.exists():
                continue
            repeat = _first_repeat_in(path.read_bytes())
            if repeat is not None and (best is None or repeat[1] < best[1]):
                best = repeat
        return best

    def close(self) -> None:
        """Drop the temporary files, if any."""
        self._pending = [[] for _ in range(BUCKETS)]
        self._pending_count = 0
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
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


def _first_repeat_within(digests: list[bytes], first_position: int, per_position: int
                         ) -> Repeat:
    """The first digest of a block that repeats an earlier one of the same block."""
    first_seen: dict[bytes, int] = {}
    for k, digest in enumerate(digests):
        position = first_position + k // per_position
        if digest in first_seen:
            return first_seen[digest], position
        first_seen[digest] = position
    raise AssertionError("no repeat in a block whose digests are not all distinct")


def _first_repeat_in(data: bytes) -> Repeat | None:
    """The repeat with the smallest position among a bucket file's records, or None."""
    records = [data[k : k + RECORD] for k in range(0, len(data), RECORD)]
    if len({record[:16] for record in records}) == len(records):
        return None  # the usual case: no digest twice
    records.sort()  # by digest, then by position
    best: Repeat | None = None
    previous = b""
    for record in records:
        if record[:16] == previous[:16]:
            repeat = int.from_bytes(record[16:], "big")
            if best is None or repeat < best[1]:
                best = (int.from_bytes(previous[16:], "big"), repeat)
            continue  # keep the first occurrence as `previous`
        previous = record
    return best
