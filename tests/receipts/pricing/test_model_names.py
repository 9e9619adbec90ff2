"""Model name resolution: every spelling lands on a model the book lists, or stays unpriced."""

from __future__ import annotations

import pytest

from receipts.pricing.books import build_price_book, micro
from receipts.pricing.model_names import ModelNames, normalize_provider, spellings


@pytest.mark.parametrize(("provider", "sent", "billed"), [
    ("openai", "gpt-4o", "openai/gpt-4o"),
    ("OpenAI", "GPT-4o", "openai/gpt-4o"),
    ("openai", "gpt-4o-2024-11-20", "openai/gpt-4o"),
    ("openai", "gpt-4o-2024-05-13", "openai/gpt-4o-2024-05-13"),
    ("openai", "openai/gpt-4.1-mini", "openai/gpt-4.1-mini"),
    ("openai", "gpt-5-2025-08-07", "openai/gpt-5"),
    ("anthropic", "claude-sonnet-4-0", "anthropic/claude-sonnet-4-0"),
    ("anthropic", "claude-sonnet-4-20250514", "anthropic/claude-sonnet-4-0"),
    ("anthropic", "claude-3-7-sonnet-20250219", "anthropic/claude-3-7-sonnet-latest"),
    ("anthropic", "anthropic/claude-haiku-4-5-20251001", "anthropic/claude-haiku-4-5"),
    ("google", "gemini-2.5-pro", "google/gemini-2.5-pro"),
    ("gemini", "models/gemini-2.5-flash", "google/gemini-2.5-flash"),
    ("gcp.gemini", "gemini-2.5-flash-lite", "google/gemini-2.5-flash-lite"),
    ("vertex_ai", "claude-opus-4-1@20250805", "google/claude-4-opus"),  # genai: same price
    ("aws.bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
     "aws/regional.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    ("bedrock", "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
     "aws/global.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    ("azure", "gpt-4o", "azure/gpt-4o"),
    ("azure_openai", "o3", "azure/o3-2025-04-16"),
    ("openrouter", "openai/gpt-4o", "openrouter/openai/gpt-4o"),
    ("", "openai/gpt-4o-mini", "openai/gpt-4o-mini"),
    ("", "claude-sonnet-4-5", "anthropic/claude-sonnet-4-5"),
    ("chatgpt-web", "gpt-4o-2024-08-06", "chatgpt-web/gpt-4o"),
    ("self-hosted", "Qwen3-32B", "self-hosted/qwen3-32b"),
])
def test_spellings_resolve_to_the_billed_model(names: ModelNames, provider: str, sent: str,
                                               billed: str) -> None:
    name = names.resolve(provider, sent)
    assert name.resolved, name.how
    assert f"{name.provider}/{name.model}" == billed
    assert name.requested == sent
    assert (name.provider, name.model) in names.book.entries


@pytest.mark.parametrize(("provider", "sent"), [
    ("openai", "gpt-9-preview"),
    ("openai", "claude-sonnet-4-5"),          # right name, wrong provider
    ("anthropic", "gpt-4o"),
    ("made-up-cloud", "gpt-4o"),
    ("openai", ""),
])
def test_unresolvable_names_stay_as_sent_and_are_unknown_to_the_book(
        names: ModelNames, provider: str, sent: str) -> None:
    name = names.resolve(provider, sent)
    assert not name.resolved
    assert name.model == sent
    assert "not" in name.how or "no " in name.how
    assert names.book.resolve(name.provider, name.model, {"input": 1}, None).status == \
        "unknown_model"


def test_resolution_is_cached_and_stable(names: ModelNames) -> None:
    first = names.resolve("openai", "gpt-4o-2024-08-06")
    assert names.resolve("openai", "gpt-4o-2024-08-06") is first


def test_without_genai_rules_book_ids_and_spellings_still_resolve() -> None:
    _, book = build_price_book(
        [{"provider": "openai", "model": "gpt-4o", "metered": True,
          "prices": {"input": micro("2.5")}}],
        currency="USD", effective_from=0, created_at=0, source="test")

    class NoRules:
        def find(self, provider: str, name: str) -> None:
            return None

        def provider_for(self, name: str) -> None:
            return None

    names = ModelNames(book, catalog=NoRules())
    assert names.resolve("openai", "openai/GPT-4o").model == "gpt-4o"
    assert not names.resolve("openai", "gpt-4o-2024-08-06").resolved


def test_provider_and_name_normalization() -> None:
    assert normalize_provider(" Azure.AI.OpenAI ") == "azure"
    assert normalize_provider("gcp.vertex_ai") == "google"
    assert normalize_provider("self-hosted") == "self-hosted"
    assert spellings("us.anthropic.claude-opus-4-1-20250805-v1:0")[-1] == \
        "claude-opus-4-1-20250805"
    assert "claude-sonnet-4-5" in spellings("claude-sonnet-4-5@20250929")
    assert spellings("gpt-4.1") == ["gpt-4.1"]
