"""Snapshot the installed ``genai-prices`` data into a price book for one instant.

``genai-prices`` keeps every provider's prices with their history (a price applies from a start
date), time-of-day prices, long-context tiers and request-context variants (batch, flex,
priority). A price book is one frozen, content-addressed cut of that data: the prices in force
at ``at``. Receipts cite the book they were priced with, so a later book (new data, new
overrides) never reprices an earlier receipt.

How each part of the data lands in the book format (``verifier.pricing``):

* price keys -> our categories (:mod:`receipts.pricing.categories`), each converted exactly
  (:mod:`receipts.pricing.unit_prices`); an inexact price is refused and reported, never rounded;
* ``TieredPrices`` -> ``{"base", "tiers"}`` (the same cliff rule on total input tokens);
* start-date prices -> the one in force on ``at``'s UTC date; later dates are listed in
  :attr:`Snapshot.changes` (a new book is due then);
* time-of-day prices -> ``window:HH:MM-HH:MMZ`` service tiers (:mod:`receipts.pricing.tiers`);
* variants ``{"processing": "batch"}``, ``{"service_tier": "flex"}``, ``{"speed": "fast"}``
  -> service tiers holding the full price map (standard prices overlaid with the variant's);
* a model with no prices at all (GitHub Copilot seats, free endpoints) -> ``metered: false``;
* providers that resell others' models (Azure, Vertex) -> entries copied from the fallback
  provider, without variants, as ``genai-prices`` prices them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version as package_version
from typing import Any

from genai_prices import types as gt

from receipts.errors import InexactPriceError, PriceBookBuildError
from receipts.pricing.categories import BY_PRICE_KEY, CATEGORIES
from receipts.pricing.tiers import normalize_service_tier, window_name
from receipts.pricing.unit_prices import price_value

FLAT_FEE_PROVIDERS: dict[str, tuple[str, str]] = {
    "chatgpt-web": ("openai", "ChatGPT seat: flat fee, not metered per call"),
}
"""Seat-priced products, not metered by design: every model of the named provider is listed
unmetered so a call still gets a receipt (``cost`` null, ``not_metered``)."""

_CONTEXT_TIER_KEYS = frozenset({"processing", "service_tier", "speed"})


@dataclass(frozen=True)
class Refusal:
    """A price left out of the book, and why (the model's other prices stay)."""

    provider: str
    model: str
    what: str
    reason: str

    def __str__(self) -> str:
        return f"{self.provider}/{self.model} {self.what}: {self.reason}"


@dataclass
class Snapshot:
    """Book entries for one instant, with what was refused and when the data changes next."""

    at: dt.datetime
    version: str
    entries: list[dict[str, Any]] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    changes: list[dt.date] = field(default_factory=list)


def genai_version() -> str:
    """Version of the installed ``genai-prices`` (recorded in every book's source)."""
    return package_version("genai-prices")


def genai_providers() -> list[gt.Provider]:
    """The installed package's bundled provider data."""
    from genai_prices.data import providers

    return list(providers)


def snapshot(
    at: dt.datetime, *, strict: bool = False, providers: Sequence[gt.Provider] | None = None
) -> Snapshot:
    """Entries for every provider and model as priced at ``at`` (an aware UTC datetime).

    With ``strict``, any refused price is an error instead of a reported omission.
    """
    if at.tzinfo is None:
        raise PriceBookBuildError("the snapshot instant must be timezone-aware (UTC)")
    at = at.astimezone(dt.UTC)
    data = list(providers) if providers is not None else genai_providers()
    snap = Snapshot(at, genai_version())
    seen: set[tuple[str, str]] = set()
    changes: set[dt.date] = set()
    for provider in data:
        for model in provider.models:
            _add(snap, seen, provider, model, provider.id, variants=True)
            changes.update(_start_dates(model))
    for provider in data:
        for fallback_id in provider.fallback_model_providers or ():
            fallback = next((p for p in data if p.id == fallback_id), None)
            if fallback is None:
                continue
            for model in fallback.models:
                if (provider.id, model.id) not in seen and \
                        not any(own.is_match(model.id) for own in provider.models):
                    _add(snap, seen, fallback, model, provider.id, variants=False)
    for seat_provider, (like, why) in FLAT_FEE_PROVIDERS.items():
        mirrored = next((p for p in data if p.id == like), None)
        for model in mirrored.models if mirrored else ():
            if (seat_provider, model.id) not in seen:
                seen.add((seat_provider, model.id))
                snap.entries.append({"provider": seat_provider, "model": model.id,
                                     "metered": False, "prices": {}, "source": why})
    snap.changes = sorted(d for d in changes if d > at.date())
    if strict and snap.refused:
        listed = "; ".join(str(r) for r in snap.refused[:20])
        raise InexactPriceError(f"{len(snap.refused)} price(s) refused: {listed}")
    return snap


def _add(snap: Snapshot, seen: set[tuple[str, str]], source: gt.Provider, model: gt.ModelInfo,
         provider_id: str, *, variants: bool) -> None:
    key = (provider_id, model.id)
    if key in seen:
        snap.refused.append(Refusal(*key, "entry", "listed twice in the data; first kept"))
        return
    seen.add(key)
    snap.entries.append(_entry(snap, source, model, provider_id, variants=variants))


def _entry(snap: Snapshot, source: gt.Provider, model: gt.ModelInfo, provider_id: str,
           *, variants: bool) -> dict[str, Any]:
    refuse = _Refuser(snap, provider_id, model.id)
    standard, since, windows = _select(model, snap.at, refuse)
    entry: dict[str, Any] = {"provider": provider_id, "model": model.id, "metered": True}
    raw = _price_map(standard)
    tiers: dict[str, dict[str, Any]] = {}
    for name, prices in windows:
        tiers[name] = refuse.convert(_price_map(prices), f"service_tiers.{name}")
    if variants:
        for name, overlay in _variant_overlays(model, snap.at, refuse).items():
            tiers[name] = refuse.convert({**raw, **overlay}, f"service_tiers.{name}")
    entry["prices"] = refuse.convert(raw, "prices")
    if not raw and not windows and not tiers:
        entry["metered"] = False
    if tiers:
        entry["service_tiers"] = tiers
    entry["source"] = _source(snap.version, source, model, provider_id, since, refuse.notes)
    return entry


class _Refuser:
    """Converts genai price maps for one entry, recording what had to be left out."""

    def __init__(self, snap: Snapshot, provider: str, model: str) -> None:
        self.snap, self.provider, self.model = snap, provider, model
        self.notes: list[str] = []

    def refuse(self, what: str, reason: str) -> None:
        self.snap.refused.append(Refusal(self.provider, self.model, what, reason))
        self.notes.append(f"{what} refused")

    def convert(self, raw: dict[str, Any], where: str) -> dict[str, Any]:
        prices: dict[str, Any] = {}
        for key, value in raw.items():
            category = BY_PRICE_KEY.get(key)
            if category is None:
                self.refuse(f"{where}.{key}", "genai-prices unit this book format does not map")
                continue
            try:
                converted = price_value(value, CATEGORIES[category].per, f"{where}.{category}")
            except InexactPriceError as e:
                self.refuse(f"{where}.{category}", str(e).split(": ", 1)[-1])
                continue
            if prices.get(category, converted) != converted:
                self.refuse(f"{where}.{category}", f"{key} conflicts with another key")
                continue
            prices[category] = converted
        return prices


def _select(model: gt.ModelInfo, at: dt.datetime, refuse: _Refuser
            ) -> tuple[gt.ModelPrice, dt.date | None, list[tuple[str, gt.ModelPrice]]]:
    """Standard prices in force at ``at`` (genai-prices' last-active-wins rule), their start
    date, and the time-of-day windows that override them."""
    if isinstance(model.prices, gt.ModelPrice):
        return model.prices, None, []
    windows: list[tuple[str, gt.ModelPrice]] = []
    for conditional in reversed(model.prices):
        constraint = conditional.constraint
        if constraint is None:
            return conditional.prices, None, windows
        if isinstance(constraint, gt.StartDateConstraint):
            if constraint.start_date <= at.date():
                return conditional.prices, constraint.start_date, windows
            continue
        start, end = _utc_minute(constraint.start_time), _utc_minute(constraint.end_time)
        if start is None or end is None:
            refuse.refuse("time window", "window boundaries are not whole UTC minutes")
            continue
        windows.append((window_name(start, end), conditional.prices))
    return model.prices[0].prices, None, windows


def _utc_minute(value: dt.time) -> int | None:
    if value.tzinfo is not None:
        value = dt.datetime.combine(dt.date(1970, 1, 1), value).astimezone(dt.UTC).time()
    if value.second or value.microsecond:
        return None
    return value.hour * 60 + value.minute


def _variant_overlays(model: gt.ModelInfo, at: dt.datetime, refuse: _Refuser
                      ) -> dict[str, dict[str, Any]]:
    """Per tier name, the variant prices in force (first active variant wins per key)."""
    overlays: dict[str, dict[str, Any]] = {}
    for variant in model.price_variants or ():
        constraint = variant.constraint
        if isinstance(constraint, gt.TimeOfDateConstraint):
            refuse.refuse(f"variant {variant.when}", "time-of-day variants are not represented")
            continue
        if constraint is not None and not constraint.active(at):
            continue
        if len(variant.when) != 1:
            refuse.refuse(f"variant {variant.when}", "combined request contexts not represented")
            continue
        ((key, value),) = variant.when.items()
        name = normalize_service_tier(value if key in _CONTEXT_TIER_KEYS else f"{key}:{value}")
        if name is None:
            continue
        overlay = overlays.setdefault(name, {})
        for price_key, price in _price_map(variant.prices).items():
            overlay.setdefault(price_key, price)
    return {name: overlay for name, overlay in overlays.items() if overlay}


def _price_map(prices: gt.ModelPrice) -> dict[str, Any]:
    """genai ``ModelPrice`` attributes as plain values (tiers as dicts, Decimals kept)."""
    out: dict[str, Any] = {}
    for key, value in prices.__dict__.items():
        if key.startswith("_") or value is None:
            continue
        if isinstance(value, gt.TieredPrices):
            out[key] = {"base": value.base,
                        "tiers": [{"start": t.start, "price": t.price} for t in value.tiers]}
        else:
            out[key] = value
    return out


def _start_dates(model: gt.ModelInfo) -> Iterable[dt.date]:
    if isinstance(model.prices, list):
        for conditional in model.prices:
            if isinstance(conditional.constraint, gt.StartDateConstraint):
                yield conditional.constraint.start_date
    for variant in model.price_variants or ():
        if isinstance(variant.constraint, gt.StartDateConstraint):
            yield variant.constraint.start_date


def _source(version: str, source: gt.Provider, model: gt.ModelInfo, provider_id: str,
            since: dt.date | None, notes: list[str]) -> str:
    text = f"genai-prices {version}: {source.id}/{model.id}"
    if source.id != provider_id:
        text += f" (resold by {provider_id})"
    if since is not None:
        text += f", prices from {since.isoformat()}"
    if source.pricing_urls:
        text += f"; {source.pricing_urls[0]}"
    if notes:
        text += "; " + ", ".join(notes)
    return text
