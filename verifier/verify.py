"""Verify a ledger: spec §9.2's steps over the file, in one streaming pass.

Two APIs over one implementation (as python-tuf does): :func:`audit_ledger` returns a
:class:`LedgerReport` that says VALID or gives the first failure with its position, and
:func:`verify_ledger` raises :class:`VerificationFailure` instead.

This module only routes items to the steps: step 1 (framing) here, step 2 in
:mod:`verifier.preamble`, steps 3-8 in :mod:`verifier.steps` (run on every core by
:mod:`verifier.fast.batches`), step 9 in :mod:`verifier.chain` (and duplicates here, through
:mod:`verifier.fast.dedup`), step 10 in :mod:`verifier.checkpoints`. Memory is bounded by the
number of keys, price books, rates, chains and rollup groups.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from verifier import cose
from verifier.allocate import allocation_spec
from verifier.chain import ChainLinks
from verifier.checkpoints import CheckpointSection, read_saved, saved_heads
from verifier.errors import EncodingError, Position, TruncatedError, VerificationFailure
from verifier.fast import batches
from verifier.fast.batches import BatchResult, Pipeline, WorkerContext
from verifier.fast.dedup import DuplicateIndex, Repeat, keyed_digests_available
from verifier.fast.runs import RunReader, usual_prefix
from verifier.preamble import Preamble, fail
from verifier.report import KeyInfo, LedgerReport, VerifyOptions
from verifier.rollup import Rollup
from verifier.steps import ReceiptContext

__all__ = ["LedgerReport", "VerifyOptions", "audit_ledger", "audit_ledger_file",
           "read_chunks", "verify_ledger"]

READ_SIZE = 1 << 16
"""Bytes per read of a ledger file: 64 KiB. Larger buffers come from fresh memory on every read
(glibc maps them, or grows and trims its heap for them): 256 KiB or 1 MiB reads cost about
30,000 page faults and 0.3 us of the main process per receipt."""


def _duplicate(repeat: Repeat) -> VerificationFailure:
    first = "an earlier receipt" if repeat[0] is None else f"item {repeat[0]}"
    return VerificationFailure("duplicate_id", f"receipt id or (agent, request_id) repeats "
                               f"{first}", Position(repeat[1]))


class _LedgerPass:
    """State of one verification pass."""

    def __init__(self, options: VerifyOptions, ledger_path: str | None = None) -> None:
        self.options = options
        self.saved = read_saved(options.since)  # a malformed one is a usage error, raised now
        self.workers = options.workers or os.cpu_count() or 1
        self.rollup_spec = options.rollup
        self.report = LedgerReport(rollup=Rollup(options.rollup) if options.rollup else None)
        self.preamble = Preamble(options.trusted_keys)
        self.links: ChainLinks | None = None
        self.checkpoints: CheckpointSection | None = None
        self.dedup = DuplicateIndex()
        self.pipeline = Pipeline(self.workers, ledger_path, self._context, self._absorb)
        self._ctx: WorkerContext | None = None

    def run(self, chunks: Iterable[bytes]) -> LedgerReport:
        head: list[bytes] = []

        def remember_head(source: Iterable[bytes]) -> Iterable[bytes]:
            for chunk in source:
                if not head:
                    head.append(chunk[:1])
                if self.options.progress:
                    self.options.progress(len(chunk))
                yield chunk

        failure: VerificationFailure | None = None
        try:
            self._run(remember_head(chunks))
        except VerificationFailure as e:
            failure = e
        finally:
            self.pipeline.close()
            try:
                deferred = self.dedup.finish()
            finally:
                self.dedup.close()
            self._describe_trust()
        if deferred is not None and (failure is None or failure.position is None
                                     or deferred[1] < failure.position.item):
            failure = _duplicate(deferred)  # the earlier failure
        if failure is not None and failure.position and failure.position.item == 0 and head \
                and head[0] in (b"{", b"["):
            failure = VerificationFailure(
                failure.code, failure.reason + " (this looks like JSON; a ledger is a CBOR "
                "sequence, as written by `receipt export`)", failure.position)
        self.report.failure = failure
        self.report.valid = failure is None
        return self.report

    def _run(self, chunks: Iterable[bytes]) -> None:
        """Step 1, framing, and routing: the preamble (step 2), receipts (steps 3-9) while
        items name the receipt content type, then checkpoints (step 10)."""
        index = -1
        reader = RunReader(chunks)
        prefixes: set[bytes] = set()  # the usual layout's prefixes seen on receipts
        pipeline = self.pipeline
        while True:
            if self.links is not None and self.checkpoints is None:
                offset, ends = reader.take_run(prefixes, pipeline.room())
                if ends:
                    pipeline.add(index + 1, offset, ends, reader.recent(offset, ends[-1]))
                    index += len(ends)
                    continue
            try:
                framed = reader.next_item()
            except EncodingError as e:
                pipeline.drain()
                code = "truncated" if isinstance(e, TruncatedError) else "malformed_item"
                raise fail(code, str(e), index + 1) from e
            if framed is None:
                break
            index += 1
            offset, item = framed
            if self.links is None:
                self._preamble(index, item)
            elif self.checkpoints is None and cose.peek_content_type(item) == cose.RECEIPT:
                prefix = usual_prefix(item)
                if prefix is not None:
                    prefixes.add(prefix)
                pipeline.add(index, offset, [len(item)], item)
            else:
                pipeline.drain()
                self._checkpoint(index, item)
        pipeline.drain()
        self._finish(index + 1)

    def _preamble(self, index: int, item: bytes) -> None:
        """Step 2."""
        self.preamble.take(index, item)
        header = self.preamble.header
        assert header is not None
        self.report.issuer = header["issuer"]
        self.report.reporting_currency = header["reporting_currency"]
        if self.preamble.done:
            self.links = ChainLinks(header["chains"], saved_heads(self.saved))
            sets = list(self.preamble.allocations.values())
            self.report.allocation_sets = sets
            if self.rollup_spec is not None and self.rollup_spec.allocations:
                self.rollup_spec = allocation_spec(sets, self.rollup_spec.exclude_retries)
                self.report.rollup = Rollup(self.rollup_spec)

    def _context(self) -> WorkerContext:
        """The workers' context, built once the preamble is read (it never changes after)."""
        if self._ctx is None:
            p, links = self.preamble, self.links
            assert p.header is not None
            assert links is not None
            receipts = ReceiptContext(p.trusted, p.books, p.rates, p.header["reporting_currency"],
                                      {chain: size for chain, (size, _) in links.saved.items()})
            # forked workers share this process's hash key; spawned ones draw their own
            forked = self.workers <= 1 or batches.START_METHOD == "fork"
            keyed = keyed_digests_available() and forked
            self._ctx = WorkerContext(receipts, links.saved, self.rollup_spec, keyed)
        return self._ctx

    def _absorb(self, batch: BatchResult) -> None:
        """Step 9 for a batch's receipts, in ledger order: chain links, then duplicates (a
        repeat earlier in the batch than a broken link is the first failure); then the
        batch's own failure, if any, and its totals."""
        links = self.links
        assert links is not None
        checked_up_to = batch.first_index + batch.count
        try:
            if batch.runs is not None:
                for first, size, head, count in batch.runs:
                    checked_up_to = first[0]
                    links.link(*first)
                    if count > 1:
                        links.advance(first[1], first[2] + 1, size, head)
            else:
                for summary in batch.summaries or ():
                    checked_up_to = summary[0]
                    links.link(*summary)
            checked_up_to = batch.first_index + batch.count
        finally:
            count = min(batch.count, max(0, checked_up_to - batch.first_index))
            repeat = self.dedup.add_block(batch.digests[: 2 * count], batch.first_index, 2)
            if repeat is not None:
                raise _duplicate(repeat)
        if batch.failure is not None:
            assert batch.failure.position is not None
            links.pending_gap_before(batch.failure.position.item)
            raise batch.failure
        report = self.report
        report.receipts += batch.count
        report.newly_verified += batch.verified
        report.merge(batch.totals)
        if report.rollup is not None and batch.rollup is not None:
            report.rollup.merge(batch.rollup)

    def _checkpoint(self, index: int, item: bytes) -> None:
        """Step 10, for one item after the receipts."""
        assert self.links is not None
        assert self.preamble.header is not None
        if self.checkpoints is None:
            self.links.pending_gap_before(index + 1)
            self.checkpoints = CheckpointSection(self.preamble.header, self.links)
        self.checkpoints.take(index, item, self.preamble.trusted)
        self.report.checkpoints.append(item)
        self.report.checkpoint_payloads.append(self.checkpoints.payloads[-1])

    def _finish(self, items: int) -> None:
        """The end of the file: the steps that wait for it."""
        if items == 0:
            raise fail("empty_ledger", "the file holds no item", 0)
        if self.preamble.header is None:
            raise fail("missing_header", "no ledger header", 0)
        if self.links is None:
            raise fail("count_mismatch", f"ledger ends in the {self.preamble.section} section",
                       items)
        self.links.pending_gap_before(items + 1)
        if self.checkpoints is None:
            self.checkpoints = CheckpointSection(self.preamble.header, self.links)
        self.checkpoints.finish(items, self.saved, self.preamble.trusted)
        self.report.chains = self.links.sizes()

    def _describe_trust(self) -> None:
        """The trusted keys, for the report, once step 2c fixed them."""
        if not self.preamble.trust_fixed:
            return
        report = self.report
        report.keys_from_ledger = not self.options.trusted_keys
        report.trusted_keys = self.preamble.trusted
        source = "ledger" if report.keys_from_ledger else "--key"
        report.keys = [KeyInfo(k.kid.hex(), k.fingerprint, source)
                       for k in self.preamble.trusted.values()]


def audit_ledger(chunks: Iterable[bytes], options: VerifyOptions | None = None) -> LedgerReport:
    """Verify a ledger given as byte chunks; the report holds VALID or the first failure."""
    return _LedgerPass(options or VerifyOptions()).run(chunks)


def audit_ledger_file(path: os.PathLike[str] | str,
                      options: VerifyOptions | None = None) -> LedgerReport:
    """:func:`audit_ledger` for a regular file: worker processes read their receipts from the
    file themselves, so receipt bytes never pass through a pipe. The file must not change while
    it is verified (a worker that finds it shorter fails the run)."""
    return _LedgerPass(options or VerifyOptions(), os.fspath(path)).run(read_chunks(path))


def verify_ledger(chunks: Iterable[bytes], options: VerifyOptions | None = None) -> LedgerReport:
    """Like :func:`audit_ledger` but raises :class:`VerificationFailure` when invalid."""
    report = audit_ledger(chunks, options)
    report.raise_for_failure()
    return report


def read_chunks(path: os.PathLike[str] | str, size: int = READ_SIZE) -> Iterable[bytes]:
    """Read a file in fixed-size chunks (bounded memory)."""
    with open(path, "rb") as f:  # noqa: PTH123 - streaming read
        while chunk := f.read(size):
            yield chunk
