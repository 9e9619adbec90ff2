"""Approve budgets, notify budgets, reservation expiry and authorization replays."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from receipts.clock import now_ms
from tests.receipts.conftest import Deployment, call

ASK = {"provider": "openai", "model": "gpt-4o", "estimated_cost": "0.6",
       "tags": {"project": "ranker"}}


def _budget(at_limit: str, limit: str = "1") -> dict[str, Any]:
    return {"name": "ranker", "scope": {"team": "search"}, "limit": limit,
            "at_limit": at_limit}


def test_approve_budget_asks_a_human_then_holds_the_estimate(dep: Deployment) -> None:
    _, agent = dep.agent("search")
    with dep.client() as client:
        client.post("/v1/budgets", json=_budget("approve"), headers=dep.admin)
        first = client.post("/v1/authorize", headers=agent, json={**ASK, "request_id": "a1"})
        asked = client.post("/v1/authorize", headers=agent, json={**ASK, "request_id": "a2"})
        assert first.json()["decision"] == "allow"
        assert asked.json()["decision"] == "approval_required", asked.text
        approval = asked.json()["approval"]
        assert approval["status"] == "pending" and approval["budget"] == "ranker"
        polled = client.get(f"/v1/approvals/{approval['id']}", headers=agent).json()
        assert polled["status"] == "pending" and polled["reservation"] is None
        _, stranger = dep.agent("search")
        assert client.get(f"/v1/approvals/{approval['id']}",
                          headers=stranger).status_code == 404
        assert client.post(f"/v1/approvals/{approval['id']}", headers=agent,
                           json={"decision": "approve"}).status_code == 403
        done = client.post(f"/v1/approvals/{approval['id']}", headers=dep.admin,
                           json={"decision": "approve"})
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "approved" and done.json()["reservation"]
        again = client.post(f"/v1/approvals/{approval['id']}", headers=dep.admin,
                            json={"decision": "deny"})
        assert again.status_code == 409
        replay = client.post("/v1/authorize", headers=agent,
                             json={**ASK, "request_id": "a2"}).json()
        assert replay["decision"] == "allow"
        assert replay["reservation"]["id"] == done.json()["reservation"]
        (budget,) = client.get("/v1/budgets", headers=dep.admin).json()["budgets"]
        assert Decimal(budget["reserved"]) == Decimal("1.2")  # approved past the limit


def test_denied_approval_holds_nothing(dep: Deployment) -> None:
    _, agent = dep.agent("search")
    with dep.client() as client:
        client.post("/v1/budgets", json=_budget("approve", limit="0.5"), headers=dep.admin)
        asked = client.post("/v1/authorize", headers=agent, json=ASK).json()
        approval_id = asked["approval"]["id"]
        done = client.post(f"/v1/approvals/{approval_id}", headers=dep.admin,
                           json={"decision": "deny"}).json()
        assert done["status"] == "denied" and done["reservation"] is None
        (budget,) = client.get("/v1/budgets", headers=dep.admin).json()["budgets"]
        assert Decimal(budget["reserved"]) == 0
        assert client.get("/v1/approvals/ap_none", headers=dep.admin).status_code == 404


def test_notify_allows_past_the_limit_and_alerts_once(dep: Deployment) -> None:
    _, agent = dep.agent("search")
    with dep.client() as client:
        client.post("/v1/budgets", json=_budget("notify"), headers=dep.admin)
        answers = [client.post("/v1/authorize", headers=agent, json=ASK).json()["decision"]
                   for _ in range(3)]
    assert answers == ["allow"] * 3
    assert [a.kind for a in _alerts(dep)] == ["budget_limit"]


def test_an_unused_reservation_expires(dep: Deployment, monkeypatch: pytest.MonkeyPatch,
                                       ) -> None:
    _, agent = dep.agent("search")
    with dep.client() as client:
        client.post("/v1/budgets", json=_budget("deny"), headers=dep.admin)
        held = client.post("/v1/authorize", headers=agent, json={**ASK, "hold_seconds": 60})
        assert held.json()["decision"] == "allow"
        assert client.post("/v1/authorize", headers=agent, json=ASK).json()["decision"] == "deny"
        later = now_ms() + 61_000
        monkeypatch.setattr("receipts.budgets.gate.now_ms", lambda: later)
        monkeypatch.setattr("receipts.budgets.manage.now_ms", lambda: later)
        again = client.post("/v1/authorize", headers=agent, json=ASK).json()
        assert again["decision"] == "allow"
        late = client.post("/v1/receipts", headers=agent,
                           json=call("r1", reservation=held.json()["reservation"]["id"]))
        assert late.status_code == 201  # the late receipt still counts as spend
        (budget,) = client.get("/v1/budgets", headers=dep.admin).json()["budgets"]
    assert Decimal(budget["reserved"]) == Decimal("0.6")
    assert Decimal(budget["spent"]) == Decimal(late.json()["receipt"]["cost_reporting"])


def test_the_same_request_id_gets_the_same_reservation(dep: Deployment) -> None:
    _, agent = dep.agent("search")
    with dep.client() as client:
        client.post("/v1/budgets", json=_budget("deny", limit="5"), headers=dep.admin)
        one = client.post("/v1/authorize", headers=agent, json={**ASK, "request_id": "x"})
        two = client.post("/v1/authorize", headers=agent, json={**ASK, "request_id": "x"})
        (budget,) = client.get("/v1/budgets", headers=dep.admin).json()["budgets"]
    assert one.json() == two.json()
    assert Decimal(budget["reserved"]) == Decimal("0.6")


def _alerts(dep: Deployment) -> list[Any]:
    from receipts.alerts.store import list_alerts
    from receipts.storage.database import Database

    db = Database(dep.settings.db_url)
    try:
        with db.read() as conn:
            return list_alerts(conn)
    finally:
        db.dispose()
