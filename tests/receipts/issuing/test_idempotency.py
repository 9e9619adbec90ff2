"""Idempotency (a retry is never a second charge) and the batch endpoint's two modes."""

from __future__ import annotations

from typing import Any

import pytest

from receipts.api.schemas import CallIn
from receipts.deployment.credentials import Agent
from receipts.issuing.prepare import prepare, receipt_ids
from tests.receipts.conftest import Deployment, call

PINNED_BODIES: list[tuple[dict[str, Any], str]] = [
    ({"request_id": "r1", "provider": "openai", "model": "gpt-4o",
      "usage": {"input_tokens": 1000, "output_tokens": 200, "cache_read_tokens": 400},
      "tags": {"environment": "prod"}, "runtime_ms": 900},
     "5254c5d909dd924e506e923e7944b32a6170687721f6384e0389afe95df34104"),
    ({"request_id": "r2", "provider": "anthropic", "model": "claude-sonnet-4-0",
      "usage": {"input_tokens": 5000, "output_tokens": 800, "cache_write_tokens": 300,
                "cache_write_1h_tokens": 100, "reasoning_tokens": 50, "web_search_requests": 2},
      "tags": {"environment": "prod", "note": "caf\u00e9\x7f"}, "service_tier": "batch",
      "started_at": "2026-03-02T10:00:00.123+01:00", "retry_of": "r1", "status": "error"},
     "46175c25754745b1ac32623ad7bc8fcac5e6265459773a0fb8d14849a3c6a281"),
    ({"request_id": "r3", "provider": "openai", "model": "gpt-4o", "usage_format": "openai",
      "usage": {"prompt_tokens": 2000, "completion_tokens": 400, "cost": 0.25,
                "prompt_tokens_details": {"cached_tokens": 1500}},
      "tags": {"environment": "prod"}},
     "2f37f29488de31e44aac5749099e4e17295f163f2b8a6dff443ad6873ae8fa91"),
]


def test_receipt_ids_are_random_version_4_uuids_in_canonical_text() -> None:
    import uuid

    ids = receipt_ids(2000)
    assert len(set(ids)) == 2000 and receipt_ids(0) == []
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122


@pytest.mark.parametrize(("body", "digest"), PINNED_BODIES)
def test_body_hashes_never_change(body: dict[str, Any], digest: str) -> None:
    """Stored receipts keep the body hash they were written with: a retry after an upgrade must
    hash the same or it would be a 409. Pinned values (our convention with and without the
    fields added later, non-ASCII and DEL in a tag, a provider usage object with a float)."""
    agent = Agent("agt_1", "search", {"project": "ranker"})
    prepared = prepare(agent, CallIn.model_validate(body), ("team", "project", "environment"))
    assert prepared.body_hash.hex() == digest


def test_same_body_gets_the_original_receipt(deployment: Deployment) -> None:
    _, auth = deployment.agent()
    with deployment.client() as client:
        first = client.post("/v1/receipts", json=call("dup"), headers=auth)
        again = client.post("/v1/receipts", json=call("dup"), headers=auth)
        reordered = client.post("/v1/receipts", json=dict(reversed(call("dup").items())),
                                headers=auth)
        count = len(client.get("/v1/receipts", headers=auth).json()["receipts"])
    assert first.status_code == 201
    assert again.status_code == reordered.status_code == 200
    assert again.json() == first.json() == reordered.json()
    assert count == 1


def test_different_body_is_409_and_stores_nothing(deployment: Deployment) -> None:
    _, auth = deployment.agent()
    with deployment.client() as client:
        assert client.post("/v1/receipts", json=call("dup"), headers=auth).status_code == 201
        changed = call("dup", usage={"input_tokens": 1001, "output_tokens": 200})
        conflict = client.post("/v1/receipts", json=changed, headers=auth)
        count = len(client.get("/v1/receipts", headers=auth).json()["receipts"])
    assert conflict.status_code == 409
    assert conflict.json()["error"]["fields"][0]["field"] == "request_id"
    assert count == 1


def test_request_ids_are_per_agent(deployment: Deployment) -> None:
    _, one = deployment.agent("search")
    _, two = deployment.agent("support")
    with deployment.client() as client:
        a = client.post("/v1/receipts", json=call("same"), headers=one)
        b = client.post("/v1/receipts", json=call("same"), headers=two)
    assert a.status_code == b.status_code == 201
    assert a.json()["receipt"]["id"] != b.json()["receipt"]["id"]


def test_atomic_batch_stores_all(deployment: Deployment) -> None:
    _, auth = deployment.agent()
    calls = [call(f"b{i}") for i in range(25)]
    with deployment.client() as client:
        r = client.post("/v1/receipts/batch", json={"calls": calls}, headers=auth)
        replay = client.post("/v1/receipts/batch", json={"calls": calls}, headers=auth)
    assert r.status_code == 201
    results = r.json()["results"]
    assert [x["index"] for x in results] == list(range(25))
    assert all(x["status"] == 201 and x["cose"] for x in results)
    seqs = [x["receipt"]["seq"] for x in results]
    assert seqs == sorted(seqs) and len(set(seqs)) == 25
    assert replay.status_code == 200
    assert [x["receipt"]["id"] for x in replay.json()["results"]] == \
        [x["receipt"]["id"] for x in results]


def test_atomic_batch_with_a_bad_item_stores_nothing(deployment: Deployment) -> None:
    _, auth = deployment.agent()
    calls = [call(f"b{i}") for i in range(5)]
    calls[3]["usage"] = {"input_tokens": -1, "output_tokens": 2}
    with deployment.client() as client:
        r = client.post("/v1/receipts/batch", json={"calls": calls}, headers=auth)
        stored = client.get("/v1/receipts", headers=auth).json()["receipts"]
    assert r.status_code == 422
    assert [f["field"] for f in r.json()["error"]["fields"]] == ["calls.3.usage.input_tokens"]
    assert stored == []


def test_atomic_batch_with_a_conflict_stores_nothing(deployment: Deployment) -> None:
    _, auth = deployment.agent()
    with deployment.client() as client:
        assert client.post("/v1/receipts", json=call("x"), headers=auth).status_code == 201
        calls = [call("y"), call("x", model="gpt-4o-mini"), call("z")]
        r = client.post("/v1/receipts/batch", json={"calls": calls}, headers=auth)
        ids = {x["receipt"]["request_id"]
               for x in client.get("/v1/receipts", headers=auth).json()["receipts"]}
    assert r.status_code == 409
    assert ids == {"x"}


def test_atomic_batch_forbidden_item(deployment: Deployment) -> None:
    _, auth = deployment.agent("search")
    calls = [call("a"), call("b", tags={"team": "support", "project": "p",
                                        "environment": "e"})]
    with deployment.client() as client:
        r = client.post("/v1/receipts/batch", json={"calls": calls}, headers=auth)
    assert r.status_code == 403
    assert r.json()["error"]["fields"][0]["field"] == "calls.1.tags.team"


def test_non_atomic_batch_has_per_item_results(deployment: Deployment) -> None:
    _, auth = deployment.agent("search")
    with deployment.client() as client:
        assert client.post("/v1/receipts", json=call("old"), headers=auth).status_code == 201
        calls = [
            call("new"),
            call("old"),
            call("old", model="gpt-4.1"),
            call("bad", usage={"input_tokens": 1, "output_tokens": 1.5}),
            call("steal", tags={"team": "support", "project": "p", "environment": "e"}),
            call("twice"),
            call("twice"),
        ]
        r = client.post("/v1/receipts/batch", json={"calls": calls, "atomic": False},
                        headers=auth)
        stored = {x["receipt"]["request_id"]
                  for x in client.get("/v1/receipts", headers=auth).json()["receipts"]}
    assert r.status_code == 200
    results = r.json()["results"]
    assert [x["status"] for x in results] == [201, 200, 409, 422, 403, 201, 200]
    assert results[3]["error"]["fields"][0]["field"] == "calls.3.usage.output_tokens"
    assert results[5]["receipt"]["id"] == results[6]["receipt"]["id"]
    assert stored == {"old", "new", "twice"}


def test_batch_limits(deployment: Deployment) -> None:
    _, auth = deployment.agent()
    with deployment.client(max_batch=3) as client:
        over = client.post("/v1/receipts/batch", json={"calls": [call(str(i))
                                                                  for i in range(4)]},
                           headers=auth)
        empty = client.post("/v1/receipts/batch", json={"calls": []}, headers=auth)
        not_bool = client.post("/v1/receipts/batch", json={"calls": [call()], "atomic": "no"},
                               headers=auth)
    assert over.status_code == 422 and over.json()["error"]["fields"][0]["field"] == "calls"
    assert empty.status_code == 422
    assert not_bool.status_code == 422


def test_concurrent_duplicates_in_one_group_make_one_receipt(deployment: Deployment) -> None:
    import asyncio

    import httpx

    from receipts.api.app import create_app

    _, auth = deployment.agent()

    async def run() -> list[httpx.Response]:
        app = create_app(deployment.settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return list(await asyncio.gather(*(
                    client.post("/v1/receipts", json=call("same"), headers=auth)
                    for _ in range(8))))

    responses = asyncio.run(run())
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201]
    assert len({r.json()["receipt"]["id"] for r in responses}) == 1
