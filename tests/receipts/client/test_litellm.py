"""``receipts.client.litellm.ReceiptsLogger``: the real ``litellm`` package (its mock responses,
or the OpenAI provider on a mock transport), ``litellm.completion``, ``acompletion`` and the
proxy's ``Router``, receipted by a real ``receipt serve``; nothing leaves the machine."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import litellm
import openai
import pytest
from litellm.exceptions import InternalServerError, RateLimitError

from receipts.client import AsyncReceiptsClient, tags
from receipts.client.litellm import ReceiptsLogger
from tests.receipts.client import recorded
from tests.receipts.client.conftest import Service
from tests.receipts.client.litellm_setup import ASK, CHAT_USAGE, Keeping, Setup, kept

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("loopback_only"),
              # LiteLLM's own warnings about its own types:
              pytest.mark.filterwarnings("ignore:.*ReadOnly. qualifier:UserWarning"),
              pytest.mark.filterwarnings("ignore:Pydantic serializer warnings:UserWarning"),
              pytest.mark.filterwarnings("ignore:Accessing the 'model_:DeprecationWarning")]


def test_completion_gets_one_receipt_with_litellm_usage_ids_and_tags(
        installed: Callable[..., Setup]) -> None:
    s = installed()
    with tags(feature="qa") as outer:
        answer = litellm.completion(
            model="gpt-4o", messages=ASK, mock_response=dict(recorded.CHAT), user="cust-1",
            metadata={"step": "answer", "Not A Tag": "x", "tags": ["env:ci", "plain"],
                      "spend_logs_metadata": {"ticket": 42}})
    assert answer.choices[0].message.content == "Paris."
    [r] = s.wait(1)
    assert r["request_id"] == f"litellm:{answer._hidden_params['litellm_call_id']}"
    assert r["usage"] == CHAT_USAGE and r["status"] == "ok" and r["provider"] == "openai"
    assert r["provider_response_id"] == recorded.CHAT["id"]
    assert r["model_requested"] == "gpt-4o-2024-08-06" and r["pricing_status"] == "priced"
    assert {k: r["tags"][k] for k in ("feature", "step", "env", "ticket", "end_user", "run")} \
        == {"feature": "qa", "step": "answer", "env": "ci", "ticket": "42",
            "end_user": "cust-1", "run": s.run}
    assert r["tags"]["trace_id"] == outer["trace_id"] and r["tags"]["team"] == "search"
    assert not {"plain", "Not A Tag", "hidden_params", "tags"} & set(r["tags"])
    assert isinstance(r["runtime_ms"], int) and "started_at" in r
    assert len(s.ledger()) == 1


def test_the_same_call_id_twice_is_never_a_second_charge(installed: Callable[..., Setup],
                                                         service: Service) -> None:
    s = installed(cls=Keeping)
    seen = kept(s)
    call_id = str(uuid.uuid4())
    litellm.completion(model="gpt-4o", messages=ASK, mock_response=dict(recorded.CHAT),
                       litellm_call_id=call_id)
    [first] = s.wait(1)
    s.logger.log_success_event(*seen[0])  # the same event again: not sent twice
    assert len(s.got) == 1 and not s.errors
    other = ReceiptsLogger(s.receipts, on_receipt=s.got.append, on_error=s.errors.append,
                           tags={"run": s.run})
    other.log_success_event(*seen[0])  # another process with the same event: a replay
    assert len(s.got) == 2 and s.got[1].replay and s.got[1].receipt == first
    # another call under the same id (a caller reusing it) is refused, not charged
    litellm.completion(model="gpt-4o", messages=ASK, mock_response="Lyon.",
                       litellm_call_id=call_id)
    deadline = time.monotonic() + 20
    while not s.errors and time.monotonic() < deadline:
        time.sleep(0.02)
    [refused] = s.errors
    assert "409" in str(refused)
    [only] = s.ledger()
    assert only["request_id"] == f"litellm:{call_id}" and only["usage"] == CHAT_USAGE


def test_embeddings_responses_text_completions_and_anthropic_messages_are_receipted(
        installed: Callable[..., Setup]) -> None:
    s = installed()
    litellm.embedding(model="text-embedding-3-small", input=["hi"], mock_response=[0.1, 0.2])
    s.wait(1)
    litellm.responses(model="openai/o3", input="6 x 7?", mock_response="42")
    s.wait(2)
    litellm.text_completion(model="gpt-3.5-turbo-instruct", prompt="hi", mock_response="x")
    s.wait(3)

    async def message() -> None:  # the Anthropic messages route (LiteLLM's usage, OpenAI's shape)
        await litellm.anthropic.messages.acreate(
            model="anthropic/claude-sonnet-4-5", max_tokens=10, messages=ASK,
            mock_response="Paris.", api_key="sk-ant-test")
        await s.await_receipts(4)

    asyncio.run(message())
    embedding, responses, text, anthropic = s.wait(4)
    assert anthropic["provider"] == "anthropic" and anthropic["usage"] == {
        "input": 2095, "output": 503}
    assert embedding["usage"] == {"input": 10} and embedding["provider"] == "openai"
    assert responses["usage"]["output"] > 0 and responses["status"] == "ok"
    assert text["usage"] == {"input": 10, "output": 20}
    assert len({r["request_id"] for r in (embedding, responses, text)}) == 3


def test_a_failed_completion_is_receipted_with_its_status(
        installed: Callable[..., Setup]) -> None:
    s = installed()
    with pytest.raises(RateLimitError):
        litellm.completion(model="gpt-4o", messages=ASK, mock_response=RateLimitError(
            "slow down", llm_provider="openai", model="gpt-4o"))
    [r] = s.wait(1)
    assert r["status"] == "error:429" and sum(r["usage"].values()) == 0
    assert r["model_requested"] == "gpt-4o" and r["request_id"].startswith("litellm:")


def test_acompletion_with_an_async_client_success_failure_and_stream(
        service: Service, installed: Callable[..., Setup]) -> None:
    async def run() -> Setup:
        s = installed(AsyncReceiptsClient(service.url, service.key,
                                          public_key=service.public_key))
        with tags(feature="async"):
            await litellm.acompletion(model="gpt-4o", messages=ASK,
                                      mock_response=dict(recorded.CHAT))
            with pytest.raises(InternalServerError):
                await litellm.acompletion(
                    model="gpt-4o", messages=ASK, mock_response=InternalServerError(
                        "down", llm_provider="openai", model="gpt-4o"))
            stream = await litellm.acompletion(model="gpt-4o", messages=ASK, stream=True,
                                               mock_response="Paris is in France.")
            text = "".join([c.choices[0].delta.content or "" async for c in stream])
            assert text == "Paris is in France."
            await s.await_receipts(3)
        await s.receipts.aclose()
        return s

    s = asyncio.run(run())
    found = s.wait(3)  # (in the order LiteLLM's tasks delivered them)
    [ok] = [r for r in found if r.get("provider_response_id") == recorded.CHAT["id"]]
    [failed] = [r for r in found if r["status"] != "ok"]
    [streamed] = [r for r in found if r is not ok and r is not failed]
    assert ok["usage"] == CHAT_USAGE and failed["status"] == "error:500"
    assert streamed["status"] == "ok" and streamed["usage"]["output"] > 0
    assert all(r["tags"]["feature"] == "async" for r in (ok, failed, streamed))
    assert len({r["request_id"] for r in (ok, failed, streamed)}) == 3


def test_sync_calls_with_an_async_client_and_background_delivery(
        service: Service, installed: Callable[..., Setup]) -> None:
    """LiteLLM's sync hooks have no event loop: an async client's blocking twin delivers; with
    ``background=True`` the logger's own thread does."""
    areceipts = AsyncReceiptsClient(service.url, service.key, public_key=service.public_key)
    s = installed(areceipts)
    litellm.completion(model="gpt-4o", messages=ASK, mock_response=dict(recorded.CHAT))
    [r] = s.wait(1)
    assert r["usage"] == CHAT_USAGE
    behind = installed(background=True)
    for n in range(3):
        with tags(step=str(n)):
            litellm.completion(model="gpt-4o", messages=ASK, mock_response=dict(recorded.CHAT))
    found = behind.wait(3)
    assert sorted(r["tags"]["step"] for r in found) == ["0", "1", "2"]
    assert behind.logger.recorder.background is not None
    asyncio.run(areceipts.aclose())


def test_a_stream_is_receipted_with_the_providers_own_usage(
        installed: Callable[..., Setup]) -> None:
    """The OpenAI provider of LiteLLM on a mock transport: the usage is the last chunk's. (LiteLLM
    ends a sync stream on a thread of its own: the caller's tags still apply.)"""
    s = installed()
    llm = recorded.MockLLM(recorded.openai_answer)
    client = openai.OpenAI(api_key="sk-test", http_client=llm.sync(), max_retries=0)
    with tags(feature="stream"):
        stream = litellm.completion(model="openai/gpt-4o", messages=ASK, client=client,
                                    api_key="sk-test", stream=True,
                                    stream_options={"include_usage": True})
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "Paris."
    [r] = s.wait(1)
    assert r["tags"]["feature"] == "stream"
    assert llm.requests[0][1]["stream_options"] == {"include_usage": True}
    assert r["usage"] == {"input": 176, "cache_read": 1024, "output": 3}
    assert r["provider_response_id"] == "chatcmpl-C1stream0000000000000000000"
