"""A receipt for every message of an ``anthropic.Anthropic`` or ``AsyncAnthropic`` client.

``wrap(Anthropic(), receipts_client)`` intercepts the client's ``post``, so ``messages.create``
(streamed or not), ``messages.stream``, ``messages.parse``, the beta messages and their
``with_raw_response`` forms are receipted with Anthropic's own ``usage`` object
(``usage_format: anthropic``: cache reads and 5-minute / 1-hour writes apart, the service tier
inside), the model Anthropic reports and the message id (``msg_…``) as
``provider_response_id``.

Streams: ``message_start`` carries the input counts and ``message_delta`` the output count (its
counts are cumulative: the last one wins); the call is receipted when the stream ends. A stream
closed early is receipted as ``incomplete`` with the counts seen so far; a failed call as
``error:<HTTP status>`` (or ``error:timeout``, ``error:connection``) with zero usage, and the
SDK's exception is raised as before. ``with_streaming_response`` is left to the caller.
"""

from __future__ import annotations

from typing import Any, TypeVar

import anthropic

from receipts.client.clients import AsyncReceiptsClient, ReceiptsClient
from receipts.client.sdk import CallFacts, OnError, OnReceipt, Recorder, install, plain
from receipts.client.sdk import wrapped as _wrapped

Client = TypeVar("Client", anthropic.Anthropic, anthropic.AsyncAnthropic)

MESSAGES = "/v1/messages"


def wrap(client: Client, receipts: ReceiptsClient | AsyncReceiptsClient, *,
         provider: str = "anthropic", tags: dict[str, str] | None = None,
         on_receipt: OnReceipt | None = None, on_error: OnError | None = None,
         background: bool = False) -> Client:
    """Receipt every message ``client`` makes; as :func:`receipts.client.openai.wrap`."""
    if _wrapped(client):
        return client
    is_async = isinstance(client, anthropic.AsyncAnthropic)
    if not is_async and isinstance(receipts, AsyncReceiptsClient):
        raise TypeError("a blocking Anthropic client needs a blocking ReceiptsClient")
    recorder = Recorder(receipts, provider=provider, usage_format="anthropic",
                        zero_usage={"input_tokens": 0, "output_tokens": 0}, tags=tags,
                        on_receipt=on_receipt, on_error=on_error, background=background)
    install(client, recorder, _Anthropic(), is_async)
    return client


class _Anthropic:
    """How Anthropic's calls are read (:class:`receipts.client.sdk.Api`)."""

    error = anthropic.APIError
    stream = anthropic.Stream
    async_stream = anthropic.AsyncStream

    def start(self, path: str, kwargs: dict[str, Any]) -> tuple[CallFacts, Any] | None:
        body = kwargs.get("body")
        if path != MESSAGES or not isinstance(body, dict):
            return None
        return CallFacts(model=str(body.get("model") or "unknown")), _event

    def learn(self, answer: Any, facts: CallFacts) -> None:
        """A ``Message``."""
        if isinstance(getattr(answer, "model", None), str) and answer.model:
            facts.model = answer.model
        if isinstance(getattr(answer, "id", None), str):
            facts.provider_response_id = answer.id
        if getattr(answer, "usage", None) is not None:
            facts.usage = plain(answer.usage)


def _event(event: Any, facts: CallFacts) -> bool:
    kind = getattr(event, "type", None)
    if kind == "message_start":
        _Anthropic().learn(event.message, facts)
    elif kind == "message_delta" and getattr(event, "usage", None) is not None:
        facts.usage = {**(facts.usage or {}), **plain(event.usage)}
    return True
