"""Receipts from OpenTelemetry GenAI spans, for an app on ``opentelemetry-sdk``.

    pip install '.[otel]'
    export RECEIPTS_URL=http://127.0.0.1:8000 RECEIPTS_AGENT_KEY=...   # receipt agent create
    python examples/otel_receipts.py

Any GenAI instrumentation (the OpenTelemetry OpenAI or Anthropic instrumentations, a
framework's own spans) produces spans like the one made by hand below; the span processor turns
each model-call span into a receipt, in a background thread, and skips agent and tool spans
(they sum their children's usage). The same spans sent by an OTLP/HTTP JSON exporter to
``POST /v1/otlp/v1/traces`` give the same receipts (request id ``otlp:<trace>:<span>``).
"""

from __future__ import annotations

import os

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from receipts.client import ReceiptsClient, Recorded
from receipts.client.otel import ReceiptsSpanProcessor


def run(receipts: ReceiptsClient) -> list[Recorded]:
    """One agent span with two model calls under it; the receipts they got."""
    got: list[Recorded] = []
    provider = TracerProvider(resource=Resource.create(
        {"service.name": "ranker-api", "deployment.environment.name": "dev"}))
    provider.add_span_processor(ReceiptsSpanProcessor(receipts, on_receipt=got.append))
    tracer = provider.get_tracer("example")
    with tracer.start_as_current_span("invoke_agent ranker") as agent:
        agent.set_attribute("gen_ai.operation.name", "invoke_agent")
        for question, (tokens_in, tokens_out) in (("rank", (1200, 300)), ("explain", (800, 90))):
            with tracer.start_as_current_span("chat gpt-4o") as span:
                span.set_attributes({
                    "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o",
                    "gen_ai.usage.input_tokens": tokens_in,
                    "gen_ai.usage.output_tokens": tokens_out,
                    "project": "ranker", "step": question})
    provider.shutdown()  # waits for the receipts
    return got


def main() -> None:
    receipts = ReceiptsClient(spool=os.environ.get("RECEIPTS_SPOOL", "receipts-spool.sqlite"))
    with receipts:
        for got in run(receipts):
            r = got.receipt
            print(f"{got.request_id}: " + (f"{r['model']} {r['cost']} {r['currency']}"
                                            if r else "spooled, delivered later"))


if __name__ == "__main__":
    main()
