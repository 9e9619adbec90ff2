"""``ReceiptsSpanProcessor``: an app on ``opentelemetry-sdk`` whose GenAI spans get receipts."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from receipts.client import ReceiptsClient, Recorded, tags
from receipts.client.otel import ReceiptsSpanProcessor
from tests.receipts.client.conftest import Service

pytestmark = pytest.mark.slow


def test_model_call_spans_get_receipts_and_agent_spans_do_not(service: Service) -> None:
    got: list[Recorded] = []
    errors: list[Exception] = []
    receipts = ReceiptsClient(service.url, service.key, public_key=service.public_key)
    processor = ReceiptsSpanProcessor(receipts, on_receipt=got.append, on_error=errors.append)
    provider = TracerProvider(resource=Resource.create({"service.name": "planner"}))
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("app")
    with tags(feature="otel"), tracer.start_as_current_span("invoke_agent planner") as agent:
        agent.set_attribute("gen_ai.operation.name", "invoke_agent")
        agent.set_attribute("gen_ai.usage.input_tokens", 5000)
        agent.set_attribute("gen_ai.usage.output_tokens", 500)
        with tracer.start_as_current_span("chat gpt-4o") as span:
            span.set_attributes({
                "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o", "gen_ai.response.id": "chatcmpl-otel1",
                "gen_ai.usage.input_tokens": 1200, "gen_ai.usage.cache_read.input_tokens": 1000,
                "gen_ai.usage.output_tokens": 300, "step": "plan"})
            trace_id = format(span.get_span_context().trace_id, "032x")
            span_id = format(span.get_span_context().span_id, "016x")
        with tracer.start_as_current_span("http GET"):
            pass
    assert processor.force_flush()
    provider.shutdown()
    receipts.close()
    assert not errors, errors
    [recorded] = got
    r = recorded.receipt
    assert r is not None and recorded.signed_payload is not None
    assert r["request_id"] == f"otlp:{trace_id}:{span_id}"
    assert r["usage"] == {"input": 200, "cache_read": 1000, "output": 300}
    assert r["provider_response_id"] == "chatcmpl-otel1"
    assert r["tags"]["feature"] == "otel" and r["tags"]["step"] == "plan"
    assert r["tags"]["service"] == "planner" and isinstance(r["runtime_ms"], int)
