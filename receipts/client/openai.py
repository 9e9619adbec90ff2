"""A receipt for every call of an ``openai.OpenAI`` or ``AsyncOpenAI`` client, wrapped once.

``wrap(OpenAI(), receipts_client)`` intercepts the client's ``post``, which every method of the
SDK goes through, so ``chat.completions.create`` / ``parse`` / ``stream``, ``responses.create``
/ ``parse`` / ``stream``, ``completions.create``, ``embeddings.create`` and their
``with_raw_response`` forms are all receipted, with OpenAI's own ``usage`` object
(``usage_format: openai``), the model OpenAI reports having billed, its ``service_tier`` and the
response id (``chatcmpl-…``, ``resp_…``) as ``provider_response_id``.

Streams: a Responses stream carries its usage in ``response.completed``. A Chat Completions
stream carries it only when asked (``stream_options.include_usage``), in one last chunk whose
``choices`` is empty; the wrapper asks for it when the caller did not, and then holds that chunk
back, since code written for a stream without it may read ``chunk.choices[0]`` of every chunk.
A caller who asked sees it as usual.

A call that fails is receipted with ``status`` ``error:<HTTP status>`` (or ``error:timeout``,
``error:connection``) and zero usage, then the SDK's exception is raised as before. A stream
closed before its end is receipted as ``incomplete`` with what usage had arrived (none, on Chat
Completions: OpenAI sends it last). Not receipted: ``with_streaming_response`` (the caller reads
the body), and Responses created with ``background=True`` (no usage until they finish).
"""

from __future__ import annotations

from typing import Any, TypeVar

import openai

from receipts.client.clients import AsyncReceiptsClient, ReceiptsClient
from receipts.client.sdk import CallFacts, Observe, OnError, OnReceipt, Recorder, install, plain
from receipts.client.sdk import wrapped as _wrapped

Client = TypeVar("Client", openai.OpenAI, openai.AsyncOpenAI)

KINDS = {"/chat/completions": "chat", "/completions": "chat", "/responses": "responses",
         "/embeddings": "embeddings"}
"""The paths that make a billed call, and how their answers are read."""

_RESPONSE_STATUS = {"completed": "ok", "incomplete": "incomplete", "failed": "error:failed",
                    "cancelled": "cancelled"}


def wrap(client: Client, receipts: ReceiptsClient | AsyncReceiptsClient, *,
         provider: str | None = None, tags: dict[str, str] | None = None,
         on_receipt: OnReceipt | None = None, on_error: OnError | None = None,
         background: bool = False) -> Client:
    """Receipt every call ``client`` makes (the same client is returned, changed in place; its
    ``with_options``/``copy`` clients are wrapped too). ``provider`` defaults to ``azure`` for
    an Azure client, else ``openai``; ``tags`` are defaults under the ``tags(...)`` in force;
    ``on_receipt`` gets each :class:`~receipts.client.Recorded`, ``on_error`` each receipts
    problem (default: a logged warning; the call itself is never failed by one);
    ``background``: the call does not wait for its receipt, a thread delivers it
    (:mod:`receipts.client.background`; :func:`receipts.client.sdk.wait_for_receipts`)."""
    if _wrapped(client):
        return client
    is_async = isinstance(client, openai.AsyncOpenAI)
    if not is_async and isinstance(receipts, AsyncReceiptsClient):
        raise TypeError("a blocking OpenAI client needs a blocking ReceiptsClient")
    azure = isinstance(client, openai.AzureOpenAI | openai.AsyncAzureOpenAI)
    recorder = Recorder(receipts, provider=provider or ("azure" if azure else "openai"),
                        usage_format="openai",
                        zero_usage={"prompt_tokens": 0, "completion_tokens": 0}, tags=tags,
                        on_receipt=on_receipt, on_error=on_error, background=background)
    install(client, recorder, _OpenAI(), is_async)
    return client


class _OpenAI:
    """How OpenAI's calls are read (:class:`receipts.client.sdk.Api`)."""

    error = openai.APIError
    stream = openai.Stream
    async_stream = openai.AsyncStream

    def start(self, path: str, kwargs: dict[str, Any]) -> tuple[CallFacts, Observe] | None:
        kind = KINDS.get(path)
        body = kwargs.get("body")
        if kind is None or not isinstance(body, dict) or body.get("background") is True:
            return None
        hidden = False
        if kind == "chat" and kwargs.get("stream"):
            options = body.get("stream_options") or {}
            if not options.get("include_usage"):
                kwargs["body"] = {**body, "stream_options": {**options, "include_usage": True}}
                hidden = True
        facts = CallFacts(model=str(body.get("model") or "unknown"))
        return facts, (_responses_event if kind == "responses" else _chat_chunk(hidden))

    def learn(self, answer: Any, facts: CallFacts) -> None:
        """A ``ChatCompletion``, ``Completion``, ``Response`` or embeddings answer."""
        if isinstance(getattr(answer, "model", None), str) and answer.model:
            facts.model = answer.model
        if isinstance(getattr(answer, "id", None), str):
            facts.provider_response_id = answer.id
        if getattr(answer, "usage", None) is not None:
            facts.usage = plain(answer.usage)
        if isinstance(getattr(answer, "service_tier", None), str):
            facts.service_tier = answer.service_tier
        status = getattr(answer, "status", None)
        if getattr(answer, "object", None) == "response" and isinstance(status, str):
            facts.status = _RESPONSE_STATUS.get(status, status[:32])


def _responses_event(event: Any, facts: CallFacts) -> bool:
    """``response.created``, ``.completed``, ``.incomplete``, ``.failed`` carry the response."""
    if getattr(event, "response", None) is not None:
        _OpenAI().learn(event.response, facts)
    return True


def _chat_chunk(hidden: bool) -> Observe:
    def observe(chunk: Any, facts: CallFacts) -> bool:
        if not facts.provider_response_id and isinstance(getattr(chunk, "id", None), str):
            facts.provider_response_id = chunk.id
        if getattr(chunk, "model", None):
            facts.model = chunk.model
        if isinstance(getattr(chunk, "service_tier", None), str):
            facts.service_tier = chunk.service_tier
        if getattr(chunk, "usage", None) is None:
            return True
        facts.usage = plain(chunk.usage)
        return not (hidden and not chunk.choices)  # the usage chunk asked for by the wrapper
    return observe
