"""Property tests of the API's promise: any request, however malformed, is answered below 500,
and every 4xx carries the error body (code, message, fields). Bodies are valid calls with fields
replaced, dropped or added at random, so the checks behind validation are reached too; filters and
ids take arbitrary text. (Fuzzing along these lines found 500s on out-of-range times, digit
strings past int()'s limit and NUL in text on PostgreSQL.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.receipts.conftest import call, make_deployment, postgres_schema
from verifier import VerifyOptions, audit_ledger

API = tuple[TestClient, dict[str, str], dict[str, str]]

awkward_text = st.text(st.sampled_from("a0\x00²é-") | st.characters(exclude_categories=["Cs"]),
                      max_size=20)
"""Text leaning on characters that have broken services: NUL (PostgreSQL text cannot hold it),
digits ``int()`` refuses (``"²".isdigit()``), non-ASCII."""
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | awkward_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=8)
names = st.sampled_from(["request_id", "provider", "model", "usage", "usage_format", "tags",
                         "runtime_ms", "status", "retry_of", "started_at", "service_tier",
                         "input_tokens", "output_tokens", "cache_read_tokens", "extra"])


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                               marks=pytest.mark.postgres)])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[API]:
    """One deployment per database for every example (starting the app per example would
    dominate): the two must answer alike (PostgreSQL text cannot hold NUL, for one)."""
    with ExitStack() as stack:
        db_url = stack.enter_context(postgres_schema()) if request.param == "postgres" else None
        deployment = make_deployment(Path(tmp_path_factory.mktemp("api-properties")), db_url)
        _, auth = deployment.agent()
        client = stack.enter_context(deployment.client())
        yield client, auth, deployment.admin


@st.composite
def mutated_calls(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = call(draw(awkward_text.filter(bool)))
    usage_format, usage = draw(st.sampled_from([
        (None, body["usage"]),
        ("openai", {"prompt_tokens": 120, "completion_tokens": 30,
                    "prompt_tokens_details": {"cached_tokens": 100}}),
        ("anthropic", {"input_tokens": 48, "cache_read_input_tokens": 1800,
                       "cache_creation_input_tokens": 248, "output_tokens": 503}),
        ("gemini", {"promptTokenCount": 1000, "candidatesTokenCount": 200,
                    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 1000}]}),
        ("otel", [{"key": "gen_ai.usage.input_tokens", "value": {"intValue": "120"}},
                  {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 30}}])]))
    body["usage"] = usage
    if usage_format:
        body["usage_format"] = usage_format
    for _ in range(draw(st.integers(1, 3))):
        target = body
        if isinstance(body.get("usage"), dict) and body["usage"] and draw(st.booleans()):
            target = body["usage"]
        name = draw(names)
        if name in target and draw(st.booleans()):
            del target[name]
        else:
            target[name] = draw(json_values)
    return body


def _answered(response: Any) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["code"] and error["message"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=mutated_calls(), batch=st.booleans(), atomic=st.booleans())
def test_any_call_body_is_answered_below_500(api: API, body: dict[str, Any], batch: bool,
                                             atomic: bool) -> None:
    client, auth, _ = api
    headers = {**auth, "Content-Type": "application/json"}
    if batch:
        raw = json.dumps({"atomic": atomic, "calls": [body, call("fixed")]})
        _answered(client.post("/v1/receipts/batch", content=raw, headers=headers))
    else:
        _answered(client.post("/v1/receipts", content=json.dumps(body), headers=headers))


texts = awkward_text | st.integers(min_value=0, max_value=10**40).map(str)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params=st.dictionaries(st.sampled_from(["team", "project", "provider", "model", "agent",
                                                "since", "until", "cursor", "limit", "format"]),
                              texts, max_size=3),
       receipt_id=texts, as_admin=st.booleans())
def test_any_filter_or_id_is_answered_below_500(api: API, params: dict[str, str],
                                                receipt_id: str, as_admin: bool) -> None:
    client, auth, admin = api
    headers = admin if as_admin else auth
    _answered(client.get("/v1/receipts", params=params, headers=headers))
    _answered(client.get("/v1/receipts/" + quote(receipt_id, safe=""), headers=headers))


def test_everything_the_properties_above_got_accepted_verifies(api: API) -> None:
    """Whatever the service acknowledged while being fuzzed (same module-scoped deployment,
    tests run in file order) is in a ledger the verifier accepts: a receipt the service signs
    and the verifier rejects would poison every later audit (a cost past the format's range
    once did)."""
    client, _, admin = api
    stored = client.get("/v1/receipts?limit=1", headers=admin).json()["receipts"]
    ledger = client.get("/v1/ledger", headers=admin).content
    report = audit_ledger([ledger], VerifyOptions(workers=1))
    assert report.valid, report.failure
    assert stored and report.receipts >= 1  # the fuzzing above did get receipts accepted
