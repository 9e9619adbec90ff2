"""Reading a body: the caller is authenticated first, then one rule for the bytes (not UTF-8,
not JSON or nested past the limit: a 422 naming ``body``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from receipts.api.body_reading import MAX_JSON_DEPTH
from tests.receipts.conftest import Deployment, call


def _nested(depth: int) -> Any:
    """``depth`` nested arrays: ``[[...]]``."""
    return json.loads("[" * depth + "]" * depth)


def _openai(extra: Any) -> dict[str, Any]:
    """An OpenAI usage object carrying ``extra`` in a field the reader ignores."""
    return {"prompt_tokens": 10, "completion_tokens": 2, "x_extra": extra}


def _refused_body(response: Any) -> str:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert [f["field"] for f in error["fields"]] == ["body"]
    reason: str = error["fields"][0]["reason"]
    return reason


@pytest.mark.parametrize("depth", [500, 900])
def test_deeply_nested_usage_is_a_422_not_a_500(deployment: Deployment, depth: int) -> None:
    _, auth = deployment.agent()
    body = json.dumps(call("deep", usage_format="openai", usage=_openai(_nested(depth))))
    with deployment.client() as client:
        r = client.post("/v1/receipts", content=body,
                        headers={**auth, "Content-Type": "application/json"})
    assert "nested more than" in _refused_body(r)


def test_deeply_nested_batch_item_is_a_422_not_a_500(deployment: Deployment) -> None:
    _, auth = deployment.agent()
    deep = call("deep", usage_format="openai", usage=_openai(_nested(300)))
    with deployment.client() as client:
        r = client.post("/v1/receipts/batch", json={"calls": [call("ok"), deep],
                                                    "atomic": False}, headers=auth)
        stored = client.get("/v1/receipts", headers=deployment.admin).json()["receipts"]
    assert "nested more than" in _refused_body(r)
    assert stored == []


def test_nesting_up_to_the_limit_is_read(deployment: Deployment) -> None:
    """The body counts as one level, usage as two, so the extra field holds the rest."""
    _, auth = deployment.agent()
    with deployment.client() as client:
        at = client.post("/v1/receipts", json=call(
            "at", usage_format="openai", usage=_openai(_nested(MAX_JSON_DEPTH - 2))),
            headers=auth)
        past = client.post("/v1/receipts", json=call(
            "past", usage_format="openai", usage=_openai(_nested(MAX_JSON_DEPTH - 1))),
            headers=auth)
    assert at.status_code == 201, at.text
    assert "nested more than" in _refused_body(past)


@pytest.mark.parametrize("raw", [b'{"request_id": "\xff"}', b"\xef\xbb\xbf{}",
                                 b'{"request_id": "\xed\xa0\x80"}',  # an encoded surrogate
                                 '{"request_id": "r"}'.encode("utf-16")])
def test_a_body_that_is_not_utf8_is_the_same_422_as_malformed_json(
        deployment: Deployment, raw: bytes) -> None:
    _, auth = deployment.agent()
    with deployment.client() as client:
        not_utf8 = client.post("/v1/receipts", content=raw,
                               headers={**auth, "Content-Type": "application/json"})
        malformed = client.post("/v1/receipts", content=b'{"request_id": ',
                                headers={**auth, "Content-Type": "application/json"})
    _refused_body(not_utf8)
    assert "line 1, column 16" in _refused_body(malformed)


@pytest.mark.parametrize(("path", "method"), [("/v1/receipts", "POST"),
                                              ("/v1/receipts/batch", "POST"),
                                              ("/v1/agents", "POST"),
                                              ("/v1/fx/2026-01-02", "PUT")])
@pytest.mark.parametrize("body", [b"{bad", b"\xff", b'{"calls": 3}', b""])
def test_without_a_key_the_answer_is_401_whatever_the_body(
        deployment: Deployment, path: str, method: str, body: bytes) -> None:
    with deployment.client() as client:
        for headers in ({}, {"Authorization": "Bearer rk_unknown"}):
            r = client.request(method, path, content=body,
                               headers={**headers, "Content-Type": "application/json"})
            assert r.status_code == 401, (headers, r.text)
            assert r.headers["www-authenticate"] == "Bearer"


def test_the_wrong_kind_of_key_is_403_before_the_body_is_read(deployment: Deployment) -> None:
    _, agent = deployment.agent()
    with deployment.client() as client:
        admin_writes = client.post("/v1/receipts", content=b"{bad",
                                   headers={**deployment.admin,
                                            "Content-Type": "application/json"})
        agent_admins = client.put("/v1/fx/2026-01-02", content=b"{bad",
                                  headers={**agent, "Content-Type": "application/json"})
        agent_creates = client.post("/v1/agents", content=b"{bad", headers=agent)
    assert [admin_writes.status_code, agent_admins.status_code,
            agent_creates.status_code] == [403, 403, 403]


def test_authenticated_bodies_are_read_as_before(deployment: Deployment) -> None:
    """Routes keep their dependencies' answers once authenticated (the lookup is reused)."""
    _, auth = deployment.agent()
    with deployment.client() as client:
        made = client.post("/v1/receipts", json=call("r"), headers=auth)
        agent = client.post("/v1/agents", json={"team": "ops"}, headers=deployment.admin)
        bad_field = client.post("/v1/receipts", json=call("r2", usage=[]), headers=auth)
    assert made.status_code == 201 and agent.status_code == 201
    assert bad_field.status_code == 422
