"""What the writer keeps between groups: price books and FX rates, and calls billed ahead.

Both exist only to skip repeated work: the rules they serve (the book in force, the price of a
call) are the verifier's and ``pricing.call_pricing``'s, run unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from receipts.issuing.prepare import Prepared
from receipts.pricing.call_pricing import PreparedCall
from receipts.pricing.model_names import ModelNames
from receipts.storage import queries as store
from receipts.storage.queries import LockedHead
from verifier.encoding import decode_strict
from verifier.pricing import FxRate, PriceBook


@dataclass
class PricingCache:
    """Price books and FX rates as stored, reloaded when the database's version changes.

    Books are immutable and content-addressed, so a reload decodes only books it has not seen
    (a genai-prices book is half a megabyte; every FX publication bumps the version too). Each
    book gets one :class:`ModelNames` resolver, whose per-name cache then lives as long as the
    book is loaded.
    """

    version: int = -1
    books: list[PriceBook] = field(default_factory=list)
    rates: list[FxRate] = field(default_factory=list)
    names: dict[bytes, ModelNames] = field(default_factory=dict)

    def refresh(self, conn: Any) -> None:
        """Reload if another process added a book or rate (read inside the append lock)."""
        version = store.pricing_version(conn)
        if version == self.version:
            return
        known = {book.id: book for book in self.books}
        new_ids = [i for i in store.price_book_ids(conn) if i not in known]
        for book_id, payload in store.price_book_payloads(conn, new_ids):
            known[book_id] = PriceBook.from_payload(decode_strict(payload), payload)
        self.books = list(known.values())
        self.rates = [rate for rate, _ in store.fx_rates(conn)]
        self.version = version

    def names_for(self, book: PriceBook) -> ModelNames:
        """The model-name resolver of ``book`` (made once per book)."""
        names = self.names.get(book.id)
        if names is None:
            names = self.names[book.id] = ModelNames(book)
        return names


MINUTE_MS = 60_000


@dataclass
class Draft:
    """A group planned and signed on one chain head, not yet written (see
    :meth:`ReceiptService._draft`), with what it was made from."""

    locked: LockedHead  # the chain head after the group
    before: tuple[int, bytes, int]  # (size, head, last_issued_at) it was drafted on
    pricing_version: int
    keys: list[tuple[str, str]]  # (agent, request_id) of every call
    agents: set[str]  # agent ids of every call
    stored: dict[tuple[str, str], bytes]  # body hashes of those calls already stored
    active: set[str]  # those agents not revoked
    rows: list[tuple[Any, ...]]  # the new receipts, in RECEIPT_COLUMNS order
    old_size: int
    budget_spends: list[tuple[dict[str, Any], str | None]] = field(default_factory=list)
    """Each new receipt's payload and the reservation its request named (budgets count them)."""


@dataclass(frozen=True)
class BilledAhead:
    """Calls billed before the writer lock, valid for one book and one UTC minute.

    :func:`pricing.call_pricing.bill_call` depends on time only through the book (which the caller
    compares) and the time-of-day tier, whose windows are whole UTC minutes
    (:func:`receipts.pricing.tiers.in_window`): the same book and minute give the same result.
    """

    book: PriceBook
    minute: int
    billed: dict[int, PreparedCall]  # by id() of the Prepared call, alive for the append

    def get(self, call: Prepared, book: PriceBook, issued_at: int) -> PreparedCall | None:
        """The call's billing if it still holds at ``issued_at`` under ``book``, else None."""
        if book is not self.book or issued_at // MINUTE_MS != self.minute:
            return None
        return self.billed.get(id(call))


