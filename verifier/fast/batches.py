"""Receipts checked in batches on every core, their results handed back in ledger order.

The main process frames receipts into batches of consecutive items (one byte range each);
worker processes run steps 3-8 (:func:`verifier.steps.check_receipt_item`) on every receipt of
a batch and return a small summary per receipt (chain, seq, prev, link hash),
two duplicate digests per receipt, partial totals and rollup. Step 9 stays in the main process,
in ledger order (:class:`verifier.chain.ChainLinks`); the only work skipped there is repeated
work: a worker links its batch's receipts with the same :meth:`ChainLinks.link`, each chain
from its first receipt in the batch, and when every link holds (the normal case) it returns one
run per chain instead of every summary: the main process then links the run's first receipt
and takes the state the run reached (:meth:`ChainLinks.advance`). When anything does not link,
the worker declines: every summary comes back, and the main process links each one.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from verifier import cose
from verifier.chain import ChainLinks, link_hash
from verifier.encoding import decode_strict
from verifier.errors import EncodingError, Position, UsageError, VerificationFailure
from verifier.fast.dedup import keyed_digests, sha256_digests
from verifier.fast.workers import Workers
from verifier.report import Totals
from verifier.rollup import Rollup, RollupSpec
from verifier.steps import ReceiptContext, check_receipt_item

BATCH = 1024
START_METHOD = "fork" if os.name == "posix" else "spawn"

Summary = tuple[int, str, int, bytes, bytes]
"""(item index, chain, seq, prev, link hash) of one receipt: what step 9 needs."""
Run = tuple[Summary, int, bytes, int]
"""A chain's receipts in one batch, each linked to the one before: (the first's summary, the
chain's size and head after the last, how many)."""


@dataclass
class WorkerContext:
    """Everything a worker needs, sent once per worker."""

    receipts: ReceiptContext
    saved: dict[str, tuple[int, bytes]]
    """Per chain, the saved checkpoint's size and head (``--since``), for step 9."""
    rollup: RollupSpec | None
    keyed_digests: bool
    """Whether duplicate detection may use keyed digests (every process shares the key)."""


@dataclass
class BatchResult:
    """A worker's answer: ``runs`` when every receipt linked, else ``summaries``; ``digests``
    holds, per receipt in order, the 16-byte digests of its id and of its (agent,
    request_id) (see :mod:`verifier.fast.dedup`); ``failure`` is the first receipt that failed
    steps 3-8, after the receipts counted."""

    first_index: int
    summaries: list[Summary] | None
    runs: list[Run] | None
    digests: list[bytes]
    count: int
    failure: VerificationFailure | None
    totals: Totals
    verified: int
    rollup: Rollup | None


Batch = tuple[int, int, list[int], bytes | str]
"""Consecutive receipts for a worker: (index of the first item, offset of its bytes in the
ledger, end of each item relative to that offset, the bytes end to end or the path of the
ledger file to read them from). For a file, the receipts' bytes never pass through a pipe."""

_CTX: WorkerContext | None = None


def _init_worker(ctx: WorkerContext) -> None:
    global _CTX
    _CTX = ctx


def batch_bytes(offset: int, length: int, source: bytes | str) -> bytes:
    """A batch's bytes: sent along, or read from the ledger file at ``source``."""
    if isinstance(source, bytes):
        return source
    with open(source, "rb") as f:  # noqa: PTH123 - one read per batch of receipts
        f.seek(offset)
        data = f.read(length)
    if len(data) != length:
        raise UsageError(f"{source} changed while it was being verified")
    return data


def _locate(item: bytes) -> tuple[str | None, int | None]:
    """Best-effort (chain, seq) of a receipt that failed, for the failure's position."""
    try:
        payload = decode_strict(cose.parse(item).payload)
    except (VerificationFailure, EncodingError):
        return None, None
    if type(payload) is not dict:
        return None, None
    chain, seq = payload.get("chain"), payload.get("seq")
    return (chain if type(chain) is str else None), (seq if type(seq) is int else None)


def check_batch(batch: Batch) -> BatchResult:
    """Steps 3-8 for each receipt of ``batch`` (in a worker, or in-process)."""
    ctx = _CTX
    assert ctx is not None
    first_index, offset, ends, source = batch
    blob = batch_bytes(offset, ends[-1], source)
    summaries: list[Summary] = []
    digests: list[bytes] = []
    totals = Totals()
    rollup = Rollup(ctx.rollup) if ctx.rollup else None
    receipt_digests = keyed_digests if ctx.keyed_digests else sha256_digests
    links: ChainLinks | None = ChainLinks(None, ctx.saved)
    firsts: dict[str, Summary] = {}
    failure = None
    verified = start = 0
    for index, stop in enumerate(ends, first_index):
        item = blob[start:stop]
        start = stop
        try:
            p, full = check_receipt_item(ctx.receipts, item)
        except VerificationFailure as e:
            failure = e.at(Position(index, *_locate(item)))
            break
        verified += full
        digests += receipt_digests(p["id"], p["agent"], p["request_id"])
        summary = (index, p["chain"], p["seq"], p["prev"], link_hash(item))
        summaries.append(summary)
        if links is not None:
            firsts.setdefault(summary[1], summary)
            try:
                links.link(*summary)
            except VerificationFailure:
                links = None  # decline: the main process links every receipt
        totals.add(p)
        if rollup is not None:
            rollup.add(p)
    runs = None
    if links is not None and all(s.gap is None for s in links.chains.values()):
        runs = [(first, links.chains[chain].size, links.chains[chain].head,
                 links.chains[chain].size - first[2]) for chain, first in firsts.items()]
    return BatchResult(first_index, None if runs is not None else summaries, runs, digests,
                       len(summaries), failure, totals, verified, rollup)


@dataclass
class _Pending:
    """A batch being gathered in the main process: consecutive items, so one byte range."""

    first_index: int
    offset: int = 0
    parts: list[bytes] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)

    def add_run(self, offset: int, ends: list[int], data: bytes | None) -> None:
        if not self.ends:
            self.offset = offset
        shift = offset - self.offset
        self.ends.extend([shift + stop for stop in ends] if shift else ends)
        if data is not None:
            self.parts.append(data)

    def batch(self, path: str | None) -> Batch:
        source = path if path is not None else \
            self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)
        return self.first_index, self.offset, self.ends, source


class Pipeline:
    """Batches out to the workers (or checked here with one worker), results to ``absorb`` in
    ledger order. At most four batches per worker are out at a time: in a worker's hands, or
    finished and waiting for an earlier one."""

    def __init__(self, workers: int, ledger_path: str | None,
                 context: Callable[[], WorkerContext],
                 absorb: Callable[[BatchResult], None]) -> None:
        self.workers = workers
        # receipts' bytes go with each batch, unless worker processes can read the file
        self.inline = ledger_path is None or workers <= 1
        self.path = None if self.inline else ledger_path
        self._context = context
        self._absorb = absorb
        self._pending = _Pending(0)
        self._in_flight: deque[BatchResult | None] = deque()  # None: the workers' next result
        self._pool: Workers | None = None

    def add(self, first_index: int, offset: int, ends: list[int], data: bytes) -> None:
        """Queue receipts from item ``first_index`` (``data`` unused when workers read the
        file); a full batch is sent."""
        if not self._pending.ends:
            self._pending = _Pending(first_index)
        self._pending.add_run(offset, ends, data if self.inline else None)
        if len(self._pending.ends) >= BATCH:
            self._submit()

    def room(self) -> int:
        """How many receipts the batch being gathered can still take."""
        return BATCH - len(self._pending.ends)

    def drain(self) -> None:
        """Send what is gathered and absorb every result."""
        if self._pending.ends:
            self._submit()
        while self._in_flight:
            self._absorb(self._next(self._in_flight.popleft()))

    def close(self) -> None:
        """Stop the workers."""
        if self._pool is not None:
            self._pool.close()

    def _next(self, result: BatchResult | None) -> BatchResult:
        if result is None:
            assert self._pool is not None
            result = self._pool.next_result()
        return result

    def _submit(self) -> None:
        batch = self._pending.batch(self.path)
        self._pending = _Pending(0)
        if self.workers <= 1:
            if _CTX is not self._context():
                _init_worker(self._context())
            self._in_flight.append(check_batch(batch))
            return
        if self._pool is None:
            depth = 1 if self.inline else 2  # batches with their bytes: one per worker at once
            self._pool = Workers(self.workers, START_METHOD, _init_worker, (self._context(),),
                                 check_batch, depth)
        pool, in_flight = self._pool, self._in_flight
        while True:
            while in_flight and (in_flight[0] is not None or pool.oldest_ready()):
                self._absorb(self._next(in_flight.popleft()))
            if pool.can_take() and len(in_flight) < 4 * self.workers:
                break
            pool.wait()
        pool.submit(batch)
        in_flight.append(None)
