"""Verify a ledger: the numbered steps of spec §9, in one streaming pass.

Two APIs over one implementation (as python-tuf does): :func:`audit_ledger` returns a
:class:`LedgerReport` that says VALID or gives the first failure with its position, and
:func:`verify_ledger` raises :class:`VerificationFailure` instead.

Work is split so the verifier uses every core: the main process frames items, checks the
preamble (header, keys, price books, FX rates), chain links, duplicates and checkpoints; worker
processes check receipts in batches (steps 3 to 8: strict decoding, signature, schema, key
validity, price and FX recomputation) and return a small summary per receipt plus partial totals.
Memory is bounded by the number of keys, price books, rates, chains and rollup groups.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import nacl.bindings
import nacl.exceptions

from verifier import cose
from verifier.dedup import (
    DuplicateIndex,
    Repeat,
    keyed_digests,
    keyed_digests_available,
    sha256_digests,
)
from verifier.encoding import (
    SequenceReader,
    decode_strict,
    decode_text_map_fast,
    usual_prefix,
)
from verifier.errors import (
    EncodingError,
    Position,
    SchemaError,
    TruncatedError,
    UsageError,
    VerificationFailure,
)
from verifier.keys import PublicKey, key_id
from verifier.money import FX_ONE, convert, cost_of
from verifier.pricing import IDENTITY_SOURCE, BookSchedule, FxRate, PriceBook, RateTable
from verifier.rollup import DAY_MS, Rollup, RollupSpec, utc_day
from verifier.schema import (
    PRICED,
    ZERO_HASH,
    check_checkpoint,
    check_fx_rate,
    check_header,
    check_public_key_item,
    check_receipt,
)
from verifier.workers import Workers

ED25519_L = 2**252 + 27742317777372353535851937790883648493
BATCH = 1024
READ_SIZE = 1 << 16
"""Bytes per read of a ledger file: 64 KiB. Larger buffers come from fresh memory on every read
(glibc maps them, or grows and trims its heap for them): 256 KiB or 1 MiB reads cost about
30,000 page faults and 0.3 us of the main process per receipt."""
_START_METHOD = "fork" if os.name == "posix" else "spawn"


@dataclass
class VerifyOptions:
    """What to trust and what to compute.

    ``trusted_keys`` empty means "trust the keys the ledger lists" (the report says so).
    ``since`` maps chain id to (size, head hash) from a checkpoint saved at an earlier audit.
    ``workers`` 0 means one per core; 1 verifies in-process.
    """

    trusted_keys: tuple[PublicKey, ...] = ()
    since: dict[str, tuple[int, bytes]] | None = None
    rollup: RollupSpec | None = None
    workers: int = 0
    progress: Callable[[int], None] | None = None


@dataclass
class KeyInfo:
    """A key the verification trusted."""

    kid: str
    fingerprint: str
    source: str  # "ledger" or "--key"


@dataclass
class LedgerReport:
    """The outcome of verifying one ledger."""

    valid: bool = False
    failure: VerificationFailure | None = None
    issuer: str | None = None
    reporting_currency: str | None = None
    receipts: int = 0
    newly_verified: int = 0
    chains: dict[str, int] = field(default_factory=dict)
    keys: list[KeyInfo] = field(default_factory=list)
    keys_from_ledger: bool = True
    totals: dict[str, int] = field(default_factory=dict)
    totals_reporting: dict[str, int] = field(default_factory=dict)
    unpriced: int = 0
    checkpoints: list[bytes] = field(default_factory=list)
    checkpoint_payloads: list[dict[str, Any]] = field(default_factory=list)
    rollup: Rollup | None = None
    trusted_keys: dict[bytes, PublicKey] = field(default_factory=dict, repr=False)

    def raise_for_failure(self) -> None:
        """Raise the first failure, if any."""
        if self.failure is not None:
            raise self.failure


# --- per-receipt checks (run in workers) ----------------------------------------------------


@dataclass
class _Context:
    """Everything a worker needs, sent once per worker."""

    keys: dict[bytes, PublicKey]
    books: dict[bytes, PriceBook]
    rates: list[FxRate]
    reporting_currency: str
    since: dict[str, tuple[int, bytes]]
    rollup: RollupSpec | None
    keyed_digests: bool
    """Whether duplicate detection may use keyed digests (every process shares the key)."""
    schedule: BookSchedule = field(init=False)
    rate_table: RateTable = field(init=False)
    usual_keys: dict[bytes, PublicKey | None] = field(init=False)
    last_prefix: bytes = field(init=False, default=b"\xff")  # no item starts with a break
    last_key: PublicKey | None = field(init=False, default=None)
    last_sig_head: bytes = field(init=False, default=b"")
    _identities: dict[tuple[str, str], dict[str, Any]] = field(init=False, default_factory=dict)
    _fx_memo: dict[tuple[str, int], tuple[dict[str, Any] | None, int]] = field(
        init=False, default_factory=dict)
    """(currency, UTC day number) -> (expected fx, time from which it holds that day)."""

    def __post_init__(self) -> None:
        self.schedule = BookSchedule(self.books.values())
        self.rate_table = RateTable(self.rates)
        self.usual_keys = {}

    def expected_fx(self, currency: str, issued_at: int) -> dict[str, Any] | None:
        """The ``fx`` a receipt in ``currency`` issued at ``issued_at`` must carry (spec §5.4):
        the identity for the reporting currency, else the rate in force, None if none is.
        The result is shared: compare it, never modify it."""
        memo = self._fx_memo.get((currency, issued_at // DAY_MS))
        if memo is not None and issued_at >= memo[1]:
            return memo[0]
        expected, settled_from = self._select_fx(currency, issued_at)
        if issued_at >= settled_from and len(self._fx_memo) < 65_536:
            self._fx_memo[(currency, issued_at // DAY_MS)] = (expected, settled_from)
        return expected

    def _select_fx(self, currency: str, issued_at: int
                   ) -> tuple[dict[str, Any] | None, int]:
        """:meth:`expected_fx` itself, and from when on its day the answer holds for every
        receipt (a receipt issued before a rate of its day was published is not memoized)."""
        day = utc_day(issued_at)
        if currency == self.reporting_currency:
            key = (currency, day)
            identity = self._identities.get(key)
            if identity is None:
                identity = self._identities[key] = {
                    "currency": currency, "rate": FX_ONE, "date": day, "source": IDENTITY_SOURCE}
            return identity, -(2**63)
        rate = self.rate_table.select(currency, self.reporting_currency, day, issued_at)
        settled_from = self.rate_table.settled_from(currency, self.reporting_currency, day)
        return (None if rate is None else rate.receipt_fx), settled_from


Summary = tuple[int, str, int, bytes, bytes]
"""(item index, chain, seq, prev, hash of the item) of one receipt."""
Run = tuple[Summary, int, bytes, int]
"""A chain's receipts in one batch, linked to each other: (first, last seq, last hash, count)."""


@dataclass
class _BatchResult:
    """A worker's answer. When every receipt of the batch links to the one before it in its
    chain (the normal case), only ``runs`` come back, one per chain, and the main process checks
    just where each run joins its chain; otherwise ``summaries`` has every receipt, so the main
    process can say precisely what is wrong. ``digests`` holds, per receipt in order, the 16-byte
    digests of its id and of its (agent, request_id) (see verifier.dedup)."""

    first_index: int
    summaries: list[Summary] | None
    runs: list[Run] | None
    digests: list[bytes]
    count: int
    failure: tuple[int, str, str, str | None, int | None] | None
    totals: dict[str, int]
    totals_reporting: dict[str, int]
    unpriced: int
    verified: int
    rollup: Rollup | None


_Batch = tuple[int, int, list[int], bytes | str]
"""Consecutive receipts for a worker: (index of the first item, offset of its bytes in the
ledger, end of each item relative to that offset, the bytes end to end or the path of the
ledger file to read them from). One object per batch, not one per receipt: cheaper to
frame, to send and to receive; for a file, the receipts' bytes never pass through a pipe."""


@dataclass
class _PendingBatch:
    """A batch being gathered in the main process: consecutive items, so one byte range."""

    first_index: int
    offset: int = 0
    parts: list[bytes] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)

    def add_run(self, offset: int, ends: list[int], data: bytes | None) -> None:
        """Append the items at ``offset`` ending at ``ends`` (relative to ``offset``); ``data``
        is their bytes, or None when the workers read the ledger file."""
        if not self.ends:
            self.offset = offset
        shift = offset - self.offset
        self.ends.extend([shift + stop for stop in ends] if shift else ends)
        if data is not None:
            self.parts.append(data)

    def batch(self, path: str | None) -> _Batch:
        """The batch to send: with its bytes, or with ``path`` to read them from."""
        source = path if path is not None else \
            self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)
        return self.first_index, self.offset, self.ends, source


_CTX: _Context | None = None


def _init_worker(ctx: _Context) -> None:
    global _CTX
    _CTX = ctx


def _batch_bytes(offset: int, length: int, source: bytes | str) -> bytes:
    """A batch's bytes: sent along, or read from the ledger file at ``source``."""
    if isinstance(source, bytes):
        return source
    with open(source, "rb") as f:  # noqa: PTH123 - one read per batch of receipts
        f.seek(offset)
        data = f.read(length)
    if len(data) != length:
        raise UsageError(f"{source} changed while it was being verified")
    return data


def _signature_failure(signature: bytes) -> VerificationFailure:
    s = int.from_bytes(signature[32:], "little")
    if s >= ED25519_L:
        return VerificationFailure("non_canonical_signature", "signature S is not below L")
    return VerificationFailure("bad_signature", "Ed25519 signature does not verify")


def _check_pricing(ctx: _Context, p: dict[str, Any]) -> None:
    """Steps 7 and 8: unit prices from the cited book, cost, FX rate and conversion."""
    currency, issued_at, cost = p["currency"], p["issued_at"], p["cost"]
    book = ctx.books.get(p["price_book"])
    if book is None:
        raise VerificationFailure("unknown_price_book", "price_book not included in the ledger")
    if book.currency != currency:
        raise VerificationFailure("price_book_mismatch", "currency differs from the price book's")
    if ctx.schedule.in_force(issued_at) is not book:
        raise VerificationFailure("wrong_price_book", "not the price book in force at issued_at")
    usage, status = p["usage"], p["pricing_status"]
    resolution = book.resolve_shared(p["provider"], p["model"], usage, p.get("service_tier"))
    if resolution.status != status:
        raise VerificationFailure(
            "pricing_status_mismatch",
            f"receipt says {status}, price book gives {resolution.status}",
        )
    if status == PRICED:
        unit_prices = p["unit_prices"]
        if resolution.unit_prices != unit_prices:
            raise VerificationFailure("unit_price_mismatch", "unit_prices differ from the book")
        if cost_of(usage, unit_prices) != cost:
            raise VerificationFailure("cost_mismatch", "cost ≠ Σ usage × unit_prices")
    fx = p["fx"]
    expected = ctx.expected_fx(currency, issued_at)
    if fx != expected:  # (the expected fx is in the reporting currency, or None)
        raise _fx_mismatch(ctx, fx, expected)
    if fx is not None and cost is not None \
            and convert(cost, fx["rate"]) != p["cost_reporting"]:
        raise VerificationFailure("fx_conversion_mismatch", "cost_reporting ≠ cost × rate")


def _fx_mismatch(ctx: _Context, fx: dict[str, Any] | None, expected: dict[str, Any] | None
                 ) -> VerificationFailure:
    """Why a receipt's fx is not the one expected."""
    if fx is None:
        return VerificationFailure("fx_mismatch", "fx is null but a rate applies")
    if fx.get("currency") != ctx.reporting_currency:  # (on the hot path fx may lack keys)
        return VerificationFailure("fx_mismatch", "fx currency is not the reporting currency")
    if expected is None:
        return VerificationFailure("fx_mismatch", "no published rate applies")
    return VerificationFailure("fx_mismatch", f"fx should be {expected}")


_UNSEEN = object()


def _usual_key(ctx: _Context, protected: bytes) -> PublicKey | None:
    """The trusted key of receipts with this protected header, or None when such items must
    take the general path (another content type, an untrusted or malformed kid); memoized per
    worker."""
    found = ctx.usual_keys.get(protected, _UNSEEN)
    if found is not _UNSEEN:
        return found  # type: ignore[return-value]
    try:
        ctype, kid = cose.parse_protected(protected)
    except VerificationFailure:
        ctype, kid = "", b""
    key = ctx.keys.get(kid) if ctype == cose.RECEIPT else None
    if len(ctx.usual_keys) < 4096:
        ctx.usual_keys[protected] = key
    return key


def _remember_usual_prefix(ctx: _Context, item: bytes) -> bytes | None:
    """The item's :func:`~verifier.encoding.usual_prefix` if it is a receipt signed by a
    trusted key, remembered with that key for the receipts after it (most share them); None
    when the item must take the general path."""
    prefix = usual_prefix(item)
    if prefix is None or len(prefix) < 4 + 24 + 2:  # as cose.parse's usual layout: shortest
        return None
    protected_end = len(prefix) - 2
    key = _usual_key(ctx, item[4:protected_end])
    if key is None:
        return None
    ctx.last_prefix, ctx.last_key = prefix, key
    # the Sig_structure up to its payload: the same for every item with this prefix
    ctx.last_sig_head = cose.SIG1_PREFIX + item[2:protected_end] + b"\x40"
    return ctx.last_prefix


def _check_usual(ctx: _Context, item: bytes) -> dict[str, Any] | None:
    """Steps 3-8 for a receipt in the usual layout, in few Python operations (the verifier's
    hot path); None when anything is not as usual, and :func:`_check_one` then runs the
    general steps, which name the fault if there is one. Whatever passes here passes there:
    same envelope rule (``cose.parse``'s usual layout), same decoder, same signature call,
    same key and pricing checks, and the schema check less the fields pricing then compares
    as equals with the trusted book and rates (``check_receipt(vouched_by_pricing=True)``);
    any failure here is left to the general steps to name (a test compares the two paths on
    altered receipts)."""
    if ctx.since:
        return None
    prefix = ctx.last_prefix  # tag, array head, protected header, a0, payload head (59)
    if not item.startswith(prefix):
        found = _remember_usual_prefix(ctx, item)
        if found is None:
            return None
        prefix = found
    key = ctx.last_key
    protected_end = len(prefix) - 2
    if key is None or len(item) < protected_end + 4 + 256 + 66:
        return None
    payload_end = protected_end + 4 + (item[protected_end + 2] << 8 | item[protected_end + 3])
    if payload_end + 66 != len(item) or payload_end - protected_end < 4 + 256 \
            or item[payload_end] != 0x58 or item[payload_end + 1] != 0x40:
        return None  # as cose.parse's usual layout: one item, every head the shortest
    payload = decode_text_map_fast(item[protected_end + 4 : payload_end])
    if payload is None:
        return None
    # the signature, then the Sig_structure: its head (array, context, protected header, the
    # empty external AAD) as remembered with the prefix, then the payload with its own head
    signed = b"".join((item[payload_end + 2 :], ctx.last_sig_head,
                       item[protected_end + 1 : payload_end]))
    try:
        nacl.bindings.crypto_sign_open(signed, key.raw)  # as PublicKey.verify calls it
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError):
        return None
    try:
        check_receipt(payload, vouched_by_pricing=True)
        if not key.valid_at(payload["issued_at"]):
            return None
        _check_pricing(ctx, payload)  # confirms the fields the schema check left to it
    except (SchemaError, VerificationFailure):
        return None  # the general steps say which rule fails first
    return payload


def _check_one(ctx: _Context, item: bytes) -> tuple[dict[str, Any], bool]:
    """Steps 3-8 for one receipt. Returns its payload and whether it was fully verified."""
    env = cose.parse(item)  # (3) envelope and protected header
    if env.content_type != cose.RECEIPT:
        raise VerificationFailure("unexpected_item", f"{env.content_type} among receipts")
    key = ctx.keys.get(env.kid)
    if key is None:
        raise VerificationFailure("untrusted_key", f"kid {env.kid.hex()} is not trusted")
    payload: Any = decode_text_map_fast(env.payload)
    fast = payload is not None
    decode_error: VerificationFailure | None = None
    if not fast:
        try:
            payload = decode_strict(env.payload)
        except EncodingError as e:
            decode_error = VerificationFailure("non_deterministic_encoding", str(e))
    old = False
    if ctx.since and type(payload) is dict:
        chain, seq = payload.get("chain"), payload.get("seq")
        old = type(chain) is str and type(seq) is int and seq < ctx.since.get(chain, (0,))[0]
    if not old and not key.verify(env.signature, env.signed_bytes()):  # (4) signature
        raise _signature_failure(env.signature)
    if decode_error is not None:  # (5) deterministic payload
        raise decode_error
    try:
        check_receipt(payload)  # (6) schema
    except SchemaError as e:
        if fast:  # the fast decoder lets floats through to here: the strict one names them
            try:
                decode_strict(env.payload)
            except EncodingError as bad:
                raise VerificationFailure("non_deterministic_encoding", str(bad)) from bad
        raise VerificationFailure("schema_violation", str(e)) from e
    if not key.valid_at(payload["issued_at"]):
        raise VerificationFailure("key_not_valid", "key not valid at issued_at")
    if not old:
        _check_pricing(ctx, payload)  # (7) and (8)
    return payload, not old


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


def _check_batch(batch: _Batch) -> _BatchResult:
    ctx = _CTX
    assert ctx is not None
    first_index, offset, ends, source = batch
    blob = _batch_bytes(offset, ends[-1], source)
    summaries: list[Summary] = []
    digests: list[bytes] = []
    totals: dict[str, int] = {}
    totals_reporting: dict[str, int] = {}
    unpriced = not_verified = 0  # (receipts older than --since are not fully verified)
    rollup = Rollup(ctx.rollup) if ctx.rollup else None
    failure = None
    sha256 = hashlib.sha256
    receipt_digests = keyed_digests if ctx.keyed_digests else sha256_digests
    start = 0
    for index, stop in enumerate(ends, first_index):
        item = blob[start:stop]
        start = stop
        try:
            p = _check_usual(ctx, item)
            if p is None:
                p, fully = _check_one(ctx, item)
                not_verified += not fully
        except VerificationFailure as e:
            where = _locate(item)
            failure = (index, e.code, e.reason, *where)
            break
        digests += receipt_digests(p["id"], p["agent"], p["request_id"])
        summaries.append((index, p["chain"], p["seq"], p["prev"], sha256(item).digest()))
        cost = p["cost"]
        if cost is None:
            unpriced += 1
        else:
            totals[p["currency"]] = totals.get(p["currency"], 0) + cost
            if p["fx"] is not None:
                ccy = p["fx"]["currency"]
                totals_reporting[ccy] = totals_reporting.get(ccy, 0) + p["cost_reporting"]
        if rollup is not None:
            rollup.add(p)
    runs = _runs(summaries, ctx.since)
    return _BatchResult(first_index, None if runs is not None else summaries,
                        runs, digests, len(summaries), failure, totals,
                        totals_reporting, unpriced, len(summaries) - not_verified, rollup)


def _dedup_digests(batch: _BatchResult, up_to: int) -> list[bytes]:
    """The two digests of each of the batch's receipts before item ``up_to``."""
    count = min(batch.count, max(0, up_to - batch.first_index))
    return batch.digests if count == batch.count else batch.digests[: 2 * count]


def _runs(summaries: list[Summary], since: dict[str, tuple[int, bytes]]) -> list[Run] | None:
    """Compress linked summaries into one run per chain, or None if anything looks unusual.

    Unusual means a receipt that does not follow the previous one of its chain in this batch,
    or the receipt at a saved checkpoint's head whose hash differs: the main process then gets
    every summary and reports the failure exactly as it would have.
    """
    runs: dict[str, list[Any]] = {}
    for summary in summaries:
        _, chain, seq, prev, digest = summary
        head = since.get(chain)
        if head is not None and seq == head[0] - 1 and digest != head[1]:
            return None
        run = runs.get(chain)
        if run is None:
            runs[chain] = [summary, seq, digest, 1]
            continue
        if seq != run[1] + 1 or prev != run[2]:
            return None
        run[1], run[2], run[3] = seq, digest, run[3] + 1
    return [(r[0], r[1], r[2], r[3]) for r in runs.values()]


# --- the main pass ----------------------------------------------------------------------------


@dataclass
class _ChainState:
    size: int = 0
    head: bytes = ZERO_HASH
    gap: tuple[int, int] | None = None  # (item index, seq) of a receipt ahead of its place


class _Failed(Exception):
    def __init__(self, failure: VerificationFailure) -> None:
        self.failure = failure


def _fail(code: str, reason: str, item: int, chain: str | None = None,
          seq: int | None = None) -> _Failed:
    return _Failed(VerificationFailure(code, reason, Position(item, chain, seq)))


class _LedgerPass:
    """State of one verification pass (spec §9's numbered steps)."""

    def __init__(self, options: VerifyOptions, ledger_path: str | None = None) -> None:
        self.options = options
        self.ledger_path = ledger_path
        self.workers = options.workers or os.cpu_count() or 1
        # receipts' bytes go with each batch, unless worker processes can read the file
        self.inline = ledger_path is None or self.workers <= 1
        self.report = LedgerReport(rollup=Rollup(options.rollup) if options.rollup else None)
        self.header: dict[str, Any] | None = None
        self.header_env: cose.Envelope | None = None
        self.ledger_keys: dict[bytes, PublicKey] = {}
        self.trusted: dict[bytes, PublicKey] = {}
        self.books: dict[bytes, PriceBook] = {}
        self.rates: list[FxRate] = []
        self.chains: dict[str, _ChainState] = {}
        self.checkpoints_seen = 0
        self.preamble = hashlib.sha256()
        self._ctx: _Context | None = None
        self.phase = "header"
        self.dedup = DuplicateIndex()

    # (1) framing and routing ------------------------------------------------------------
    def run(self, chunks: Iterable[bytes]) -> LedgerReport:
        head: list[bytes] = []

        def remember_head(source: Iterable[bytes]) -> Iterable[bytes]:
            for chunk in source:
                if not head:
                    head.append(chunk[:1])
                yield chunk

        failure: VerificationFailure | None = None
        try:
            self._run(remember_head(chunks))
        except _Failed as failed:
            failure = failed.failure
        finally:
            try:
                deferred = self.dedup.finish()
            finally:
                self.dedup.close()
        if deferred is not None and (failure is None or failure.position is None
                                     or deferred[1] < failure.position.item):
            failure = self._duplicate(deferred).failure  # the earlier failure
        if failure is not None:
            if failure.position and failure.position.item == 0 and head and \
                    head[0] in (b"{", b"["):
                failure = VerificationFailure(
                    failure.code, failure.reason + " (this looks like JSON; a ledger is a "
                    "CBOR sequence, as written by `receipt export`)", failure.position)
            self.report.failure = failure
            self.report.valid = False
            return self.report
        self.report.valid = True
        return self.report

    def _run(self, chunks: Iterable[bytes]) -> None:
        index = -1
        pending = _PendingBatch(0)
        in_flight: deque[_BatchResult | None] = deque()  # None: the workers' next result
        pool: Workers | None = None
        inline = self.inline
        receipt_prefixes: set[bytes] = set()  # the usual layout's prefixes seen on receipts
        try:
            reader = SequenceReader(self._progress(chunks))
            while True:
                if self.phase == "receipts":
                    offset, ends = reader.take_run(receipt_prefixes, BATCH - len(pending.ends))
                    if ends:
                        data = reader.recent(offset, ends[-1]) if inline else None
                        pending.add_run(offset, ends, data)
                        index += len(ends)
                        if len(pending.ends) >= BATCH:
                            pool = self._flush(pending, in_flight, pool)
                            pending = _PendingBatch(index + 1)
                        continue
                try:
                    framed = reader.next_item()
                except EncodingError as e:
                    self._drain(in_flight, pending, pool)
                    raise self._framing_failure(e, index + 1) from e
                if framed is None:
                    break
                index += 1
                offset, item = framed
                if self.phase == "receipts" and cose.peek_content_type(item) == cose.RECEIPT:
                    prefix = usual_prefix(item)
                    if prefix is not None:
                        receipt_prefixes.add(prefix)
                    pending.add_run(offset, [len(item)], item if inline else None)
                    if len(pending.ends) >= BATCH:
                        pool = self._flush(pending, in_flight, pool)
                        pending = _PendingBatch(index + 1)
                    continue
                self._drain(in_flight, pending, pool)
                pending = _PendingBatch(index + 1)
                self._preamble_or_checkpoint(index, item)
            self._drain(in_flight, pending, pool)
            self._finish(index + 1)
        finally:
            if pool is not None:
                pool.close()

    def _flush(self, pending: _PendingBatch, in_flight: deque[_BatchResult | None],
               pool: Workers | None) -> Workers | None:
        """Send a full batch to the workers (starting them on the first); returns them."""
        if pool is None and self.workers > 1:
            pool = self._start_pool(self.workers)
        self._submit(pool, pending, in_flight)
        return pool

    @staticmethod
    def _framing_failure(error: EncodingError, index: int) -> _Failed:
        if isinstance(error, TruncatedError):
            return _fail("truncated", str(error), index)
        return _fail("malformed_item", str(error), index)

    def _progress(self, chunks: Iterable[bytes]) -> Iterable[bytes]:
        for chunk in chunks:
            if self.options.progress:
                self.options.progress(len(chunk))
            yield chunk

    def _start_pool(self, workers: int) -> Workers:
        depth = 1 if self.inline else 2  # batches with their bytes: one per worker at a time
        return Workers(workers, _START_METHOD, _init_worker, (self._context(),), _check_batch,
                       depth)

    def _context(self) -> _Context:
        """The workers' context, built once the preamble is read (it never changes after)."""
        if self._ctx is None:
            assert self.header is not None
            since = dict(self.options.since or {})
            # forked workers share this process's hash key; spawned ones draw their own
            keyed = keyed_digests_available() and (self.workers <= 1 or _START_METHOD == "fork")
            self._ctx = _Context(self.trusted, self.books, self.rates,
                                 self.header["reporting_currency"], since, self.options.rollup,
                                 keyed)
        return self._ctx

    def _submit(self, pool: Workers | None, pending: _PendingBatch,
                in_flight: deque[_BatchResult | None]) -> None:
        """Check a batch here, or send it to the workers once one of them can take it,
        absorbing results in order as they arrive (at most four batches per worker are out:
        in a worker's hands, or finished and waiting for an earlier one)."""
        batch = pending.batch(None if self.inline else self.ledger_path)
        if pool is None:
            if _CTX is not self._context():
                _init_worker(self._context())
            in_flight.append(_check_batch(batch))
            return
        while True:
            while in_flight and (in_flight[0] is not None or pool.oldest_ready()):
                self._absorb(in_flight.popleft(), pool)
            if pool.can_take() and len(in_flight) < 4 * self.workers:
                break
            pool.wait()
        pool.submit(batch)
        in_flight.append(None)

    def _drain(self, in_flight: deque[_BatchResult | None], pending: _PendingBatch,
               pool: Workers | None = None) -> None:
        if pending.ends:
            self._submit(pool, pending, in_flight)
            pending.ends, pending.parts = [], []
        while in_flight:
            self._absorb(in_flight.popleft(), pool)

    # receipts: chain links, duplicates, totals -------------------------------------------
    def _absorb(self, result: _BatchResult | None, pool: Workers | None) -> None:
        if result is None:
            assert pool is not None
            result = pool.next_result()
        batch: _BatchResult = result
        report = self.report
        checked_up_to = batch.first_index + batch.count
        try:
            if batch.runs is not None:
                for (index, chain, seq, prev, digest), last_seq, last_digest, count in batch.runs:
                    checked_up_to = index
                    self._link(index, chain, seq, prev, digest)
                    state = self.chains[chain]
                    if count > 1 and state.gap is not None:  # as _link does on the next one
                        raise _fail("missing_receipt", f"seq {state.size} is missing", index,
                                    chain, seq)
                    if count > 1:  # the worker checked the links inside the run
                        state.size, state.head = last_seq + 1, last_digest
            else:
                for index, chain, seq, prev, digest in batch.summaries or ():
                    checked_up_to = index
                    self._link(index, chain, seq, prev, digest)
            checked_up_to = batch.first_index + batch.count
        finally:  # a repeat earlier in the batch than a broken link is the first failure
            self._check_duplicates(_dedup_digests(batch, checked_up_to), batch.first_index)
        if batch.failure is not None:
            at, code, reason, at_chain, at_seq = batch.failure
            self._pending_gap_before(at)
            raise _fail(code, reason, at, at_chain, at_seq)
        report.receipts += batch.count
        report.newly_verified += batch.verified
        report.unpriced += batch.unpriced
        for ccy, amount in batch.totals.items():
            report.totals[ccy] = report.totals.get(ccy, 0) + amount
        for ccy, amount in batch.totals_reporting.items():
            report.totals_reporting[ccy] = report.totals_reporting.get(ccy, 0) + amount
        if report.rollup is not None and batch.rollup is not None:
            report.rollup.merge(batch.rollup)

    def _check_duplicates(self, digests: list[bytes], first_index: int) -> None:
        repeat = self.dedup.add_block(digests, first_index, 2)
        if repeat is not None:
            raise self._duplicate(repeat)

    @staticmethod
    def _duplicate(repeat: Repeat) -> _Failed:
        first = "an earlier receipt" if repeat[0] is None else f"item {repeat[0]}"
        return _fail("duplicate_id", f"receipt id or (agent, request_id) repeats {first}",
                     repeat[1])

    def _pending_gap_before(self, index: int) -> None:
        for chain, state in self.chains.items():
            if state.gap is not None and state.gap[0] < index:
                raise _fail("missing_receipt", f"seq {state.size} is missing", state.gap[0],
                            chain, state.gap[1])

    def _link(self, index: int, chain: str, seq: int, prev: bytes, digest: bytes) -> None:
        """(9) seq continuity and chain links, telling each kind of tampering apart."""
        state = self.chains.get(chain)
        if state is None:
            raise _fail("unknown_chain", "chain not listed in the ledger header", index, chain, seq)
        if state.gap is not None:
            gap_index, gap_seq = state.gap
            if seq == state.size:
                raise _fail("out_of_order", f"seq {gap_seq} appears before seq {seq}",
                            gap_index, chain, gap_seq)
            raise _fail("missing_receipt", f"seq {state.size} is missing", gap_index, chain,
                        gap_seq)
        if seq > state.size:
            state.gap = (index, seq)
            return
        if seq < state.size:
            if seq == state.size - 1 and digest == state.head:
                raise _fail("duplicate_receipt", "the previous receipt is repeated", index,
                            chain, seq)
            if seq == state.size - 1:
                raise _fail("chain_fork", "a second receipt claims this position", index, chain,
                            seq)
            raise _fail("out_of_order", f"seq {seq} after seq {state.size - 1}", index, chain,
                        seq)
        if prev != state.head:
            raise _fail("broken_link", "prev is not the hash of the previous receipt", index,
                        chain, seq)
        since = (self.options.since or {}).get(chain)
        if since is not None and seq == since[0] - 1 and digest != since[1]:
            raise _fail("not_an_extension", "differs from the saved checkpoint's head", index,
                        chain, seq)
        state.size += 1
        state.head = digest

    # (2) preamble and (10) checkpoints ----------------------------------------------------
    def _open(self, index: int, item: bytes, expected: str) -> tuple[cose.Envelope, Any]:
        if expected in (cose.PUBLIC_KEY, cose.PRICE_BOOK, cose.FX_RATE):
            self.preamble.update(item)
        try:
            env = cose.parse(item)
        except VerificationFailure as e:
            raise _Failed(e.at(Position(index))) from e
        if env.content_type != expected:
            raise _fail(self._wrong_kind(env.content_type, expected), f"found {env.content_type}"
                        f" where {expected} belongs", index)
        try:
            payload = decode_strict(env.payload)
        except EncodingError as e:
            payload = e
        return env, payload

    def _wrong_kind(self, found: str, expected: str) -> str:
        if expected == cose.LEDGER_HEADER:
            return "missing_header"
        if expected == cose.CHECKPOINT:
            return "unexpected_item"  # a preamble item or receipt after the receipts
        return "count_mismatch"

    def _authenticate(self, index: int, env: cose.Envelope, payload: Any, when: int | None,
                      key: PublicKey | None = None) -> None:
        key = key or self.trusted.get(env.kid)
        if key is None:
            raise _fail("untrusted_key", f"kid {env.kid.hex()} is not trusted", index)
        if not key.verify(env.signature, env.signed_bytes()):
            raise _Failed(_signature_failure(env.signature).at(Position(index)))
        if isinstance(payload, EncodingError):
            raise _fail("non_deterministic_encoding", str(payload), index)
        if when is not None and not key.valid_at(when):
            raise _fail("key_not_valid", "signing key not valid at the item's time", index)

    def _schema(self, index: int, check: Callable[[Any], None], payload: Any) -> None:
        try:
            check(payload)
        except SchemaError as e:
            raise _fail("schema_violation", str(e), index) from e

    def _preamble_or_checkpoint(self, index: int, item: bytes) -> None:
        while True:
            handler = {
                "header": self._header, "keys": self._key, "books": self._book,
                "rates": self._rate, "receipts": self._checkpoint,
                "checkpoints": self._checkpoint,
            }[self.phase]
            if handler(index, item):
                return

    def _advance_preamble(self) -> None:
        """Move to the next section once the header's count for this one is reached."""
        assert self.header is not None
        counts = self.header["counts"]
        if self.phase == "keys" and len(self.ledger_keys) == counts["keys"]:
            self._trust()
            self.phase = "books"
        if self.phase == "books" and len(self.books) == counts["price_books"]:
            self.phase = "rates"
        if self.phase == "rates" and len(self.rates) == counts["fx_rates"]:
            if self.preamble.digest() != self.header["preamble"]:
                raise _fail("preamble_mismatch", "the keys, price books and FX rates are not "
                            "the ones the header lists", 0)
            self.phase = "receipts"

    def _header(self, index: int, item: bytes) -> bool:
        env, payload = self._open(index, item, cose.LEDGER_HEADER)
        if isinstance(payload, EncodingError):
            raise _fail("non_deterministic_encoding", str(payload), index)
        self._schema(index, check_header, payload)
        self.header_env, self.header = env, payload  # authenticated in _trust, once keys are known
        self.report.issuer = payload["issuer"]
        self.report.reporting_currency = payload["reporting_currency"]
        self.chains = {c: _ChainState() for c in payload["chains"]}
        self.phase = "keys"
        self._advance_preamble()
        return True

    def _key(self, index: int, item: bytes) -> bool:
        env, payload = self._open(index, item, cose.PUBLIC_KEY)
        if not isinstance(payload, EncodingError):
            self._schema(index, check_public_key_item, payload)
            try:
                key = PublicKey(payload["public_key"], payload["valid_from"],
                                payload["valid_until"])
            except VerificationFailure as e:
                raise _Failed(e.at(Position(index))) from e
            if key_id(key.raw) != payload["kid"] or env.kid != payload["kid"]:
                raise _fail("bad_key", "kid does not match the public key", index)
            if key.kid in self.ledger_keys:
                raise _fail("duplicate_item", "public key included twice", index)
            self._authenticate(index, env, payload, None, key)  # self-signed: possession
            self.ledger_keys[key.kid] = key
        else:
            raise _fail("non_deterministic_encoding", str(payload), index)
        self._advance_preamble()
        return True

    def _trust(self) -> None:
        """Decide which keys are trusted, then authenticate the header (deferred until now)."""
        if self.options.trusted_keys:
            self.report.keys_from_ledger = False
            for given in self.options.trusted_keys:
                listed = self.ledger_keys.get(given.kid)
                self.trusted[given.kid] = listed or given
        else:
            self.trusted = dict(self.ledger_keys)
        self.report.trusted_keys = self.trusted
        self.report.keys = [
            KeyInfo(k.kid.hex(), k.fingerprint, "ledger" if self.report.keys_from_ledger
                    else "--key") for k in self.trusted.values()
        ]
        assert self.header_env is not None
        assert self.header is not None
        self._authenticate(0, self.header_env, self.header, self.header["created_at"])

    def _book(self, index: int, item: bytes) -> bool:
        env, payload = self._open(index, item, cose.PRICE_BOOK)
        self._authenticate(index, env, payload, None)
        try:
            book = PriceBook.from_payload(payload, env.payload)
        except SchemaError as e:
            raise _fail("schema_violation", str(e), index) from e
        if book.id in self.books:
            raise _fail("duplicate_item", "price book included twice", index)
        self.books[book.id] = book
        self._advance_preamble()
        return True

    def _rate(self, index: int, item: bytes) -> bool:
        env, payload = self._open(index, item, cose.FX_RATE)
        self._authenticate(index, env, payload, payload["published_at"]
                           if isinstance(payload, dict) and type(payload.get("published_at"))
                           is int else None)
        self._schema(index, check_fx_rate, payload)
        rate = FxRate.from_payload(payload)
        if rate in self.rates:
            raise _fail("duplicate_item", "fx rate included twice", index)
        self.rates.append(rate)
        self._advance_preamble()
        return True

    def _checkpoint(self, index: int, item: bytes) -> bool:
        assert self.header is not None
        chains = self.header["chains"]
        if self.phase == "receipts":
            self.phase = "checkpoints"
            self._pending_gap_before(index + 1)
        if self.checkpoints_seen >= len(chains):
            raise _fail("unexpected_item", "item after the last checkpoint", index)
        expected_chain = chains[self.checkpoints_seen]
        env, payload = self._open(index, item, cose.CHECKPOINT)
        when = payload.get("time") if isinstance(payload, dict) else None
        self._authenticate(index, env, payload, when if type(when) is int else None)
        self._schema(index, check_checkpoint, payload)
        if payload["chain"] != expected_chain:
            raise _fail("missing_checkpoint", f"no checkpoint for chain {expected_chain}", index,
                        expected_chain)
        if payload["issuer"] != self.header["issuer"]:
            raise _fail("checkpoint_mismatch", "checkpoint of another issuer", index)
        state = self.chains[expected_chain]
        if payload["size"] != state.size or payload["head"] != state.head:
            raise _fail("checkpoint_mismatch", f"checkpoint says size {payload['size']}, ledger "
                        f"holds {state.size} receipts (truncated or extended)", index,
                        expected_chain)
        self.checkpoints_seen += 1
        self.report.checkpoints.append(item)
        self.report.checkpoint_payloads.append(payload)
        return True

    def _finish(self, items: int) -> None:
        if items == 0:
            raise _fail("empty_ledger", "the file holds no item", 0)
        if self.header is None:
            raise _fail("missing_header", "no ledger header", 0)
        if self.phase in ("keys", "books", "rates"):
            raise _fail("count_mismatch", f"ledger ends in the {self.phase} section", items)
        self._pending_gap_before(items + 1)
        chains = self.header["chains"]
        if self.checkpoints_seen < len(chains):
            missing = chains[self.checkpoints_seen]
            raise _fail("missing_checkpoint", f"no checkpoint for chain {missing}", items,
                        missing)
        for chain, (size, _) in (self.options.since or {}).items():
            state = self.chains.get(chain)
            if state is None or state.size < size:
                raise _fail("not_an_extension", f"chain {chain} is shorter than the saved "
                            "checkpoint", items, chain)
        self.report.chains = {c: s.size for c, s in self.chains.items()}


def preamble_digest(items: Iterable[bytes]) -> bytes:
    """SHA-256 over the preamble items' bytes, in order: the header's ``preamble`` (spec §7.1).

    The header's counts say how many keys, price books and rates follow; this digest says which,
    so not even an item nothing refers to can be swapped for another validly signed one.
    """
    digest = hashlib.sha256()
    for item in items:
        digest.update(item)
    return digest.digest()


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
