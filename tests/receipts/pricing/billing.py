"""One call billed as the service bills it: usage normalized, then fitted to the book."""

from __future__ import annotations

from typing import Any

from receipts.pricing.call_pricing import PreparedCall, bill_call
from receipts.pricing.model_names import ModelNames
from receipts.pricing.usage import normalize_usage


def prepare_call(
    names: ModelNames,
    *,
    provider: str,
    model: str,
    usage: Any,
    usage_format: str | None = None,
    service_tier: str | None = None,
    at_ms: int,
) -> PreparedCall:
    """The service's two steps in one: ``normalize_usage`` (at request time), then ``bill_call``
    against ``names.book`` (at the receipt's ``issued_at``)."""
    return bill_call(names, provider=provider, model=model,
                     normalized=normalize_usage(usage_format, usage),
                     service_tier=service_tier, at_ms=at_ms)
