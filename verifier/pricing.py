"""Price books and FX rates as the format defines them, and the one way to read them (spec §5).

A price book is a content-addressed document: its id is the SHA-256 of its deterministic CBOR
payload, and receipts cite that hash. The service picks unit prices with :meth:`PriceBook.resolve`
and the verifier re-derives them with the same function, so both agree by construction; the spec
states the rule in prose for independent implementations.

Price book payload::

    {"v": 1, "currency": "USD", "effective_from": ms, "created_at": ms, "source": text,
     "input_categories": [text...],          # categories that count toward "total input"
     "models": [{"provider": text, "model": text, "metered": bool,
                 "prices": {category: price}, ? "service_tiers": {tier: {category: price}},
                 ? "source": text}, ...]}
    price = uint                             # 10^-6 currency units per 1M tokens
          / {"base": uint, "tiers": [{"start": uint, "price": uint}, ...]}

Tiers follow the providers' (and ``genai-prices``') "cliff" rule: when a request's total input
tokens exceed a tier's ``start``, that tier's price applies to all of its tokens in that category.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from verifier.errors import SchemaError
from verifier.money import FX_ONE
from verifier.rollup import utc_day
from verifier.schema import FORMAT_VERSION, MAX_TIME_MS, MAX_UINT, check_currency

_BOOK_FIELDS = frozenset(
    {"v", "currency", "effective_from", "created_at", "source", "input_categories", "models"}
)
_ENTRY_REQUIRED = frozenset({"provider", "model", "metered", "prices"})
_ENTRY_OPTIONAL = frozenset({"service_tiers", "source"})
STANDARD_TIER = "standard"


def book_id(payload_bytes: bytes) -> bytes:
    """The content address receipts cite: SHA-256 of the book's deterministic payload bytes."""
    return hashlib.sha256(payload_bytes).digest()


def _is_uint(value: Any) -> bool:
    return type(value) is int and 0 <= value <= MAX_UINT


def _check_price(value: Any, where: str) -> None:
    if _is_uint(value):
        return
    if type(value) is dict and value.keys() == {"base", "tiers"}:
        if not _is_uint(value["base"]):
            raise SchemaError(f"{where}: base must be an unsigned integer")
        tiers = value["tiers"]
        if type(tiers) is not list or not tiers:
            raise SchemaError(f"{where}: tiers must be a non-empty list")
        previous = -1
        for tier in tiers:
            if type(tier) is not dict or tier.keys() != {"start", "price"} \
                    or not _is_uint(tier["start"]) or not _is_uint(tier["price"]) \
                    or tier["start"] <= previous:
                raise SchemaError(f"{where}: tiers must be {{start, price}} with rising starts")
            previous = tier["start"]
        return
    raise SchemaError(f"{where}: a price is an unsigned integer or {{base, tiers}}")


def _check_prices(prices: Any, where: str) -> None:
    if type(prices) is not dict:
        raise SchemaError(f"{where}: prices must be a map")
    for category, price in prices.items():
        if type(category) is not str or not category:
            raise SchemaError(f"{where}: categories are text")
        _check_price(price, f"{where}.{category}")


def _price_at(price: Any, total_input: int) -> int:
    if type(price) is int:
        return price
    chosen: int = price["base"]
    for tier in price["tiers"]:
        if total_input > tier["start"]:
            chosen = tier["price"]
    return chosen


@dataclass(frozen=True)
class Resolution:
    """The outcome of pricing one call against a book: a status and, when priced, unit prices."""

    status: str
    unit_prices: dict[str, int] = field(default_factory=dict)
    reason: str = ""


@dataclass
class PriceBook:
    """A checked price book with an index by (provider, model)."""

    id: bytes
    currency: str
    effective_from: int
    input_categories: tuple[str, ...]
    entries: dict[tuple[str, str], dict[str, Any]]
    payload: dict[str, Any]
    _memo: dict[tuple[Any, ...], Resolution] = field(default_factory=dict, repr=False)

    @classmethod
    def from_payload(cls, payload: Any, payload_bytes: bytes) -> PriceBook:
        """Check a decoded price book payload (spec §7.3) and index it."""
        if type(payload) is not dict or payload.keys() != _BOOK_FIELDS:
            raise SchemaError("price book: fields must be " + ", ".join(sorted(_BOOK_FIELDS)))
        if payload["v"] != FORMAT_VERSION or type(payload["v"]) is not int:
            raise SchemaError("price book: unsupported version")
        check_currency(payload, "currency")
        for name in ("effective_from", "created_at"):
            if not _is_uint(payload[name]) or payload[name] > MAX_TIME_MS:
                raise SchemaError(f"price book: {name} must be a time in milliseconds")
        if type(payload["source"]) is not str:
            raise SchemaError("price book: source must be text")
        categories = payload["input_categories"]
        if type(categories) is not list or any(type(c) is not str or not c for c in categories) \
                or len(set(categories)) != len(categories):
            raise SchemaError("price book: input_categories must be a list of distinct labels")
        if type(payload["models"]) is not list:
            raise SchemaError("price book: models must be a list")
        entries: dict[tuple[str, str], dict[str, Any]] = {}
        for entry in payload["models"]:
            _check_entry(entry)
            key = (entry["provider"], entry["model"])
            if key in entries:
                raise SchemaError(f"price book: {key[0]}/{key[1]} listed twice")
            entries[key] = entry
        return cls(book_id(payload_bytes), payload["currency"], payload["effective_from"],
                   tuple(categories), entries, payload)

    def resolve(
        self, provider: str, model: str, usage: Mapping[str, int], service_tier: str | None
    ) -> Resolution:
        """Unit prices for one call: the normative pricing rule (spec §5.2).

        1. No entry for (provider, model): ``unknown_model``.
        2. Entry not metered (self-hosted, flat-fee seat): ``not_metered``.
        3. Prices are the entry's ``service_tiers[tier]`` if a non-standard tier is named, else
           its ``prices``; a named tier the entry lacks is ``unpriced_category``.
        4. Total input = Σ usage over ``input_categories``; each category's price is its base,
           or the price of the last tier whose ``start`` the total input exceeds.
        5. A category in usage with no price: ``unpriced_category``.

        Results that do not depend on token counts (no tiered price involved) are memoized by
        (provider, model, tier, categories): receipts repeat a few shapes.
        """
        result = self.resolve_shared(provider, model, usage, service_tier)
        # a copy: callers put unit_prices into receipts, and the memo must never change
        return Resolution(result.status, dict(result.unit_prices), result.reason)

    def resolve_shared(
        self, provider: str, model: str, usage: Mapping[str, int], service_tier: str | None
    ) -> Resolution:
        """:meth:`resolve` without the defensive copy, for callers that only compare (the
        verifier): the result may be the memo's own object and must not be modified."""
        memo_key = (provider, model, service_tier, *usage)
        cached = self._memo.get(memo_key)
        if cached is not None:
            return cached
        result, count_free = self._resolve(provider, model, usage, service_tier)
        if count_free and len(self._memo) < 65_536:
            self._memo[memo_key] = result
        return result

    def _resolve(
        self, provider: str, model: str, usage: Mapping[str, int], service_tier: str | None
    ) -> tuple[Resolution, bool]:
        """:meth:`resolve` itself; also says whether the result is independent of the counts."""
        entry = self.entries.get((provider, model))
        if entry is None:
            return Resolution("unknown_model", reason=f"{provider}/{model} not in price book"), True
        if not entry["metered"]:
            return Resolution("not_metered", reason=f"{provider}/{model} is not metered"), True
        prices = entry["prices"]
        if service_tier is not None and service_tier != STANDARD_TIER:
            prices = entry.get("service_tiers", {}).get(service_tier)
            if prices is None:
                return Resolution("unpriced_category",
                                  reason=f"no {service_tier} tier prices"), True
        total_input = sum(usage.get(c, 0) for c in self.input_categories)
        unit_prices: dict[str, int] = {}
        count_free = True
        for category in usage:
            price = prices.get(category)
            if price is None:
                return Resolution("unpriced_category", reason=f"no price for {category}"), True
            count_free = count_free and type(price) is int
            unit_prices[category] = _price_at(price, total_input)
        return Resolution("priced", unit_prices), count_free


def _check_entry(entry: Any) -> None:
    if type(entry) is not dict:
        raise SchemaError("price book: each model entry is a map")
    keys = entry.keys()
    if not keys >= _ENTRY_REQUIRED or keys - _ENTRY_REQUIRED - _ENTRY_OPTIONAL:
        raise SchemaError("price book: entry fields are provider, model, metered, prices, "
                          "service_tiers?, source?")
    if type(entry["provider"]) is not str or type(entry["model"]) is not str \
            or not entry["provider"] or not entry["model"]:
        raise SchemaError("price book: provider and model are non-empty text")
    if "source" in entry and type(entry["source"]) is not str:
        raise SchemaError("price book: an entry's source is text")
    if type(entry["metered"]) is not bool:
        raise SchemaError("price book: metered is a boolean")
    where = f"price book {entry['provider']}/{entry['model']}"
    _check_prices(entry["prices"], where)
    tiers = entry.get("service_tiers", {})
    if type(tiers) is not dict:
        raise SchemaError(f"{where}: service_tiers must be a map")
    for name, prices in tiers.items():
        if type(name) is not str or not name:
            raise SchemaError(f"{where}: service tier names are text")
        _check_prices(prices, f"{where}[{name}]")


def latest_book(books: Iterable[PriceBook], at_ms: int) -> PriceBook | None:
    """The book in force at ``at_ms`` (spec §5.2): :meth:`BookSchedule.in_force`, the one
    rule, for a caller that holds the books as a collection."""
    return BookSchedule(books).in_force(at_ms)


@dataclass(frozen=True)
class FxRate:
    """A published rate: ``rate`` units (10^-9) of ``quote`` per one ``base``, for ``date``."""

    base: str
    quote: str
    date: str
    rate: int
    source: str
    published_at: int

    @classmethod
    def from_payload(cls, p: dict[str, Any]) -> FxRate:
        """Build from a checked FX item payload."""
        return cls(p["base"], p["quote"], p["date"], p["rate"], p["source"], p["published_at"])

    def as_receipt_fx(self) -> dict[str, Any]:
        """The ``fx`` map a receipt records for this rate."""
        return {"currency": self.quote, "rate": self.rate, "date": self.date,
                "source": self.source}

    @functools.cached_property
    def receipt_fx(self) -> dict[str, Any]:
        """:meth:`as_receipt_fx`, built once, for comparisons only (never modify it)."""
        return self.as_receipt_fx()


IDENTITY_SOURCE = "identity"


def select_rate(
    rates: Iterable[FxRate], base: str, quote: str, day: str, at_ms: int
) -> FxRate | None:
    """The rate a receipt issued at ``at_ms`` (UTC date ``day``) must use (spec §5.4).

    Among rates for (base, quote) published no later than ``at_ms`` and dated no later than
    ``day``: the latest date, and for that date the latest publication (a correction wins).
    """
    best: FxRate | None = None
    for rate in rates:
        if rate.base != base or rate.quote != quote or rate.date > day \
                or rate.published_at > at_ms:
            continue
        if best is None or (rate.date, rate.published_at) > (best.date, best.published_at):
            best = rate
    return best


class BookSchedule:
    """Which price book is in force at a given time (spec §5.2): the greatest
    ``effective_from`` not after it, ties broken by the greater id. The books are kept sorted
    by (``effective_from``, id), so the rule is one bisection."""

    def __init__(self, books: Iterable[PriceBook]) -> None:
        self._books = sorted(books, key=lambda b: (b.effective_from, b.id))
        self._starts = [b.effective_from for b in self._books]
        self._last: tuple[int, int, PriceBook | None] = (0, 0, None)  # [from, until): book

    def in_force(self, at_ms: int) -> PriceBook | None:
        """The book in force at ``at_ms``, or None before the first; the last answer's
        interval is remembered, since consecutive receipts nearly always fall in it."""
        start, until, book = self._last
        if start <= at_ms < until:
            return book
        index = bisect.bisect_right(self._starts, at_ms)
        book = self._books[index - 1] if index else None
        start = self._starts[index - 1] if index else -(2**63)
        until = self._starts[index] if index < len(self._starts) else 2**63
        self._last = (start, until, book)
        return book


class RateTable:
    """Published FX rates, and :func:`select_rate`'s answer remembered per (base, quote, day).

    The rule is :func:`select_rate` alone. For a (base, quote, day) its answer is the same for
    every receipt issued at or after the last publication among the rates dated up to that day
    (the ``published_at`` condition then excludes none of them), so that answer is computed
    once; a receipt issued earlier gets the rule run again on the day's rates.
    """

    def __init__(self, rates: Iterable[FxRate]) -> None:
        self._rates = list(rates)
        self._memo: dict[tuple[str, str, str], tuple[list[FxRate], int, FxRate | None]] = {}

    def select(self, base: str, quote: str, day: str, at_ms: int) -> FxRate | None:
        """The rate :func:`select_rate` chooses."""
        key = (base, quote, day)
        memo = self._memo.get(key)
        if memo is None:
            relevant = [r for r in self._rates
                        if r.base == base and r.quote == quote and r.date <= day]
            last_publication = max((r.published_at for r in relevant), default=-1)
            settled = select_rate(relevant, base, quote, day, max(last_publication, 0))
            memo = (relevant, last_publication, settled)
            if len(self._memo) < 65_536:
                self._memo[key] = memo
        relevant, last_publication, settled = memo
        if at_ms >= last_publication:
            return settled
        return select_rate(relevant, base, quote, day, at_ms)


def identity_fx(currency: str, day: str) -> dict[str, Any]:
    """The ``fx`` of a receipt already in the reporting currency (spec §5.4)."""
    return {"currency": currency, "rate": FX_ONE, "date": day, "source": IDENTITY_SOURCE}


def receipt_fx(currency: str, reporting_currency: str, rates: RateTable, issued_at: int
               ) -> dict[str, Any] | None:
    """The ``fx`` a receipt priced in ``currency`` and issued at ``issued_at`` carries (spec
    §5.4): the identity for the reporting currency, else the rate :func:`select_rate` picks
    for its UTC date, None when no rate applies. The service writes it, the verifier's step 8
    compares with it. The result may be shared: compare it or copy it, never modify it."""
    day = utc_day(issued_at)
    if currency == reporting_currency:
        return identity_fx(currency, day)
    rate = rates.select(currency, reporting_currency, day, issued_at)
    return None if rate is None else rate.receipt_fx
