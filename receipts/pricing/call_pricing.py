"""From what an agent reported to what a receipt prices: usage fitted to the book in force.

The service normalizes usage when a request arrives (``pricing.usage.normalize_usage``: a bad
usage object is a 422 before anything is locked), then :func:`bill_call` runs against the book in
force at the receipt's ``issued_at``: model name resolution (``pricing.model_names``), the
service tier (explicit, reported in the usage, or a time-of-day window: ``pricing.tiers``), and
fitting the disjoint counts to the categories the book entry prices
(``pricing.categories.fit_usage``). Its result fills an ``issuing.receipt_builder.Call``;
``price_fields`` then prices it with the verifier's own ``PriceBook.resolve`` and ``cost_of``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from receipts.pricing.categories import fit_usage
from receipts.pricing.model_names import ModelNames, ResolvedName
from receipts.pricing.tiers import normalize_service_tier, tier_for_call
from receipts.pricing.usage import NormalizedUsage


@dataclass(frozen=True)
class PreparedCall:
    """Everything pricing needs from one reported call (fields of ``Call`` of the same name)."""

    provider: str
    model: str
    model_requested: str
    usage: dict[str, int]
    usage_detail: dict[str, int]
    service_tier: str | None
    name: ResolvedName


def bill_call(
    names: ModelNames,
    *,
    provider: str,
    model: str,
    normalized: NormalizedUsage,
    service_tier: str | None = None,
    at_ms: int,
) -> PreparedCall:
    """Resolve the model, pick the tier and fit normalized usage to the book entry.

    An explicit ``service_tier`` wins over one the usage object reports (Anthropic and Vertex
    put it there); with neither, a time-of-day window tier applies if one is in force at
    ``at_ms``.
    """
    resolved = names.resolve(provider, model)
    entry = names.book.entries.get((resolved.provider, resolved.model))
    tier = normalize_service_tier(service_tier) or normalized.service_tier
    tier = tier_for_call(entry, tier, at_ms)
    fitted = dict(normalized.usage)
    if entry is not None and entry["metered"]:
        fitted = fit_usage(normalized.usage, normalized.detail, priced_categories(entry, tier))
    return PreparedCall(resolved.provider, resolved.model, model, fitted,
                        dict(normalized.detail), tier, resolved)


def priced_categories(entry: Mapping[str, Any], tier: str | None) -> frozenset[str]:
    """The categories a call at ``tier`` is priced in (the tier's map if the entry has it)."""
    prices = entry.get("service_tiers", {}).get(tier) if tier is not None else None
    return frozenset(prices if prices is not None else entry["prices"])
