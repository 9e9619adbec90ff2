"""GenAI spans out of OTLP/JSON traces (``resourceSpans`` documents, OTLP/HTTP JSON encoding).

One module for every reader of OpenTelemetry traces: ``receipt audit`` and ``receipt import``
read exported trace files with it, and an OTLP ingest endpoint reads ``POST /v1/traces`` bodies
with the same function. It knows the encoding (``AnyValue`` oneofs, 64-bit integers as decimal
strings, hex or base64 ids) and which spans are model calls; the usage attributes themselves
are normalized by :func:`receipts.pricing.usage.normalize_usage` (format ``otel``).

A span is a model call when it carries ``gen_ai.usage.input_tokens`` or the deprecated
``gen_ai.usage.prompt_tokens`` and its operation (``gen_ai.operation.name``) is not an agent,
tool or workflow span (those sum their children's usage and would count it twice).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

NOT_CALLS = frozenset({"invoke_agent", "create_agent", "execute_tool", "invoke_workflow"})
USAGE_KEYS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")

RESOURCE_TAGS = {"service.name": "service", "deployment.environment.name": "environment",
                 "deployment.environment": "environment"}
"""Resource attributes that name a tag under another name."""

NOT_TAGS = ("gen_ai.", "server.", "http.", "url.", "error.", "telemetry.", "otel.", "process.",
            "host.", "os.", "service.", "deployment.", "openai.", "network.", "user_agent.",
            "llm.", "langfuse.")
"""Attribute namespaces of the conventions themselves: never attribution tags."""


class OtlpError(ValueError):
    """An OTLP/JSON document that breaks the encoding; the message names the place."""


@dataclass(frozen=True)
class GenAISpan:
    """One model-call span: its flattened attributes, tags and identity."""

    attributes: dict[str, Any]
    tags: dict[str, str]
    trace_id: str
    span_id: str
    start_ns: int | None
    where: str

    def text(self, *names: str) -> str | None:
        """The first of ``names`` present as text."""
        for name in names:
            value = self.attributes.get(name)
            if isinstance(value, str) and value:
                return value
        return None

    @property
    def provider(self) -> str:
        """``gen_ai.provider.name``, else the deprecated ``gen_ai.system``."""
        return self.text("gen_ai.provider.name", "gen_ai.system") or ""

    @property
    def model(self) -> str:
        """The model that answered, else the one requested."""
        return self.text("gen_ai.response.model", "gen_ai.request.model") or ""

    @property
    def request_id(self) -> str:
        """``gen_ai.response.id``, else ``trace_id/span_id`` (unique per span)."""
        return self.text("gen_ai.response.id") or f"{self.trace_id}/{self.span_id}"


def is_trace_document(doc: Any) -> bool:
    """Whether ``doc`` is an OTLP/JSON traces document."""
    return isinstance(doc, dict) and isinstance(doc.get("resourceSpans"), list)


def genai_spans(doc: Mapping[str, Any]) -> Iterator[GenAISpan]:
    """The model-call spans of one traces document, in document order."""
    for r, resource_spans in enumerate(_list(doc, "resourceSpans", "")):
        here = f"resourceSpans[{r}]"
        resource = _map(resource_spans, "resource", here)
        resource_attrs = attributes(_list(resource, "attributes", f"{here}.resource"),
                                    f"{here}.resource.attributes")
        resource_tags = tags_of(resource_attrs, resource=True)
        for s, scope_spans in enumerate(_list(resource_spans, "scopeSpans", here)):
            for k, span in enumerate(_list(scope_spans, "spans", f"{here}.scopeSpans[{s}]")):
                where = f"{here}.scopeSpans[{s}].spans[{k}]"
                if not isinstance(span, dict):
                    raise OtlpError(f"{where}: a span is an object")
                attrs = attributes(_list(span, "attributes", where), f"{where}.attributes")
                if not any(key in attrs for key in USAGE_KEYS):
                    continue
                if attrs.get("gen_ai.operation.name") in NOT_CALLS:
                    continue
                start = span.get("startTimeUnixNano")
                yield GenAISpan(attrs, {**resource_tags, **tags_of(attrs, resource=False)},
                                span_id(span.get("traceId"), f"{where}.traceId"),
                                span_id(span.get("spanId"), f"{where}.spanId"),
                                int(start) if isinstance(start, int | str) and str(start).isdigit()
                                else None, where)


def attributes(items: list[Any], where: str) -> dict[str, Any]:
    """``[{key, value: AnyValue}]`` as a flat dict of plain values (ints stay digit strings,
    as OTLP sends them: :func:`receipts.pricing.usage_reader.check_count` reads both)."""
    out: dict[str, Any] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise OtlpError(f"{where}[{i}]: an attribute is {{key, value}}")
        out[item["key"]] = any_value(item.get("value"), f"{where}[{i}].value")
    return out


def any_value(value: Any, where: str) -> Any:
    """An ``AnyValue`` as a plain value (arrays as lists, kvlists as dicts)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise OtlpError(f"{where}: an AnyValue is an object")
    for key in ("stringValue", "intValue", "boolValue", "doubleValue", "bytesValue"):
        if key in value:
            return value[key]
    if "arrayValue" in value:
        values = _list(value["arrayValue"], "values", where)
        return [any_value(v, f"{where}.arrayValue.values[{i}]") for i, v in enumerate(values)]
    if "kvlistValue" in value:
        return attributes(_list(value["kvlistValue"], "values", where), f"{where}.kvlistValue")
    return None


def tags_of(attrs: Mapping[str, Any], *, resource: bool) -> dict[str, str]:
    """Attribution tags among attributes: names outside the conventions' namespaces, with
    text, number or boolean values (and, on the resource, ``service.name`` as ``service``,
    ``deployment.environment[.name]`` as ``environment``)."""
    out: dict[str, str] = {}
    for key, value in attrs.items():
        if value is None or isinstance(value, list | dict):
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if resource and key in RESOURCE_TAGS:
            out[RESOURCE_TAGS[key]] = text
        elif not key.startswith(NOT_TAGS):
            out[key] = text
    return out


def span_id(value: Any, where: str) -> str:
    """A trace or span id as lowercase hex (OTLP/JSON sends hex; protobuf-default JSON base64)."""
    if not isinstance(value, str) or not value:
        return ""
    if len(value) in (16, 32) and all(c in _HEX for c in value):
        return value.lower()
    try:
        return base64.b64decode(value, validate=True).hex()
    except (binascii.Error, ValueError) as e:
        raise OtlpError(f"{where}: {value!r} is neither hex nor base64") from e


_HEX = frozenset("0123456789abcdefABCDEF")


def _list(node: Any, key: str, where: str) -> list[Any]:
    if not isinstance(node, dict):
        raise OtlpError(f"{where or 'document'}: must be an object")
    value = node.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise OtlpError(f"{where + '.' if where else ''}{key}: must be a list")
    return value


def _map(node: Any, key: str, where: str) -> Mapping[str, Any]:
    value = node.get(key) if isinstance(node, dict) else None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise OtlpError(f"{where}.{key}: must be an object")
    return value
