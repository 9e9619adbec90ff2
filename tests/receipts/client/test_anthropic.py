"""``receipts.client.anthropic.wrap``: the real ``anthropic`` SDK against recorded answers (mock
transport), receipted by a real ``receipt serve``: messages, streams, errors, sync and async."""

from __future__ import annotations

import asyncio
from typing import Any

import anthropic
import anthropic._base_client
import httpx
import pytest

from receipts.client import AsyncReceiptsClient, ReceiptsClient, Recorded, tags
from receipts.client.anthropic import wrap
from receipts.errors import ReceiptsError
from tests.receipts.client import recorded
from tests.receipts.client.conftest import Service

pytestmark = pytest.mark.slow
ASK: list[Any] = [{"role": "user", "content": "Hello"}]
MODEL = "claude-sonnet-4-20250514"
HTTP = getattr(anthropic._base_client, "httpx2", httpx)
"""The SDK's HTTP package: ``httpx2`` from anthropic 2 on (it refuses ``httpx`` clients)."""


class Setup:
    """A wrapped Anthropic client on a mock LLM, and the receipts it got."""

    def __init__(self, service: Service, answer: Any = recorded.anthropic_answer,
                 is_async: bool = False) -> None:
        self.llm = recorded.MockLLM(answer, HTTP)
        self.got: list[Recorded] = []
        self.errors: list[ReceiptsError] = []
        if is_async:
            self.receipts: Any = AsyncReceiptsClient(service.url, service.key,
                                                     public_key=service.public_key)
            sdk: Any = anthropic.AsyncAnthropic(api_key="sk-ant", max_retries=0,
                                                http_client=self.llm.asyncio())
        else:
            self.receipts = ReceiptsClient(service.url, service.key,
                                           public_key=service.public_key)
            sdk = anthropic.Anthropic(api_key="sk-ant", http_client=self.llm.sync(),
                                      max_retries=0)
        self.client = wrap(sdk, self.receipts, on_receipt=self.got.append,
                           on_error=self.errors.append)

    def receipts_made(self) -> list[dict[str, Any]]:
        assert not self.errors, self.errors
        assert all(g.signed_payload and g.receipt for g in self.got)
        return [g.receipt for g in self.got if g.receipt]


def test_a_message_gets_a_receipt_with_cache_writes_split_by_ttl(service: Service) -> None:
    s = Setup(service)
    with tags(feature="chat"):
        message = s.client.messages.create(model=MODEL, max_tokens=100, messages=ASK)
    assert message.content[0].text == "Hello!"  # type: ignore[union-attr]
    [r] = s.receipts_made()
    assert r["usage"] == {"input": 48, "cache_read": 1800, "cache_write": 148,
                          "cache_write_1h": 100, "output": 503}
    assert r["provider_response_id"] == "msg_01XFDUDYJgAACzvnptvVoYEL"
    assert r["model_requested"] == MODEL  # as Anthropic reported it
    assert r["tags"]["feature"] == "chat" and r["status"] == "ok"
    s.receipts.close()


def test_streams_take_input_from_message_start_and_output_from_message_delta(
        service: Service) -> None:
    s = Setup(service)
    events = list(s.client.messages.create(model=MODEL, max_tokens=100, messages=ASK,
                                           stream=True))
    assert [e.type for e in events][-2:] == ["message_delta", "message_stop"]
    with s.client.messages.stream(model=MODEL, max_tokens=100, messages=ASK) as stream:
        assert "".join(stream.text_stream) == "Hello!"
        final = stream.get_final_message()
    assert final.usage.output_tokens == 15
    for r in s.receipts_made():
        assert r["usage"] == {"input": 25, "cache_read": 1800, "output": 15}
        assert r["provider_response_id"] == "msg_01XFDUDYJgAACzvnptvVoYEL"
    assert len(s.got) == 2
    s.receipts.close()


def test_a_stream_closed_early_keeps_the_input_it_saw(service: Service) -> None:
    s = Setup(service)
    stream = s.client.messages.create(model=MODEL, max_tokens=100, messages=ASK, stream=True)
    next(iter(stream))
    stream.close()
    [r] = s.receipts_made()
    assert r["status"] == "incomplete"
    assert r["usage"] == {"input": 25, "cache_read": 1800, "output": 1}
    s.receipts.close()


def test_an_overloaded_answer_is_receipted_and_raised(service: Service) -> None:
    s = Setup(service, lambda path, body: recorded.Fail(529, {
        "type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
    with pytest.raises(anthropic.APIStatusError):
        s.client.messages.create(model=MODEL, max_tokens=100, messages=ASK)
    [r] = s.receipts_made()
    assert r["status"] == "error:529" and sum(r["usage"].values()) == 0
    s.receipts.close()


def test_count_tokens_is_not_a_billed_call(service: Service) -> None:
    s = Setup(service, lambda path, body: {"input_tokens": 12})
    assert s.client.messages.count_tokens(model=MODEL, messages=ASK).input_tokens == 12
    assert s.got == [] and s.errors == []
    s.receipts.close()


def test_async_messages_and_streams(service: Service) -> None:
    async def run() -> Setup:
        s = Setup(service, is_async=True)
        with tags(agent_role="planner"):
            await s.client.messages.create(model=MODEL, max_tokens=100, messages=ASK)
            stream = await s.client.messages.create(model=MODEL, max_tokens=100,
                                                    messages=ASK, stream=True)
            assert [e.type async for e in stream][-1] == "message_stop"
            async with s.client.messages.stream(model=MODEL, max_tokens=100,
                                                messages=ASK) as helper:
                final = await helper.get_final_message()
            assert final.id == "msg_01XFDUDYJgAACzvnptvVoYEL"
        await s.receipts.aclose()
        return s

    s = asyncio.run(run())
    made = s.receipts_made()
    assert [sum(r["usage"].values()) for r in made] == [2599, 1840, 1840]
    assert all(r["tags"]["agent_role"] == "planner" for r in made)


def test_raw_responses_are_receipted_and_still_parse(service: Service) -> None:
    s = Setup(service)
    raw = s.client.messages.with_raw_response.create(model=MODEL, max_tokens=100, messages=ASK)
    assert raw.parse().id == "msg_01XFDUDYJgAACzvnptvVoYEL"
    [r] = s.receipts_made()
    assert r["usage"]["cache_write_1h"] == 100
    s.receipts.close()

    async def run() -> Setup:
        a = Setup(service, is_async=True)
        raw = await a.client.messages.with_raw_response.create(model=MODEL, max_tokens=100,
                                                               messages=ASK)
        assert (await raw.parse()).usage.output_tokens == 503
        await a.receipts.aclose()
        return a

    assert asyncio.run(run()).receipts_made()[0]["usage"]["output"] == 503
