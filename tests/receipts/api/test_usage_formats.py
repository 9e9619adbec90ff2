"""POST /v1/receipts with providers' own usage objects, model aliases and service tiers.

Costs are worked out by hand in the comments. Format tests use the small shipped book (fixed
list prices, USD per 1M tokens: gpt-4o 2.50 / cached 1.25 / output 10; gpt-4o-mini 0.15 /
0.075 / 0.60; claude-sonnet-4 3 / read 0.30 / write 3.75 / 1h write 6 / output 15;
gemini-2.5-flash 0.30 / 0.075 / 2.50); name resolution and tiers use a genai-prices book, as
``receipt init`` seeds by default.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.receipts.conftest import Deployment, call, make_deployment
from verifier.keys import PublicKey
from verifier.verify import VerifyOptions, audit_ledger

M = Decimal(1_000_000)


def _post(deployment: Deployment, body: dict[str, Any]) -> Any:
    _, auth = deployment.agent()
    with deployment.client() as client:
        return client.post("/v1/receipts", json=body, headers=auth)


@pytest.mark.parametrize(("model", "usage_format", "usage", "billed", "detail", "cost"), [
    # OpenAI Chat Completions: prompt_tokens (2000) INCLUDES the 1500 cached tokens, and
    # completion_tokens (400) includes 100 reasoning tokens.
    # 500 x 2.50 + 1500 x 1.25 + 400 x 10 = 1250 + 1875 + 4000 = 7125 per 1M -> $0.007125
    ("gpt-4o", "openai",
     {"prompt_tokens": 2000, "completion_tokens": 400, "total_tokens": 2400,
      "prompt_tokens_details": {"cached_tokens": 1500},
      "completion_tokens_details": {"reasoning_tokens": 100}},
     {"input": 500, "cache_read": 1500, "output": 400}, {"reasoning": 100}, "0.007125"),
    # OpenAI Responses: input_tokens (1000) includes 200 cached tokens.
    # 800 x 2.50 + 200 x 1.25 + 50 x 10 = 2000 + 250 + 500 = 2750 per 1M -> $0.00275
    ("gpt-4o", "openai",
     {"input_tokens": 1000, "output_tokens": 50,
      "input_tokens_details": {"cached_tokens": 200}},
     {"input": 800, "cache_read": 200, "output": 50}, None, "0.00275"),
    # Anthropic: input_tokens (100) EXCLUDES cache reads (2000) and writes (500 = 300 for 5
    # minutes + 200 for 1 hour).
    # 100 x 3 + 2000 x 0.30 + 300 x 3.75 + 200 x 6 + 300 x 15
    #   = 300 + 600 + 1125 + 1200 + 4500 = 7725 per 1M -> $0.007725
    ("claude-sonnet-4", "anthropic",
     {"input_tokens": 100, "output_tokens": 300, "cache_read_input_tokens": 2000,
      "cache_creation_input_tokens": 500,
      "cache_creation": {"ephemeral_5m_input_tokens": 300, "ephemeral_1h_input_tokens": 200}},
     {"input": 100, "cache_read": 2000, "cache_write": 300, "cache_write_1h": 200,
      "output": 300}, None, "0.007725"),
    # Gemini: promptTokenCount (1000) includes 400 cached; thoughtsTokenCount (300) is NOT in
    # candidatesTokenCount (200) and is billed as output: 500 output tokens.
    # 600 x 0.30 + 400 x 0.075 + 500 x 2.50 = 180 + 30 + 1250 = 1460 per 1M -> $0.00146
    ("gemini-2.5-flash", "gemini",
     {"promptTokenCount": 1000, "cachedContentTokenCount": 400, "candidatesTokenCount": 200,
      "thoughtsTokenCount": 300, "totalTokenCount": 1500},
     {"input": 600, "cache_read": 400, "output": 500}, {"reasoning": 300}, "0.00146"),
    # OpenTelemetry GenAI span attributes: input_tokens (1000) includes 200 cache reads.
    # 800 x 0.15 + 200 x 0.075 + 100 x 0.60 = 120 + 15 + 60 = 195 per 1M -> $0.000195
    ("gpt-4o-mini", "otel",
     {"gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 100,
      "gen_ai.usage.cache_read.input_tokens": 200},
     {"input": 800, "cache_read": 200, "output": 100}, None, "0.000195"),
    # The same as an OTLP/JSON attribute list (64-bit ints as strings).
    ("gpt-4o-mini", "otel",
     [{"key": "gen_ai.usage.input_tokens", "value": {"intValue": "1000"}},
      {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "100"}},
      {"key": "gen_ai.usage.cache_read.input_tokens", "value": {"intValue": "200"}}],
     {"input": 800, "cache_read": 200, "output": 100}, None, "0.000195"),
    # Our own convention, with the new fields: 1-hour writes are part of cache_write_tokens.
    # input 1000 - 500 written = 500; writes 300 (5 min) + 200 (1 h); output 100.
    # 500 x 3 + 300 x 3.75 + 200 x 6 + 100 x 15 = 1500 + 1125 + 1200 + 1500 = 5325 -> $0.005325
    ("claude-sonnet-4", None,
     {"input_tokens": 1000, "output_tokens": 100, "cache_write_tokens": 500,
      "cache_write_1h_tokens": 200},
     {"input": 500, "cache_write": 300, "cache_write_1h": 200, "output": 100}, None,
     "0.005325"),
])
def test_each_usage_format_gives_disjoint_usage_and_the_exact_cost(
        deployment: Deployment, model: str, usage_format: str | None, usage: Any,
        billed: dict[str, int], detail: dict[str, int] | None, cost: str) -> None:
    provider = {"claude": "anthropic", "gemini": "google"}.get(model.split("-")[0], "openai")
    body = call(provider=provider, model=model, usage=usage)
    if usage_format is not None:
        body["usage_format"] = usage_format
    r = _post(deployment, body)
    assert r.status_code == 201, r.text
    receipt = r.json()["receipt"]
    assert receipt["usage"] == billed
    assert receipt.get("usage_detail") == detail
    assert receipt["pricing_status"] == "priced"
    assert Decimal(receipt["cost"]) == Decimal(cost)
    # the cost is the sum of usage x unit price, exactly (unit prices are per 1M)
    assert Decimal(receipt["cost"]) == sum(
        n * Decimal(receipt["unit_prices"][k]) for k, n in billed.items()) / M


def test_native_and_our_convention_price_the_same(deployment: Deployment) -> None:
    native = call("native", usage_format="openai", usage={
        "prompt_tokens": 2000, "completion_tokens": 400,
        "prompt_tokens_details": {"cached_tokens": 1500},
        "completion_tokens_details": {"reasoning_tokens": 100}})
    ours = call("ours", usage={"input_tokens": 2000, "output_tokens": 400,
                               "cache_read_tokens": 1500, "reasoning_tokens": 100})
    _, auth = deployment.agent()
    with deployment.client() as client:
        a = client.post("/v1/receipts", json=native, headers=auth).json()["receipt"]
        b = client.post("/v1/receipts", json=ours, headers=auth).json()["receipt"]
    assert (a["usage"], a["usage_detail"], a["cost"]) == (b["usage"], b["usage_detail"], b["cost"])


@pytest.mark.parametrize(("change", "field"), [
    # 1600 cached tokens cannot be part of a 1500-token prompt
    ({"usage_format": "openai", "usage": {"prompt_tokens": 1500, "completion_tokens": 1,
                                          "prompt_tokens_details": {"cached_tokens": 1600}}},
     "usage.prompt_tokens_details.cached_tokens"),
    ({"usage_format": "openai", "usage": {"total_tokens": 5}}, "usage.prompt_tokens"),
    ({"usage_format": "anthropic", "usage": {"input_tokens": 5, "output_tokens": -1}},
     "usage.output_tokens"),
    ({"usage_format": "anthropic", "usage": {"input_tokens": 5, "output_tokens": 1.5}},
     "usage.output_tokens"),
    ({"usage_format": "gemini", "usage": {"promptTokenCount": 10, "cachedContentTokenCount": 11,
                                          "candidatesTokenCount": 1}},
     "usage.cachedContentTokenCount"),
    ({"usage_format": "otel", "usage": {"gen_ai.usage.output_tokens": 3}},
     "usage.gen_ai.usage.input_tokens"),
    ({"usage_format": "otel", "usage": [7]}, "usage[0]"),
    ({"usage_format": "openai", "usage": [1, 2]}, "usage"),
    ({"usage_format": "mistral"}, "usage_format"),
    ({"usage": [1]}, "usage"),
    ({"usage": {"input_tokens": 10, "output_tokens": 1, "cache_write_tokens": 5,
                "cache_write_1h_tokens": 6}}, "usage.cache_write_1h_tokens"),
    ({"usage": {"input_tokens": 10, "output_tokens": 1, "web_search_requests": -1}},
     "usage.web_search_requests"),
    ({"service_tier": "x" * 33}, "service_tier"),
    ({"usage_format": "anthropic", "usage": {"input_tokens": 1, "output_tokens": 1,
                                             "service_tier": "t" * 40}},
     "usage.service_tier"),
])
def test_422_names_the_bad_usage_field(deployment: Deployment, change: dict[str, Any],
                                       field: str) -> None:
    r = _post(deployment, call(**change))
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert field in [f["field"] for f in error["fields"]], error
    assert all(f["reason"] for f in error["fields"])


def test_batch_items_take_usage_format_too(deployment: Deployment) -> None:
    good = call("b1", usage_format="anthropic", usage={"input_tokens": 10, "output_tokens": 5,
                                                       "cache_read_input_tokens": 100})
    bad = call("b2", usage_format="openai", usage={"prompt_tokens": 1, "completion_tokens": 1,
                                                   "prompt_tokens_details": {"cached_tokens": 2}})
    _, auth = deployment.agent()
    with deployment.client() as client:
        atomic = client.post("/v1/receipts/batch", json={"calls": [good, bad]}, headers=auth)
        mixed = client.post("/v1/receipts/batch", json={"calls": [good, bad], "atomic": False},
                            headers=auth)
    assert atomic.status_code == 422
    assert [f["field"] for f in atomic.json()["error"]["fields"]] == \
        ["calls.1.usage.prompt_tokens_details.cached_tokens"]
    results = mixed.json()["results"]
    assert results[0]["status"] == 201 and results[1]["status"] == 422
    assert results[0]["receipt"]["usage"] == {"input": 10, "cache_read": 100, "output": 5}


def test_a_retry_with_the_same_raw_usage_is_a_replay_and_another_is_a_conflict(
        deployment: Deployment) -> None:
    body = call("same", usage_format="gemini",
                usage={"promptTokenCount": 100, "candidatesTokenCount": 10})
    _, auth = deployment.agent()
    with deployment.client() as client:
        first = client.post("/v1/receipts", json=body, headers=auth)
        again = client.post("/v1/receipts", json=body, headers=auth)
        other = client.post("/v1/receipts", json={**body, "usage": {
            "promptTokenCount": 100, "candidatesTokenCount": 11}}, headers=auth)
        tier = client.post("/v1/receipts", json={**body, "service_tier": "batch"}, headers=auth)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert other.status_code == 409 and tier.status_code == 409


def test_unknown_model_is_receipted_unpriced_never_zero(deployment: Deployment) -> None:
    r = _post(deployment, call(model="gpt-99-turbo"))
    assert r.status_code == 201
    receipt = r.json()["receipt"]
    assert receipt["cost"] is None and receipt["pricing_status"] == "unknown_model"
    assert receipt["model"] == receipt["model_requested"] == "gpt-99-turbo"


def test_a_category_the_book_does_not_price_is_unpriced(deployment: Deployment) -> None:
    # the shipped book has no web search price for claude-sonnet-4: never a silent $0
    r = _post(deployment, call(provider="anthropic", model="claude-sonnet-4", usage={
        "input_tokens": 10, "output_tokens": 1, "web_search_requests": 2}))
    receipt = r.json()["receipt"]
    assert receipt["usage"]["web_search"] == 2
    assert receipt["cost"] is None and receipt["pricing_status"] == "unpriced_category"


# --- a genai-prices book, as ``receipt init`` seeds by default --------------------------------


@pytest.fixture(scope="module")
def genai(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """One deployment on a genai-prices snapshot for this module (a snapshot takes a second)."""
    return make_deployment(tmp_path_factory.mktemp("genai"), price_book="genai")


@pytest.fixture(scope="module")
def genai_client(genai: Deployment) -> Any:
    with genai.client() as client:
        yield client


@pytest.mark.parametrize(("provider", "model", "billed_provider", "billed_model"), [
    ("openai", "gpt-4o-2024-08-06", "openai", "gpt-4o"),
    ("openai", "openai/gpt-4o", "openai", "gpt-4o"),
    ("anthropic", "claude-sonnet-4-0", "anthropic", "claude-sonnet-4-0"),
    ("anthropic", "claude-sonnet-4-20250514", "anthropic", "claude-sonnet-4-0"),
    ("aws.bedrock", "us.anthropic.claude-sonnet-4-20250514-v1:0", "aws", None),
    ("gcp.vertex_ai", "gemini-2.5-flash", "google", "gemini-2.5-flash"),
    ("azure.ai.openai", "gpt-4o", "azure", "gpt-4o"),
])
def test_aliases_and_platform_spellings_resolve_and_keep_model_requested(
        genai: Deployment, genai_client: TestClient, provider: str, model: str,
        billed_provider: str, billed_model: str | None) -> None:
    _, auth = genai.agent()
    body = call(f"{provider}-{model}", provider=provider, model=model,
                usage={"input_tokens": 1000, "output_tokens": 100})
    r = genai_client.post("/v1/receipts", json=body, headers=auth)
    assert r.status_code == 201, r.text
    receipt = r.json()["receipt"]
    assert receipt["pricing_status"] == "priced" and receipt["cost"] is not None
    assert receipt["provider"] == billed_provider
    assert receipt["model_requested"] == model
    if billed_model is not None:
        assert receipt["model"] == billed_model
    # filters use the billed provider (gcp.vertex_ai is google)
    listed = genai_client.get(f"/v1/receipts?provider={billed_provider}", headers=auth).json()
    assert [x["receipt"]["id"] for x in listed["receipts"]] == [receipt["id"]]


def test_service_tier_prices_at_the_tier_and_started_at_is_signed(
        genai: Deployment, genai_client: TestClient) -> None:
    _, auth = genai.agent()
    usage = {"input_tokens": 1000, "output_tokens": 100}
    standard = genai_client.post("/v1/receipts", json=call(
        "std", usage=usage, service_tier="default"), headers=auth).json()["receipt"]
    batch = genai_client.post("/v1/receipts", json=call(
        "bat", usage=usage, service_tier="batch", started_at="2026-01-02T03:04:05.678Z"),
        headers=auth).json()["receipt"]
    # gpt-4o standard: 1000 x 2.50 + 100 x 10 = 3500 per 1M; batch is half: 1000 x 1.25 +
    # 100 x 5 = 1750 per 1M
    assert "service_tier" not in standard and Decimal(standard["cost"]) == Decimal("0.0035")
    assert batch["service_tier"] == "batch" and Decimal(batch["cost"]) == Decimal("0.00175")
    assert batch["started_at"] == "2026-01-02T03:04:05.678Z"
    ledger = genai_client.get("/v1/ledger", headers=genai.admin)
    key = PublicKey(genai.made.signer.public_key)
    report = audit_ledger([ledger.content], VerifyOptions(trusted_keys=(key,), workers=1))
    assert report.valid, report.failure


def test_init_defaults_to_a_genai_prices_book(tmp_path: Path) -> None:
    from receipts.deployment.runtime import initialize
    from receipts.deployment.settings import Settings, default_db_url

    data = tmp_path / "d"
    made = initialize(Settings(data_dir=data, db_url=default_db_url(data)), issuer="t",
                      reporting_currency="USD")
    assert len(made.book.entries) > 1000
    assert made.book.payload["source"].startswith("genai-prices ")
