"""Provider answers as the OpenAI and Anthropic APIs send them (bodies and server-sent event
streams, field for field; ids and counts invented), and a mock LLM that serves them to the real
SDKs through ``httpx.MockTransport``, recording each request."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

CHAT = {
    "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", "object": "chat.completion",
    "created": 1755166863, "model": "gpt-4o-2024-08-06", "service_tier": "default",
    "system_fingerprint": "fp_44709d6fcb",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris.",
                                         "refusal": None, "annotations": []},
                 "logprobs": None, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
              "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
              "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                            "accepted_prediction_tokens": 0,
                                            "rejected_prediction_tokens": 0}},
}


def chat_chunks(with_usage: bool) -> list[dict[str, Any]]:
    """A streamed chat completion; with ``include_usage`` every chunk has ``usage: null`` and
    a last chunk with empty ``choices`` has the usage."""
    base = {"id": "chatcmpl-C1stream0000000000000000000", "object": "chat.completion.chunk",
            "created": 1755166900, "model": "gpt-4o-2024-08-06", "service_tier": "default",
            "system_fingerprint": "fp_44709d6fcb"}
    deltas = [{"role": "assistant", "content": "", "refusal": None}, {"content": "Par"},
              {"content": "is."}, {}]
    chunks = [{**base, "choices": [{"index": 0, "delta": d, "logprobs": None,
                                    "finish_reason": "stop" if not d else None}]}
              for d in deltas]
    if with_usage:
        for chunk in chunks:
            chunk["usage"] = None
        chunks.append({**base, "choices": [], "usage": {
            "prompt_tokens": 1200, "completion_tokens": 3, "total_tokens": 1203,
            "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0,
                                          "rejected_prediction_tokens": 0}}})
    return chunks


RESPONSE = {
    "id": "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b", "object": "response",
    "created_at": 1755166863, "status": "completed", "model": "o3-2025-04-16",
    "service_tier": "default", "output": [
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
         "content": [{"type": "output_text", "text": "42", "annotations": []}]}],
    "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
    "usage": {"input_tokens": 2006, "input_tokens_details": {"cached_tokens": 1920},
              "output_tokens": 1300, "output_tokens_details": {"reasoning_tokens": 1024},
              "total_tokens": 3306},
}


def response_events() -> list[tuple[str, dict[str, Any]]]:
    """A streamed Responses call: output items built up event by event, then the usage in
    ``response.completed``."""
    created = {**RESPONSE, "status": "in_progress", "output": [], "usage": None}
    reasoning, message = RESPONSE["output"]
    empty = {**message, "status": "in_progress", "content": []}
    part = {"type": "output_text", "text": "", "annotations": []}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": created},
        {"type": "response.in_progress", "response": created},
        {"type": "response.output_item.added", "output_index": 0, "item": reasoning},
        {"type": "response.output_item.done", "output_index": 0, "item": reasoning},
        {"type": "response.output_item.added", "output_index": 1, "item": empty},
        {"type": "response.content_part.added", "item_id": "msg_1", "output_index": 1,
         "content_index": 0, "part": part},
        {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 1,
         "content_index": 0, "delta": "42", "logprobs": []},
        {"type": "response.output_text.done", "item_id": "msg_1", "output_index": 1,
         "content_index": 0, "text": "42", "logprobs": []},
        {"type": "response.content_part.done", "item_id": "msg_1", "output_index": 1,
         "content_index": 0, "part": {**part, "text": "42"}},
        {"type": "response.output_item.done", "output_index": 1, "item": message},
        {"type": "response.completed", "response": RESPONSE},
    ]
    return [(e["type"], {**e, "sequence_number": n}) for n, e in enumerate(events)]


EMBEDDINGS = {
    "object": "list", "model": "text-embedding-3-small",
    "data": [{"object": "embedding", "index": 0, "embedding": [0.0023, -0.0093, 0.0161]}],
    "usage": {"prompt_tokens": 8, "total_tokens": 8},
}

MESSAGE = {
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant",
    "model": "claude-sonnet-4-20250514",
    "content": [{"type": "text", "text": "Hello!"}],
    "stop_reason": "end_turn", "stop_sequence": None,
    "usage": {"input_tokens": 48, "cache_creation_input_tokens": 248,
              "cache_read_input_tokens": 1800,
              "cache_creation": {"ephemeral_5m_input_tokens": 148,
                                 "ephemeral_1h_input_tokens": 100},
              "output_tokens": 503, "service_tier": "standard"},
}


def message_events() -> list[tuple[str, dict[str, Any]]]:
    """A streamed message: input counts in ``message_start``, the (cumulative) output count in
    ``message_delta``."""
    start = {**MESSAGE, "content": [], "stop_reason": None,
             "usage": {"input_tokens": 25, "cache_creation_input_tokens": 0,
                       "cache_read_input_tokens": 1800, "output_tokens": 1,
                       "service_tier": "standard"}}
    return [
        ("message_start", {"type": "message_start", "message": start}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("ping", {"type": "ping"}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta", "text": "Hello"}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta", "text": "!"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta",
                           "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                           "usage": {"output_tokens": 15}}),
        ("message_stop", {"type": "message_stop"}),
    ]


def sse(events: list[tuple[str | None, dict[str, Any]]], done: bool = False) -> bytes:
    """Server-sent events as the APIs frame them."""
    out = "".join((f"event: {name}\n" if name else "") + f"data: {json.dumps(data)}\n\n"
                  for name, data in events)
    return (out + ("data: [DONE]\n\n" if done else "")).encode()


@dataclass(frozen=True)
class Fail:
    """An error answer: HTTP ``status`` with a JSON body; status 0: the connection fails."""

    status: int
    body: dict[str, Any]


class MockLLM:
    """Answers each request with ``answer(path, body)``: a JSON body, an SSE byte string or a
    :class:`Fail`; keeps every request body. Serves the SDK's own HTTP package (``openai``
    takes ``httpx`` clients, ``anthropic`` only ``httpx2`` ones)."""

    def __init__(self, answer: Callable[[str, dict[str, Any]], Any], http: Any = httpx,
                 delay: float = 0.0) -> None:
        self.answer = answer
        self.http = http
        self.delay = delay
        """Seconds each answer takes (a provider's latency), slept before answering."""
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, request: Any) -> Any:
        if self.delay:
            time.sleep(self.delay)
        return self._answer(request)

    async def _async_answer(self, request: Any) -> Any:
        if self.delay:
            await asyncio.sleep(self.delay)
        return self._answer(request)

    def _answer(self, request: Any) -> Any:
        body = json.loads(request.content or b"{}")
        self.requests.append((request.url.path, body))
        got = self.answer(request.url.path, body)
        if isinstance(got, Fail):
            if not got.status:
                raise self.http.ConnectError("connection refused", request=request)
            return self.http.Response(got.status, json=got.body)
        if isinstance(got, bytes):
            return self.http.Response(200, content=got,
                                      headers={"content-type": "text/event-stream"})
        return self.http.Response(200, json=got, headers={"request-id": "req_1"})

    def sync(self) -> Any:
        """An ``http_client=`` for the blocking SDK client."""
        return self.http.Client(transport=self.http.MockTransport(self))

    def asyncio(self) -> Any:
        """An ``http_client=`` for the async SDK client."""
        return self.http.AsyncClient(transport=self.http.MockTransport(self._async_answer))


def openai_answer(path: str, body: dict[str, Any]) -> Any:
    """What OpenAI answers on each path, streamed when asked."""
    if path.endswith("/chat/completions"):
        if not body.get("stream"):
            return CHAT
        usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return sse([(None, c) for c in chat_chunks(usage)], done=True)
    if path.endswith("/responses"):
        return sse(list(response_events())) if body.get("stream") else RESPONSE
    if path.endswith("/embeddings"):
        return EMBEDDINGS
    return Fail(404, {"error": {"message": "no such path"}})


def anthropic_answer(path: str, body: dict[str, Any]) -> Any:
    """What Anthropic answers on /v1/messages, streamed when asked."""
    if path.endswith("/v1/messages"):
        return sse(list(message_events())) if body.get("stream") else MESSAGE
    return Fail(404, {"type": "error", "error": {"type": "not_found_error",
                                                 "message": "no such path"}})
