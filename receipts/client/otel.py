"""A span processor for apps on ``opentelemetry-sdk``: a receipt per GenAI model-call span.

    from opentelemetry.sdk.trace import TracerProvider
    provider = TracerProvider()
    provider.add_span_processor(ReceiptsSpanProcessor(ReceiptsClient(spool="spool.sqlite")))

Whatever instruments the app's LLM calls with the GenAI conventions (the OpenAI or Anthropic
instrumentations, a framework's own spans) then gets receipts with no other change. A span is
read exactly as ``POST /v1/otlp/v1/traces`` reads it (:func:`receipts.logs.traces.
span_request`: model-call spans only, usage from ``gen_ai.usage.*``, tags from the span's and
the resource's attribution attributes, request id ``otlp:<trace id>:<span id>``), plus the
``tags(...)`` in force where the span ends. Spans end on the app's threads and loops, so the
receipts are delivered by a background thread (:mod:`receipts.client.background`) and the app
never waits; ``force_flush`` and ``shutdown`` (called by ``TracerProvider.shutdown``, itself at
exit) wait for them.
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from receipts.client.background import Background
from receipts.client.clients import AsyncReceiptsClient, ReceiptsClient
from receipts.client.context import current_tags
from receipts.client.wire import Recorded
from receipts.logs.otlp import NOT_CALLS, USAGE_KEYS, GenAISpan, tags_of
from receipts.logs.traces import span_request

_log = logging.getLogger("receipts.client")


class ReceiptsSpanProcessor(SpanProcessor):
    """Receipts every GenAI model-call span the app ends."""

    def __init__(self, receipts: ReceiptsClient | AsyncReceiptsClient, *,
                 on_receipt: Any = None, on_error: Any = None) -> None:
        self.background = Background(receipts)
        self.on_receipt = on_receipt
        self.on_error = on_error

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Nothing: a span's usage is known when it ends."""

    def on_end(self, span: ReadableSpan) -> None:
        """Queue the receipt of a model-call span."""
        attributes = dict(span.attributes or {})
        if not any(key in attributes for key in USAGE_KEYS) \
                or attributes.get("gen_ai.operation.name") in NOT_CALLS:
            return
        context = span.get_span_context()
        resource = dict(span.resource.attributes)
        found = GenAISpan(
            attributes, {**tags_of(resource, resource=True), **tags_of(attributes,
                                                                       resource=False)},
            format(context.trace_id, "032x") if context else "",
            format(context.span_id, "016x") if context else "",
            span.start_time, span.name)
        body, dropped = span_request(found)
        if dropped:
            _log.debug("span %s: attributes not kept as tags: %s", span.name, dropped)
        body["tags"] = {**current_tags(), **body["tags"]}
        if span.start_time is not None and span.end_time is not None:
            body["runtime_ms"] = (span.end_time - span.start_time) // 1_000_000
        self.background.submit(body, self._done, self._failed)

    def _done(self, got: Recorded) -> None:
        if self.on_receipt is not None:
            self.on_receipt(got)

    def _failed(self, error: Exception) -> None:
        if self.on_error is not None:
            self.on_error(error)
        else:
            _log.warning("no receipt for a GenAI span: %s", error)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Wait until the receipts of the spans ended so far are delivered (True), at most
        ``timeout_millis``."""
        return self.background.wait(timeout_millis / 1000)

    def shutdown(self) -> None:
        """Deliver what is queued, then stop the delivery thread."""
        self.background.stop(self.background.exit_timeout)
