"""A GenAI span (:mod:`receipts.logs.otlp`) as a call: usage by the service's ``otel`` rule."""

from __future__ import annotations

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
