"""Price book documents: building them and the small book shipped with the package.

A book is content-addressed (its id is the SHA-256 of its deterministic payload), so building
one is: make the payload map, encode it once, keep those exact bytes. The shipped book holds list
prices (USD per 1M tokens) of a few common models from the providers' public pricing pages; the
pricing issue replaces it with books snapshotted from ``genai-prices``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from receipts.errors import PriceBookBuildError
from verifier.encoding import encode
from verifier.errors import VerifierError
from verifier.money import UNIT_PRICE_SCALE, parse_amount
from verifier.pricing import PriceBook
from verifier.schema import FORMAT_VERSION

INPUT_CATEGORIES = ("input", "cache_read", "cache_write", "cache_write_1h")


def micro(price_per_million: str | Decimal) -> int:
    """A price per 1M tokens in currency units as integer 10^-6 units (exact, no float)."""
    return parse_amount(str(price_per_million), UNIT_PRICE_SCALE)


def build_price_book(
    entries: Sequence[Mapping[str, Any]],
    *,
    currency: str,
    effective_from: int,
    created_at: int,
    source: str,
    input_categories: Sequence[str] = INPUT_CATEGORIES,
) -> tuple[bytes, PriceBook]:
    """Encode a book (entries sorted by provider, model) and return its bytes and index."""
    models = sorted((dict(e) for e in entries), key=lambda e: (e["provider"], e["model"]))
    payload = {
        "v": FORMAT_VERSION, "currency": currency, "effective_from": effective_from,
        "created_at": created_at, "source": source,
        "input_categories": list(input_categories), "models": models,
    }
    try:  # the verifier's rules, applied to what we are about to sign
        payload_bytes = encode(payload)
        return payload_bytes, PriceBook.from_payload(payload, payload_bytes)
    except VerifierError as e:
        raise PriceBookBuildError(f"the book would break the format's rules: {e}") from e


def _entry(provider: str, model: str, **prices: str) -> dict[str, Any]:
    return {"provider": provider, "model": model, "metered": True,
            "prices": {k: micro(v) for k, v in prices.items()}}


# List prices, USD per 1M tokens (OpenAI, Anthropic, Google pricing pages).
SHIPPED_ENTRIES: list[dict[str, Any]] = [
    _entry("openai", "gpt-4o", input="2.50", cache_read="1.25", output="10.00"),
    _entry("openai", "gpt-4o-mini", input="0.15", cache_read="0.075", output="0.60"),
    _entry("openai", "gpt-4.1", input="2.00", cache_read="0.50", output="8.00"),
    _entry("openai", "o3", input="2.00", cache_read="0.50", output="8.00"),
    _entry("anthropic", "claude-sonnet-4", input="3.00", cache_read="0.30", cache_write="3.75",
           cache_write_1h="6.00", output="15.00"),
    _entry("anthropic", "claude-3-5-haiku", input="0.80", cache_read="0.08",
           cache_write="1.00", cache_write_1h="1.60", output="4.00"),
    _entry("anthropic", "claude-opus-4", input="15.00", cache_read="1.50",
           cache_write="18.75", cache_write_1h="30.00", output="75.00"),
    _entry("google", "gemini-2.5-flash", input="0.30", cache_read="0.075", output="2.50"),
    {
        "provider": "google", "model": "gemini-2.5-pro", "metered": True,
        "prices": {
            "input": {"base": micro("1.25"), "tiers": [{"start": 200_000, "price": micro("2.50")}]},
            "cache_read": {"base": micro("0.31"),
                           "tiers": [{"start": 200_000, "price": micro("0.625")}]},
            "output": {"base": micro("10.00"),
                       "tiers": [{"start": 200_000, "price": micro("15.00")}]},
        },
    },
    {"provider": "self-hosted", "model": "llama-3.1-70b", "metered": False, "prices": {}},
]

SHIPPED_EFFECTIVE_FROM = 1_735_689_600_000  # 2025-01-01T00:00:00Z


def shipped_price_book() -> tuple[bytes, PriceBook]:
    """The small built-in book (deterministic: same bytes, same id, every time)."""
    return build_price_book(
        SHIPPED_ENTRIES, currency="USD", effective_from=SHIPPED_EFFECTIVE_FROM,
        created_at=SHIPPED_EFFECTIVE_FROM, source="receipts built-in list prices",
    )
