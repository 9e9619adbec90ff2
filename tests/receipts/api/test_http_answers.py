"""HTTP answers that must not say more, or less, than they should: one 401 for unknown and
revoked keys; a 405 names the methods the path allows (RFC 9110 §15.5.6)."""

from __future__ import annotations

import pytest

from tests.receipts.conftest import Deployment, call


def test_a_revoked_key_gets_the_answer_an_unknown_one_gets(deployment: Deployment) -> None:
    """Even while the writer's key lookup is cached (revocation is checked when appending)."""
    agent_id, auth = deployment.agent()
    with deployment.client() as client:
        assert client.post("/v1/receipts", json=call("a"), headers=auth).status_code == 201
        assert client.delete(f"/v1/agents/{agent_id}", headers=deployment.admin).status_code \
            == 200
        revoked = [client.post("/v1/receipts", json=call("b"), headers=auth),
                   client.post("/v1/receipts/batch", json={"calls": [call("c")]}, headers=auth),
                   client.get("/v1/receipts", headers=auth)]
        unknown = [client.post("/v1/receipts", json=call("b"),
                               headers={"Authorization": "Bearer rk_never_issued"}),
                   client.get("/v1/receipts", headers={"Authorization": "Bearer rk_never"})]
        batch_each = client.post("/v1/receipts/batch", json={"calls": [call("d")],
                                                             "atomic": False}, headers=auth)
    answers = {(r.status_code, r.json()["error"]["message"]) for r in revoked + unknown}
    assert answers == {(401, "unknown or revoked key")}
    item = batch_each.json()["results"][0]
    assert (item["status"], item["error"]["message"]) == (401, "unknown or revoked key")


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("PUT", "/v1/receipts", "GET, POST"),
    ("DELETE", "/v1/agents", "GET, POST"),
    ("GET", "/v1/agents/agt_1", "DELETE"),
    ("POST", "/v1/fx/2026-01-02", "PUT"),
    ("POST", "/healthz", "GET"),
])
def test_a_405_carries_allow(deployment: Deployment, method: str, path: str,
                             allow: str) -> None:
    with deployment.client() as client:
        r = client.request(method, path, headers=deployment.admin)
    assert r.status_code == 405
    assert r.headers["allow"] == allow
    assert r.json()["error"]["code"] == "method_not_allowed"
