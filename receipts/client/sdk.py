"""What the OpenAI and Anthropic wrappers share: one receipt per provider call, never in the way.

A wrapper (:mod:`receipts.client.openai`, :mod:`receipts.client.anthropic`) intercepts the SDK
client's ``post`` (the one method every call of the SDK goes through, ``create``, ``parse`` and
the ``stream`` helpers alike), lets the call run, and hands this module the facts of the call:
the provider's own usage object and the format it is in, the billed model, the provider's id of
the response, how the call ended. :class:`Recorder` turns them into ``record`` with the timing
of the call and the tags in force.

The agent's call comes first: a receipts problem (the service refusing a call, a receipt that
does not verify, the service unreachable without a spool) is reported to ``on_error`` (by
default a warning on the ``receipts.client`` logger), never raised into the agent's code, and
the provider's answer or error reaches the caller unchanged.

Streams are observed in place: the SDK's own ``Stream`` object is returned, with its iterator
replaced by one that passes every event on (or holds back the usage-only chunk a wrapper asked
for on the caller's behalf) and records the call when the stream ends, fails, or is closed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from receipts.client.background import Background
from receipts.client.clients import AsyncReceiptsClient, ReceiptsClient
from receipts.client.context import current_tags
from receipts.client.wire import Recorded
from receipts.errors import ClientError, ReceiptsError

_log = logging.getLogger("receipts.client")

OnReceipt = Callable[[Recorded], None]
OnError = Callable[[ReceiptsError], None]


def warn(error: ReceiptsError) -> None:
    """The default ``on_error``: a warning, and the agent carries on."""
    _log.warning("no receipt for an LLM call: %s", error)


@dataclass
class CallFacts:
    """What a wrapper learnt about one provider call (filled in as a stream goes by)."""

    model: str
    usage: dict[str, Any] | None = None
    status: str = "ok"
    provider_response_id: str | None = None
    service_tier: str | None = None
    started: float = field(default_factory=time.monotonic)
    started_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(
        timespec="milliseconds").replace("+00:00", "Z"))
    provider: str | None = None
    """Set where one recorder serves several providers (a gateway); else the recorder's."""
    usage_format: str | None = None
    """Set where the call's usage is not in the recorder's format."""
    request_id: str | None = None
    """The call's own id where the caller has one (a gateway's call id), else a new one: the
    same call recorded twice is then one receipt."""
    tags: dict[str, str] = field(default_factory=dict)
    """The call's own tags (they win over the recorder's and the context's)."""
    runtime_ms: int | None = None
    """As measured by the caller, else from ``started``."""


def failure_status(error: BaseException) -> str:
    """A failed call's ``status``: ``error:<HTTP status>`` when the provider answered, else
    ``error:timeout`` or ``error:connection`` (the SDKs' exception names say which)."""
    code = getattr(error, "status_code", None)
    if isinstance(code, int):
        return f"error:{code}"
    name = type(error).__name__
    if "Timeout" in name:
        return "error:timeout"
    if "Connection" in name:
        return "error:connection"
    return f"error:{name}"[:32]


def plain(value: Any) -> Any:
    """An SDK model (pydantic) or mapping as plain JSON values, nulls left out (the service
    reads an absent count and a null one alike)."""
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _as_receipts_error(error: Exception) -> ReceiptsError:
    if isinstance(error, ReceiptsError):
        return error
    wrapped = ClientError(f"{type(error).__name__}: {error}")
    wrapped.__cause__ = error
    return wrapped


class Recorder:
    """Records calls for one wrapped SDK client (``receipts`` sync or async)."""

    def __init__(self, receipts: ReceiptsClient | AsyncReceiptsClient, *, provider: str,
                 usage_format: str, zero_usage: dict[str, int], tags: dict[str, str] | None,
                 on_receipt: OnReceipt | None, on_error: OnError | None,
                 background: bool = False) -> None:
        self.receipts = receipts
        self.background = Background(receipts) if background else None
        self.provider = provider
        self.usage_format = usage_format
        self.zero_usage = zero_usage
        self.tags = dict(tags or {})
        self.on_receipt = on_receipt
        self.on_error = on_error or warn

    def _arguments(self, facts: CallFacts) -> dict[str, Any]:
        runtime_ms = facts.runtime_ms if facts.runtime_ms is not None \
            else int((time.monotonic() - facts.started) * 1000)
        return {"provider": facts.provider or self.provider, "model": facts.model,
                "usage": facts.usage if facts.usage is not None else dict(self.zero_usage),
                "usage_format": facts.usage_format or self.usage_format,
                "status": facts.status, "tags": {**self.tags, **current_tags(), **facts.tags},
                "request_id": facts.request_id, "runtime_ms": runtime_ms,
                "started_at": facts.started_at, "service_tier": facts.service_tier,
                "provider_response_id": facts.provider_response_id}

    def _done(self, got: Recorded) -> None:
        if self.on_receipt is not None:
            self.on_receipt(got)

    def _failed(self, error: Exception) -> None:
        self.on_error(_as_receipts_error(error))

    def record(self, facts: CallFacts) -> None:
        """Record from blocking code."""
        if self.background is not None:
            self.background.submit(self._arguments(facts), self._done, self._failed)
            return
        if not isinstance(self.receipts, ReceiptsClient):
            raise TypeError("a blocking SDK client needs a blocking ReceiptsClient")
        try:
            self._done(self.receipts.record(**self._arguments(facts)))
        except Exception as e:  # (the agent's call comes first, whatever went wrong here)
            self.on_error(_as_receipts_error(e))

    async def arecord(self, facts: CallFacts) -> None:
        """Record from a coroutine (a blocking ReceiptsClient runs in a thread)."""
        arguments = self._arguments(facts)
        if self.background is not None:
            self.background.submit(arguments, self._done, self._failed)
            return
        try:
            if isinstance(self.receipts, AsyncReceiptsClient):
                got = await self.receipts.record(**arguments)
            else:
                got = await asyncio.to_thread(self.receipts.record, **arguments)
            self._done(got)
        except Exception as e:
            self.on_error(_as_receipts_error(e))


Observe = Callable[[Any, CallFacts], bool]
"""Called with each stream event: learn from it; False holds the event back from the caller."""


def observe_stream(stream: Any, facts: CallFacts, observe: Observe,
                   finish: Callable[[CallFacts], None]) -> Any:
    """Make the SDK ``Stream`` record the call once: at its end, its failure or its close."""
    inner: Iterator[Any] = stream._iterator
    done = False

    def settle(status: str | None) -> None:
        nonlocal done
        if not done:
            done = True
            if status is not None:
                facts.status = status
            finish(facts)

    def events() -> Generator[Any, None, None]:
        status: str | None = "incomplete"
        try:
            for event in inner:
                if observe(event, facts):
                    yield event
            status = None
        except Exception as e:
            status = failure_status(e)
            raise
        finally:
            settle(status)

    wrapped = events()
    stream._iterator = wrapped
    original_close = stream.close

    def close() -> None:
        original_close()
        wrapped.close()
        settle("incomplete")  # (a stream closed before its first event)

    stream.close = close
    return stream


def observe_async_stream(stream: Any, facts: CallFacts, observe: Observe,
                         finish: Callable[[CallFacts], Any]) -> Any:
    """As :func:`observe_stream`, for the SDK's ``AsyncStream`` (``finish`` is awaited)."""
    inner: AsyncIterator[Any] = stream._iterator
    done = False

    async def settle(status: str | None) -> None:
        nonlocal done
        if not done:
            done = True
            if status is not None:
                facts.status = status
            await finish(facts)

    async def events() -> AsyncGenerator[Any, None]:
        status: str | None = "incomplete"
        try:
            async for event in inner:
                if observe(event, facts):
                    yield event
            status = None
        except Exception as e:
            status = failure_status(e)
            raise
        finally:
            await settle(status)

    wrapped = events()
    stream._iterator = wrapped
    original_close = stream.close

    async def close() -> None:
        await original_close()
        await wrapped.aclose()
        await settle("incomplete")

    stream.close = close
    return stream


class Api(Protocol):
    """How one SDK's calls are read (:mod:`receipts.client.openai`, ``.anthropic``)."""

    @property
    def error(self) -> type[Exception]:
        """The SDK's error base: a call that raised it was made and failed."""

    @property
    def stream(self) -> type[Any]:
        """The SDK's ``Stream`` class."""

    @property
    def async_stream(self) -> type[Any]:
        """The SDK's ``AsyncStream`` class."""

    def start(self, path: str, kwargs: dict[str, Any]) -> tuple[CallFacts, Observe] | None:
        """The facts known before the call and how its stream is read, or None for a path
        that makes no billed call; may change ``kwargs`` (e.g. ask for usage in a stream)."""

    def learn(self, answer: Any, facts: CallFacts) -> None:
        """What a complete (non-stream) answer says."""


RAW_HEADER = "X-Stainless-Raw-Response"
"""How both SDKs mark ``with_raw_response`` (``true`` in OpenAI's, ``raw`` in Anthropic's) and
``with_streaming_response`` (``stream``) calls: the first is parsed here (the SDK caches what it
parsed, so the caller's ``parse()`` gets the same object), the second is left to the caller."""
RAW_MODES = frozenset({"true", "raw"})


def _raw_mode(kwargs: dict[str, Any]) -> str | None:
    headers = (kwargs.get("options") or {}).get("headers") or {}
    value = headers.get(RAW_HEADER)
    return value if isinstance(value, str) else None


def sync_post(original: Callable[..., Any], recorder: Recorder, api: Api) -> Callable[..., Any]:
    """The SDK client's ``post``, receipting each billed call."""
    def post(path: str, *args: Any, **kwargs: Any) -> Any:
        started = api.start(path, kwargs) if _raw_mode(kwargs) != "stream" else None
        if started is None:
            return original(path, *args, **kwargs)
        facts, observe = started
        try:
            result = original(path, *args, **kwargs)
        except api.error as e:
            facts.status = failure_status(e)
            recorder.record(facts)
            raise
        answer = result.parse() if _raw_mode(kwargs) in RAW_MODES else result
        if isinstance(answer, api.stream):
            observe_stream(answer, facts, observe, recorder.record)
        else:
            api.learn(answer, facts)
            recorder.record(facts)
        return result
    return post


def async_post(original: Callable[..., Any], recorder: Recorder, api: Api,
               ) -> Callable[..., Any]:
    """As :func:`sync_post`, for the SDK's async client."""
    async def post(path: str, *args: Any, **kwargs: Any) -> Any:
        started = api.start(path, kwargs) if _raw_mode(kwargs) != "stream" else None
        if started is None:
            return await original(path, *args, **kwargs)
        facts, observe = started
        try:
            result = await original(path, *args, **kwargs)
        except api.error as e:
            facts.status = failure_status(e)
            await recorder.arecord(facts)
            raise
        answer = result
        if _raw_mode(kwargs) in RAW_MODES:
            answer = result.parse()
            if inspect.isawaitable(answer):
                answer = await answer
        if isinstance(answer, api.async_stream):
            observe_async_stream(answer, facts, observe, recorder.arecord)
        else:
            api.learn(answer, facts)
            await recorder.arecord(facts)
        return result
    return post


def install(client: Any, recorder: Recorder, api: Api, is_async: bool) -> None:
    """Put the receipting ``post`` on ``client`` and on its resources already made (each keeps
    the ``post`` it was made with); the clients ``with_options``/``copy`` make share the same
    recorder (and its delivery thread)."""
    original = client.post
    post = (async_post if is_async else sync_post)(original, recorder, api)
    client.post = post
    seen: set[int] = set()
    todo = [client]
    while todo:
        for value in list(vars(todo.pop()).values()):
            if id(value) in seen or getattr(value, "_client", None) is not client:
                continue
            seen.add(id(value))
            if hasattr(value, "_post"):
                value._post = post
            todo.append(value)
    copy = client.copy

    def copied(*args: Any, **kwargs: Any) -> Any:
        made = copy(*args, **kwargs)
        install(made, recorder, api, is_async)
        return made

    client.copy = client.with_options = copied
    client._receipts_recorder = recorder


def wrapped(client: Any) -> bool:
    """True if ``client`` is already wrapped (wrapping twice would receipt each call twice)."""
    return getattr(client, "_receipts_recorder", None) is not None


def wait_for_receipts(client: Any) -> None:
    """Until the receipts of every call ``client`` made so far are delivered (a no-op unless
    it was wrapped with ``background=True``)."""
    recorder: Recorder | None = getattr(client, "_receipts_recorder", None)
    if recorder is not None and recorder.background is not None:
        recorder.background.wait()
