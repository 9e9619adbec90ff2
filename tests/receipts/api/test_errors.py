"""Bad input and bad credentials: each gets its 4xx with a JSON body naming the field and why."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from receipts.api.schemas import MAX_TOKENS
from tests.receipts.conftest import Deployment, call, make_deployment
from verifier import cose
from verifier.encoding import decode_strict
from verifier.keys import PublicKey


def fields(response: Any) -> dict[str, str]:
    """field -> reason of an error response (asserting the common shape)."""
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] and body["error"]["message"]
    return {f["field"]: f["reason"] for f in body["error"].get("fields", [])}


def test_created_receipt_is_signed_priced_and_chained(deployment: Deployment) -> None:
    _, auth = deployment.agent("search", project="ranker")
    with deployment.client() as client:
        first = client.post("/v1/receipts", json=call("a"), headers=auth)
        second = client.post("/v1/receipts", json=call("b"), headers=auth)
    assert first.status_code == second.status_code == 201
    receipt = first.json()["receipt"]
    assert receipt["tags"] == {"team": "search", "project": "ranker", "environment": "prod"}
    assert receipt["usage"] == {"input": 600, "cache_read": 400, "output": 200}
    # 600 x 2.50 + 400 x 1.25 + 200 x 10.00 per 1M tokens = 0.004 USD
    assert receipt["cost"] == "0.004000000000"
    assert receipt["unit_prices"] == {"input": "2.500000", "cache_read": "1.250000",
                                      "output": "10.000000"}
    assert receipt["fx"]["currency"] == "USD" and receipt["cost_reporting"] == receipt["cost"]
    item = base64.b64decode(first.json()["cose"])
    env = cose.parse(item)
    assert PublicKey(deployment.made.signer.public_key).verify(env.signature, env.signed_bytes())
    assert decode_strict(env.payload)["id"] == receipt["id"]
    import hashlib

    assert second.json()["receipt"]["prev"] == hashlib.sha256(item).hexdigest()
    assert second.json()["receipt"]["seq"] == receipt["seq"] + 1


def test_unknown_model_gets_an_unpriced_receipt(deployment: Deployment) -> None:
    _, auth = deployment.agent()
    with deployment.client() as client:
        r = client.post("/v1/receipts", json=call(model="no-such-model-9"), headers=auth)
    assert r.status_code == 201
    assert r.json()["receipt"]["cost"] is None
    assert r.json()["receipt"]["pricing_status"] == "unknown_model"


@pytest.mark.parametrize("header", [None, "Bearer", "Basic abc", "Bearer rk_not-a-key",
                                    "Bearer ra_not-the-admin-token"])
def test_401_without_or_with_a_bad_key(deployment: Deployment, header: str | None) -> None:
    with deployment.client() as client:
        headers = {"Authorization": header} if header else {}
        r = client.post("/v1/receipts", json=call(), headers=headers)
        listed = client.get("/v1/receipts", headers=headers)
    assert r.status_code == 401 and listed.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"
    assert r.headers["www-authenticate"] == "Bearer"


def test_401_before_422(deployment: Deployment) -> None:
    with deployment.client() as client:
        r = client.post("/v1/receipts", json={"nonsense": True})
    assert r.status_code == 401


def test_revoked_key_is_refused_at_once(deployment: Deployment) -> None:
    agent_id, auth = deployment.agent()
    with deployment.client() as client:
        assert client.post("/v1/receipts", json=call("1"), headers=auth).status_code == 201
        assert client.delete(f"/v1/agents/{agent_id}", headers=deployment.admin).status_code \
            == 200
        refused = client.post("/v1/receipts", json=call("2"), headers=auth)
        reads = client.get("/v1/receipts", headers=auth)
    assert refused.status_code == 401 and reads.status_code == 401


def test_admin_token_cannot_write_receipts(deployment: Deployment) -> None:
    with deployment.client() as client:
        r = client.post("/v1/receipts", json=call(), headers=deployment.admin)
    assert r.status_code == 403


@pytest.mark.parametrize(("tags", "field"), [
    ({"team": "support"}, "tags.team"),
    ({"project": "other"}, "tags.project"),
])
def test_403_when_tags_contradict_bound_tags(deployment: Deployment, tags: dict[str, str],
                                             field: str) -> None:
    _, auth = deployment.agent("search", project="ranker")
    with deployment.client() as client:
        r = client.post("/v1/receipts", json=call(tags={"environment": "prod", **tags}),
                        headers=auth)
    assert r.status_code == 403
    assert field in fields(r)


def test_bound_tags_equal_to_sent_ones_are_fine(deployment: Deployment) -> None:
    _, auth = deployment.agent("search", project="ranker")
    body = call(tags={"team": "search", "project": "ranker", "environment": "dev"})
    with deployment.client() as client:
        assert client.post("/v1/receipts", json=body, headers=auth).status_code == 201


def _usage(**counts: Any) -> dict[str, Any]:
    return {"input_tokens": 100, "output_tokens": 50, **counts}


@pytest.mark.parametrize(("change", "field"), [
    ({"usage": _usage(input_tokens=-1)}, "usage.input_tokens"),
    ({"usage": _usage(output_tokens=1.5)}, "usage.output_tokens"),
    ({"usage": _usage(output_tokens=10.0)}, "usage.output_tokens"),
    ({"usage": _usage(input_tokens="100")}, "usage.input_tokens"),
    ({"usage": _usage(input_tokens=True)}, "usage.input_tokens"),
    ({"usage": _usage(input_tokens=MAX_TOKENS + 1)}, "usage.input_tokens"),
    ({"usage": _usage(cache_read_tokens=10**30)}, "usage.cache_read_tokens"),
    ({"usage": _usage(cache_read_tokens=80, cache_write_tokens=30)}, "usage.cache_read_tokens"),
    ({"usage": _usage(reasoning_tokens=51)}, "usage.reasoning_tokens"),
    ({"usage": _usage(input_token=3)}, "usage.input_token"),
    ({"usage": {"output_tokens": 1}}, "usage.input_tokens"),
    ({"tags": {"project": "p", "environment": "e", "k": 7}}, "tags.k"),
    ({"tags": {"project": "p", "environment": "e", "k": "v" * 257}}, "tags.k"),
    ({"tags": {"project": "p", "environment": "e", "k" * 65: "v"}}, "tags." + "k" * 65 + ".[key]"),
    ({"tags": ["project"]}, "tags"),
    ({"request_id": ""}, "request_id"),
    ({"request_id": "x" * 257}, "request_id"),
    ({"model": 4}, "model"),
    ({"runtime_ms": -5}, "runtime_ms"),
    ({"started_at": "yesterday"}, "started_at"),
    ({"started_at": "2025-12-01T10:00:00"}, "started_at"),
    ({"surprise": 1}, "surprise"),
])
def test_422_names_each_bad_field(deployment: Deployment, change: dict[str, Any],
                                  field: str) -> None:
    _, auth = deployment.agent()
    with deployment.client() as client:
        r = client.post("/v1/receipts", json=call(**change), headers=auth)
        assert r.status_code == 422, r.text
        assert field in fields(r), r.json()
        assert client.get("/v1/receipts", headers=auth).json()["receipts"] == []


def test_422_lists_every_missing_field(deployment: Deployment) -> None:
    _, auth = deployment.agent()
    with deployment.client() as client:
        r = client.post("/v1/receipts", json={}, headers=auth)
        bad_json = client.post("/v1/receipts", content=b"{not json",
                               headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 422
    assert {"request_id", "provider", "model", "usage"} <= set(fields(r))
    assert bad_json.status_code == 422


def test_a_lone_surrogate_is_a_422(deployment: Deployment) -> None:
    """JSON text may escape a lone surrogate, UTF-8 cannot hold it: refused as input (422),
    never a 500 from the encoders behind."""
    _, auth = deployment.agent()
    body = b'{"request_id": "r1", "provider": "openai", "model": "gpt-4o", "\\ud800": 1, ' \
           b'"usage": {"input_tokens": 1, "output_tokens": 1}}'
    with deployment.client() as client:
        r = client.post("/v1/receipts", content=body,
                        headers={**auth, "Content-Type": "application/json"})
        batch = client.post("/v1/receipts/batch", content=b'{"calls": [' + body + b"]}",
                            headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 422 and fields(r), r.text
    assert batch.status_code == 422 and fields(batch), batch.text


def test_json_bytes_answers_what_orjson_refuses() -> None:
    """The response encoder falls back to the standard library for what orjson refuses (lone
    surrogates, integers past 64 bits), and both read back to the same value."""
    import json

    from receipts.api.errors import json_bytes

    for body in ({"a": 2**70, "b": "x"}, {"field": "tags.\ud800"}, {"m": "é€", "n": None}):
        assert json.loads(json_bytes(body)) == body


def test_required_tags_missing_are_listed(deployment: Deployment) -> None:
    _, auth = deployment.agent()
    with deployment.client() as client:
        r = client.post("/v1/receipts", json=call(tags={}), headers=auth)
    assert r.status_code == 422
    assert set(fields(r)) == {"tags.project", "tags.environment"}


def test_required_tags_are_a_setting(deployment: Deployment) -> None:
    _, auth = deployment.agent()
    with deployment.client(required_tags=("cost_center",)) as client:
        missing = client.post("/v1/receipts", json=call("1", tags={}), headers=auth)
        ok = client.post("/v1/receipts", json=call("2", tags={"cost_center": "cc1"}),
                         headers=auth)
    assert missing.status_code == 422 and set(fields(missing)) == {"tags.cost_center"}
    assert ok.status_code == 201


def test_413_for_oversized_bodies(deployment: Deployment) -> None:
    _, auth = deployment.agent()
    big = call(tags={"project": "p", "environment": "e",
                     **{f"t{i}": "v" * 250 for i in range(30)}})
    with deployment.client(max_body_bytes=4096) as client:
        r = client.post("/v1/receipts", json=big, headers=auth)

        def chunks() -> Any:
            for _ in range(10):
                yield b" " * 1000

        chunked = client.post("/v1/receipts", content=chunks(),
                              headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    assert chunked.status_code == 413


def test_unknown_route_and_method_are_json(deployment: Deployment) -> None:
    with deployment.client() as client:
        missing = client.get("/v1/nothing")
        method = client.put("/v1/receipts")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert method.status_code == 405 and "error" in method.json()


def test_openapi_documents_the_api(deployment: Deployment) -> None:
    with deployment.client() as client:
        spec = client.get("/openapi.json").json()
        docs = client.get("/docs")
    assert docs.status_code == 200
    for path in ("/v1/receipts", "/v1/receipts/batch", "/v1/receipts/{receipt_id}",
                 "/v1/ledger", "/v1/keys", "/v1/checkpoint", "/healthz"):
        assert path in spec["paths"]
    assert "CallIn" in spec["components"]["schemas"]


def _nul_answers(deployment: Deployment) -> None:
    """NUL (U+0000) in a body field, a query parameter or a path: a 422 naming it, and nothing
    stored (PostgreSQL text cannot hold NUL; SQLite must answer the same)."""
    _, auth = deployment.agent()
    nul = "a\x00b"
    with deployment.client() as client:
        bodies = {
            "request_id": client.post("/v1/receipts", json=call(nul), headers=auth),
            "tags.project": client.post("/v1/receipts", headers=auth, json=call(
                "r1", tags={"project": nul, "environment": "prod"})),
            "status": client.post("/v1/receipts", json=call("r2", status=nul), headers=auth),
            "calls.0.model": client.post("/v1/receipts/batch", headers=auth,
                                         json={"calls": [call("r3", model=nul)]}),
            "team": client.post("/v1/agents", json={"team": nul}, headers=deployment.admin),
            "source": client.put("/v1/fx/2025-11-30", headers=deployment.admin,
                                 json={"rate": "0.79", "quote": "GBP", "source": nul}),
        }
        params = {
            "team": client.get("/v1/receipts?team=a%00b", headers=deployment.admin),
            "agent": client.get("/v1/receipts?agent=%00", headers=auth),
            "chain": client.get("/v1/ledger?chain=c%000", headers=deployment.admin),
            "path": client.get("/v1/receipts/a%00b", headers=deployment.admin),
        }
        revoked = client.delete("/v1/agents/a%00b", headers=deployment.admin)
        stored = client.get("/v1/receipts", headers=deployment.admin).json()["receipts"]
    for field, r in {**bodies, **params}.items():
        assert r.status_code == 422, (field, r.text)
        assert fields(r) == {field: fields(r)[field]}, (field, r.text)
        assert "NUL" in fields(r)[field]
    assert revoked.status_code == 422 and fields(revoked) == {"path": fields(revoked)["path"]}
    assert stored == []


def test_nul_in_text_is_a_422_on_sqlite(deployment: Deployment) -> None:
    _nul_answers(deployment)


@pytest.mark.postgres
def test_nul_in_text_is_a_422_on_postgres(tmp_path: Path, pg_url: str) -> None:
    _nul_answers(make_deployment(tmp_path, pg_url))
