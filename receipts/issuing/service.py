"""The receipt use case: validate -> bind tags -> (idempotency) -> price -> sign -> commit.

:func:`prepare` does everything that needs no database (it runs on the request's thread and
raises 403/422 before anything is queued). :class:`ReceiptService` appends prepared calls in
one write transaction per *group* of requests (see :mod:`issuing.group_commit`): it locks a chain
head, answers replays of known ``(agent, request_id)`` pairs, prices new calls with the price
book and FX rates stored in the database, signs and chains them, inserts them, advances the
head and commits. Only then are the callers answered, so an acknowledged receipt is durable.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Sequence
from decimal import Decimal
from functools import partial
from typing import Any

from receipts.budgets import spend as budget_spend
from receipts.clock import now_ms
from receipts.deployment.signing_key import Signer
from receipts.errors import (
    FieldProblem,
    Invalid,
    ReceiptsError,
    Unavailable,
)
from receipts.issuing.cost_range import overflow, surely_fits
from receipts.issuing.outcome import Job, Outcome
from receipts.issuing.payload_check import check_before_signing
from receipts.issuing.planning import checked, plan
from receipts.issuing.prepare import Prepared
from receipts.issuing.pricing_cache import MINUTE_MS, BilledAhead, Draft, PricingCache
from receipts.issuing.receipt_builder import (
    Call,
    ChainHead,
    checkpoint_payload,
    price_fields,
    receipt_payload,
)
from receipts.pricing.call_pricing import bill_call
from receipts.storage import queries as store
from receipts.storage.append_sql import AppendConnection, is_integrity_error
from receipts.storage.database import Database
from receipts.storage.tables import cost_rank
from verifier import cose
from verifier.chain import link_hash
from verifier.encoding import encode
from verifier.money import COST_SCALE, FX_ONE
from verifier.pricing import FxRate, PriceBook, latest_book


class ReceiptService:
    """Appends groups of prepared calls to the ledger (one group at a time)."""

    def __init__(self, db: Database, signer: Signer, *, issuer: str, reporting_currency: str,
                 chain_ids: Sequence[str], checkpoint_every: int = 10_000) -> None:
        self.db = db
        self.signer = signer
        self.issuer = issuer
        self.reporting_currency = reporting_currency
        self.chain_ids = tuple(chain_ids)
        self.checkpoint_every = checkpoint_every
        self.pricing = PricingCache()
        self._rates_memo: tuple[tuple[int, str] | None, list[FxRate], int] = (None, [], FX_ONE)
        self._next_chain = itertools.cycle(self.chain_ids)
        self._lock = threading.Lock()
        self._conn: AppendConnection | None = None
        self._claim: tuple[str, int] | None = None  # (chain, lock fd); ("", -1): none free

    def load_pricing(self) -> None:
        """Load the stored price books and FX rates now, as the first append would (the service
        does it at start-up, so that these long-lived objects exist before ``gc.freeze()``)."""
        with self.db.read() as conn:
            self.pricing.refresh(conn)
        for book in self.pricing.books:
            self.pricing.names_for(book)

    def _connection(self) -> AppendConnection:
        if self._conn is None:
            self._conn = AppendConnection(self.db.engine.raw_connection(), self.db.is_sqlite)
        return self._conn

    def close(self) -> None:
        """Release the writer's connection (and this process's claim on a chain)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self._claim is not None and self._claim[1] >= 0:
                os.close(self._claim[1])
            self._claim = None

    def append(self, jobs: Sequence[Job]) -> None:
        """Append every job's new calls in one transaction, filling outcomes or errors.

        A unique-key race with another process (same agent and request_id on another chain)
        rolls the group back; it is retried, and the retry sees the other commit as a replay.
        A database failure drops the connection and fails the group (nobody is acknowledged).
        """
        with self._lock:
            for attempt in range(3):
                conn = self._connection()
                billed = self._bill_ahead(jobs)
                try:
                    draft = self._draft_ahead(conn, jobs, billed)
                    conn.begin()
                    if draft is not None and self._still_holds(conn, draft):
                        self._write(conn, draft)
                    else:
                        self._append(conn, jobs, billed)
                    conn.commit()
                    return
                except ReceiptsError:
                    conn.rollback()
                    raise
                except Exception as e:
                    conn.rollback()
                    if is_integrity_error(e) and attempt < 2:
                        continue
                    self._conn = None
                    conn.close()
                    raise Unavailable(f"receipt not stored: {type(e).__name__}: "
                                      f"{str(e).splitlines()[0] if str(e) else ''}") from e

    def _refresh_pricing(self, conn: AppendConnection, version: int | None = None) -> None:
        """Reload books and rates if another process added one (the version is read under the
        chain lock, so anything added before the lock was taken is seen; ``version`` when it was
        read with the chain head)."""
        if (conn.pricing_version() if version is None else version) != self.pricing.version:
            with self.db.read() as sa_conn:
                self.pricing.refresh(sa_conn)

    def _bill_ahead(self, jobs: Sequence[Job]) -> BilledAhead | None:
        """Bill every call before the writer lock is taken, with the book in force now.

        Billing is a fifth of an append's work and does not depend on the chain, only on the
        book in force and, through time-of-day tiers, on the UTC minute: under the lock,
        :meth:`_call` keeps these results when ``issued_at`` falls in the same minute under the
        same book (see :class:`BilledAhead`), and bills again otherwise. The lock is then held
        for signing, chaining and writing only.
        """
        at = now_ms()
        book = latest_book(self.pricing.books, at)
        if book is None:
            return None  # the append itself reports it, under the lock
        names = self.pricing.names_for(book)
        billed = {}
        for call in (c for j in jobs for c in j.calls):
            billed[id(call)] = bill_call(names, provider=call.provider, model=call.model,
                                         normalized=call.usage, service_tier=call.service_tier,
                                         at_ms=at)
        return BilledAhead(book, at // MINUTE_MS, billed)

    def _call(self, p: Prepared, book: PriceBook, issued_at: int, receipt_id: str,
              ahead: BilledAhead | None) -> Call:
        """Bill ``p`` against ``book`` (the one in force at ``issued_at``): resolve the model
        name, pick the service tier, fit the usage to the entry's priced categories (or take
        the result billed ahead of the lock, when it is the same)."""
        billed = ahead.get(p, book, issued_at) if ahead is not None else None
        if billed is None:
            billed = bill_call(self.pricing.names_for(book), provider=p.provider, model=p.model,
                               normalized=p.usage, service_tier=p.service_tier,
                               at_ms=issued_at)
        return Call(request_id=p.request_id, provider=billed.provider, model=billed.model,
                    model_requested=billed.model_requested, agent=p.agent_id, tags=p.tags,
                    usage=billed.usage, issued_at=issued_at, receipt_id=receipt_id,
                    runtime_ms=p.runtime_ms, status=p.status, retry_of=p.retry_of,
                    usage_detail=billed.usage_detail or None,
                    service_tier=billed.service_tier, started_at=p.started_at,
                    provider_response_id=p.provider_response_id, imported=p.imported)

    def refuse_unrepresentable_cost(self, p: Prepared) -> None:
        """422 for a call whose cost would not fit a receipt (:mod:`receipts.issuing.cost_range`),
        judged under the book in force now; the append checks again under the book it signs
        with (a new book may take effect in between)."""
        at = now_ms()
        book = self._book_in_force(at)
        rates, largest_rate = self._rates_from(book.currency)
        units = sum(p.usage.usage.values()) + sum(p.usage.detail.values())
        if surely_fits(units, book, largest_rate):
            return
        call = self._call(p, book, at, "cost-range-check", None)
        problem = overflow(price_fields(call, book, rates, self.reporting_currency))
        if problem is not None:
            raise Invalid(problem, [FieldProblem("usage", problem)])

    def estimate(self, p: Prepared, price: bool = True) -> tuple[str, str, int | None]:
        """The billed provider and model of a call not yet made, and what it would cost in the
        reporting currency (None: unpriced, no FX rate, or ``price`` false: names only),
        priced exactly as its receipt would be under the book and rates in force now."""
        at = now_ms()
        book = self._book_in_force(at)
        if not price:
            resolved = self.pricing.names_for(book).resolve(p.provider, p.model)
            return resolved.provider, resolved.model, None
        call = self._call(p, book, at, "estimate", None)
        pricing = price_fields(call, book, self._rates_from(book.currency)[0],
                               self.reporting_currency)
        return call.provider, call.model, pricing["cost_reporting"]

    def estimated_cost(self, p: Prepared) -> Decimal | None:
        """What a receipt issued now would state as ``cost_reporting``, in currency units
        (None: an unpriced model, or no FX rate yet), for policy rules that judge the cost
        before anything is signed (:mod:`receipts.policies.gate`)."""
        amount = self.estimate(p)[2]
        return None if amount is None else Decimal(amount).scaleb(-COST_SCALE)

    def _book_in_force(self, at_ms: int) -> PriceBook:
        book = latest_book(self.pricing.books, at_ms)
        if book is None:
            raise Unavailable("no price book is in force: run receipt init")
        return book

    def _book_and_rates(self, issued_at: int) -> tuple[PriceBook, list[FxRate]]:
        book = self._book_in_force(issued_at)
        return book, self._rates_from(book.currency)[0]

    def _rates_from(self, currency: str) -> tuple[list[FxRate], int]:
        """The published rates from ``currency`` to the reporting currency, and the largest
        (FX_ONE if none), kept until the pricing data changes: a rate is published daily and
        every call of a batch asks."""
        key = (self.pricing.version, currency)
        memo = self._rates_memo  # (one read: a refresh replaces the whole tuple)
        if memo[0] != key:
            rates = [r for r in self.pricing.rates
                     if r.base == currency and r.quote == self.reporting_currency]
            memo = self._rates_memo = (key, rates, max((r.rate for r in rates), default=FX_ONE))
        return memo[1], memo[2]

    def _append(self, conn: AppendConnection, jobs: Sequence[Job],
                ahead: BilledAhead | None) -> None:
        """Lock a head, plan, sign and chain the new calls, and write them (all under the
        writer lock)."""
        chain = self._own_chain() or next(self._next_chain)
        self._write(conn, self._draft(conn, jobs, ahead, chain))

    def _own_chain(self) -> str | None:
        """The chain this process claimed (see :meth:`_draft_ahead`), if it holds one."""
        return self._claim[0] if self._claim is not None and self._claim[1] >= 0 else None

    def _draft(self, conn: AppendConnection, jobs: Sequence[Job], ahead: BilledAhead | None,
               chain: str) -> Draft:
        """Read a chain head, plan, then sign and chain new calls exactly as
        ``issuing.receipt_builder.sign_receipt`` does (deterministic payload by the format core's
        :func:`verifier.encoding.encode`, the encoder the verifier checks against).

        Nothing is written: :meth:`_write` does that. Under the writer lock the draft is written
        at once; drafted ahead of it (:meth:`_draft_ahead`), only if nothing it read changed.
        """
        locked = conn.lock_chain(self.chain_ids, chain)
        self._refresh_pricing(conn, locked.pricing_version)
        before = (locked.head.size, locked.head.head, locked.last_issued_at)
        calls = [c for j in jobs for c in j.calls]
        found = conn.existing(c.key for c in calls)
        existing = {k: Outcome(200, item=item) for k, (_, item) in found.items()}
        hashes = {k: h for k, (h, _) in found.items()}
        active = conn.active_agents(c.agent_id for c in calls)
        for job in jobs:  # a draft that was not written may have planned these already
            job.outcomes, job.error = [], None
        to_sign = plan(jobs, existing, hashes, active)
        draft = Draft(locked, before, self.pricing.version, [c.key for c in calls],
                      {c.agent_id for c in calls}, hashes, active, [], locked.head.size)
        if not to_sign:
            return draft
        issued_at = max(now_ms(), locked.last_issued_at)
        locked.last_issued_at = issued_at
        book, rates = self._book_and_rates(issued_at)
        head = locked.head

        def build(p: Prepared, receipt_id: str) -> tuple[Call, dict[str, Any]]:
            call = self._call(p, book, issued_at, receipt_id, ahead)
            pricing = price_fields(call, book, rates, self.reporting_currency)
            problem = overflow(pricing)
            if problem is not None:  # under a book newer than the request's check: sign none
                raise Unavailable(f"nothing stored, retry: a call of this group was refused "
                                  f"under the price book now in force ({problem})")
            return call, receipt_payload(call, head.chain, head.size, head.head, pricing)

        sign = self.signer.sign_payload_bytes
        replan = partial(plan, jobs, existing, hashes, active)
        for p, outcome, call, payload in checked(jobs, to_sign, build, replan):
            payload["seq"], payload["prev"] = head.size, head.head  # (built so: same types)
            item = sign(cose.RECEIPT, encode(payload))
            draft.rows.append((head.chain, head.size, call.receipt_id, p.agent_id, p.request_id,
                               p.body_hash, issued_at, p.tags.get("team"),
                               p.tags.get("project"), call.provider, call.model, p.started_at,
                               cost_rank(payload["cost_reporting"]), item))  # RECEIPT_COLUMNS
            head.size += 1
            head.head = link_hash(item)
            outcome.item, outcome.payload = item, payload
            draft.budget_spends.append((payload, p.reservation))
        return draft

    def _write(self, conn: AppendConnection, draft: Draft) -> None:
        """Insert a draft's receipts, advance its chain head, take a checkpoint when due."""
        if not draft.rows:
            return
        conn.insert(draft.rows)
        budget_spend.record(conn.driver, conn.is_sqlite, draft.budget_spends)
        conn.save_head(draft.locked)
        head, old_size = draft.locked.head, draft.old_size
        if head.size // self.checkpoint_every > old_size // self.checkpoint_every:
            at = draft.locked.last_issued_at
            item = self.checkpoint_item(head.chain, head.size, head.head, at)
            conn.save_checkpoint(head.chain, head.size, head.head, at, item)

    def _draft_ahead(self, conn: AppendConnection, jobs: Sequence[Job],
                     ahead: BilledAhead | None) -> Draft | None:
        """Plan and sign a group before the writer lock, on the chain this process claimed.

        On SQLite every append takes the one writer lock, and signing is a third of what it
        holds it for: with several worker processes, each claims a chain of its own (an
        ``flock`` held while it lives) and signs its groups without the writer lock. Under the
        lock, :meth:`_still_holds` re-reads everything the draft was made from (the chain head,
        the pricing version, the stored calls and the active agents); if all are unchanged the
        draft is exactly what drafting under the lock would make (save the time it was made),
        and is written; otherwise it is dropped and the group drafted again under the lock.
        Without a chain of its own (one chain, or more workers than chains) a process drafts
        under the lock only, as drafting ahead would mostly be wasted.
        """
        if not conn.is_sqlite or len(self.chain_ids) < 2:
            return None
        if self._claim is None:
            self._claim = conn.claim_chain(self.chain_ids) or ("", -1)
        chain = self._own_chain()
        return self._draft(conn, jobs, ahead, chain) if chain is not None else None

    def _still_holds(self, conn: AppendConnection, draft: Draft) -> bool:
        """Whether everything a draft was made from is unchanged, read under the writer lock."""
        now = conn.lock_chain(self.chain_ids, draft.locked.head.chain)
        if (now.head.size, now.head.head, now.last_issued_at) != draft.before:
            return False
        if now.pricing_version != draft.pricing_version:
            return False
        stored = {k: h for k, (h, _) in conn.existing(draft.keys).items()}
        return stored == draft.stored and conn.active_agents(draft.agents) == draft.active

    def checkpoint_item(self, chain: str, size: int, head: bytes, at: int) -> bytes:
        """A signed checkpoint of ``chain`` at ``size`` / ``head``."""
        payload = checkpoint_payload(self.issuer, ChainHead(chain, size, head), at)
        check_before_signing("checkpoint", payload)
        return self.signer.sign(cose.CHECKPOINT, payload)

    def save_checkpoint(self, conn: Any, chain: str, size: int, head: bytes, at: int) -> bytes:
        """Sign and store a checkpoint (the next start-up self-check resumes from it)."""
        item = self.checkpoint_item(chain, size, head, at)
        store.save_checkpoint(conn, chain, size, head, at, item)
        return item
