"""Role tokens: finance reads every team, a team token only its own; neither writes; revoked
tokens are the same 401 as unknown ones; tokens are stored only as hashes. SQLite and
PostgreSQL."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from receipts.api.app import create_app
from receipts.api.dependencies import AdminPrincipal, ApproverScope, ReaderScope
from receipts.deployment.credentials import UNKNOWN_OR_REVOKED
from tests.receipts.conftest import Deployment, call, make_deployment, postgres_schema


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def dep(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    """A deployment on each backend."""
    with ExitStack() as stack:
        url = stack.enter_context(postgres_schema()) if request.param == "postgres" else None
        yield make_deployment(tmp_path, db_url=url)


def _seed(dep: Deployment) -> dict[str, str]:
    """4 receipts of team search, 2 of team support; the id of one of support's."""
    _, search = dep.agent("search")
    _, support = dep.agent("support")
    ids = {}
    with dep.client() as client:
        for i in range(4):
            r = client.post("/v1/receipts", json=call(f"s{i}"), headers=search)
            assert r.status_code == 201, r.text
            ids["search"] = r.json()["receipt"]["id"]
        for i in range(2):
            r = client.post("/v1/receipts", json=call(f"p{i}"), headers=support)
            assert r.status_code == 201, r.text
            ids["support"] = r.json()["receipt"]["id"]
    return ids


def test_a_team_token_reads_only_its_team(dep: Deployment) -> None:
    ids = _seed(dep)
    _, team = dep.role_token("team", "search")
    _, finance = dep.role_token("finance")
    with dep.client() as client:
        mine = client.get("/v1/receipts", headers=team).json()["receipts"]
        filtered = client.get("/v1/receipts?team=search&limit=2", headers=team)
        other = client.get("/v1/receipts?team=support", headers=team)
        own_one = client.get(f"/v1/receipts/{ids['search']}", headers=team)
        foreign_one = client.get(f"/v1/receipts/{ids['support']}", headers=team)
        exported = client.get("/v1/receipts?format=csv", headers=team)
        everything = client.get("/v1/receipts", headers=finance).json()["receipts"]
        finance_one = client.get(f"/v1/receipts/{ids['support']}", headers=finance)
        support_only = client.get("/v1/receipts?team=support", headers=finance)
    assert len(mine) == 4 and {r["receipt"]["tags"]["team"] for r in mine} == {"search"}
    assert filtered.status_code == 200 and len(filtered.json()["receipts"]) == 2
    assert other.status_code == 403
    assert other.json()["error"]["fields"][0]["field"] == "team"
    assert own_one.status_code == 200
    assert foreign_one.status_code == 404
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 4 and {r["tag_team"] for r in rows} == {"search"}
    assert len(everything) == 6 and finance_one.status_code == 200
    assert len(support_only.json()["receipts"]) == 2


def test_role_tokens_write_nothing_and_team_tokens_read_nothing_else(dep: Deployment) -> None:
    _, team = dep.role_token("team", "search")
    _, finance = dep.role_token("finance")
    with dep.client() as client:
        for header in (team, finance):
            assert client.post("/v1/receipts", json=call(), headers=header).status_code == 403
            assert client.post("/v1/receipts/batch", json={"calls": [call()]},
                               headers=header).status_code == 403
            assert client.post("/v1/agents", json={"team": "x"},
                               headers=header).status_code == 403
            assert client.put("/v1/fx/2026-01-02", json={"rate": "0.8"},
                              headers=header).status_code == 403
            assert client.post("/v1/tokens", json={"role": "finance"},
                               headers=header).status_code == 403
            assert client.get("/v1/tokens", headers=header).status_code == 403
            assert client.get("/v1/price-books", headers=header).status_code == 200
        for path in ("/v1/agents", "/v1/fx", "/v1/ledger"):
            assert client.get(path, headers=finance).status_code == 200, path
            refused = client.get(path, headers=team)
            assert refused.status_code == 403, path
            assert "team token" in refused.json()["error"]["message"]
        # a body that is not even JSON: refused for the credential first, as for agents
        bad = client.post("/v1/agents", content=b"{", headers={
            **finance, "Content-Type": "application/json"})
    assert bad.status_code == 403


def test_token_routes_create_list_and_revoke(dep: Deployment) -> None:
    with dep.client() as client:
        made = client.post("/v1/tokens", json={"role": "team", "team": "search",
                                               "name": "search lead"}, headers=dep.admin)
        assert made.status_code == 201, made.text
        secret, token_id = made.json()["token"], made.json()["id"]
        assert secret.startswith("rt_") and made.json()["team"] == "search"
        no_team = client.post("/v1/tokens", json={"role": "team"}, headers=dep.admin)
        finance_team = client.post("/v1/tokens", json={"role": "finance", "team": "x"},
                                   headers=dep.admin)
        listed = client.get("/v1/tokens", headers=dep.admin)
        header = {"Authorization": f"Bearer {secret}"}
        before = client.get("/v1/receipts", headers=header)
        revoked = client.delete(f"/v1/tokens/{token_id}", headers=dep.admin)
        again = client.delete(f"/v1/tokens/{token_id}", headers=dep.admin)
        missing = client.delete("/v1/tokens/tok_nope", headers=dep.admin)
        after = client.get("/v1/receipts", headers=header)
        write_after = client.post("/v1/receipts", json=call(), headers=header)
        unknown = client.get("/v1/receipts", headers={"Authorization": "Bearer rt_nope"})
        unknown_write = client.post("/v1/receipts", json=call(),
                                    headers={"Authorization": "Bearer rt_nope"})
    assert no_team.status_code == 422 and no_team.json()["error"]["fields"][0]["field"] == "team"
    assert finance_team.status_code == 422
    assert finance_team.json()["error"]["fields"][0]["field"] == "team"
    (entry,) = listed.json()["tokens"]
    assert entry == {"id": token_id, "role": "team", "team": "search", "name": "search lead",
                     "created_at": entry["created_at"], "revoked_at": None}
    assert secret not in listed.text
    assert before.status_code == 200
    assert revoked.status_code == 200 and again.status_code == 409 and missing.status_code == 404
    for answer in (after, write_after, unknown, unknown_write):
        assert answer.status_code == 401
        assert answer.json() == unknown.json()
    assert unknown.json()["error"]["message"] == UNKNOWN_OR_REVOKED


def test_tokens_are_stored_only_as_hashes(dep: Deployment) -> None:
    _, header = dep.role_token("finance")
    secret = header["Authorization"].split()[1]
    engine = sa.create_engine(dep.settings.db_url)
    try:
        with engine.connect() as conn:
            rows = [dict(r._mapping) for r in
                    conn.execute(sa.text("SELECT * FROM receipts_role_token"))]
    finally:
        engine.dispose()
    (row,) = rows
    assert bytes(row["key_hash"]) == hashlib.sha256(secret.encode()).digest()
    stored = " ".join(str(v) for v in row.values())
    assert secret not in stored and secret[3:] not in stored
    if dep.settings.db_url.startswith("sqlite"):
        files = dep.settings.data_dir.glob("receipts.db*")
        assert all(secret[3:].encode() not in f.read_bytes() for f in files)


def test_the_dependencies_other_routes_build_on(deployment: Deployment) -> None:
    """``require_reader`` gives every-team (None) or one team, and refuses agents;
    ``require_approver`` refuses finance; ``team_filter`` refuses another team."""
    app = create_app(deployment.settings)

    def read(scope: ReaderScope, team: str | None = None) -> dict[str, str | None]:
        return {"team": scope.team, "query": scope.team_filter(team),
                "sees_search": str(scope.sees("search"))}

    def approve(scope: ApproverScope) -> dict[str, str | None]:
        return {"team": scope.team}

    def manage(principal: AdminPrincipal) -> dict[str, str]:
        return {"role": principal.role}

    app.add_api_route("/test/read", read)
    app.add_api_route("/test/approve", approve)
    app.add_api_route("/test/manage", manage)
    _, agent = deployment.agent("search")
    _, finance = deployment.role_token("finance")
    _, team = deployment.role_token("team", "support")
    with TestClient(app) as client:
        def status(path: str, header: dict[str, str]) -> int:
            return client.get(path, headers=header).status_code

        assert client.get("/test/read?team=x", headers=deployment.admin).json() == {
            "team": None, "query": "x", "sees_search": "True"}
        assert client.get("/test/read", headers=finance).json()["query"] is None
        assert client.get("/test/read", headers=team).json() == {
            "team": "support", "query": "support", "sees_search": "False"}
        assert status("/test/read?team=support", team) == 200
        assert status("/test/read?team=search", team) == 403
        assert status("/test/read", agent) == 403
        assert status("/test/read", {}) == 401
        assert client.get("/test/approve", headers=team).json() == {"team": "support"}
        assert status("/test/approve", finance) == 403
        assert status("/test/approve", deployment.admin) == 200
        assert status("/test/manage", finance) == 403 and status("/test/manage", team) == 403
        assert client.get("/test/manage", headers=deployment.admin).json() == {"role": "admin"}
