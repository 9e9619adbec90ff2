"""What ``/openapi.json`` says, and that the app does what it says: credentials per operation,
the answers each operation can give, batch items, the FX date, required tags, body limits."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.receipts.conftest import Deployment, call

ERROR_REF = "#/components/schemas/ErrorBody"
PUBLIC = "public"
AGENT = [{"AgentKey": []}]
ADMIN = [{"AdminToken": []}]
ANY = [{"AgentKey": []}, {"AdminToken": []}, {"FinanceToken": []}, {"TeamToken": []}]
ALL_TEAMS = [{"AdminToken": []}, {"FinanceToken": []}]
READERS = [{"AdminToken": []}, {"FinanceToken": []}, {"TeamToken": []}]
APPROVERS = [{"AdminToken": []}, {"TeamToken": []}]

OPERATIONS: dict[str, tuple[Any, set[str]]] = {
    # operation: (credentials, every status it can answer), on the default settings
    "post /v1/receipts": (AGENT, {"200", "201", "401", "403", "409", "413", "422", "503"}),
    "post /v1/receipts/batch": (AGENT, {"200", "201", "401", "403", "409", "413", "422",
                                        "503"}),
    "post /v1/otlp/v1/traces": (AGENT, {"200", "401", "403", "413", "422", "503"}),
    "get /v1/receipts": (ANY, {"200", "401", "403", "422", "501"}),
    "get /v1/receipts/{receipt_id}": (ANY, {"200", "401", "404", "422"}),
    "post /v1/agents": (ADMIN, {"201", "401", "403", "413", "422"}),
    "post /v1/import": (ADMIN, {"200", "401", "403", "404", "409", "413", "422",
                                 "503"}),
    "get /v1/agents": (ALL_TEAMS, {"200", "401", "403"}),
    "delete /v1/agents/{agent_id}": (ADMIN, {"200", "401", "403", "404", "409", "422"}),
    "post /v1/agents/{agent_id}/resume": (ADMIN, {"200", "401", "403", "404", "409", "422"}),
    "put /v1/fx/{date}": (ADMIN, {"201", "401", "403", "413", "422"}),
    "get /v1/fx": (ALL_TEAMS, {"200", "401", "403"}),
    "get /v1/ledger": (ALL_TEAMS, {"200", "401", "403", "404", "422"}),
    "get /v1/keys": (PUBLIC, {"200"}),
    "get /v1/checkpoint": (PUBLIC, {"200", "422"}),
    "get /v1/price-books": (ANY, {"200", "401"}),
    "get /v1/price-books/{book_hash}": (ANY, {"200", "401", "404", "422"}),
    "get /healthz": (PUBLIC, {"200", "503"}),
    "get /v1/spend": (READERS, {"200", "401", "403", "422"}),
    "get /v1/reports/{month}": (READERS, {"200", "401", "403", "422", "501"}),
    "get /v1/statements/{tenant}/{month}": (ALL_TEAMS, {"200", "401", "403", "422", "501"}),
    "post /v1/authorize": (AGENT, {"200", "401", "403", "413", "422", "503"}),
    "get /v1/budgets": (READERS, {"200", "401", "403"}),
    "post /v1/budgets": (ADMIN, {"200", "201", "401", "403", "413", "422"}),
    "delete /v1/budgets/{budget}": (ADMIN, {"200", "401", "403", "404", "422"}),
    "get /v1/approvals/{approval_id}": (ANY, {"200", "401", "404", "422"}),
    "post /v1/approvals/{approval_id}": (APPROVERS, {"200", "401", "403", "404", "409", "413",
                                                 "422"}),
    "post /v1/alert-channels": (ADMIN, {"201", "401", "403", "413", "422"}),
    "get /v1/alert-channels": (ADMIN, {"200", "401", "403"}),
    "delete /v1/alert-channels/{channel_id}": (ADMIN, {"200", "401", "403", "404", "409",
                                                        "422"}),
    "get /v1/alerts": (READERS, {"200", "401", "403", "422"}),
    "post /v1/alerts/{alert_id}/retry": (ADMIN, {"200", "401", "403", "404", "422"}),
    "post /v1/tokens": (ADMIN, {"201", "401", "403", "413", "422"}),
    "get /v1/tokens": (ADMIN, {"200", "401", "403"}),
    "delete /v1/tokens/{token_id}": (ADMIN, {"200", "401", "403", "404", "409", "422"}),
    "get /v1/policy": (ANY, {"200", "401", "404", "422"}),
    "put /v1/policy": (ADMIN, {"201", "401", "403", "413", "422"}),
    "get /v1/policy/versions": (ANY, {"200", "401"}),
    "get /v1/policy/flags": (READERS, {"200", "401", "403", "422"}),
    "post /v1/allocations": (ADMIN, {"201", "401", "403", "409", "413", "422"}),
    "get /v1/allocations": (ALL_TEAMS, {"200", "401", "403"}),
}


def document(deployment: Deployment, **settings: Any) -> dict[str, Any]:
    with deployment.client(**settings) as client:
        answer = client.get("/openapi.json")
    assert answer.status_code == 200
    doc: dict[str, Any] = answer.json()
    return doc


def operations(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{method} {path}": op for path, ops in doc["paths"].items()
            for method, op in ops.items()}


def test_each_operation_names_its_credential_and_every_answer(deployment: Deployment) -> None:
    doc = document(deployment)
    ops = operations(doc)
    assert set(ops) == set(OPERATIONS)
    for name, (credentials, statuses) in OPERATIONS.items():
        op = ops[name]
        assert op.get("security", PUBLIC) == credentials, name
        assert set(op["responses"]) == statuses, name
    schemes = doc["components"]["securitySchemes"]
    assert {k: (v["type"], v["scheme"]) for k, v in schemes.items()} == {
        "AgentKey": ("http", "bearer"), "AdminToken": ("http", "bearer"),
        "FinanceToken": ("http", "bearer"), "TeamToken": ("http", "bearer")}


def test_every_error_answer_is_the_one_error_body(deployment: Deployment) -> None:
    doc = document(deployment)
    schemas = doc["components"]["schemas"]
    for name, op in operations(doc).items():
        for status, answer in op["responses"].items():
            if status >= "400":
                assert answer["content"] == {"application/json": {"schema": {
                    "$ref": ERROR_REF}}}, (name, status)
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    detail = schemas["ErrorDetail"]
    assert detail["required"] == ["code", "message"]
    assert detail["properties"]["fields"]["items"] == {"$ref": "#/components/schemas/FieldError"}


def test_the_error_body_is_what_errors_look_like(deployment: Deployment) -> None:
    """The documented shape is the real one: a 422 with fields, a 401 and a 404."""
    _, agent = deployment.agent("search", project="ranker", environment="prod")
    with deployment.client() as client:
        bad = client.post("/v1/receipts", headers=agent,
                          json=call(usage={"input_tokens": -1, "output_tokens": 1}))
        anonymous = client.get("/v1/receipts")
        missing = client.get("/v1/receipts/nope", headers=agent)
    assert bad.status_code == 422
    assert set(bad.json()) == {"error"} and set(bad.json()["error"]) == {"code", "message",
                                                                         "fields"}
    (problem,) = bad.json()["error"]["fields"]
    assert set(problem) == {"field", "reason"} and problem["field"] == "usage.input_tokens"
    for answer, status in ((anonymous, 401), (missing, 404)):
        assert answer.status_code == status and set(answer.json()["error"]) == {"code",
                                                                                "message"}


def test_public_routes_follow_the_public_setting(deployment: Deployment) -> None:
    closed = operations(document(deployment, public=frozenset()))
    opened = operations(document(deployment, public=frozenset({"keys", "checkpoint",
                                                                "ledger"})))
    for name in ("get /v1/keys", "get /v1/checkpoint", "get /v1/ledger"):
        assert closed[name]["security"] == ALL_TEAMS
        assert {"401", "403"} <= set(closed[name]["responses"])
        assert "security" not in opened[name]
        assert not {"401", "403"} & set(opened[name]["responses"])
    with deployment.client(public=frozenset()) as client:
        assert client.get("/v1/keys").status_code == 401
    with deployment.client() as client:
        assert client.get("/v1/keys").status_code == 200
        assert client.get("/v1/ledger").status_code == 401


def test_batch_items_are_calls_up_to_the_batch_limit(deployment: Deployment) -> None:
    default = document(deployment)["components"]["schemas"]
    small = document(deployment, max_batch=10)["components"]["schemas"]
    calls = default["BatchIn"]["properties"]["calls"]
    assert calls["items"] == {"$ref": "#/components/schemas/CallIn"}
    assert (calls["minItems"], calls["maxItems"]) == (1, 1000)
    assert small["BatchIn"]["properties"]["calls"]["maxItems"] == 10
    _, agent = deployment.agent("search", project="ranker", environment="prod")
    with deployment.client(max_batch=10) as client:
        over = client.post("/v1/receipts/batch", json={
            "calls": [call(f"r{i}") for i in range(11)]}, headers=agent)
    assert over.status_code == 422 and over.json()["error"]["fields"][0]["field"] == "calls"


def test_fx_date_has_a_pattern(deployment: Deployment) -> None:
    put = operations(document(deployment))["put /v1/fx/{date}"]
    (date,) = [p for p in put["parameters"] if p["name"] == "date"]
    pattern = date["schema"]["pattern"]
    assert date["in"] == "path" and re.fullmatch(pattern, "2026-03-02")
    assert not re.fullmatch(pattern, "2026-3-2") and not re.fullmatch(pattern, "today")
    with deployment.client() as client:
        refused = client.put("/v1/fx/today", json={"rate": "0.79"}, headers=deployment.admin)
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"][0]["field"] == "date"


@pytest.mark.parametrize("required", [("team", "project", "environment"), ("cost_center",), ()])
def test_required_tags_are_stated(deployment: Deployment, required: tuple[str, ...]) -> None:
    tags = document(deployment, required_tags=required)["components"]["schemas"]["CallIn"][
        "properties"]["tags"]
    assert tags["x-required-tags"] == list(required)
    for name in required:
        assert name in tags["description"]
    _, agent = deployment.agent("search")
    with deployment.client(required_tags=required) as client:
        answer = client.post("/v1/receipts", json=call(tags={}), headers=agent)
    missing = {t for t in required if t != "team"}  # (team is the agent's binding)
    if missing:
        assert answer.status_code == 422
        assert {f["field"] for f in answer.json()["error"]["fields"]} == {
            f"tags.{t}" for t in missing}
    else:
        assert answer.status_code == 201


def test_fx_rates_are_read_with_the_admin_token_only(deployment: Deployment) -> None:
    """An agent key is scoped to its own receipts (each carries the rate it used)."""
    _, agent = deployment.agent("search")
    with deployment.client() as client:
        as_agent = client.get("/v1/fx", headers=agent)
        as_admin = client.get("/v1/fx", headers=deployment.admin)
    assert as_agent.status_code == 403 and as_agent.json()["error"]["code"] == "forbidden"
    assert as_admin.status_code == 200 and as_admin.json() == {"rates": []}


def test_413_states_the_deployments_body_limits(deployment: Deployment) -> None:
    ops = operations(document(deployment, max_body_bytes=2048, max_batch_body_bytes=8192))
    assert ops["post /v1/receipts"]["responses"]["413"]["description"].endswith(" 2048 bytes")
    assert ops["post /v1/receipts/batch"]["responses"]["413"]["description"].endswith(
        " 8192 bytes")


def test_text_parameters_say_nul_is_refused(deployment: Deployment) -> None:
    """The middleware refuses NUL in any path or query parameter; the document says so."""
    ops = operations(document(deployment))
    team = next(p for p in ops["get /v1/receipts"]["parameters"] if p["name"] == "team")
    (text, _null) = team["schema"]["anyOf"]
    assert not re.fullmatch(text["pattern"], "a\x00b") and re.fullmatch(text["pattern"], "ab")
    with deployment.client() as client:
        answer = client.get("/v1/receipts?team=a%00b", headers=deployment.admin)
    assert answer.status_code == 422 and answer.json()["error"]["fields"][0]["field"] == "team"


def test_started_at_is_text_as_documented(deployment: Deployment) -> None:
    """The schema says an RFC 3339 string; a number (which pydantic would read as seconds)
    is refused."""
    started = document(deployment)["components"]["schemas"]["CallIn"]["properties"][
        "started_at"]
    assert {"type": "string", "format": "date-time"} in started["anyOf"]
    _, agent = deployment.agent("search", project="ranker", environment="prod")
    with deployment.client() as client:
        number = client.post("/v1/receipts", json=call(started_at=0), headers=agent)
        text = client.post("/v1/receipts", json=call("r2", started_at="2026-01-01T00:00:00Z"),
                           headers=agent)
    assert number.status_code == 422
    assert number.json()["error"]["fields"][0]["field"] == "started_at"
    assert text.status_code == 201
