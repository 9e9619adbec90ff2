"""A receipt for every call LiteLLM makes: a ``CustomLogger`` for the SDK and the proxy.

    import litellm
    from receipts.client import ReceiptsClient
    from receipts.client.litellm import ReceiptsLogger
    litellm.callbacks = [ReceiptsLogger(ReceiptsClient(spool="spool.sqlite"))]

or, in the proxy's ``config.yaml``, ``litellm_settings: callbacks:
receipts.client.litellm.handler``: one logger made on first use from ``$RECEIPTS_URL``,
``$RECEIPTS_AGENT_KEY``, ``$RECEIPTS_SPOOL`` and ``$RECEIPTS_PUBLIC_KEY`` (a PEM file), so a
missing key stops the proxy at start-up rather than losing receipts. An agent key belongs to
one team, and a call whose ``team`` tag names another is refused (403): a proxy serving
several teams names each team's key in ``$RECEIPTS_AGENT_KEYS``, and each call goes with its
team's key (:mod:`receipts.client.litellm_keys`, which says what happens to the others).

LiteLLM calls the logger when a call ended: ``litellm.completion`` (and ``embedding``,
``text_completion``, ``responses``) and the Router's and the proxy's ``a*`` calls alike; a
Router retry or fallback is a call of its own. The request id is ``litellm:<litellm_call_id>``
and the body is made from the event alone (times included), so the client retrying it, or
another process delivering the same event, is one receipt; a second event of a call this logger
already recorded (LiteLLM reports ``text_completion`` twice) is not sent.

What the receipt holds: LiteLLM's usage object (OpenAI's shape whatever the provider, so
``usage_format: openai``; the cache split LiteLLM reports in Anthropic's names goes into
``prompt_tokens_details``, as the spend log importer reads it; an Anthropic usage object,
should one come through, goes as ``anthropic``), the provider (``custom_llm_provider``) and
the model it answered with, the provider's response id and service tier, LiteLLM's start and
end times.

Tags, later ones winning: the logger's own; the ``tags(...)`` in force where the call was made
(kept by the pre-call hook: LiteLLM ends a sync stream on a thread of its own); the request's
metadata (in the proxy the metadata the client sent; in the SDK the ``metadata=`` given,
LiteLLM's own keys left out); the spend log rules (:func:`receipts.logs.litellm.spend_log_tags`:
``team``, ``end_user``, ``key:value`` request tags, ``spend_logs_metadata``); ``key_alias`` and
``user`` (the key's alias and user id). Names a tag cannot have, and metadata past the 32 tags a
receipt holds, are left out (logged at debug level), never the receipt.

A failed call is receipted with ``status`` ``error:<HTTP status>`` and zero usage, as the SDK
wrappers do. Not receipted: answers from LiteLLM's own response cache (no provider call was
made) and calls with no usage object (image, audio, rerank routes). Streams are receipted with
the usage LiteLLM put together; ask the provider for it (``stream_options={"include_usage":
True}``, which the proxy adds by itself) or LiteLLM counts the tokens itself.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping, Set
from typing import Any

from litellm.integrations.custom_logger import CustomLogger
from litellm.litellm_core_utils.get_llm_provider_logic import get_llm_provider

from receipts.api.tag_keys import TAG_COUNT_MAX, usable_tags
from receipts.client.clients import ReceiptsClient
from receipts.client.context import current_tags
from receipts.client.litellm_keys import (
    Client,
    Route,
    TeamRoutes,
    keys_from_env,
    litellm_team,
    need_default,
)
from receipts.client.sdk import (
    CallFacts,
    OnError,
    OnReceipt,
    Recorder,
    failure_status,
    plain,
    warn,
)
from receipts.errors import ClientError
from receipts.logs.litellm import cache_details, spend_log_tags
from receipts.logs.records import ShapeError, text_tags

_log = logging.getLogger("receipts.client")

ZERO_USAGE = {"prompt_tokens": 0, "completion_tokens": 0}
SEEN_CALLS = 10_000
"""How many recent calls a logger remembers, to record a call LiteLLM reports twice once."""
ANTHROPIC_CACHE = frozenset({"cache_read_input_tokens", "cache_creation_input_tokens",
                             "cache_creation"})
"""Fields of an Anthropic usage object beside ``input_tokens`` (no OpenAI object has them)."""
CONTEXT_TAGS = "receipts_context_tags"
"""Where the logger keeps the caller's ``tags(...)`` in LiteLLM's per-call details."""

LITELLM_METADATA = frozenset({
    "api_base", "attempted_fallbacks", "attempted_retries", "caching_groups", "deployment",
    "deployment_model_name", "endpoint", "headers", "hidden_params", "kubernetes_pod_routing",
    "litellm_api_version", "max_retries", "model_group", "model_group_alias",
    "model_group_size", "model_info", "original_model_group", "previous_models",
    "requester_ip_address", "requester_metadata", "spend_logs_metadata", "tags", "team_alias",
    "team_id", "user_agent"})
"""Keys LiteLLM (the Router above all) writes into an SDK call's ``metadata``: not the
caller's, so not tags (``user_api_key_*`` and ``_``-prefixed keys neither). ``tags`` and
``spend_logs_metadata`` are read by their own rules."""


def client_from_env() -> ReceiptsClient:
    """A blocking client configured as ``receipt spool flush`` is: ``$RECEIPTS_URL``,
    ``$RECEIPTS_AGENT_KEY``, ``$RECEIPTS_SPOOL`` (optional), ``$RECEIPTS_PUBLIC_KEY``
    (optional, a PEM file every receipt is checked against)."""
    return ReceiptsClient(spool=os.environ.get("RECEIPTS_SPOOL") or None,
                          public_key=os.environ.get("RECEIPTS_PUBLIC_KEY") or None)


class ReceiptsLogger(CustomLogger):
    """Requests a receipt for each LiteLLM call that ended (``litellm.callbacks``, or the
    proxy's ``callbacks``). ``receipts``: the default client (a blocking one serves both the
    sync and the async hooks, the latter in a thread); ``keys``: LiteLLM team -> that team's
    client (:mod:`receipts.client.litellm_keys`: which call goes where, and what happens to
    one of a team without a key); given neither, both come from the environment, as for the
    proxy's ``handler``. ``tags``, ``on_receipt``, ``on_error``, ``background``: as
    :func:`receipts.client.openai.wrap`. ``unsent``: the calls not sent for want of a key,
    by team."""

    def __init__(self, receipts: Client | None = None, *,
                 keys: Mapping[str, Client] | None = None,
                 tags: dict[str, str] | None = None, on_receipt: OnReceipt | None = None,
                 on_error: OnError | None = None, background: bool = False) -> None:
        super().__init__()
        if receipts is None and keys is None:
            need_default()
            receipts = client_from_env()
            keys = keys_from_env(receipts)
        self.receipts = receipts
        self.tags = dict(tags or {})
        self.on_error = on_error or warn

        def recorder(client: Client, in_background: bool) -> Recorder:
            return Recorder(client, provider="unknown", usage_format="openai",
                            zero_usage=ZERO_USAGE, tags=tags, on_receipt=on_receipt,
                            on_error=self.on_error, background=in_background)

        self.routes = TeamRoutes(receipts, keys, recorder, background=background,
                                 on_error=self.on_error)
        self.unsent = self.routes.unsent
        self.recorder = self.routes.default.recorder if self.routes.default else None
        """The default client's recorder (None: no default)."""
        self._seen: OrderedDict[tuple[str, str | None, str], None] = OrderedDict()
        self._seen_lock = threading.Lock()

    def log_pre_api_call(self, model: Any, messages: Any, kwargs: dict[str, Any]) -> None:
        """Keep the ``tags(...)`` in force where the call is made: LiteLLM ends a sync stream
        on a logging thread of its own, outside the caller's context (``kwargs`` is the dict
        later handed to the success and failure hooks)."""
        kwargs[CONTEXT_TAGS] = current_tags()

    def log_success_event(self, kwargs: dict[str, Any], response_obj: Any, start_time: Any,
                          end_time: Any) -> None:
        """A call that ended with an answer (a stream: at its end)."""
        routed = self._facts(kwargs, response_obj, start_time, end_time, failed=False)
        if routed is not None:
            routed[1].sync_recorder().record(routed[0])

    def log_failure_event(self, kwargs: dict[str, Any], response_obj: Any, start_time: Any,
                          end_time: Any) -> None:
        """A call that failed."""
        routed = self._facts(kwargs, response_obj, start_time, end_time, failed=True)
        if routed is not None:
            routed[1].sync_recorder().record(routed[0])

    async def async_log_success_event(self, kwargs: dict[str, Any], response_obj: Any,
                                      start_time: Any, end_time: Any) -> None:
        """As :meth:`log_success_event`, for ``acompletion`` and the proxy."""
        routed = self._facts(kwargs, response_obj, start_time, end_time, failed=False)
        if routed is not None:
            await routed[1].recorder.arecord(routed[0])

    async def async_log_failure_event(self, kwargs: dict[str, Any], response_obj: Any,
                                      start_time: Any, end_time: Any) -> None:
        """As :meth:`log_failure_event`, for ``acompletion`` and the proxy."""
        routed = self._facts(kwargs, response_obj, start_time, end_time, failed=True)
        if routed is not None:
            await routed[1].recorder.arecord(routed[0])

    def _repeated(self, facts: CallFacts) -> bool:
        """True for a second event of a call already recorded here: LiteLLM reports some calls
        twice (``text_completion``: once as the chat call it makes, once as itself), each with
        its own times. The same call id with another answer or outcome is not skipped: it is
        another call, and the service refuses it (409) rather than charge it twice."""
        if facts.request_id is None:
            return False
        key = (facts.request_id, facts.provider_response_id, facts.status)
        with self._seen_lock:
            if key in self._seen:
                _log.debug("LiteLLM reported %s again: one receipt", facts.request_id)
                return True
            self._seen[key] = None
            while len(self._seen) > SEEN_CALLS:
                self._seen.popitem(last=False)
        return False

    def _facts(self, kwargs: dict[str, Any], response: Any, start_time: Any, end_time: Any,
               *, failed: bool) -> tuple[CallFacts, Route] | None:
        """The call's facts and the route of its team's key, or None for an event that is not
        a billed call (or one not sent). Whatever LiteLLM handed over, nothing is raised into
        it: a problem goes to ``on_error``."""
        try:
            context = kwargs.get(CONTEXT_TAGS)
            context = dict(context) if isinstance(context, dict) else current_tags()
            facts = call_facts(kwargs, response, start_time, end_time, failed=failed,
                               taken={*self.tags, *context})
            if facts is None or self._repeated(facts):
                return None
            facts.tags = {**context, **facts.tags}
            route = self.routes.pick(litellm_team(kwargs), facts)
            return None if route is None else (facts, route)
        except Exception as e:  # (LiteLLM would log it with a traceback and carry on)
            error = ClientError(f"LiteLLM event not read: {type(e).__name__}: {e}")
            error.__cause__ = e
            self.on_error(error)
            return None


def call_facts(kwargs: Mapping[str, Any], response: Any, start_time: Any, end_time: Any, *,
               failed: bool, taken: Set[str] = frozenset()) -> CallFacts | None:
    """What one LiteLLM event says about its call (None: no receipt is due)."""
    payload: Mapping[str, Any] = kwargs.get("standard_logging_object") or {}
    if not failed and (payload.get("cache_hit") is True or kwargs.get("cache_hit") is True):
        return None
    usage, usage_format = None, None
    if not failed:
        usage, usage_format = _usage(response, payload)
        if usage is None:
            _log.debug("LiteLLM %s call without usage: no receipt", kwargs.get("call_type"))
            return None
    params: Mapping[str, Any] = kwargs.get("litellm_params") or {}
    call_id = kwargs.get("litellm_call_id") or payload.get("litellm_call_id") \
        or params.get("litellm_call_id")
    facts = CallFacts(model=_model(kwargs, response, payload, failed), usage=usage,
                      provider=_provider(kwargs, payload, params),
                      usage_format=usage_format,
                      request_id=f"litellm:{call_id}" if call_id else None,
                      tags=call_tags(kwargs, payload, taken))
    started, ended = _when(start_time), _when(end_time)
    if started is not None:
        facts.started_at = started.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if ended is not None:
            facts.runtime_ms = max(0, int((ended - started).total_seconds() * 1000))
    if failed:
        facts.status = _failure(kwargs, payload)
        error = payload.get("error_information") or {}
        if isinstance(error.get("error_provider_request_id"), str):
            facts.provider_response_id = error["error_provider_request_id"][:256] or None
    else:
        response_id = _field(response, "id")
        if isinstance(response_id, str) and response_id:
            facts.provider_response_id = response_id[:256]
        tier = _field(response, "service_tier")
        facts.service_tier = tier if isinstance(tier, str) and tier else None
    return facts


def call_tags(kwargs: Mapping[str, Any], payload: Mapping[str, Any],
              taken: Set[str] = frozenset()) -> dict[str, str]:
    """The call's tags from what LiteLLM logged (see the module's text for the order), within
    the room that the tags already ``taken`` (the logger's, the context's) leave."""
    metadata: Mapping[str, Any] = payload.get("metadata") or {}
    mapped: dict[str, str] = {}
    try:
        mapped = spend_log_tags(metadata, team_id=metadata.get("team_id"),
                                end_user=payload.get("end_user") or _end_user(kwargs),
                                request_tags=payload.get("request_tags"), where="LiteLLM")
        request = _request_metadata(kwargs, metadata)
    except ShapeError as e:
        _log.warning("LiteLLM metadata not read as tags: %s", e)
        request = {}
    for name, key in (("key_alias", "user_api_key_alias"), ("user", "user_api_key_user_id")):
        if metadata.get(key):
            mapped[name] = str(metadata[key])
    kept, dropped = usable_tags(mapped)
    extra, more = usable_tags({k: v for k, v in request.items() if k not in kept})
    ordered = [*kept.items(), *extra.items()]  # metadata is the first to make room
    room = max(0, TAG_COUNT_MAX - len(taken - kept.keys() - extra.keys()))
    dropped += more + [name for name, _ in ordered[room:]]
    if dropped:
        _log.debug("LiteLLM call %s: not kept as tags: %s", kwargs.get("litellm_call_id"),
                   dropped)
    chosen = dict(ordered[:room])
    return {k: v for k, v in {**extra, **kept}.items() if k in chosen}


def _request_metadata(kwargs: Mapping[str, Any], metadata: Mapping[str, Any],
                      ) -> dict[str, str]:
    """The metadata the request came with: the proxy keeps the client's apart
    (``requester_metadata``); an SDK call's ``metadata`` also holds LiteLLM's own keys."""
    requester = metadata.get("requester_metadata")
    if isinstance(requester, Mapping):
        return text_tags(dict(requester), "LiteLLM requester_metadata")
    params: Mapping[str, Any] = kwargs.get("litellm_params") or {}
    if params.get("proxy_server_request"):
        return {}
    given = params.get("metadata")
    if not isinstance(given, Mapping):
        return {}
    return text_tags({k: v for k, v in given.items() if k not in LITELLM_METADATA
                      and not k.startswith(("user_api_key", "_"))}, "LiteLLM metadata")


def _end_user(kwargs: Mapping[str, Any]) -> Any:
    """The OpenAI ``user`` parameter of an SDK call (the proxy logs it as ``end_user``)."""
    optional: Mapping[str, Any] = kwargs.get("optional_params") or {}
    return optional.get("user") or kwargs.get("user")


def _usage(response: Any, payload: Mapping[str, Any],
           ) -> tuple[dict[str, Any] | None, str | None]:
    """The usage object and its format: LiteLLM's (OpenAI's shape, whatever the provider), or
    an Anthropic one passed through as it came."""
    usage = _field(response, "usage")
    if usage is None:
        usage = (payload.get("metadata") or {}).get("usage_object") \
            or (payload.get("hidden_params") or {}).get("usage_object")
    if usage is None:
        return None, None
    raw: dict[str, Any] = plain(usage)
    raw.pop("cost", None)  # LiteLLM's own estimate, in float dollars: not usage
    if "prompt_tokens" not in raw and "input_tokens" in raw \
            and not ANTHROPIC_CACHE.isdisjoint(raw):
        return raw, "anthropic"  # Anthropic's own object (its input_tokens exclude the cache)
    if "prompt_tokens" in raw:
        details = cache_details(raw.get("prompt_tokens_details") or {}, raw)
        if details:
            raw["prompt_tokens_details"] = details
    return raw, None


def _model(kwargs: Mapping[str, Any], response: Any, payload: Mapping[str, Any],
           failed: bool) -> str:
    """The model the provider answered with, else the one LiteLLM sent it."""
    answered = None if failed else _field(response, "model")
    if isinstance(answered, str) and answered:
        return answered
    hidden: Mapping[str, Any] = payload.get("hidden_params") or {}
    return str(hidden.get("litellm_model_name") or payload.get("model") or kwargs.get("model")
               or "unknown")


def _provider(kwargs: Mapping[str, Any], payload: Mapping[str, Any],
              params: Mapping[str, Any]) -> str:
    """The provider LiteLLM called, else the one LiteLLM reads in the model's name
    (``anthropic/claude-…``: some routes log no provider)."""
    named = payload.get("custom_llm_provider") or kwargs.get("custom_llm_provider") \
        or params.get("custom_llm_provider")
    if named:
        return str(named)
    try:
        return str(get_llm_provider(model=str(payload.get("model") or kwargs.get("model")))[1])
    except Exception:  # (LiteLLM raises for a name it cannot place)
        return "unknown"


def _failure(kwargs: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
    exception = kwargs.get("exception")
    if isinstance(exception, BaseException):
        return failure_status(exception)
    code = (payload.get("error_information") or {}).get("error_code")
    return f"error:{code}"[:32] if code else "error"


def _field(response: Any, name: str) -> Any:
    if isinstance(response, Mapping):
        return response.get(name)
    return getattr(response, name, None)


def _when(value: Any) -> dt.datetime | None:
    """LiteLLM's start and end times: naive local datetimes (or epoch seconds)."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    return None


_handler: ReceiptsLogger | None = None
_handler_lock = threading.Lock()


def __getattr__(name: str) -> Any:
    """``handler``: the logger the proxy's ``config.yaml`` names, made from the environment
    when first looked up (so importing this module needs no configuration)."""
    global _handler
    if name != "handler":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with _handler_lock:
        if _handler is None:
            _handler = ReceiptsLogger()
        return _handler
