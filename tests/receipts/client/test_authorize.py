"""``authorize()`` against a local HTTP server that answers as ``POST /v1/authorize`` is
specified: ``allow`` with a reservation, ``deny`` with why, ``approval_required`` with an
approval id; a "not now" answer retried with the same request id; money never a float."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from receipts.client import AsyncReceiptsClient, ReceiptsClient
from receipts.errors import ReceiptRefused, ServiceUnreachable
from tests.receipts.client.conftest import Service


class Budget:
    """A budget of 1.00 held by reservations; a model that needs approval; one flaky id."""

    def __init__(self) -> None:
        self.left = Decimal("1.00")
        self.seen: list[dict[str, Any]] = []
        self.reservations: dict[str, str] = {}  # request id -> reservation (idempotent)
        self.flaky = {"flaky-1"}

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.seen.append(body)
        rid = body["request_id"]
        if rid in self.flaky:
            self.flaky.discard(rid)
            return 503, {"error": {"code": "unavailable", "message": "try again"}}
        if "provider" not in body:
            return 422, {"error": {"code": "invalid_request", "message": "provider missing",
                                   "fields": [{"field": "provider", "reason": "required"}]}}
        if body["model"] == "o1-pro":
            return 200, {"decision": "approval_required", "approval": "apr-1",
                         "reason": "o1-pro needs approval"}
        if rid in self.reservations:
            return 200, {"decision": "allow", "reservation": self.reservations[rid]}
        estimate = Decimal(body.get("estimated_cost", "0.10"))
        if estimate > self.left:
            return 200, {"decision": "deny", "reason": f"budget search/month: {self.left} left",
                         "budget": "b-1"}
        self.left -= estimate
        self.reservations[rid] = f"res-{len(self.reservations) + 1}"
        return 200, {"decision": "allow", "reservation": self.reservations[rid],
                     "estimate": str(estimate)}


@pytest.fixture
def stub() -> Iterator[tuple[str, Budget]]:
    budget = Budget()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path != "/v1/authorize":
                status, data = 404, {"error": {"code": "not_found", "message": "no route"}}
            elif self.headers.get("Authorization") != "Bearer agent-key":
                status, data = 401, {"error": {"code": "unauthorized",
                                               "message": "unknown or revoked key"}}
            else:
                status, data = budget.answer(json.loads(raw))
            out = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", budget
    finally:
        server.shutdown()
        server.server_close()


def test_allow_deny_and_approval_required(stub: tuple[str, Budget]) -> None:
    url, budget = stub
    with ReceiptsClient(url, "agent-key", backoff=0) as client:
        allowed = client.authorize(provider="openai", model="gpt-4o", tags={"team": "search"},
                                   estimated_cost=Decimal("0.60"))
        denied = client.authorize(provider="openai", model="gpt-4o",
                                  estimated_cost="0.50")
        approval = client.authorize(provider="openai", model="o1-pro", max_input_tokens=1000,
                                    max_output_tokens=200)
    assert allowed.allowed and allowed.reservation_id == "res-1"
    assert allowed.raw["estimate"] == "0.60"
    assert not denied.allowed and denied.decision == "deny"
    assert denied.reason == "budget search/month: 0.40 left" and denied.reservation_id is None
    assert approval.decision == "approval_required" and approval.approval_id == "apr-1"
    assert budget.seen[0]["estimated_cost"] == "0.60"  # a decimal string on the wire
    assert budget.seen[0]["tags"] == {"team": "search"}
    assert budget.seen[2]["max_input_tokens"] == 1000 and "estimated_cost" not in budget.seen[2]


def test_a_not_now_answer_is_retried_with_the_same_request_id(stub: tuple[str, Budget]) -> None:
    url, budget = stub
    with ReceiptsClient(url, "agent-key", backoff=0) as client:
        got = client.authorize(provider="openai", model="gpt-4o", request_id="flaky-1")
    assert got.allowed and [b["request_id"] for b in budget.seen] == ["flaky-1", "flaky-1"]
    assert budget.left == Decimal("0.90")  # reserved once


def test_refusals_and_outages_are_raised_for_the_caller_to_decide(
        stub: tuple[str, Budget]) -> None:
    url, _ = stub
    with ReceiptsClient(url, "wrong", backoff=0) as client, \
            pytest.raises(ReceiptRefused, match="401"):
        client.authorize(provider="openai", model="gpt-4o")
    with ReceiptsClient("http://127.0.0.1:9", "agent-key", retries=1, backoff=0) as client, \
            pytest.raises(ServiceUnreachable):
        client.authorize(provider="openai", model="gpt-4o")
    with ReceiptsClient(url, "agent-key") as client, pytest.raises(TypeError, match="float"):
        client.authorize(provider="openai", model="gpt-4o", estimated_cost=0.1)  # type: ignore[arg-type]


def test_async_authorize(stub: tuple[str, Budget]) -> None:
    url, budget = stub

    async def run() -> list[str]:
        async with AsyncReceiptsClient(url, "agent-key", backoff=0) as client:
            got = await asyncio.gather(*(client.authorize(
                provider="openai", model="gpt-4o", estimated_cost="0.30") for _ in range(4)))
        return [g.decision for g in got]

    decisions = asyncio.run(run())
    assert sorted(decisions) == ["allow", "allow", "allow", "deny"]
    assert budget.left == Decimal("0.10")


@pytest.mark.slow
def test_against_the_service_allow_reserves_deny_says_why_and_the_receipt_names_it(
        service: Service) -> None:
    """The same client against the real ``POST /v1/authorize`` of a running service."""
    import httpx

    made = httpx.post(service.url + "/v1/budgets", headers=service.dep.admin, timeout=10, json={
        "name": "client-authorize", "scope": {"team": "search", "project": "ranker"},
        "period": "month", "limit": "1", "at_limit": "deny"})
    assert made.status_code in (200, 201), made.text
    with ReceiptsClient(service.url, service.key, public_key=service.public_key) as client:
        allowed = client.authorize(provider="openai", model="gpt-4o", estimated_cost="0.40")
        denied = client.authorize(provider="openai", model="gpt-4o", estimated_cost="5")
        got = client.record(provider="openai", model="gpt-4o",
                            usage={"input_tokens": 100, "output_tokens": 10},
                            reservation=allowed.reservation_id)
    assert allowed.allowed and allowed.reservation_id
    assert denied.decision == "deny" and denied.reason and denied.reservation_id is None
    assert got.receipt is not None
