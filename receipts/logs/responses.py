"""Provider response objects (one call each), bare or inside a gateway's log line.

* OpenAI Chat Completions (``object: "chat.completion"``, usage ``prompt_tokens``) and
  Responses (``object: "response"``, usage ``input_tokens``): id ``id``, time ``created`` /
  ``created_at`` (Unix seconds), ``model``, ``service_tier``.
* Anthropic Messages (``type: "message"``): id ``id``, ``model``, usage with cache fields.
* Gemini (``usageMetadata``): id ``responseId``, model ``modelVersion``, time ``createTime``.

A gateway wrapper is ``{"timestamp", "request_id", "provider", "tags": {...}, "cost"
(optional, as logged), "response": <one of the above>}``; its fields win over the response's
(the gateway's request id is what retries repeat; its provider is who billed). ``model`` and
``service_tier`` next to ``response`` are read too when given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from receipts.logs.records import LogCall, ShapeError, money_units, text_tags, time_ms
from receipts.pricing.usage import normalize_usage


def response_kind(obj: Mapping[str, Any]) -> str | None:
    """``openai``, ``anthropic`` or ``gemini`` for a response object, else None."""
    if isinstance(obj.get("usageMetadata"), dict):
        return "gemini"
    usage = obj.get("usage")
    if not isinstance(usage, dict):
        return None
    if obj.get("type") == "message" or "cache_creation_input_tokens" in usage \
            or "cache_read_input_tokens" in usage:
        return "anthropic"
    if obj.get("object") in ("chat.completion", "response", "chat.completion.chunk") \
            or "prompt_tokens" in usage or "input_tokens_details" in usage:
        return "openai"
    return None


def is_wrapper(obj: Mapping[str, Any]) -> bool:
    """A gateway line: a ``response`` object with at least one of the wrapper's fields."""
    return isinstance(obj.get("response"), dict) and any(
        key in obj for key in ("request_id", "provider", "tags", "timestamp", "cost"))


def response_call(obj: Mapping[str, Any], where: str) -> LogCall:
    """A bare provider response as a call."""
    kind = response_kind(obj)
    if kind is None:
        raise ShapeError(f"{where}: not a provider response object")
    if kind == "gemini":
        usage = normalize_usage("gemini", obj["usageMetadata"])
        return LogCall(where, "google", str(obj.get("modelVersion") or ""),
                       _text(obj.get("responseId")), time_ms(obj.get("createTime"),
                                                            f"{where}: createTime"),
                       usage=usage, shape="gemini")
    usage = normalize_usage(kind, obj["usage"])
    created = obj.get("created", obj.get("created_at"))
    tier = obj.get("service_tier") if isinstance(obj.get("service_tier"), str) else None
    shape = kind if kind == "anthropic" else (
        "openai.responses" if "input_tokens" in obj["usage"] else "openai.chat")
    return LogCall(where, kind, str(obj.get("model") or ""), _text(obj.get("id")),
                   time_ms(created, f"{where}: created"), usage=usage, service_tier=tier,
                   shape=shape)


def wrapped_call(obj: Mapping[str, Any], where: str) -> LogCall:
    """A gateway line around a provider response."""
    call = response_call(obj["response"], f"{where}: response")
    call.where = where
    if obj.get("provider"):
        call.provider = str(obj["provider"])
    if obj.get("model"):
        call.model = str(obj["model"])
    if obj.get("request_id"):
        call.request_id = str(obj["request_id"])
    if obj.get("service_tier"):
        call.service_tier = str(obj["service_tier"])
    at = time_ms(obj.get("timestamp"), f"{where}: timestamp")
    if at is not None:
        call.at_ms = at
    call.tags = text_tags(obj.get("tags"), f"{where}: tags")
    if obj.get("cost") is not None:
        call.logged_cost = money_units(obj["cost"], f"{where}: cost")
    call.shape = f"wrapper/{call.shape}"
    return call


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None
