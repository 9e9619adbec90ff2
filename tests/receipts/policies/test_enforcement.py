"""Policies enforced at receipt time, on SQLite and PostgreSQL: a deny rule is a 422 naming the
rule and nothing is signed; a flag rule signs the receipt unchanged and records a flag; versions
are kept; replays answer with the original whatever the policy says now."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.receipts.conftest import Deployment, call, make_deployment, postgres_schema

RULES: list[dict[str, Any]] = [
    {"name": "prod-cost-center", "kind": "require_tags", "when": {"environment": "prod"},
     "tags": ["cost_center"], "message": "production calls name a cost_center"},
    {"name": "mini-only-in-dev", "kind": "deny_models", "when": {"environment": "dev"},
     "models": ["gpt-4o"], "mode": "flag", "message": "use gpt-4o-mini in dev"},
    {"name": "call-limit", "kind": "max_cost", "max_cost": "0.0001",
     "when": {"project": "cheap"}, "message": "cheap calls cost at most 0.0001"},
]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def dep(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    with ExitStack() as stack:
        url = stack.enter_context(postgres_schema()) if request.param == "postgres" else None
        yield make_deployment(tmp_path, db_url=url)


def dev(request_id: str, **overrides: Any) -> dict[str, Any]:
    return call(request_id, tags={"project": "ranker", "environment": "dev"}, **overrides)


def test_deny_flag_and_cost_rules_at_receipt_time(dep: Deployment) -> None:
    _, search = dep.agent("search")
    _, support = dep.agent("support")
    _, team = dep.role_token("team", "support")
    with dep.client() as client:
        put = client.put("/v1/policy", json={"rules": RULES}, headers=dep.admin)
        assert put.status_code == 201, put.text
        assert put.json()["version"] == 1 and len(put.json()["sha256"]) == 64

        denied = client.post("/v1/receipts", json=call("d1"), headers=search)
        allowed = client.post("/v1/receipts", json=call(
            "d2", tags={"project": "ranker", "environment": "prod", "cost_center": "cc-7"}),
            headers=search)
        flagged = client.post("/v1/receipts", json=dev("f1"), headers=search)
        flagged_support = client.post("/v1/receipts", json=dev("f2"), headers=support)
        clean = client.post("/v1/receipts", json=dev("c1", model="gpt-4o-mini"), headers=search)
        costly = client.post("/v1/receipts", json=call(
            "m1", tags={"project": "cheap", "environment": "dev"}, model="gpt-4o-mini"),
            headers=search)
        cheap = client.post("/v1/receipts", json=call(
            "m2", tags={"project": "cheap", "environment": "dev"}, model="gpt-4o-mini",
            usage={"input_tokens": 10, "output_tokens": 1}), headers=search)
        stored = client.get("/v1/receipts", headers=dep.admin).json()["receipts"]
        flags = client.get("/v1/policy/flags", headers=dep.admin).json()["flags"]
        team_flags = client.get("/v1/policy/flags", headers=team).json()["flags"]
        other_team = client.get("/v1/policy/flags?team=search", headers=team)
        agent_flags = client.get("/v1/policy/flags", headers=search)

    assert denied.status_code == 422
    error = denied.json()["error"]
    assert error["code"] == "policy_denied"
    assert error["message"] == "policy rule 'prod-cost-center': production calls name a " \
                               "cost_center"
    assert error["fields"][0]["field"] == "tags.cost_center"
    assert allowed.status_code == 201
    assert flagged.status_code == 201 and flagged_support.status_code == 201
    assert clean.status_code == 201
    assert costly.status_code == 422
    assert costly.json()["error"]["fields"][0]["field"] == "estimated_cost"
    assert "call-limit" in costly.json()["error"]["message"]
    assert cheap.status_code == 201
    assert {r["receipt"]["request_id"] for r in stored} == {"d2", "f1", "f2", "c1", "m2"}

    receipt = flagged.json()["receipt"]
    assert "flag" not in str(receipt) and "policy" not in str(receipt)  # payload untouched
    assert {(f["receipt_id"], f["rule"]) for f in flags} == {
        (receipt["id"], "mini-only-in-dev"),
        (flagged_support.json()["receipt"]["id"], "mini-only-in-dev")}
    one = next(f for f in flags if f["receipt_id"] == receipt["id"])
    assert one["policy_version"] == 1 and one["team"] == "search" and one["field"] == "model"
    assert one["message"] == "use gpt-4o-mini in dev"
    assert [f["team"] for f in team_flags] == ["support"]
    assert other_team.status_code == 403 and agent_flags.status_code == 403


def test_batches_refuse_denied_items(dep: Deployment) -> None:
    _, agent = dep.agent("search")
    with dep.client() as client:
        assert client.put("/v1/policy", json={"rules": RULES},
                          headers=dep.admin).status_code == 201
        atomic = client.post("/v1/receipts/batch", json={"calls": [dev("a1"), call("a2")]},
                             headers=agent)
        partial = client.post("/v1/receipts/batch", json={
            "atomic": False, "calls": [dev("b1"), call("b2"), dev("b3", model="gpt-4o-mini")]},
            headers=agent)
        flags = client.get("/v1/policy/flags", headers=dep.admin).json()["flags"]
    assert atomic.status_code == 422
    assert atomic.json()["error"]["fields"][0]["field"] == "calls.1.tags.cost_center"
    results = partial.json()["results"]
    assert [r["status"] for r in results] == [201, 422, 201]
    assert results[1]["error"]["code"] == "policy_denied"
    assert [f["receipt_id"] for f in flags] == [results[0]["receipt"]["id"]]


def test_versions_are_kept_and_replays_keep_their_receipt(dep: Deployment) -> None:
    _, agent = dep.agent("search")
    _, finance = dep.role_token("finance")
    with dep.client() as client:
        before = client.post("/v1/receipts", json=call("r1"), headers=agent)
        empty = client.get("/v1/policy", headers=agent).json()
        v1 = client.put("/v1/policy", json={"rules": RULES}, headers=dep.admin).json()
        replay = client.post("/v1/receipts", json=call("r1"), headers=agent)
        fresh = client.post("/v1/receipts", json=call("r2"), headers=agent)
        v2 = client.put("/v1/policy", json={"rules": []}, headers=dep.admin).json()
        now_allowed = client.post("/v1/receipts", json=call("r2"), headers=agent)
        versions = client.get("/v1/policy/versions", headers=finance).json()["versions"]
        old = client.get("/v1/policy?version=1", headers=finance).json()
        missing = client.get("/v1/policy?version=9", headers=finance)
        by_finance = client.put("/v1/policy", json={"rules": []}, headers=finance)
        bad = client.put("/v1/policy", json={"rules": [{**RULES[0], "mode": "warn"}]},
                         headers=dep.admin)
        current = client.get("/v1/policy", headers=agent).json()
    assert empty == {"version": 0, "sha256": None, "format": None, "created_at": None,
                     "rules": [], "source": None}
    assert before.status_code == 201 and replay.status_code == 200
    assert replay.json()["receipt"]["id"] == before.json()["receipt"]["id"]
    assert fresh.status_code == 422 and now_allowed.status_code == 201
    assert [v["version"] for v in versions] == [1, 2]
    assert [v["rules"] for v in versions] == [3, 0]
    assert versions[0]["sha256"] == v1["sha256"] != v2["sha256"]
    assert old["rules"][0]["name"] == "prod-cost-center" and old["format"] == "json"
    assert missing.status_code == 404 and by_finance.status_code == 403
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"][0]["field"] == "rules.0.mode"
    assert current["version"] == 2
