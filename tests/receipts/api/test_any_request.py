"""Property tests of the API's promise: any request, however malformed, is answered below 500,
and every 4xx carries the error body (code, message, fields). Bodies are valid calls with fields
replaced, dropped or added at random, so the checks behind validation are reached too; filters and
ids take arbitrary text. (Fuzzing along these lines found 500s on out-of-range times, digit
strings past int()'s limit and NUL in text on PostgreSQL.)

And the service's promise to auditors: whatever it accepts, it signs only receipts the verifier
accepts. Plausible calls in every usage format, with fields pushed to and past their edges
(``started_at`` from year 1 to 9999 in any offset, long and odd text in ``retry_of``, tags,
``service_tier``, ``status``, counts and ``runtime_ms`` at their bounds), single and batched, are
sent; after each, the exported ledger must verify and hold every receipt acknowledged so far.
(A ``started_at`` before 1970 was once accepted, signed, and made the ledger invalid for good.)"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from receipts.api.schemas import MAX_RUNTIME_MS
from receipts.clock import now_ms
from receipts.pricing.usage_reader import MAX_COUNT
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
                         "provider_response_id",
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


# --- any accepted request becomes a receipt the verifier accepts ----------------------------

_chars = st.sampled_from("abcXYZ019 _-.:/é\u2028\U0001f600")
_short = st.text(_chars, min_size=1, max_size=12)


def often(common: st.SearchStrategy[Any], rare: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``common`` nine times in ten, else ``rare``: each field is pushed to its edge now and
    then, so that most calls still pass and get signed (a few edges at once refuse nearly all)."""
    return st.integers(0, 9).flatmap(lambda n: rare if n == 0 else common)


def edgy(limit: int) -> st.SearchStrategy[str]:
    """Ordinary text, or text right at ``limit`` characters, one past it, or empty."""
    return often(_short, st.sampled_from([0, limit, limit + 1]).flatmap(
        lambda n: st.text(_chars, min_size=n, max_size=n)))


counts = often(st.integers(0, 100_000), st.sampled_from([MAX_COUNT - 1, MAX_COUNT,
                                                          MAX_COUNT + 1]))
tag_names = often(st.sampled_from(["cost_center", "aws:owner", "deployment.environment",
                                   "a" * 64, "team"]),
                  st.sampled_from(["Team", "team ", "a" * 65]) | st.text(max_size=8))
offsets = st.integers(-1439, 1439).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _near(ms: int) -> dt.datetime:
    return EPOCH + dt.timedelta(milliseconds=ms)


started_ats = often(
    st.one_of(st.integers(-2_000, 2_000).map(_near),  # around the epoch
              st.integers(-600_000, 600_000).map(lambda d: _near(now_ms() + d)),  # the skew
              st.integers(0, 10**12).map(_near)).flatmap(  # 1970 to 2001, in any offset
        lambda when: offsets.map(when.astimezone)),
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59),
                 timezones=offsets),
).map(lambda when: when.isoformat())


@st.composite
def usages(draw: st.DrawFn) -> tuple[str | None, Any]:
    """A usage object in one of the formats, with counts at and past their bounds."""
    fmt = draw(st.sampled_from([None, "openai", "openai-responses", "anthropic", "gemini",
                                "otel", "otlp"]))
    a, b = draw(counts), draw(counts)
    c = draw(often(st.integers(0, a), counts))  # a part: mostly within its whole
    d = draw(often(st.integers(0, b), counts))
    if fmt is None:
        usage: Any = {"input_tokens": a, "output_tokens": b, "cache_read_tokens": min(c, a),
                      "reasoning_tokens": min(d, b)}
    elif fmt == "openai":
        usage = {"prompt_tokens": a, "completion_tokens": b,
                 "prompt_tokens_details": {"cached_tokens": c},
                 "completion_tokens_details": {"reasoning_tokens": d}}
    elif fmt == "openai-responses":
        fmt, usage = "openai", {"input_tokens": a, "output_tokens": b,
                                "input_tokens_details": {"cached_tokens": c}}
    elif fmt == "anthropic":
        usage = {"input_tokens": a, "output_tokens": b, "cache_read_input_tokens": c,
                 "cache_creation_input_tokens": d,
                 "service_tier": draw(st.sampled_from(["standard", "batch", "priority"]))}
    elif fmt == "gemini":
        usage = {"promptTokenCount": a, "candidatesTokenCount": b,
                 "cachedContentTokenCount": c, "thoughtsTokenCount": d,
                 "promptTokensDetails": [{"modality": "TEXT", "tokenCount": a}]}
    elif fmt == "otel":
        usage = {"gen_ai.usage.input_tokens": a, "gen_ai.usage.output_tokens": b,
                 "gen_ai.usage.cache_read.input_tokens": c}
    else:
        fmt, usage = "otel", [
            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": str(a)}},
            {"key": "gen_ai.usage.output_tokens", "value": {"intValue": b}}]
    return fmt, usage


@st.composite
def plausible_calls(draw: st.DrawFn, request_id: str) -> dict[str, Any]:
    """A call an agent might send, each optional field present or not, pushed to its edges."""
    body = call(request_id, provider=draw(st.sampled_from(["openai", "anthropic", "google"])),
                model=draw(st.sampled_from(["gpt-4o", "claude-sonnet-4", "gemini-2.5-flash",
                                            "no-such-model"]) | edgy(256)))
    fmt, body["usage"] = draw(usages())
    if fmt:
        body["usage_format"] = fmt
    body["tags"] = {"project": "p", "environment": "e",
                    **draw(st.dictionaries(tag_names, edgy(256), max_size=2))}
    optional = {
        "started_at": started_ats,
        "retry_of": edgy(256),
        "provider_response_id": edgy(256),
        "service_tier": st.sampled_from(["batch", "flex", "priority", "default", "standard",
                                         "auto", "window:00:00-08:00Z"]) | edgy(32),
        "runtime_ms": often(st.integers(0, 100_000), st.sampled_from(
            [MAX_RUNTIME_MS, MAX_RUNTIME_MS + 1, -1])),
        "status": edgy(32),
    }
    for name, values in optional.items():
        if draw(st.booleans()):
            body[name] = draw(values)
    if draw(st.booleans()):
        del body["runtime_ms"]
    return body


ACKNOWLEDGED: dict[int, int] = {}
"""Receipts acknowledged (201) so far, per deployment (by id of its client)."""


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), batch=st.integers(0, 3), atomic=st.booleans())
def test_any_accepted_request_is_signed_into_a_ledger_that_verifies(
        api: API, data: st.DataObject, batch: int, atomic: bool) -> None:
    client, auth, admin = api
    run = now_ms()
    bodies = [data.draw(plausible_calls(f"p{run}-{i}")) for i in range(max(batch, 1))]
    if batch:
        response = client.post("/v1/receipts/batch", json={"atomic": atomic, "calls": bodies},
                               headers=auth)
        _answered(response)
        results = response.json().get("results", []) if response.status_code < 400 else []
        made = [r for r in results if r["status"] == 201]
    else:
        response = client.post("/v1/receipts", json=bodies[0], headers=auth)
        _answered(response)
        made = [response.json()] if response.status_code == 201 else []
    event(f"{len(made)} of {len(bodies)} receipted")
    ACKNOWLEDGED[id(client)] = ACKNOWLEDGED.get(id(client), 0) + len(made)
    report = audit_ledger([client.get("/v1/ledger", headers=admin).content],
                          VerifyOptions(workers=1))
    assert report.valid, (report.failure, bodies)
    assert report.receipts >= ACKNOWLEDGED[id(client)]
