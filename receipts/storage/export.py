"""Exporting the ledger file (spec §7) from the database, to a file or as a byte stream.

A consistent snapshot without a long transaction: the chain heads are read first, and only
receipts below each head's size are written (committed receipts never change); price books and
FX rates are read after the heads, so every one a written receipt cites is included (a newer one
is harmless: no written receipt is late enough to be affected by it), and so are the allocation
sets, every version ever recorded (spec §7.8: a ledger reproduces each month's allocations). The
writer is
``receipts.storage.ledger_file.write_ledger``, the same one the format's tests use.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import BinaryIO

from receipts.allocations import store as allocation_store
from receipts.clock import now_ms
from receipts.deployment.runtime import Runtime
from receipts.issuing.receipt_builder import ChainHead
from receipts.storage import queries as store
from receipts.storage.ledger_file import key_item, write_ledger

CHUNK = 1 << 16


def export_ledger(runtime: Runtime, out: BinaryIO, chain: str | None = None) -> tuple[int, int]:
    """Write the ledger (or one chain's) to ``out``. Returns (receipts, bytes)."""
    db = runtime.db
    with db.read() as conn:
        heads = store.heads(conn, chain)
    if chain is not None and not heads:
        from receipts.errors import NotFound

        raise NotFound(f"no chain {chain!r}")
    with db.read() as conn:
        books = [item for _, _, item in store.price_books(conn)]
        rates = [item for _, item in store.fx_rates(conn)]
        allocations = allocation_store.set_items(conn)

    def receipts() -> Iterator[bytes]:
        for head in heads:
            yield from store.iter_chain(db.read, head.chain, head.size)

    snapshot = [ChainHead(h.chain, h.size, h.head) for h in heads]
    written = write_ledger(
        out, runtime.signer, issuer=runtime.facts.issuer,
        reporting_currency=runtime.facts.reporting_currency, created_at=now_ms(),
        key_items=[key_item(runtime.signer, runtime.facts.key_valid_from)],
        price_book_items=books, fx_rate_items=rates, chains=snapshot, receipts=receipts(),
        allocation_items=allocations,
    )
    return sum(h.size for h in heads), written


class _Closed(Exception):
    """The reader went away: stop writing."""


class _QueueWriter:
    """A file-like sink that hands fixed-size chunks to a bounded queue (back-pressure)."""

    def __init__(self, q: queue.Queue[bytes | BaseException | None], stop: threading.Event,
                 ) -> None:
        self.q = q
        self.stop = stop
        self.buffer = bytearray()

    def put(self, item: bytes | BaseException | None) -> None:
        """Queue one item, giving up when the reader has gone."""
        while not self.stop.is_set():
            try:
                self.q.put(item, timeout=0.5)
                return
            except queue.Full:
                continue
        raise _Closed

    def write(self, data: bytes) -> int:
        self.buffer += data
        if len(self.buffer) >= CHUNK:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self.buffer:
            self.put(bytes(self.buffer))
            self.buffer.clear()


def ledger_chunks(runtime: Runtime, chain: str | None = None) -> Iterator[bytes]:
    """The ledger as a stream of byte chunks, with memory bounded by a few chunks.

    The writer runs on its own thread; closing this generator early stops it.
    """
    q: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=8)
    stop = threading.Event()

    def produce() -> None:
        sink = _QueueWriter(q, stop)
        try:
            try:
                export_ledger(runtime, sink, chain)  # type: ignore[arg-type]
                sink.flush()
                sink.put(None)
            except _Closed:
                raise
            except BaseException as e:  # handed to the reader, which re-raises it
                sink.put(e)
        except _Closed:
            return

    thread = threading.Thread(target=produce, name="receipts-export", daemon=True)
    thread.start()
    try:
        while True:
            chunk = q.get()
            if chunk is None:
                return
            if isinstance(chunk, BaseException):
                raise chunk
            yield chunk
    finally:
        stop.set()
        thread.join(timeout=5)
