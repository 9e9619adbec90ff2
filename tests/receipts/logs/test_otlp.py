"""OTLP/JSON GenAI spans: encoding rules (ids, AnyValue, deprecated names) and which spans count."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from receipts.logs.otlp import OtlpError, genai_spans, is_trace_document
from receipts.logs.traces import span_call


def _doc(spans: list[dict[str, Any]], resource: list[dict[str, Any]] | None = None
         ) -> dict[str, Any]:
    return {"resourceSpans": [{"resource": {"attributes": resource or []},
                               "scopeSpans": [{"spans": spans}]}]}


def _attr(key: str, value: Any) -> dict[str, Any]:
    kind = "intValue" if isinstance(value, int) else "stringValue"
    return {"key": key, "value": {kind: str(value) if kind == "intValue" else value}}


def _span(*attrs: dict[str, Any], trace: str = "5b8efff798038103d269b633813fc60c",
          span: str = "eee19b7ec3c1b174") -> dict[str, Any]:
    return {"traceId": trace, "spanId": span, "startTimeUnixNano": "1755166863000000000",
            "attributes": list(attrs)}


def test_deprecated_names_and_base64_ids_are_read() -> None:
    trace, span = bytes(range(16)), bytes(range(8))
    doc = _doc([_span(_attr("gen_ai.system", "openai"), _attr("gen_ai.request.model", "gpt-4o"),
                      _attr("gen_ai.usage.prompt_tokens", 100),
                      _attr("gen_ai.usage.completion_tokens", 7),
                      trace=base64.b64encode(trace).decode(),
                      span=base64.b64encode(span).decode())])
    assert is_trace_document(doc)
    (found,) = genai_spans(doc)
    assert found.provider == "openai" and found.model == "gpt-4o"
    assert found.request_id == f"{trace.hex()}/{span.hex()}"
    call = span_call(found, "t:1")
    assert call.usage is not None and call.usage.usage == {"input": 100, "output": 7}


def test_spans_without_usage_and_agent_spans_are_not_calls() -> None:
    doc = _doc([_span(_attr("gen_ai.operation.name", "invoke_agent"),
                      _attr("gen_ai.usage.input_tokens", 10),
                      _attr("gen_ai.usage.output_tokens", 1)),
                _span(_attr("http.method", "GET")),
                _span(_attr("gen_ai.operation.name", "chat"),
                      _attr("gen_ai.provider.name", "gcp.gemini"),
                      _attr("gen_ai.response.model", "gemini-2.5-flash"),
                      _attr("gen_ai.usage.input_tokens", 10),
                      _attr("gen_ai.usage.output_tokens", 1),
                      _attr("team", "search"), _attr("server.address", "x"))])
    (found,) = genai_spans(doc)
    assert found.provider == "gcp.gemini" and found.tags == {"team": "search"}


def test_span_attributes_override_resource_tags_and_kvlists_are_plain() -> None:
    kv = {"key": "extra", "value": {"kvlistValue": {"values": [_attr("a", "b")]}}}
    doc = _doc([_span(_attr("gen_ai.usage.input_tokens", 1), _attr("gen_ai.usage.output_tokens",
                                                                    1), _attr("team", "span"), kv)],
               resource=[_attr("team", "resource"), _attr("service.name", "svc")])
    (found,) = genai_spans(doc)
    assert found.tags == {"team": "span", "service": "svc"}
    assert found.attributes["extra"] == {"a": "b"}


@pytest.mark.parametrize(("doc", "where"), [
    ({"resourceSpans": [{"scopeSpans": [{"spans": ["x"]}]}]}, "spans[0]"),
    ({"resourceSpans": [{"scopeSpans": {"spans": []}}]}, "scopeSpans"),
    (_doc([_span(_attr("gen_ai.usage.input_tokens", 1), trace="!!not-an-id!!")]), "traceId"),
    (_doc([{"attributes": [{"value": {}}]}]), "attributes[0]"),
])
def test_encoding_errors_name_the_place(doc: dict[str, Any], where: str) -> None:
    with pytest.raises(OtlpError, match=where.replace("[", r"\[").replace("]", r"\]")):
        list(genai_spans(doc))
