"""Budgets over HTTP: set, list, delete; spent counted as receipts commit; reservations."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from tests.receipts.conftest import Deployment, call


def _budget(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "search-ranker", "scope": {"team": "search",
                                                               "project": "ranker"},
                            "period": "month", "limit": "1", "thresholds": [50, 80, 100],
                            "at_limit": "deny"}
    body.update(overrides)
    return body


def test_spent_is_counted_from_receipts_before_and_after_the_budget(dep: Deployment) -> None:
    _, agent = dep.agent("search")
    _, other = dep.agent("ads")
    with dep.client() as client:
        first = client.post("/v1/receipts", json=call("r1"), headers=agent).json()["receipt"]
        client.post("/v1/receipts", json=call("o1"), headers=other)
        made = client.post("/v1/budgets", json=_budget(limit="100"), headers=dep.admin)
        assert made.status_code == 201, made.text
        assert made.json()["spent"] == first["cost_reporting"]
        second = client.post("/v1/receipts", json=call("r2"), headers=agent).json()["receipt"]
        client.post("/v1/receipts", json=call("r3", tags={"project": "other",
                                                          "environment": "prod"}),
                    headers=agent)
        listed = client.get("/v1/budgets", headers=dep.admin).json()["budgets"]
    (shown,) = listed
    total = Decimal(first["cost_reporting"]) + Decimal(second["cost_reporting"])
    assert Decimal(shown["spent"]) == total
    assert shown["receipts"] == 2 and shown["unpriced"] == 0
    assert Decimal(shown["remaining"]) == Decimal(100) - total
    assert shown["currency"] == "USD" and shown["period"] == "month"


def test_authorize_holds_then_the_receipt_settles_at_its_cost(dep: Deployment) -> None:
    _, agent = dep.agent("search")
    with dep.client() as client:
        client.post("/v1/budgets", json=_budget(limit="10"), headers=dep.admin)
        answer = client.post("/v1/authorize", headers=agent, json={
            "provider": "openai", "model": "gpt-4o", "estimated_cost": "2.5",
            "tags": {"project": "ranker"}}).json()
        assert answer["decision"] == "allow", answer
        reservation = answer["reservation"]
        assert reservation["estimate"].startswith("2.5")
        assert [b["name"] for b in reservation["budgets"]] == ["search-ranker"]
        held = client.get("/v1/budgets", headers=dep.admin).json()["budgets"][0]
        assert Decimal(held["reserved"]) == Decimal("2.5")
        made = client.post("/v1/receipts", headers=agent,
                           json=call("r1", reservation=reservation["id"]))
        assert made.status_code == 201, made.text
        settled = client.get("/v1/budgets", headers=dep.admin).json()["budgets"][0]
        assert Decimal(settled["reserved"]) == 0
        assert Decimal(settled["spent"]) == Decimal(made.json()["receipt"]["cost_reporting"])
        assert "reservation" not in made.json()["receipt"]


def test_deny_at_the_limit_names_the_budget(dep: Deployment) -> None:
    _, agent = dep.agent("search")
    with dep.client() as client:
        client.post("/v1/budgets", json=_budget(limit="1"), headers=dep.admin)
        ok = client.post("/v1/authorize", headers=agent, json={
            "provider": "openai", "model": "gpt-4o", "estimated_cost": "0.6",
            "tags": {"project": "ranker"}}).json()
        no = client.post("/v1/authorize", headers=agent, json={
            "provider": "openai", "model": "gpt-4o", "estimated_cost": "0.6",
            "tags": {"project": "ranker"}}).json()
        elsewhere = client.post("/v1/authorize", headers=agent, json={
            "provider": "openai", "model": "gpt-4o", "estimated_cost": "0.6",
            "tags": {"project": "other"}}).json()
    assert ok["decision"] == "allow"
    assert no["decision"] == "deny" and no["budget"]["name"] == "search-ranker"
    assert "search-ranker" in no["reason"]
    assert elsewhere["decision"] == "allow" and elsewhere["reservation"]["budgets"] == []


def test_tokens_are_priced_with_the_book_in_force(dep: Deployment) -> None:
    _, agent = dep.agent("search")
    with dep.client() as client:
        answer = client.post("/v1/authorize", headers=agent, json={
            "provider": "openai", "model": "gpt-4o", "max_input_tokens": 1000,
            "max_output_tokens": 200, "tags": {"project": "ranker"}}).json()
        made = client.post("/v1/receipts", headers=agent, json=call(
            "r1", usage={"input_tokens": 1000, "output_tokens": 200}))
    assert answer["decision"] == "allow"
    assert answer["reservation"]["estimate"] == made.json()["receipt"]["cost_reporting"]


def test_bad_input_is_a_422_naming_the_field(dep: Deployment) -> None:
    _, agent = dep.agent("search")
    with dep.client() as client:
        neither = client.post("/v1/authorize", headers=agent, json={
            "provider": "openai", "model": "gpt-4o"})
        unknown = client.post("/v1/authorize", headers=agent, json={
            "provider": "openai", "model": "no-such-model", "max_input_tokens": 1,
            "max_output_tokens": 1})
        bad_limit = client.post("/v1/budgets", json=_budget(limit="1.5e3"), headers=dep.admin)
        bad_window = client.post("/v1/budgets", headers=dep.admin, json=_budget(period={
            "from": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}))
        bad_scope = client.post("/v1/budgets", json=_budget(scope={"Team": "x"}),
                                headers=dep.admin)
        by_agent = client.post("/v1/budgets", json=_budget(), headers=agent)
        bad_reservation = client.post("/v1/receipts", headers=agent,
                                      json=call("r1", reservation="rs_nope"))
        unknown_reservation = client.post("/v1/receipts", headers=agent,
                                          json=call("r2", reservation="rs_" + "0" * 24))
    fields = {r: [f["field"] for f in r.json()["error"].get("fields", [])]
              for r in (neither, unknown, bad_limit, bad_window, bad_scope, bad_reservation)}
    assert neither.status_code == 422 and fields[neither] == ["max_input_tokens",
                                                              "max_output_tokens"]
    assert unknown.status_code == 422 and fields[unknown] == ["model"]
    assert bad_limit.status_code == 422 and fields[bad_limit] == ["limit"]
    assert bad_window.status_code == 422 and fields[bad_window] == ["period.until"]
    assert bad_scope.status_code == 422 and fields[bad_scope][0].startswith("scope")
    assert by_agent.status_code == 403
    assert bad_reservation.status_code == 422 and fields[bad_reservation] == ["reservation"]
    assert unknown_reservation.status_code == 201  # spend is recorded; nothing to settle


def test_set_again_replaces_and_delete_removes(dep: Deployment) -> None:
    with dep.client() as client:
        first = client.post("/v1/budgets", json=_budget(), headers=dep.admin).json()
        again = client.post("/v1/budgets", json=_budget(limit="5"), headers=dep.admin)
        assert again.status_code == 200 and again.json()["id"] == first["id"]
        assert again.json()["limit"].startswith("5")
        gone = client.delete("/v1/budgets/search-ranker", headers=dep.admin)
        assert gone.json() == {"id": first["id"], "name": "search-ranker", "deleted": True}
        assert client.get("/v1/budgets", headers=dep.admin).json() == {"budgets": []}
        assert client.delete("/v1/budgets/search-ranker", headers=dep.admin).status_code == 404


def test_batch_items_settle_their_reservations(dep: Deployment) -> None:
    _, agent = dep.agent("search")
    _, other = dep.agent("search")
    with dep.client() as client:
        client.post("/v1/budgets", json=_budget(limit="10"), headers=dep.admin)
        ids = [client.post("/v1/authorize", headers=agent, json={
            "provider": "openai", "model": "gpt-4o", "estimated_cost": "1",
            "tags": {"project": "ranker"}}).json()["reservation"]["id"] for _ in range(2)]
        stolen = client.post("/v1/receipts", headers=other, json=call("x", reservation=ids[0]))
        assert stolen.status_code == 422
        batch = client.post("/v1/receipts/batch", headers=agent, json={"calls": [
            call("b1", reservation=ids[0]), call("b2", reservation=ids[1])]})
        assert batch.status_code == 201, batch.text
        (budget,) = client.get("/v1/budgets", headers=dep.admin).json()["budgets"]
    costs = [Decimal(r["receipt"]["cost_reporting"]) for r in batch.json()["results"]]
    assert Decimal(budget["reserved"]) == 0 and Decimal(budget["spent"]) == sum(costs)


def test_the_client_reads_every_decision(dep: Deployment) -> None:
    """``receipts.client`` reads the answers as the service gives them."""
    from receipts.client.wire import authorize_body, call_body, read_decision

    _, agent = dep.agent("search")
    body = authorize_body(provider="openai", model="gpt-4o", tags={"project": "ranker"},
                          max_input_tokens=None, max_output_tokens=None,
                          estimated_cost="0.6", request_id=None)
    with dep.client() as client:
        client.post("/v1/budgets", json=_budget(at_limit="approve"), headers=dep.admin)
        allowed = read_decision(cast(Any, client.post("/v1/authorize", headers=agent,
                                                      json=body)))
        asked = read_decision(cast(Any, client.post("/v1/authorize", headers=agent,
                                                    json={**body, "request_id": "second"})))
        made = client.post("/v1/receipts", headers=agent, json=call_body(
            provider="openai", model="gpt-4o", usage={"input_tokens": 10, "output_tokens": 1},
            usage_format=None, tags={"project": "ranker", "environment": "prod"},
            request_id=None, extra={"reservation": allowed.reservation_id}))
    assert allowed.allowed and allowed.reservation_id is not None
    assert asked.decision == "approval_required" and not asked.allowed
    assert asked.raw["approval"]["status"] == "pending"
    assert made.status_code == 201, made.text
