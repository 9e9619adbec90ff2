"""``POST /v1/otlp/v1/traces``: an OTLP/HTTP JSON export of GenAI spans becomes receipts, one per
model-call span, idempotent on the span; refusals are counted in ``partialSuccess``."""

from __future__ import annotations

from typing import Any

from tests.receipts.conftest import Deployment
from verifier import VerifyOptions, audit_ledger

TRACE = "5b8efff798038103d269b633813fc60c"


def _attr(key: str, value: Any) -> dict[str, Any]:
    kind = "intValue" if isinstance(value, int) else "stringValue"
    return {"key": key, "value": {kind: str(value) if kind == "intValue" else value}}


def _span(span_id: str, *attrs: dict[str, Any]) -> dict[str, Any]:
    return {"traceId": TRACE, "spanId": span_id, "name": "chat gpt-4o",
            "startTimeUnixNano": "1764547200123000000", "endTimeUnixNano": "1764547201000000000",
            "attributes": list(attrs)}


def _chat(span_id: str, *extra: dict[str, Any]) -> dict[str, Any]:
    return _span(span_id, _attr("gen_ai.operation.name", "chat"),
                 _attr("gen_ai.provider.name", "openai"),
                 _attr("gen_ai.request.model", "gpt-4o"),
                 _attr("gen_ai.response.model", "gpt-4o-2024-08-06"),
                 _attr("gen_ai.response.id", f"chatcmpl-{span_id}"),
                 _attr("gen_ai.usage.input_tokens", 1200),
                 _attr("gen_ai.usage.cache_read.input_tokens", 1000),
                 _attr("gen_ai.usage.output_tokens", 300), *extra)


def _export(*spans: dict[str, Any]) -> dict[str, Any]:
    resource = [_attr("service.name", "ranker-api"), _attr("deployment.environment.name", "prod"),
                _attr("project", "ranker")]
    return {"resourceSpans": [{"resource": {"attributes": resource},
                               "scopeSpans": [{"scope": {"name": "opentelemetry.openai"},
                                               "spans": list(spans)}]}]}


def test_model_call_spans_become_receipts_once(deployment: Deployment) -> None:
    _, auth = deployment.agent("search")
    agent_span = _span("a000000000000001", _attr("gen_ai.operation.name", "invoke_agent"),
                       _attr("gen_ai.usage.input_tokens", 1200),
                       _attr("gen_ai.usage.output_tokens", 300))
    export = _export(agent_span, _chat("b000000000000001", _attr("feature", "search")),
                     _chat("b000000000000002", _attr("Feature", "x")))
    with deployment.client() as client:
        first = client.post("/v1/otlp/v1/traces", json=export, headers=auth)
        again = client.post("/v1/otlp/v1/traces", json=export, headers=auth)
        page = client.get("/v1/receipts", headers=deployment.admin).json()
        ledger = client.get("/v1/ledger", headers=deployment.admin).content
    assert first.status_code == 200 and again.status_code == 200
    partial = first.json()["partialSuccess"]
    assert partial["rejectedSpans"] == 0 and "Feature" in partial["errorMessage"]
    receipts = sorted((item["receipt"] for item in page["receipts"]),
                      key=lambda r: r["request_id"])
    assert len(receipts) == 2  # the agent span sums its children; the retry added nothing
    r = receipts[0]
    assert r["request_id"] == f"otlp:{TRACE}:b000000000000001"
    assert r["usage"] == {"input": 200, "cache_read": 1000, "output": 300}
    assert r["provider_response_id"] == "chatcmpl-b000000000000001"
    assert r["started_at"] == "2025-12-01T00:00:00.123Z"
    assert r["tags"] == {"team": "search", "project": "ranker", "environment": "prod",
                         "service": "ranker-api", "feature": "search"}
    assert "Feature" not in receipts[1]["tags"]
    assert audit_ledger([ledger], VerifyOptions(workers=1)).valid


def test_refused_spans_are_counted_and_the_others_kept(deployment: Deployment) -> None:
    _, auth = deployment.agent("search", project="ranker")
    export = _export(_chat("c000000000000001"),
                     _chat("c000000000000002", _attr("gen_ai.usage.cache_read.input_tokens",
                                                     5000)),
                     _chat("c000000000000003", _attr("error.type", "rate_limit_exceeded")))
    export["resourceSpans"][0]["resource"]["attributes"].append(_attr("team", "other"))
    with deployment.client() as client:
        clash = client.post("/v1/otlp/v1/traces", json=export, headers=auth)
        export["resourceSpans"][0]["resource"]["attributes"].pop()
        mixed = client.post("/v1/otlp/v1/traces", json=export, headers=auth)
        page = client.get("/v1/receipts", headers=deployment.admin).json()
    assert clash.json()["partialSuccess"]["rejectedSpans"] == 3  # team contradicts the binding
    partial = mixed.json()["partialSuccess"]
    assert partial["rejectedSpans"] == 1 and "cache_read" in partial["errorMessage"]
    statuses = sorted(item["receipt"]["status"] for item in page["receipts"])
    assert statuses == ["error:rate_limit_exceeded", "ok"]


def test_no_key_or_not_a_traces_document(deployment: Deployment) -> None:
    _, auth = deployment.agent("search")
    with deployment.client() as client:
        anonymous = client.post("/v1/otlp/v1/traces", json=_export())
        bad = client.post("/v1/otlp/v1/traces", json={"resourceSpans": [{"scopeSpans": 5}]},
                          headers=auth)
        empty = client.post("/v1/otlp/v1/traces", json={"resourceSpans": []}, headers=auth)
    assert anonymous.status_code == 401
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "body"
    assert (empty.status_code, empty.json()) == (200, {})
