"""Billable usage categories: names, units, the price keys they come from, and how they fold.

Receipts price disjoint categories (``usage[c] × unit_prices[c]``). Providers bill some token
kinds at their own rate only for some models: audio input costs more than text on gpt-audio but
the same on gpt-4o; 1-hour cache writes have their own rate on Claude, and OpenAI bills cache
writes as plain input. ``genai-prices`` models this as a hierarchy (a descendant with no price of
its own is billed at its ancestor's price); :func:`fit_usage` applies the same rule to our
disjoint counts, *before* signing, so the receipt lists only categories its price book prices
and the verifier needs no hierarchy at all. A category with no priced ancestor (a web search on
a model without a search price) is left as is and the call comes out ``unpriced_category``:
never a silent $0.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    """One billable category.

    ``per`` is the denominator of the ``genai-prices`` price key (1M tokens, 1K requests, 3600
    seconds...); our unit prices are always per 1M units. ``parents`` are the categories an
    unpriced count folds into, most specific first. ``input`` marks token categories that count
    toward a request's total input, which selects long-context tiers.
    """

    name: str
    price_key: str
    per: int
    unit: str
    parents: tuple[str, ...] = ()
    input: bool = False


_M = 1_000_000
_K = 1_000

CATEGORIES: dict[str, Category] = {c.name: c for c in (
    Category("input", "input_mtok", _M, "token", input=True),
    Category("cache_read", "cache_read_mtok", _M, "token", ("input",), input=True),
    Category("cache_write", "cache_write_mtok", _M, "token", ("input",), input=True),
    Category("cache_write_1h", "cache_write_1h_mtok", _M, "token", ("cache_write", "input"),
             input=True),
    Category("input_audio", "input_audio_mtok", _M, "token", ("input",), input=True),
    Category("input_image", "input_image_mtok", _M, "token", ("input",), input=True),
    Category("input_video", "input_video_mtok", _M, "token", ("input",), input=True),
    Category("cache_read_audio", "cache_audio_read_mtok", _M, "token",
             ("cache_read", "input_audio", "input"), input=True),
    Category("cache_read_image", "cache_image_read_mtok", _M, "token",
             ("cache_read", "input_image", "input"), input=True),
    Category("cache_read_video", "cache_video_read_mtok", _M, "token",
             ("cache_read", "input_video", "input"), input=True),
    Category("output", "output_mtok", _M, "token"),
    Category("output_audio", "output_audio_mtok", _M, "token", ("output",)),
    Category("output_image", "output_image_mtok", _M, "token", ("output",)),
    Category("output_video", "output_video_mtok", _M, "token", ("output",)),
    Category("output_reasoning", "output_reasoning_mtok", _M, "token", ("output",)),
    Category("output_citation", "output_citation_mtok", _M, "token", ("output",)),
    Category("web_search", "web_searches_kcount", _K, "request"),
    Category("file_search", "storage_searches_kcount", _K, "request"),
    Category("code_execution", "code_executions_kcount", _K, "request"),
    Category("request", "requests_kcount", _K, "request"),
    Category("audio_seconds", "audio_hours", 3_600, "second"),
    Category("input_audio_seconds", "input_audio_hours", 3_600, "second", ("audio_seconds",)),
    Category("input_characters", "input_mchars", _M, "character"),
    Category("input_document_pages", "input_document_kpages", _K, "page"),
    Category("input_annotated_document_pages", "input_annotated_document_kpages", _K, "page",
             ("input_document_pages",)),
    Category("input_text_messages", "input_text_messages_kcount", _K, "message"),
)}

PRICE_KEY_ALIASES = {"cache_write_5m_mtok": "cache_write"}
"""``genai-prices`` keys that mean one of our categories under another name (5m is the default
cache write TTL, so a 5-minute price is our ``cache_write``)."""

BY_PRICE_KEY: dict[str, str] = {
    **{c.price_key: c.name for c in CATEGORIES.values()}, **PRICE_KEY_ALIASES,
}

INPUT_CATEGORIES: tuple[str, ...] = tuple(c.name for c in CATEGORIES.values() if c.input)
"""Categories whose sum is a request's total input: what long-context tiers compare against
(``genai-prices`` and the providers use total input tokens, cache reads and writes included)."""

PER_CALL = "request"
"""A per-request fee: every call of a model that prices it carries ``request: 1``."""

DETAIL_SPLITS: dict[str, tuple[str, str]] = {"reasoning": ("output", "output_reasoning")}
"""Informational counts that become billable only for models that price them separately:
reasoning tokens are part of ``output`` everywhere except where a book prices
``output_reasoning`` (e.g. Perplexity's deep research)."""


def fit_usage(
    usage: Mapping[str, int], detail: Mapping[str, int], priced: Collection[str]
) -> dict[str, int]:
    """Disjoint counts restated in the categories an entry prices (the ``genai-prices`` rule).

    * A detail count named in :data:`DETAIL_SPLITS` moves out of its parent into its own
      category when (and only when) that category is priced.
    * A category that is not priced folds into its first priced parent.
    * A category with no priced parent stays, so pricing reports ``unpriced_category``.
    * A per-request fee adds ``request: 1``.

    The total number of tokens never changes, and the result has no zero counts.
    """
    fitted = {k: v for k, v in usage.items() if v}
    for name, (parent, target) in DETAIL_SPLITS.items():
        count = detail.get(name, 0)
        if count and target in priced and fitted.get(parent, 0) >= count:
            fitted[parent] -= count
            fitted[target] = fitted.get(target, 0) + count
    out: dict[str, int] = {}
    for name, count in fitted.items():
        if not count:
            continue
        target = name
        if name not in priced:
            category = CATEGORIES.get(name)
            parents = category.parents if category else ()
            target = next((p for p in parents if p in priced), name)
        out[target] = out.get(target, 0) + count
    if PER_CALL in priced:
        out[PER_CALL] = 1
    return out
