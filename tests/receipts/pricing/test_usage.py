"""Usage normalization: each provider's convention to disjoint counts, and clear refusals."""

from __future__ import annotations

from typing import Any

import pytest

from receipts.errors import UsageFormatError
from receipts.pricing.usage import normalize_usage


def norm(fmt: str | None, raw: Any) -> tuple[dict[str, int], dict[str, int], str | None]:
    result = normalize_usage(fmt, raw)
    return result.usage, result.detail, result.service_tier


def refused(fmt: str | None, raw: Any) -> UsageFormatError:
    with pytest.raises(UsageFormatError) as info:
        normalize_usage(fmt, raw)
    return info.value


# --- our own convention ----------------------------------------------------------------------

def test_ours_splits_cache_parts_out_of_input() -> None:
    usage, detail, tier = norm(None, {"input_tokens": 1000, "output_tokens": 300,
                                      "cache_read_tokens": 600, "cache_write_tokens": 200,
                                      "cache_write_1h_tokens": 50, "reasoning_tokens": 100})
    assert usage == {"input": 200, "cache_read": 600, "cache_write": 150,
                     "cache_write_1h": 50, "output": 300}
    assert detail == {"reasoning": 100}
    assert tier is None


def test_ours_is_also_named_receipts() -> None:
    assert norm("receipts", {"input_tokens": 5, "output_tokens": 1})[0] == {"input": 5,
                                                                           "output": 1}


@pytest.mark.parametrize(("raw", "field"), [
    ({"input_tokens": 10, "output_tokens": 1, "cache_read_tokens": 11}, "cache_read_tokens"),
    ({"input_tokens": 10, "output_tokens": 1, "cache_read_tokens": 6, "cache_write_tokens": 5},
     "cache_write_tokens"),
    ({"input_tokens": 10, "output_tokens": 1, "cache_write_tokens": 2,
      "cache_write_1h_tokens": 3}, "cache_write_1h_tokens"),
    ({"input_tokens": 10, "output_tokens": 1, "reasoning_tokens": 2}, "reasoning_tokens"),
    ({"input_tokens": -1, "output_tokens": 1}, "input_tokens"),
    ({"input_tokens": 1.5, "output_tokens": 1}, "input_tokens"),
    ({"input_tokens": True, "output_tokens": 1}, "input_tokens"),
    ({"input_tokens": "12", "output_tokens": 1}, "input_tokens"),
    ({"input_tokens": 10**13, "output_tokens": 1}, "input_tokens"),
    ({"output_tokens": 1}, "input_tokens"),
    ({"input_tokens": 1, "output_tokens": 1, "cached_tokens": 1}, "cached_tokens"),
])
def test_ours_refuses_naming_the_field(raw: dict[str, Any], field: str) -> None:
    error = refused(None, raw)
    assert error.field == field
    assert field in str(error)


def test_part_larger_than_whole_says_so() -> None:
    error = refused(None, {"input_tokens": 100, "output_tokens": 10, "cache_read_tokens": 150})
    assert "cache_read_tokens (150) exceeds input_tokens (100)" in str(error)


# --- OpenAI ----------------------------------------------------------------------------------

def test_openai_chat_cached_tokens_are_inside_prompt_tokens() -> None:
    usage, detail, _ = norm("openai", {
        "prompt_tokens": 2006, "completion_tokens": 1300, "total_tokens": 3306,
        "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 1024,
                                      "rejected_prediction_tokens": 7}})
    assert usage == {"input": 86, "cache_read": 1920, "output": 1300}
    assert detail == {"reasoning": 1024, "rejected_prediction": 7}


def test_openai_chat_audio_and_cache_writes() -> None:
    usage, _, _ = norm("openai", {
        "prompt_tokens": 1000, "completion_tokens": 500,
        "prompt_tokens_details": {"cached_tokens": 100, "cache_write_tokens": 200,
                                  "audio_tokens": 300},
        "completion_tokens_details": {"audio_tokens": 400}})
    assert usage == {"input": 400, "cache_read": 100, "cache_write": 200, "input_audio": 300,
                     "output": 100, "output_audio": 400}


def test_openai_responses_shape() -> None:
    usage, detail, _ = norm("openai", {
        "input_tokens": 2006, "input_tokens_details": {"cached_tokens": 1920,
                                                       "cache_write_tokens": 0},
        "output_tokens": 1300, "output_tokens_details": {"reasoning_tokens": 1024},
        "total_tokens": 3306})
    assert usage == {"input": 86, "cache_read": 1920, "output": 1300}
    assert detail == {"reasoning": 1024}


def test_openai_embeddings_usage_has_no_output() -> None:
    usage, detail, _ = norm("openai", {"prompt_tokens": 8, "total_tokens": 8})
    assert (usage, detail) == ({"input": 8}, {})


def test_openai_null_details_are_absent() -> None:
    usage, _, _ = norm("openai", {"prompt_tokens": 10, "completion_tokens": 2,
                                  "prompt_tokens_details": None,
                                  "completion_tokens_details": None})
    assert usage == {"input": 10, "output": 2}


@pytest.mark.parametrize(("raw", "field", "text"), [
    ({"prompt_tokens": 100, "completion_tokens": 10,
      "prompt_tokens_details": {"cached_tokens": 101}},
     "prompt_tokens_details.cached_tokens", "cached_tokens (101) exceeds prompt_tokens (100)"),
    ({"prompt_tokens": 100, "completion_tokens": 10,
      "completion_tokens_details": {"reasoning_tokens": 11}},
     "completion_tokens_details.reasoning_tokens", "exceeds completion_tokens (10)"),
    ({"input_tokens": 5, "output_tokens": 1, "input_tokens_details": {"cached_tokens": 6}},
     "input_tokens_details.cached_tokens", "exceeds input_tokens (5)"),
    ({"prompt_tokens": 100, "completion_tokens": 10,
      "prompt_tokens_details": {"cached_tokens": 60, "audio_tokens": 50}},
     "prompt_tokens_details.audio_tokens", "exceeds prompt_tokens (100)"),
    ({"completion_tokens": 10}, "prompt_tokens", "missing"),
    ({"total_tokens": 10}, "prompt_tokens", "missing"),
    ({"prompt_tokens": 8, "total_tokens": 9}, "completion_tokens", "missing"),
    ({"prompt_tokens": 8}, "completion_tokens", "missing"),
    ({"prompt_tokens": 1, "completion_tokens": 1, "prompt_tokens_details": 3},
     "prompt_tokens_details", "must be an object"),
])
def test_openai_refusals(raw: dict[str, Any], field: str, text: str) -> None:
    error = refused("openai", raw)
    assert error.field == field
    assert text in str(error)


# --- Anthropic -------------------------------------------------------------------------------

def test_anthropic_input_excludes_cache_and_writes_split_by_ttl() -> None:
    usage, detail, tier = norm("anthropic", {
        "input_tokens": 48, "cache_creation_input_tokens": 248, "cache_read_input_tokens": 1800,
        "cache_creation": {"ephemeral_5m_input_tokens": 148, "ephemeral_1h_input_tokens": 100},
        "output_tokens": 503, "output_tokens_details": {"thinking_tokens": 320},
        "server_tool_use": {"web_search_requests": 2, "web_fetch_requests": 1},
        "service_tier": "priority"})
    assert usage == {"input": 48, "cache_read": 1800, "cache_write": 148, "cache_write_1h": 100,
                     "output": 503, "web_search": 2}
    assert detail == {"reasoning": 320, "web_fetch": 1}
    assert tier == "priority"


def test_anthropic_without_breakdown_writes_are_five_minute() -> None:
    usage, _, tier = norm("anthropic", {"input_tokens": 1, "cache_creation_input_tokens": 9,
                                        "output_tokens": 1, "service_tier": "standard"})
    assert usage == {"input": 1, "cache_write": 9, "output": 1}
    assert tier is None


def test_anthropic_breakdown_without_total_is_summed() -> None:
    usage, _, _ = norm("anthropic", {"input_tokens": 1, "output_tokens": 1, "cache_creation": {
        "ephemeral_5m_input_tokens": 3, "ephemeral_1h_input_tokens": 4}})
    assert usage == {"input": 1, "cache_write": 3, "cache_write_1h": 4, "output": 1}


@pytest.mark.parametrize(("raw", "field"), [
    ({"input_tokens": 1, "output_tokens": 1, "cache_creation_input_tokens": 5,
      "cache_creation": {"ephemeral_1h_input_tokens": 6}},
     "cache_creation.ephemeral_1h_input_tokens"),
    ({"input_tokens": 1, "output_tokens": 1, "cache_creation_input_tokens": 5,
      "cache_creation": {"ephemeral_5m_input_tokens": 3, "ephemeral_1h_input_tokens": 3}},
     "cache_creation.ephemeral_5m_input_tokens"),
    ({"input_tokens": 1, "output_tokens": 3, "output_tokens_details": {"thinking_tokens": 4}},
     "output_tokens_details.thinking_tokens"),
    ({"output_tokens": 3}, "input_tokens"),
    ({"input_tokens": 1, "output_tokens": 1, "service_tier": 3}, "service_tier"),
])
def test_anthropic_refusals(raw: dict[str, Any], field: str) -> None:
    assert refused("anthropic", raw).field == field


# --- Gemini ----------------------------------------------------------------------------------

def test_gemini_thoughts_are_output_and_cached_is_inside_prompt() -> None:
    usage, detail, _ = norm("gemini", {"promptTokenCount": 12050,
                                       "cachedContentTokenCount": 8192,
                                       "candidatesTokenCount": 412, "thoughtsTokenCount": 1240,
                                       "totalTokenCount": 13702})
    assert usage == {"input": 3858, "cache_read": 8192, "output": 1652}
    assert detail == {"reasoning": 1240}


def test_gemini_modalities_documents_count_as_images_and_tool_prompts_as_input() -> None:
    usage, detail, tier = norm("gemini", {
        "promptTokenCount": 1000, "cachedContentTokenCount": 300, "candidatesTokenCount": 50,
        "toolUsePromptTokenCount": 40, "trafficType": "ON_DEMAND_FLEX",
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 500},
                                {"modality": "AUDIO", "tokenCount": 200},
                                {"modality": "DOCUMENT", "tokenCount": 100},
                                {"modality": "IMAGE", "tokenCount": 100},
                                {"modality": "VIDEO", "tokenCount": 100}],
        "cacheTokensDetails": [{"modality": "AUDIO", "tokenCount": 150},
                               {"modality": "TEXT", "tokenCount": 150}],
        "toolUsePromptTokensDetails": [{"modality": "TEXT", "tokenCount": 40}],
        "candidatesTokensDetails": [{"modality": "AUDIO", "tokenCount": 30},
                                    {"modality": "TEXT", "tokenCount": 20}]})
    assert usage == {"input": 390, "cache_read": 150, "input_audio": 50, "input_image": 200,
                     "input_video": 100, "cache_read_audio": 150, "output": 20,
                     "output_audio": 30}
    assert sum(usage.values()) == 1000 + 40 + 50
    assert detail == {"tool_use_prompt": 40}
    assert tier == "flex"


@pytest.mark.parametrize(("raw", "field"), [
    ({"promptTokenCount": 10, "cachedContentTokenCount": 11}, "cachedContentTokenCount"),
    ({"promptTokenCount": 10, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 11}]},
     "promptTokensDetails"),
    ({"promptTokenCount": 10, "cachedContentTokenCount": 5,
      "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 2}],
      "cacheTokensDetails": [{"modality": "AUDIO", "tokenCount": 3}]},
     "cacheTokensDetails[AUDIO]"),
    ({"promptTokenCount": 10, "promptTokensDetails": [{"modality": "SMELL", "tokenCount": 1}]},
     "promptTokensDetails[0].modality"),
    ({"promptTokenCount": 10, "promptTokensDetails": {"TEXT": 10}}, "promptTokensDetails"),
    ({"promptTokenCount": 10.0}, "promptTokenCount"),
])
def test_gemini_refusals(raw: dict[str, Any], field: str) -> None:
    assert refused("gemini", raw).field == field


# --- OpenTelemetry ---------------------------------------------------------------------------

def test_otel_flat_attributes_and_service_tier() -> None:
    usage, detail, tier = norm("otel", {
        "gen_ai.usage.input_tokens": 2096, "gen_ai.usage.cache_read.input_tokens": 1800,
        "gen_ai.usage.cache_creation.input_tokens": 248, "gen_ai.usage.output_tokens": 503,
        "gen_ai.usage.reasoning.output_tokens": 320, "openai.response.service_tier": "flex",
        "gen_ai.request.model": "claude-sonnet-4-5", "server.port": 443})
    assert usage == {"input": 48, "cache_read": 1800, "cache_write": 248, "output": 503}
    assert detail == {"reasoning": 320}
    assert tier == "flex"


def test_otel_otlp_keyvalue_list_with_string_ints_and_deprecated_names() -> None:
    usage, _, _ = norm("otel", [
        {"key": "gen_ai.usage.prompt_tokens", "value": {"intValue": "120"}},
        {"key": "gen_ai.usage.completion_tokens", "value": {"intValue": 30}},
        {"key": "gen_ai.system", "value": {"stringValue": "openai"}}])
    assert usage == {"input": 120, "output": 30}


def test_otel_string_ints_too_long_for_a_count_are_refused() -> None:
    # past MAX_COUNT's digits (and past int()'s 4,300-digit limit, which raises ValueError)
    for digits in ("1" + "0" * 13, "9" * 5000):
        error = refused("otel", [{"key": "gen_ai.usage.input_tokens",
                                  "value": {"intValue": digits}},
                                 {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 1}}])
        assert error.field == "gen_ai.usage.input_tokens"
        assert "not a plausible count" in str(error)
    usage, _, _ = norm("otel", [{"key": "gen_ai.usage.input_tokens", "value": {"intValue": "007"}},
                                {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 1}}])
    assert usage == {"input": 7, "output": 1}


def test_otel_raw_anthropic_input_in_input_tokens_is_caught() -> None:
    # a common instrumentation bug: Anthropic's uncached input_tokens put in the OTel attribute
    error = refused("otel", {"gen_ai.usage.input_tokens": 48,
                             "gen_ai.usage.cache_read.input_tokens": 1800,
                             "gen_ai.usage.output_tokens": 503})
    assert error.field == "gen_ai.usage.cache_read.input_tokens"
    assert "exceeds gen_ai.usage.input_tokens (48)" in str(error)


def test_otel_missing_totals_name_the_current_attribute() -> None:
    assert refused("otel", {"gen_ai.usage.output_tokens": 1}).field == \
        "gen_ai.usage.input_tokens"
    assert refused("otel", [{"value": 1}]).field == "[0]"


# --- formats ---------------------------------------------------------------------------------

def test_unknown_format_and_non_objects_are_refused() -> None:
    assert refused("langfuse", {}).field == "usage_format"
    assert refused("openai", [1, 2]).field == "usage"
    assert refused(None, "12").field == "usage"


def test_zero_counts_are_dropped() -> None:
    usage, detail, _ = norm(None, {"input_tokens": 0, "output_tokens": 0, "reasoning_tokens": 0})
    assert usage == {}
    assert detail == {}
