"""``POST /v1/otlp/v1/traces``: OpenTelemetry GenAI spans in, one receipt per model call out.

An app already instrumented with the GenAI semantic conventions gets receipts without a code
change: point an OTLP/HTTP exporter that sends JSON (the Collector's ``otlphttp`` exporter with
``encoding: json``) at ``<service>/v1/otlp`` with the agent key as a bearer token. The traces
are read by :func:`receipts.logs.otlp.genai_spans` (the reader ``receipt audit`` uses on trace
files): only model-call spans become calls (agent, tool and workflow spans sum their children
and are skipped), with the span's ``gen_ai.usage.*`` attributes as usage (``usage_format``
``otel``), ``gen_ai.response.id`` as ``provider_response_id``, its start as ``started_at`` and
its attribution attributes as tags.

Idempotent on the span: the request id is ``otlp:<trace id>:<span id>``, so an exporter that
retries a batch (OTLP exporters do, on 429 and 503) gets the same receipts back, never a second
charge. The answer follows OTLP/HTTP: 200 with an empty object, or with ``partialSuccess``
counting the spans refused (each for a reason a receipt request would be refused: a tag that
contradicts the agent's binding, usage that does not add up) and saying why.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Request
from starlette.responses import Response

from receipts.api.body_reading import authenticating_router
from receipts.api.dependencies import authenticate_writer, context
from receipts.api.errors import json_response
from receipts.api.openapi import AGENT_ONLY, errors
from receipts.api.routes.receipts import WRITE_WHY, Writer
from receipts.api.schemas import CallIn, parse_model
from receipts.errors import FieldProblem, Invalid, ReceiptsError
from receipts.issuing.outcome import Job
from receipts.issuing.prepare import Prepared, prepare
from receipts.logs.otlp import OtlpError, genai_spans
from receipts.logs.traces import span_request

router = authenticating_router("opentelemetry", authenticate_writer, prefix="/v1/otlp")

@router.post("/v1/traces", responses={
    200: {"description": "OTLP ExportTraceServiceResponse: {} when every model-call span got "
                         "its receipt, else partialSuccess {rejectedSpans, errorMessage}"},
    **errors(401, 403, 413, 422, 503, why={
        **WRITE_WHY, 422: "not an OTLP/JSON traces document (error.fields names body), or "
                          "more model-call spans than a batch holds"})},
    openapi_extra=AGENT_ONLY)
async def export_traces(document: Annotated[dict[str, Any], Body()], agent: Writer,
                        request: Request) -> Response:
    """Receipt every GenAI model-call span of an OTLP/HTTP JSON traces export."""
    ctx = context(request)
    try:
        spans = list(genai_spans(document))
    except OtlpError as e:
        raise Invalid(f"not an OTLP/JSON traces document: {e}",
                      [FieldProblem("body", str(e))]) from None
    if len(spans) > ctx.runtime.settings.max_batch:
        raise Invalid(f"at most {ctx.runtime.settings.max_batch} model-call spans per export",
                      [FieldProblem("resourceSpans", f"{len(spans)} model-call spans")])
    prepared: list[Prepared] = []
    problems: list[str] = []
    dropped: set[str] = set()
    for span in spans:
        body, left_out = span_request(span)
        dropped.update(left_out)
        try:
            call = parse_model(CallIn, body, prefix=f"{span.where}.")
            item = prepare(agent, call, ctx.runtime.settings.required_tags)
            ctx.runtime.service.refuse_unrepresentable_cost(item)
            prepared.append(item)
        except ReceiptsError as e:
            problems.append(f"{span.where}: {e}")
    if prepared:
        job = await ctx.appender.submit(Job(prepared, atomic=False))
        if job.error is not None:
            raise job.error
        problems += [f"span {p.request_id}: {o.error}" for p, o in zip(prepared, job.outcomes,
                                                                         strict=True)
                     if o.error is not None]
    messages = problems[:20]
    if dropped:
        messages.append("attributes not kept as tags (tag names are lowercase "
                        "[a-z][a-z0-9_.:-]{0,63}, values at most 256 characters): "
                        + ", ".join(sorted(dropped)[:20]))
    if not messages:
        return json_response({})
    return json_response({"partialSuccess": {"rejectedSpans": len(problems),
                                             "errorMessage": "; ".join(messages)}})
