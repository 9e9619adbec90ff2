"""Our cost vs genai-prices' own ``calc_price`` on a generated corpus of calls.

Run: ``python bench/prices_compare.py [--calls 10000] [--models 200] [--seed 7] [--at ISO]``

Each call is generated as the provider's API would report it (OpenAI Chat Completions and
Responses, Anthropic Messages, Gemini ``usageMetadata``; other providers speak the OpenAI
shape), with the model name as an agent would send it, a time of day and sometimes a service
tier. The same call is priced twice, independently:

* ours: ``prepare_call`` (usage normalization, name resolution, tier, fitting) on the price
  book in force at the call's time (a book per price change, as the service keeps them), then
  ``PriceBook.resolve`` and ``cost_of`` (exact integers, 10^-12 USD);
* genai-prices: its own extractor for that API shape, then ``calc_price`` with the call's
  timestamp and request context (``processing``/``service_tier``), Decimal USD.

Every call lands in one class; every class other than exact agreement is explained in the
output (``EXPLAIN``). "Most used" models: there are no usage statistics offline, so the 200 are
a fixed proxy: providers weighted by API market share (quotas in ``QUOTAS``), within each the
non-deprecated chat models with token prices that an agent can name, models with cached-input
prices (current generations) first, then newest names first; calls follow a Zipf law over that
ranking.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from genai_prices import calc_price, data_snapshot
from genai_prices.data import providers as genai_providers

from receipts.pricing.book_update import BuiltBook, make_book, to_ms
from receipts.pricing.call_pricing import PreparedCall, prepare_call
from receipts.pricing.model_names import ModelNames
from verifier.money import COST_SCALE, cost_of, to_decimal
from verifier.pricing import latest_book

TOLERANCE = Decimal("1e-9")
QUOTAS = {"openai": 40, "anthropic": 25, "google": 30, "aws": 15, "azure": 10, "x-ai": 12,
          "deepseek": 8, "mistral": 15, "groq": 10, "together": 10, "fireworks": 10,
          "openrouter": 15}
NOT_CHAT = ("embed", "tts", "transcribe", "whisper", "realtime", "image", "moderation", "ocr",
            "guard", "audio", "live", "voice", "search", "rerank", ":free", "ft:", ".ft-")
FORMAT_OF = {"openai": "openai", "azure": "openai", "anthropic": "anthropic",
             "google": "gemini"}
EXPLAIN = {
    "agree": "both priced, |ours - genai| <= 1e-9 USD (in fact identical to the last digit)",
    "agree_unpriced": "neither side prices it (genai-prices raises LookupError; our receipt "
                      "has cost null with its pricing_status and is counted apart)",
    "tier_not_in_data": "the call names a service tier (batch/flex/priority) that the data "
                        "has no prices for on this model (or the model is resold, and "
                        "genai-prices ignores variants on fallback models): genai-prices "
                        "silently bills the standard price, we refuse (unpriced_category) "
                        "rather than sign a price we know is not the one billed",
    "category_without_price": "the call uses a billable unit the model has no price for "
                              "(e.g. web searches): genai-prices drops that usage and bills "
                              "$0 for it, we refuse (unpriced_category): never a silent $0",
    "inexact_price_refused": "the data's price for a category is not exact at 10^-6 per 1M "
                             "units (float artifacts, per-hour audio): we leave it out of the "
                             "book and the call is unpriced; genai-prices charges it",
    "name_genai_cannot_resolve": "a spelling agents really send (gateway prefix, Gemini "
                                 "resource name) that genai-prices' match rules miss; we "
                                 "resolve it and price it",
    "numeric_mismatch": "both priced but differing by more than 1e-9 USD",
    "not_metered_vs_zero": "the data lists no prices (seat or free model): genai-prices says "
                           "$0, our receipt says not_metered (cost null)",
}


@dataclass
class Sample:
    """One generated call and the two outcomes."""

    provider: str
    model: str
    sent: str
    fmt: str
    flavor: str
    raw: dict[str, Any]
    tier: str | None
    at: dt.datetime
    ours: Decimal | None = None
    status: str = ""
    reason: str = ""
    genai: Decimal | None = None
    genai_error: str = ""
    features: frozenset[str] = frozenset()


@dataclass
class Report:
    """Counts per class, with a few examples each."""

    classes: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    coverage: Counter[str] = field(default_factory=Counter)


def sent_name(provider: Any, info: Any) -> str | None:
    """A name an agent would send for this model: the id, or a literal from the data's own
    match rule when the id is a catalogue key (Bedrock's ``regional.*``); None when no simple
    name reaches the model through genai-prices' first-match rules."""
    candidates = [info.id, *_literals(info.match)]
    for name in candidates:
        found = provider.find_model(name, all_providers=genai_providers)
        if found is info:
            return name
    return None


def _literals(clause: Any) -> list[str]:
    for attr in ("equals", "starts_with", "contains", "ends_with"):
        if hasattr(clause, attr):
            return [str(getattr(clause, attr)).lstrip("/")]
    if hasattr(clause, "or_"):
        return [lit for sub in clause.or_ for lit in _literals(sub)]
    if hasattr(clause, "and_"):
        return [lit for sub in clause.and_ for lit in _literals(sub)]
    return []


def top_models(at: dt.datetime, count: int) -> list[tuple[str, str, str]]:
    """The fixed proxy for the most used models (see the module docstring):
    (provider, book model id, name as sent)."""
    ranked: dict[str, list[tuple[str, str]]] = {}
    for provider in genai_providers:
        if provider.id not in QUOTAS:
            continue
        eligible = []
        for info in provider.models:
            prices = info.get_prices(at)
            if info.deprecated or any(word in info.id.lower() for word in NOT_CHAT):
                continue
            if getattr(prices, "input_mtok", None) is None or \
                    getattr(prices, "output_mtok", None) is None:
                continue
            name = sent_name(provider, info)
            if name is not None:
                modern = getattr(prices, "cache_read_mtok", None) is not None
                eligible.append((modern, info.id, name))
        ranked[provider.id] = [(i, n) for _, i, n in sorted(eligible, reverse=True)]
    lists = {pid: ranked.get(pid, [])[:quota] for pid, quota in QUOTAS.items()}
    spill = sum(QUOTAS.values()) - sum(len(v) for v in lists.values())
    lists["openrouter"] += ranked.get("openrouter", [])[QUOTAS["openrouter"]:][:spill]
    # interleave by market share: the next model comes from the provider furthest below
    # its share, so the Zipf head is a mix of providers, as real traffic is
    chosen: list[tuple[str, str, str]] = []
    taken = dict.fromkeys(lists, 0)
    while len(chosen) < min(count, sum(len(v) for v in lists.values())):
        pid = min((p for p in lists if taken[p] < len(lists[p])),
                  key=lambda p: (taken[p] / QUOTAS[p], list(QUOTAS).index(p)))
        chosen.append((pid, *lists[pid][taken[pid]]))
        taken[pid] += 1
    return chosen[:count]


def generate(models: list[tuple[str, str, str]], n: int, seed: int, at: dt.datetime
             ) -> list[Sample]:
    """``n`` calls over ``models`` (Zipf), each in its provider's own usage shape."""
    rng = random.Random(seed)
    weights = [1 / (rank + 1) ** 0.7 for rank in range(len(models))]
    samples = []
    for _ in range(n):
        provider, model, name = rng.choices(models, weights)[0]
        fmt = FORMAT_OF.get(provider, "openai")
        if provider == "aws" and "anthropic" in model:
            fmt = "anthropic"
        sent = _spelling(rng, provider, name)
        tier = _tier(rng, provider)
        uncached = int(rng.lognormvariate(7.5, 1.3))
        if rng.random() < 0.08:  # long context, straddling the 200K/272K thresholds
            uncached = rng.choice([150_000, 199_000, 200_000, 210_000, 265_000, 272_001,
                                   300_000])
        read = int(uncached * rng.choice([0, 0, 0.5, 2, 8])) if rng.random() < 0.5 else 0
        out = int(rng.lognormvariate(5.5, 1.2)) + 1
        reasoning = int(out * rng.random()) if rng.random() < 0.3 else 0
        if fmt == "anthropic":
            write5, write1h = (int(uncached * 0.5), 0) if rng.random() < 0.15 else (0, 0)
            if rng.random() < 0.05:
                write1h = int(uncached * 0.7)
            raw: dict[str, Any] = {
                "input_tokens": uncached, "cache_read_input_tokens": read,
                "cache_creation_input_tokens": write5 + write1h,
                "cache_creation": {"ephemeral_5m_input_tokens": write5,
                                   "ephemeral_1h_input_tokens": write1h},
                "output_tokens": out + reasoning,
                "server_tool_use": {"web_search_requests": rng.choice([0] * 9 + [1, 3])}}
            if tier is not None:
                raw["service_tier"] = tier
            flavor = "default"
        elif fmt == "gemini":
            raw = {"promptTokenCount": uncached + read, "cachedContentTokenCount": read,
                   "candidatesTokenCount": out, "thoughtsTokenCount": reasoning}
            flavor = "default"
        elif rng.random() < 0.6:
            raw = {"prompt_tokens": uncached + read, "completion_tokens": out + reasoning,
                   "prompt_tokens_details": {"cached_tokens": read},
                   "completion_tokens_details": {"reasoning_tokens": reasoning}}
            flavor = "chat"
        else:
            raw = {"input_tokens": uncached + read, "output_tokens": out + reasoning,
                   "input_tokens_details": {"cached_tokens": read},
                   "output_tokens_details": {"reasoning_tokens": reasoning}}
            flavor = "responses"
        when = at + dt.timedelta(seconds=rng.randrange(86_400))
        samples.append(Sample(provider, model, sent, fmt, flavor, raw, tier, when))
    return samples


def _spelling(rng: random.Random, provider: str, model: str) -> str:
    roll = rng.random()
    if roll < 0.03 and provider in ("openai", "anthropic"):
        return f"{provider}/{model}"
    if roll < 0.05 and provider == "google":
        return f"models/{model}"
    return model


def _tier(rng: random.Random, provider: str) -> str | None:
    if rng.random() >= 0.08:
        return None
    options = {"openai": ["batch", "flex", "priority"], "anthropic": ["batch"],
               "google": ["batch", "flex", "priority"]}.get(provider, ["batch"])
    return rng.choice(options)


def price_ours(sample: Sample, books: list[BuiltBook], names: dict[bytes, ModelNames]) -> None:
    """Our pipeline, on the book in force at the call's time."""
    at_ms = to_ms(sample.at)
    book = latest_book([b.book for b in books], at_ms)
    assert book is not None
    resolver = names.get(book.id)
    if resolver is None:
        resolver = names[book.id] = ModelNames(book)
    explicit = sample.tier if sample.fmt != "anthropic" else None
    prepared: PreparedCall = prepare_call(
        resolver, provider=sample.provider, model=sample.sent, usage=sample.raw,
        usage_format=sample.fmt, service_tier=explicit, at_ms=at_ms)
    result = book.resolve(prepared.provider, prepared.model, prepared.usage,
                          prepared.service_tier)
    sample.status, sample.reason = result.status, result.reason
    sample.features = _features(prepared, book.entries.get((prepared.provider,
                                                            prepared.model)))
    if result.status == "priced":
        sample.ours = to_decimal(cost_of(prepared.usage, result.unit_prices), COST_SCALE)


def _features(prepared: PreparedCall, entry: dict[str, Any] | None) -> frozenset[str]:
    """What a call exercised (for the coverage line of the report)."""
    usage, found = prepared.usage, set()
    for name in ("cache_read", "cache_write", "cache_write_1h", "web_search"):
        if usage.get(name):
            found.add(name)
    if prepared.usage_detail.get("reasoning"):
        found.add("reasoning")
    if prepared.service_tier:
        found.add("time window" if prepared.service_tier.startswith("window:")
                  else f"tier {prepared.service_tier}")
    if entry is not None:
        total_in = sum(v for k, v in usage.items() if k.startswith(("input", "cache_")))
        prices = entry["prices"]
        if any(isinstance(p, dict) and total_in > p["tiers"][0]["start"]
               for p in prices.values()):
            found.add("long context above tier")
        elif any(isinstance(p, dict) for p in prices.values()):
            found.add("long context tier model, below")
    if prepared.name.resolved and prepared.name.how != "exact":
        found.add("name resolved by rule")
    return frozenset(found)


_EXTRACTOR_PROVIDER = {"openai": "openai", "anthropic": "anthropic", "gemini": "google"}


def price_genai(sample: Sample) -> None:
    """genai-prices on its own: its extractor for the API shape, then ``calc_price``."""
    snapshot = data_snapshot.get_snapshot()
    extractor = snapshot.find_provider(None, _EXTRACTOR_PROVIDER[sample.fmt], None)
    response = {"usageMetadata": sample.raw, "modelVersion": sample.sent} \
        if sample.fmt == "gemini" else {"usage": sample.raw, "model": sample.sent}
    context = None
    if sample.tier == "batch":
        context = {"processing": "batch"}
    elif sample.tier is not None:
        context = {"service_tier": sample.tier}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, usage = extractor.extract_usage(response, api_flavor=sample.flavor)
            result = calc_price(usage, sample.sent, provider_id=sample.provider,
                                genai_request_timestamp=sample.at, price_context=context)
        sample.genai = result.total_price
    except (LookupError, ValueError) as e:
        sample.genai_error = f"{type(e).__name__}: {e}"


def classify(sample: Sample, books: list[BuiltBook]) -> str:
    """Which class a call falls in (each class is explained in ``EXPLAIN``)."""
    if sample.ours is not None and sample.genai is not None:
        return "agree" if abs(sample.ours - sample.genai) <= TOLERANCE else "numeric_mismatch"
    if sample.ours is None and sample.genai is None:
        return "agree_unpriced"
    if sample.ours is not None:
        return "name_genai_cannot_resolve"
    if sample.status == "not_metered":
        return "not_metered_vs_zero"
    if sample.reason.startswith("no ") and sample.reason.endswith("tier prices"):
        return "tier_not_in_data"
    if sample.status == "unpriced_category":
        book = latest_book([b.book for b in books], to_ms(sample.at))
        assert book is not None
        category = sample.reason.removeprefix("no price for ")
        refused = any(f".{category}" in line and line.startswith(f"{sample.provider}/")
                      for b in books for line in b.refused)
        return "inexact_price_refused" if refused else "category_without_price"
    return f"other:{sample.status}"


def run(calls: int, models: int, seed: int, at: dt.datetime, show: int,
        echo: Callable[[str], None] = print) -> Report:
    """Build the books, generate, price both ways, classify and print."""
    started = time.perf_counter()
    first = make_book(at)
    window_end = (at + dt.timedelta(seconds=86_399)).date()
    books = [first] + [make_book(dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC))
                       for d in first.changes if d <= window_end]
    chosen = top_models(at, models)
    samples = generate(chosen, calls, seed, at)
    built = time.perf_counter()
    names: dict[bytes, ModelNames] = {}
    for sample in samples:
        price_ours(sample, books, names)
    ours_done = time.perf_counter()
    for sample in samples:
        price_genai(sample)
    genai_done = time.perf_counter()
    report = Report()
    for sample in samples:
        cls = classify(sample, books)
        report.classes[cls] += 1
        if cls == "agree":
            report.coverage.update(sample.features)
        if len(report.examples[cls]) < show:
            ours = sample.ours if sample.ours is not None else sample.status
            genai = sample.genai if sample.genai is not None else sample.genai_error
            report.examples[cls].append(
                f"{sample.provider}/{sample.sent} tier={sample.tier} at={sample.at:%H:%M}Z "
                f"ours={ours} ({sample.reason or 'ok'}) genai={genai}")
    _print(report, echo, calls=calls, chosen=chosen, at=at, books=books,
           times=(built - started, ours_done - built, genai_done - ours_done))
    return report


def _print(report: Report, echo: Callable[[str], None], *, calls: int,
           chosen: list[tuple[str, str, str]], at: dt.datetime, books: list[BuiltBook],
           times: tuple[float, float, float]) -> None:
    per_provider = Counter(p for p, _, _ in chosen)
    echo(f"genai-prices comparison: {calls:,} calls over {len(chosen)} models "
         f"({', '.join(f'{p} {n}' for p, n in per_provider.most_common())})")
    echo(f"calls between {at:%Y-%m-%dT%H:%MZ} and +24h; {len(books)} price book(s) "
         f"(one per price change in the window); setup {times[0]:.1f}s")
    echo(f"pricing time: ours {times[1] / calls * 1e6:.0f} µs/call, genai-prices "
         f"{times[2] / calls * 1e6:.0f} µs/call")
    agree = report.classes["agree"]
    echo(f"\nagree to 1e-9 USD: {agree:,} of {calls:,} ({agree / calls:.2%}); "
         f"both unpriced: {report.classes['agree_unpriced']:,}; "
         f"disagree: {calls - agree - report.classes['agree_unpriced']:,}")
    echo("agreeing calls exercised: " + ", ".join(
        f"{name} {count:,}" for name, count in report.coverage.most_common()))
    for cls in sorted(EXPLAIN.keys() | report.classes.keys(), key=lambda c: -report.classes[c]):
        count = report.classes[cls]
        echo(f"\n{cls}: {count:,}")
        echo(f"  why: {EXPLAIN.get(cls, 'unexplained: investigate')}")
        for example in report.examples[cls]:
            echo(f"  e.g. {example}")


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--at", help="start of the 24h window (default: today 00:00Z)")
    parser.add_argument("--examples", type=int, default=2)
    args = parser.parse_args()
    at = dt.datetime.fromisoformat(args.at.replace("Z", "+00:00")) if args.at else \
        dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    run(args.calls, args.models, args.seed, at, args.examples)


if __name__ == "__main__":
    main()

