"""Usage normalization: a provider's own usage object -> disjoint billable categories.

Every provider counts differently, and every cost tool that gets this wrong bills tokens twice
or not at all:

* OpenAI ``prompt_tokens`` / ``input_tokens`` *include* cached tokens (and cache writes);
  ``completion_tokens`` include reasoning.
* Anthropic ``input_tokens`` *exclude* cache reads and writes; writes split 5-minute / 1-hour.
* Gemini ``promptTokenCount`` includes cached content, but ``thoughtsTokenCount`` is *not* in
  ``candidatesTokenCount`` and is billed as output.
* OpenTelemetry GenAI (and our own convention) count all input in ``input_tokens`` and all
  output in ``output_tokens``; cache reads, cache writes and reasoning are parts of them.

:func:`normalize_usage` reads one of these and returns counts that add up to exactly what was
used, each token in one category (``input`` = uncached text input, ``cache_read``,
``cache_write`` (5-minute), ``cache_write_1h``, ``output``, modality categories when the
provider reports them, ``web_search`` requests), plus informational ``detail`` counts
(reasoning, never priced separately). A part larger than its whole is an error naming the
field: it means the sender mixed conventions, and pricing it would sign a wrong cost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from receipts.errors import UsageFormatError
from receipts.pricing.tiers import normalize_service_tier
from receipts.pricing.usage_reader import Reader, modality_counts, otel_attributes

FORMATS = ("receipts", "openai", "anthropic", "gemini", "otel")


@dataclass(frozen=True)
class NormalizedUsage:
    """Disjoint billable counts (no zeros), informational counts, and a tier the usage names."""

    usage: dict[str, int]
    detail: dict[str, int]
    service_tier: str | None = None


def normalize_usage(usage_format: str | None, raw: Any) -> NormalizedUsage:
    """Normalize ``raw`` given in ``usage_format`` (``None`` means our own convention)."""
    handler = _HANDLERS.get(usage_format or "receipts")
    if handler is None:
        raise UsageFormatError("usage_format", f"unknown format {usage_format!r}; "
                               f"expected one of {', '.join(FORMATS)}")
    if type(raw) is not dict and not isinstance(raw, Mapping) \
            and not (usage_format == "otel" and isinstance(raw, list)):
        raise UsageFormatError("usage", "must be an object")
    return handler(raw)


def _result(usage: Mapping[str, int], detail: Mapping[str, int],
            tier: str | None = None) -> NormalizedUsage:
    return NormalizedUsage({k: v for k, v in usage.items() if v},
                           {k: v for k, v in detail.items() if v}, normalize_service_tier(tier))


def _ours(raw: Mapping[str, Any]) -> NormalizedUsage:
    r = Reader(raw, strict_keys={"input_tokens", "output_tokens", "cache_read_tokens",
                                 "cache_write_tokens", "cache_write_1h_tokens",
                                 "reasoning_tokens", "web_search_requests"})
    total_in, total_out = r.count("input_tokens", required=True), r.count("output_tokens",
                                                                          required=True)
    read, write = r.count("cache_read_tokens"), r.count("cache_write_tokens")
    write_1h = r.count("cache_write_1h_tokens")
    reasoning = r.count("reasoning_tokens")
    r.within("cache_read_tokens", read, "input_tokens", total_in)
    r.within("cache_write_tokens", read + write, "input_tokens", total_in,
             "cache_read_tokens + cache_write_tokens")
    r.within("cache_write_1h_tokens", write_1h, "cache_write_tokens", write)
    r.within("reasoning_tokens", reasoning, "output_tokens", total_out)
    return ours_from_counts(total_in, total_out, read, write, write_1h, reasoning,
                            r.count("web_search_requests"))


def ours_from_counts(input_tokens: int, output_tokens: int, cache_read: int, cache_write: int,
                     cache_write_1h: int, reasoning: int, web_search: int) -> NormalizedUsage:
    """Our convention's counts as disjoint categories, for counts already checked (exact
    non-negative integers, every part within its whole), as :func:`_ours` and the service's
    request model both do. The service calls this directly: re-reading a usage object it has
    just validated field by field cost a third of preparing a call."""
    return _result({"input": input_tokens - cache_read - cache_write, "cache_read": cache_read,
                    "cache_write": cache_write - cache_write_1h,
                    "cache_write_1h": cache_write_1h, "output": output_tokens,
                    "web_search": web_search},
                   {"reasoning": reasoning})


def _openai(raw: Mapping[str, Any]) -> NormalizedUsage:
    r = Reader(raw)
    if "prompt_tokens" in raw or "completion_tokens" in raw:
        total_in_name, total_out_name = "prompt_tokens", "completion_tokens"
        in_detail, out_detail = "prompt_tokens_details", "completion_tokens_details"
    elif "input_tokens" in raw or "output_tokens" in raw:
        total_in_name, total_out_name = "input_tokens", "output_tokens"
        in_detail, out_detail = "input_tokens_details", "output_tokens_details"
    else:
        raise UsageFormatError("prompt_tokens", "missing: an OpenAI usage object has "
                               "prompt_tokens (Chat Completions) or input_tokens (Responses)")
    total_in = r.count(total_in_name, required=True)
    # an embeddings usage object has no output count: {"prompt_tokens": n, "total_tokens": n}
    embedding = total_out_name == "completion_tokens" and total_out_name not in raw \
        and "total_tokens" in raw and r.count("total_tokens") == total_in
    total_out = r.count(total_out_name, required=not embedding)
    read, write = r.count(f"{in_detail}.cached_tokens"), r.count(f"{in_detail}.cache_write_tokens")
    audio_in, image_in = r.count(f"{in_detail}.audio_tokens"), r.count(f"{in_detail}.image_tokens")
    audio_out = r.count(f"{out_detail}.audio_tokens")
    image_out = r.count(f"{out_detail}.image_tokens")
    reasoning = r.count(f"{out_detail}.reasoning_tokens")
    r.within(f"{in_detail}.cached_tokens", read, total_in_name, total_in)
    r.within(f"{in_detail}.cache_write_tokens", read + write, total_in_name, total_in,
             "cached_tokens + cache_write_tokens")
    r.within(f"{in_detail}.audio_tokens", read + write + audio_in + image_in, total_in_name,
             total_in, "cached, cache write, audio and image tokens together")
    r.within(f"{out_detail}.reasoning_tokens", reasoning, total_out_name, total_out)
    r.within(f"{out_detail}.audio_tokens", audio_out + image_out, total_out_name, total_out,
             "audio and image output tokens together")
    return _result(
        {"input": total_in - read - write - audio_in - image_in, "cache_read": read,
         "cache_write": write, "input_audio": audio_in, "input_image": image_in,
         "output": total_out - audio_out - image_out, "output_audio": audio_out,
         "output_image": image_out},
        {"reasoning": reasoning,
         "accepted_prediction": r.count(f"{out_detail}.accepted_prediction_tokens"),
         "rejected_prediction": r.count(f"{out_detail}.rejected_prediction_tokens")},
    )


def _anthropic(raw: Mapping[str, Any]) -> NormalizedUsage:
    r = Reader(raw)
    uncached, total_out = r.count("input_tokens", required=True), r.count("output_tokens",
                                                                          required=True)
    read = r.count("cache_read_input_tokens")
    five, hour = (r.count("cache_creation.ephemeral_5m_input_tokens"),
                  r.count("cache_creation.ephemeral_1h_input_tokens"))
    written = r.count("cache_creation_input_tokens") if r.present("cache_creation_input_tokens") \
        else five + hour
    r.within("cache_creation.ephemeral_1h_input_tokens", hour, "cache_creation_input_tokens",
             written)
    r.within("cache_creation.ephemeral_5m_input_tokens", five + hour,
             "cache_creation_input_tokens", written, "ephemeral_5m + ephemeral_1h tokens")
    thinking = r.count("output_tokens_details.thinking_tokens")
    r.within("output_tokens_details.thinking_tokens", thinking, "output_tokens", total_out)
    tier = r.text("service_tier")
    return _result(
        {"input": uncached, "cache_read": read, "cache_write": written - hour,
         "cache_write_1h": hour, "output": total_out,
         "web_search": r.count("server_tool_use.web_search_requests")},
        {"reasoning": thinking, "web_fetch": r.count("server_tool_use.web_fetch_requests")},
        tier,
    )


def _gemini(raw: Mapping[str, Any]) -> NormalizedUsage:
    r = Reader(raw, camel_or_snake=True)
    prompt, cached = r.count("promptTokenCount"), r.count("cachedContentTokenCount")
    candidates, thoughts = r.count("candidatesTokenCount"), r.count("thoughtsTokenCount")
    tool = r.count("toolUsePromptTokenCount")
    p_mod = modality_counts(r, "promptTokensDetails", "promptTokenCount", prompt)
    c_mod = modality_counts(r, "cacheTokensDetails", "cachedContentTokenCount", cached)
    t_mod = modality_counts(r, "toolUsePromptTokensDetails", "toolUsePromptTokenCount", tool)
    o_mod = modality_counts(r, "candidatesTokensDetails", "candidatesTokenCount", candidates)
    r.within("cachedContentTokenCount", cached, "promptTokenCount", prompt)
    uncached = {}
    for modality in ("audio", "image", "video"):
        r.within(f"cacheTokensDetails[{modality.upper()}]", c_mod[modality],
                 f"promptTokensDetails[{modality.upper()}]", p_mod[modality])
        uncached[modality] = p_mod[modality] + t_mod[modality] - c_mod[modality]
    cache_other = cached - sum(c_mod[m] for m in ("audio", "image", "video"))
    text_in = prompt + tool - cached - sum(uncached.values())
    if text_in < 0:
        raise UsageFormatError("promptTokensDetails", "modality counts exceed promptTokenCount")
    media_out = o_mod["audio"] + o_mod["image"] + o_mod["video"]
    return _result(
        {"input": text_in, "cache_read": cache_other,
         "input_audio": uncached["audio"], "input_image": uncached["image"],
         "input_video": uncached["video"], "cache_read_audio": c_mod["audio"],
         "cache_read_image": c_mod["image"], "cache_read_video": c_mod["video"],
         "output": candidates + thoughts - media_out, "output_audio": o_mod["audio"],
         "output_image": o_mod["image"], "output_video": o_mod["video"]},
        {"reasoning": thoughts, "tool_use_prompt": tool},
        r.text("trafficType"),
    )


def _otel(raw: Mapping[str, Any] | list[Any]) -> NormalizedUsage:
    r = Reader(otel_attributes(raw))
    total_in_name = _otel_name(r, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
    total_out_name = _otel_name(r, "gen_ai.usage.output_tokens",
                                "gen_ai.usage.completion_tokens")
    total_in = r.count(total_in_name, required=True, flat=True)
    total_out = r.count(total_out_name, required=True, flat=True)
    read = r.count("gen_ai.usage.cache_read.input_tokens", flat=True)
    write = r.count("gen_ai.usage.cache_creation.input_tokens", flat=True)
    reasoning = r.count("gen_ai.usage.reasoning.output_tokens", flat=True)
    r.within("gen_ai.usage.cache_read.input_tokens", read, total_in_name, total_in)
    r.within("gen_ai.usage.cache_creation.input_tokens", read + write, total_in_name, total_in,
             "cache_read + cache_creation input tokens")
    r.within("gen_ai.usage.reasoning.output_tokens", reasoning, total_out_name, total_out)
    tier = r.text("openai.response.service_tier", flat=True) \
        or r.text("gen_ai.openai.response.service_tier", flat=True)
    return _result({"input": total_in - read - write, "cache_read": read, "cache_write": write,
                    "output": total_out}, {"reasoning": reasoning}, tier)


def _otel_name(r: Reader, current: str, deprecated: str) -> str:
    """The attribute to read: the current name unless only the deprecated one is sent."""
    if r.present(deprecated, flat=True) and not r.present(current, flat=True):
        return deprecated
    return current


_HANDLERS: dict[str, Callable[[Any], NormalizedUsage]] = {
    "receipts": _ours, "openai": _openai, "anthropic": _anthropic, "gemini": _gemini,
    "otel": _otel,
}
