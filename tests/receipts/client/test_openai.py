"""``receipts.client.openai.wrap``: the real ``openai`` SDK against recorded answers (mock
transport), receipted by a real ``receipt serve``: chat, Responses, embeddings, streams, errors,
sync and async."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from receipts.client import AsyncReceiptsClient, ReceiptsClient, Recorded, tags
from receipts.client.openai import wrap
from receipts.errors import ReceiptsError
from tests.receipts.client import recorded
from tests.receipts.client.conftest import Service

pytestmark = pytest.mark.slow
ASK = [{"role": "user", "content": "Capital of France?"}]


class Setup:
    """A wrapped OpenAI client on a mock LLM, and the receipts it got."""

    def __init__(self, service: Service, answer: Any = recorded.openai_answer,
                 is_async: bool = False) -> None:
        self.llm = recorded.MockLLM(answer)
        self.got: list[Recorded] = []
        self.errors: list[ReceiptsError] = []
        if is_async:
            self.receipts: Any = AsyncReceiptsClient(service.url, service.key,
                                                     public_key=service.public_key)
            sdk: Any = openai.AsyncOpenAI(api_key="sk-test", http_client=self.llm.asyncio(),
                                          max_retries=0)
        else:
            self.receipts = ReceiptsClient(service.url, service.key,
                                           public_key=service.public_key)
            sdk = openai.OpenAI(api_key="sk-test", http_client=self.llm.sync(), max_retries=0)
        self.client = wrap(sdk, self.receipts, on_receipt=self.got.append,
                           on_error=self.errors.append)

    def only(self) -> dict[str, Any]:
        """The one receipt (checked against the pinned key)."""
        assert not self.errors, self.errors
        [got] = self.got
        assert got.receipt is not None and got.signed_payload is not None
        assert got.signed_payload["id"] == got.receipt["id"]
        return got.receipt


@pytest.fixture
def setup(service: Service) -> Iterator[Setup]:
    s = Setup(service)
    yield s
    s.receipts.close()


def test_chat_completion_gets_a_receipt_with_openai_usage_id_and_tags(setup: Setup) -> None:
    with tags(feature="qa") as outer, tags(step="answer"):
        answer = setup.client.chat.completions.create(model="gpt-4o", messages=ASK)
    assert answer.choices[0].message.content == "Paris."
    r = setup.only()
    assert r["usage"] == {"input": 86, "cache_read": 1920, "output": 300}
    assert r["provider_response_id"] == "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG"
    assert r["model_requested"] == "gpt-4o-2024-08-06" and r["model"] == "gpt-4o"
    assert r["pricing_status"] == "priced" and r["status"] == "ok"
    assert r["tags"]["feature"] == "qa" and r["tags"]["step"] == "answer"
    assert r["tags"]["trace_id"] == outer["trace_id"] and r["tags"]["team"] == "search"
    assert isinstance(r["runtime_ms"], int) and "started_at" in r


def test_a_stream_the_caller_did_not_ask_usage_of_is_receipted_without_showing_it(
        setup: Setup) -> None:
    stream = setup.client.chat.completions.create(model="gpt-4o", messages=ASK, stream=True)
    assert isinstance(stream, openai.Stream)
    chunks = list(stream)
    assert [c.choices[0].delta.content for c in chunks] == ["", "Par", "is.", None]
    assert all(c.usage is None for c in chunks)  # the usage chunk was held back
    assert setup.llm.requests[0][1]["stream_options"] == {"include_usage": True}
    r = setup.only()
    assert r["usage"] == {"input": 176, "cache_read": 1024, "output": 3}
    assert r["provider_response_id"] == "chatcmpl-C1stream0000000000000000000"


def test_a_caller_who_asked_for_usage_sees_the_usage_chunk(setup: Setup) -> None:
    chunks = list(setup.client.chat.completions.create(
        model="gpt-4o", messages=ASK, stream=True, stream_options={"include_usage": True}))
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == 1200
    assert setup.only()["usage"]["output"] == 3


def test_the_stream_helper_and_with_options_clients_are_receipted(setup: Setup) -> None:
    with setup.client.with_options(timeout=30).chat.completions.stream(
            model="gpt-4o", messages=ASK) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "Paris."
    assert setup.only()["usage"]["cache_read"] == 1024
    assert wrap(setup.client, setup.receipts) is setup.client  # wrapping twice: still once
    setup.client.chat.completions.create(model="gpt-4o", messages=ASK)
    assert len(setup.got) == 2


def test_a_stream_closed_early_is_receipted_as_incomplete(setup: Setup) -> None:
    stream = setup.client.chat.completions.create(model="gpt-4o", messages=ASK, stream=True)
    next(iter(stream))
    stream.close()
    r = setup.only()
    assert r["status"] == "incomplete" and sum(r["usage"].values()) == 0


def test_responses_and_embeddings_are_receipted(setup: Setup) -> None:
    response = setup.client.responses.create(model="o3", input="6 x 7?")
    assert response.output_text == "42"
    setup.client.embeddings.create(model="text-embedding-3-small", input="hello")
    with setup.client.responses.stream(model="o3", input="6 x 7?") as stream:
        streamed = stream.get_final_response()
    assert streamed.usage is not None and streamed.usage.output_tokens == 1300
    assert not setup.errors, setup.errors
    first, embedding, third = (g.receipt for g in setup.got)
    assert first and embedding and third
    for r in (first, third):
        assert r["usage"] == {"input": 86, "cache_read": 1920, "output": 1300}
        assert r["usage_detail"] == {"reasoning": 1024}
        assert r["provider_response_id"] == recorded.RESPONSE["id"]
    assert embedding["usage"] == {"input": 8} and "provider_response_id" not in embedding


@pytest.mark.parametrize(("status", "expected"), [(429, "error:429"), (500, "error:500")])
def test_a_failed_call_is_receipted_with_its_status_and_raised(service: Service, status: int,
                                                               expected: str) -> None:
    s = Setup(service, lambda path, body: recorded.Fail(
        status, {"error": {"message": "slow down", "type": "rate_limit"}}))
    with pytest.raises(openai.APIStatusError):
        s.client.chat.completions.create(model="gpt-4o", messages=ASK)
    r = s.only()
    assert r["status"] == expected and sum(r["usage"].values()) == 0
    assert r["model_requested"] == "gpt-4o"
    s.receipts.close()


def test_a_connection_failure_is_receipted(service: Service) -> None:
    s = Setup(service, lambda path, body: recorded.Fail(0, {}))
    with pytest.raises(openai.APIConnectionError):
        s.client.embeddings.create(model="text-embedding-3-small", input="x")
    assert s.only()["status"] == "error:connection"
    s.receipts.close()


def test_a_receipts_problem_never_fails_the_call(service: Service) -> None:
    s = Setup(service)
    s.receipts.headers["Authorization"] = "Bearer not-a-key"
    answer = s.client.chat.completions.create(model="gpt-4o", messages=ASK)
    assert answer.id == recorded.CHAT["id"] and s.got == []
    [error] = s.errors
    assert "401" in str(error)
    s.receipts.close()


def test_async_client_chat_stream_and_responses(service: Service) -> None:
    async def run() -> Setup:
        s = Setup(service, is_async=True)
        with tags(feature="async"):
            await s.client.chat.completions.create(model="gpt-4o", messages=ASK)
            stream = await s.client.chat.completions.create(model="gpt-4o", messages=ASK,
                                                            stream=True)
            contents = [c.choices[0].delta.content async for c in stream]
            assert contents == ["", "Par", "is.", None]
            events = await s.client.responses.create(model="o3", input="?", stream=True)
            assert [e.type async for e in events][-1] == "response.completed"
        await s.receipts.aclose()
        return s

    s = asyncio.run(run())
    assert not s.errors, s.errors
    usage = [g.receipt["usage"] for g in s.got if g.receipt]
    assert usage == [{"input": 86, "cache_read": 1920, "output": 300},
                     {"input": 176, "cache_read": 1024, "output": 3},
                     {"input": 86, "cache_read": 1920, "output": 1300}]
    assert all(g.receipt and g.receipt["tags"]["feature"] == "async" for g in s.got)


def test_async_client_with_a_blocking_receipts_client_and_a_failure(service: Service) -> None:
    async def run() -> Setup:
        s = Setup(service, lambda p, b: recorded.Fail(503, {"error": {"message": "x"}}))
        s.client = wrap(openai.AsyncOpenAI(api_key="sk", http_client=s.llm.asyncio(),
                                           max_retries=0),
                        s.receipts, on_receipt=s.got.append, on_error=s.errors.append)
        with pytest.raises(openai.InternalServerError):
            await s.client.chat.completions.create(model="gpt-4o", messages=ASK)
        return s

    s = asyncio.run(run())
    assert s.only()["status"] == "error:503"
    s.receipts.close()


def test_background_delivery_keeps_order_and_the_calls_tags(service: Service) -> None:
    from receipts.client.sdk import wait_for_receipts

    s = Setup(service)
    client = wrap(openai.OpenAI(api_key="sk", http_client=s.llm.sync(), max_retries=0),
                  s.receipts, on_receipt=s.got.append, on_error=s.errors.append,
                  background=True)
    for n in range(5):
        with tags(step=str(n)):
            client.with_options(timeout=9).chat.completions.create(model="gpt-4o",
                                                                   messages=ASK)
    wait_for_receipts(client)
    assert not s.errors and [g.receipt["tags"]["step"] for g in s.got if g.receipt] == \
        ["0", "1", "2", "3", "4"]
    import threading

    assert sum(t.name == "receipts-delivery" for t in threading.enumerate()) >= 1
    s.receipts.close()


def test_raw_responses_are_receipted_and_still_parse(setup: Setup) -> None:
    raw = setup.client.chat.completions.with_raw_response.create(model="gpt-4o", messages=ASK)
    assert raw.parse().id == recorded.CHAT["id"]
    assert setup.only()["usage"]["cache_read"] == 1920
