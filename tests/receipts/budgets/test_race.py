"""The budget race: 50 agents authorizing at once against room for 10 calls get exactly 10.

A real ``receipt serve`` with 4 worker processes (SQLite and PostgreSQL), 50 threads released
together by a barrier, each agent with its own key. Without the counter locks, requests read
the same below-limit counter in parallel and all pass (the failure this test exists for).
"""

from __future__ import annotations

import threading
from collections import Counter
from decimal import Decimal

import httpx

from receipts.deployment.runtime import create_agent, open_runtime
from tests.receipts.conftest import Deployment, Server

AGENTS = 50
ROOM = 10


def _keys(dep: Deployment, n: int) -> list[str]:
    runtime = open_runtime(dep.settings)
    try:
        return [create_agent(runtime, "search", {"project": "ranker"})[1] for _ in range(n)]
    finally:
        runtime.close()


def test_exactly_the_room_is_allowed_with_four_workers(dep: Deployment) -> None:
    keys = _keys(dep, AGENTS)
    server = Server(dep, workers=4, chains=4)
    try:
        server.wait_ready()
        made = httpx.post(server.url + "/v1/budgets", headers=dep.admin, json={
            "name": "ranker", "scope": {"team": "search", "project": "ranker"},
            "period": "month", "limit": str(ROOM), "at_limit": "deny"}, timeout=30)
        assert made.status_code == 201, made.text
        barrier = threading.Barrier(AGENTS)
        decisions: list[str] = []
        lock = threading.Lock()

        def agent(key: str) -> None:
            with httpx.Client(base_url=server.url, timeout=60) as http:
                http.get("/healthz")  # connected before the barrier
                barrier.wait()
                answer = http.post("/v1/authorize", headers={"Authorization": f"Bearer {key}"},
                                   json={"provider": "openai", "model": "gpt-4o",
                                         "estimated_cost": "1"})
                assert answer.status_code == 200, answer.text
                with lock:
                    decisions.append(answer.json()["decision"])

        threads = [threading.Thread(target=agent, args=(k,)) for k in keys]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert Counter(decisions) == {"allow": ROOM, "deny": AGENTS - ROOM}
        (budget,) = httpx.get(server.url + "/v1/budgets", headers=dep.admin,
                              timeout=30).json()["budgets"]
        assert Decimal(budget["reserved"]) == ROOM and Decimal(budget["remaining"]) == 0
    finally:
        server.stop()
