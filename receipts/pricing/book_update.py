"""Make a new price book: the ``genai-prices`` snapshot at an instant plus operator overrides.

This is what ``receipt prices update`` runs and what the service calls to store a new book.
The book's ``effective_from`` is the snapshot instant: the service must only ever add books that
take effect after every receipt it has already issued (the verifier checks that each receipt
cites the book in force at its ``issued_at``), so a new book never reprices history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from receipts.errors import PriceBookBuildError
from receipts.pricing.books import build_price_book
from receipts.pricing.categories import INPUT_CATEGORIES
from receipts.pricing.currencies import is_currency
from receipts.pricing.overrides import Overrides, apply_overrides
from verifier.pricing import PriceBook

GENAI_CURRENCY = "USD"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class BuiltBook:
    """A new book: its exact payload bytes (what is hashed and signed), its index, and notes."""

    payload_bytes: bytes
    book: PriceBook
    refused: tuple[str, ...] = ()
    changes: tuple[dt.date, ...] = ()

    @property
    def id_hex(self) -> str:
        """The content address receipts cite, in hex."""
        return self.book.id.hex()


def to_ms(when: dt.datetime) -> int:
    """Milliseconds since the Unix epoch of an aware datetime."""
    if when.tzinfo is None:
        raise PriceBookBuildError("times must be timezone-aware (UTC)")
    return (when - _EPOCH) // dt.timedelta(milliseconds=1)


def make_book(
    at: dt.datetime,
    *,
    overrides: Overrides | None = None,
    use_genai: bool = True,
    currency: str = GENAI_CURRENCY,
    created_at: dt.datetime | None = None,
    strict: bool = False,
) -> BuiltBook:
    """Snapshot (unless ``use_genai`` is false) at ``at``, merge ``overrides``, encode the book.

    ``genai-prices`` quotes USD, so a book in another currency is operator-only
    (``use_genai=False``): every model in it comes from the overrides file.
    """
    if not is_currency(currency):
        raise PriceBookBuildError(f"{currency!r} is not an ISO 4217 currency code")
    if use_genai and currency != GENAI_CURRENCY:
        raise PriceBookBuildError(f"genai-prices quotes {GENAI_CURRENCY}; a {currency} book "
                                  "must be built from overrides only")
    if overrides is not None and overrides.currency not in (None, currency):
        raise PriceBookBuildError(f"{overrides.name} is in {overrides.currency}, "
                                  f"the book is in {currency}")
    entries = []
    refused: tuple[str, ...] = ()
    changes: tuple[dt.date, ...] = ()
    parts = []
    if use_genai:
        from receipts.pricing.genai_book import snapshot

        snap = snapshot(at, strict=strict)
        entries = snap.entries
        refused = tuple(str(r) for r in snap.refused)
        changes = tuple(snap.changes)
        parts.append(f"genai-prices {snap.version} at {at.astimezone(dt.UTC).isoformat()}")
    if overrides is not None:
        entries = apply_overrides(entries, overrides)
        parts.append(f"overrides {overrides.name} sha256:{overrides.digest}")
    if not parts:
        raise PriceBookBuildError("nothing to build: no genai-prices data and no overrides")
    payload_bytes, book = build_price_book(
        entries, currency=currency, effective_from=to_ms(at),
        created_at=to_ms(created_at or at), source="; ".join(parts),
        input_categories=INPUT_CATEGORIES,
    )
    return BuiltBook(payload_bytes, book, refused, changes)


def make_books(
    at: dt.datetime,
    through: dt.datetime,
    *,
    overrides: Overrides | None = None,
    created_at: dt.datetime | None = None,
    strict: bool = False,
) -> list[BuiltBook]:
    """The book at ``at`` and one more at 00:00Z of every date on which the data changes a
    price, up to ``through``: stored together, they make each call's price follow its own
    time (``latest_book``) with no repricing and no stale book between updates."""
    first = make_book(at, overrides=overrides, created_at=created_at, strict=strict)
    books = [first]
    for day in first.changes:
        start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        if start > through:
            break
        books.append(make_book(start, overrides=overrides, created_at=created_at,
                               strict=strict))
    return books
