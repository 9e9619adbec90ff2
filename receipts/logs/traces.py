"""A GenAI span (:mod:`receipts.logs.otlp`) as a call: usage by the service's ``otel`` rule,
or as the receipt request it makes (the OTLP endpoint and the client's span processor)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from receipts.api.tag_keys import usable_tags
from receipts.logs.otlp import GenAISpan
from receipts.logs.records import LogCall, money_units
from receipts.pricing.usage import normalize_usage


def span_call(span: GenAISpan, where: str) -> LogCall:
    """The call a model-call span records (time: the span's start)."""
    usage = normalize_usage("otel", span.attributes)
    cost = span.attributes.get("gen_ai.usage.cost")
    return LogCall(where, span.provider, span.model, span.request_id,
                   None if span.start_ns is None else span.start_ns // 1_000_000,
                   tags=dict(span.tags), usage=usage,
                   logged_cost=None if cost is None else money_units(
                       str(cost), f"{where}: gen_ai.usage.cost"),
                   service_tier=usage.service_tier, shape="otlp")


USAGE_PREFIXES = ("gen_ai.usage.", "openai.response.service_tier",
                  "gen_ai.openai.response.service_tier")
"""The span attributes the ``otel`` usage rule reads (the rest, prompts included, stay out of
the request and its idempotency hash)."""


def span_request(span: GenAISpan) -> tuple[dict[str, Any], list[str]]:
    """The receipt request (a ``POST /v1/receipts`` body) a model-call span makes, and the
    attribute names left out as tags (not of the tag name syntax, or with a value longer than
    a tag holds). The request id is ``otlp:<trace id>:<span id>``: the same span sent twice
    (an exporter's retry, or both the endpoint and the span processor) is one receipt."""
    tags, dropped = usable_tags(span.tags)
    body: dict[str, Any] = {
        "request_id": f"otlp:{span.trace_id}:{span.span_id}",
        "provider": span.provider or "unknown", "model": span.model or "unknown",
        "usage_format": "otel", "tags": tags,
        "usage": {k: v for k, v in span.attributes.items() if k.startswith(USAGE_PREFIXES)},
    }
    if span.start_ns is not None:
        started = dt.datetime.fromtimestamp(span.start_ns // 1_000_000 / 1000, dt.UTC)
        body["started_at"] = started.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    response_id = span.text("gen_ai.response.id")
    if response_id is not None:
        body["provider_response_id"] = response_id[:256]
    error = span.text("error.type")
    if error is not None:
        body["status"] = f"error:{error}"[:32]
    return body, dropped
