"""PostgreSQL: concurrent agents against ``receipt serve --workers 4``, and kill -9 under load
(also SQLite, on one chain and with a chain per worker).

Every acknowledged receipt (a 201 or 200 the client received) must be in the exported ledger,
and the ledger must verify: no fork, no gap, nothing lost, nothing counted twice.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.receipts.conftest import Deployment, Server, call, make_deployment
from verifier.keys import PublicKey
from verifier.verify import LedgerReport, VerifyOptions, audit_ledger


def _ledger(dep: Deployment, url: str) -> tuple[LedgerReport, set[str]]:
    """Download and verify the ledger; return the report and the receipt ids in it."""
    from verifier import cose
    from verifier.encoding import decode_strict, split_sequence

    data = httpx.get(url + "/v1/ledger", headers=dep.admin, timeout=120).content
    key = PublicKey(dep.made.signer.public_key)
    report = audit_ledger([data], VerifyOptions(trusted_keys=(key,), workers=1))
    ids = set()
    for _, item in split_sequence([data]):
        env = cose.parse(item)
        if env.content_type == cose.RECEIPT:
            ids.add(decode_strict(env.payload)["id"])
    return report, ids


class Agents:
    """Threads posting single calls and small batches, recording what was acknowledged."""

    def __init__(self, dep: Deployment, url: str, n_agents: int) -> None:
        self.url = url
        self.headers = [dep.agent(f"team{i % 3}")[1] for i in range(n_agents)]
        self.acked: dict[str, str] = {}  # receipt id -> request id
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.errors = 0

    def _agent(self, index: int, calls: int) -> None:
        with httpx.Client(base_url=self.url, headers=self.headers[index], timeout=30) as client:
            for i in range(calls):
                if self.stop.is_set():
                    return
                try:
                    if i % 10 == 9:
                        body = {"calls": [call(f"a{index}-{i}-{j}") for j in range(5)]}
                        r = client.post("/v1/receipts/batch", json=body)
                        got = [x["receipt"] for x in r.json()["results"]] \
                            if r.status_code in (200, 201) else []
                    else:
                        r = client.post("/v1/receipts", json=call(f"a{index}-{i}"))
                        got = [r.json()["receipt"]] if r.status_code in (200, 201) else []
                except (httpx.HTTPError, ValueError):
                    with self.lock:
                        self.errors += 1
                    continue
                with self.lock:
                    for receipt in got:
                        self.acked[receipt["id"]] = receipt["request_id"]

    def run(self, calls_each: int) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._agent, args=(i, calls_each))
                   for i in range(len(self.headers))]
        for t in threads:
            t.start()
        return threads


def _agents_against(dep: Deployment, workers: int, chains: int | None, n_agents: int,
                    calls_each: int) -> tuple[Agents, LedgerReport, set[str]]:
    """Run agents to completion against ``receipt serve``; (agents, ledger report, ids)."""
    server = Server(dep, workers=workers, chains=chains)
    try:
        server.wait_ready()
        agents = Agents(dep, server.url, n_agents=n_agents)
        for t in agents.run(calls_each=calls_each):
            t.join()
        report, ids = _ledger(dep, server.url)
    finally:
        server.stop()
    return agents, report, ids


@pytest.mark.postgres
@pytest.mark.slow
def test_concurrent_agents_on_four_workers(tmp_path: Path, pg_url: str) -> None:
    agents, report, ids = _agents_against(make_deployment(tmp_path, pg_url), 4, None, 12, 40)
    assert agents.errors == 0
    assert report.valid, report.failure
    assert len(agents.acked) == 12 * (36 + 4 * 5)
    assert set(agents.acked) <= ids
    assert report.receipts == len(ids) == len(agents.acked)
    assert report.chains == {"c0": len(ids)}


@pytest.mark.postgres
@pytest.mark.slow
def test_several_chains_on_postgres(tmp_path: Path, pg_url: str) -> None:
    agents, report, ids = _agents_against(make_deployment(tmp_path, pg_url, chains=3), 3, 3,
                                          9, 30)
    assert report.valid, report.failure
    assert set(agents.acked) <= ids and report.receipts == len(agents.acked)
    assert set(report.chains) == {"c0", "c1", "c2"}
    assert sum(report.chains.values()) == len(ids)


def _kill_under_load(dep: Deployment, workers: int, chains: int | None = None) -> None:
    server = Server(dep, workers=workers, chains=chains)
    server.wait_ready()
    agents = Agents(dep, server.url, n_agents=8)
    threads = agents.run(calls_each=100_000)
    time.sleep(2.0)
    with agents.lock:
        before = len(agents.acked)
    server.kill9()  # mid-flight: requests are being written as it dies
    agents.stop.set()
    for t in threads:
        t.join()
    assert before > 0
    restarted = Server(dep, workers=1, chains=chains)  # self-checks the survivors at start-up
    try:
        restarted.wait_ready()
        report, ids = _ledger(dep, restarted.url)
    finally:
        restarted.stop()
    assert report.valid, report.failure
    missing = set(agents.acked) - ids
    assert not missing, f"{len(missing)} acknowledged receipts lost"
    assert report.receipts == len(ids) >= len(agents.acked)


@pytest.mark.postgres
@pytest.mark.slow
def test_kill_9_under_load_loses_nothing_postgres(tmp_path: Path, pg_url: str) -> None:
    _kill_under_load(make_deployment(tmp_path, pg_url), workers=2)


@pytest.mark.slow
def test_kill_9_under_load_loses_nothing_sqlite(tmp_path: Path) -> None:
    _kill_under_load(make_deployment(tmp_path), workers=2)


@pytest.mark.slow
def test_kill_9_under_load_loses_nothing_sqlite_chain_per_worker(tmp_path: Path) -> None:
    """Workers with chains of their own sign ahead of the writer lock (service._draft_ahead)."""
    _kill_under_load(make_deployment(tmp_path, chains=2), workers=2, chains=2)


@pytest.mark.slow
def test_concurrent_agents_sqlite_chain_per_worker(tmp_path: Path) -> None:
    agents, report, ids = _agents_against(make_deployment(tmp_path, chains=2), 2, 2, 8, 30)
    assert agents.errors == 0
    assert report.valid, report.failure
    assert len(agents.acked) == 8 * (27 + 3 * 5)
    assert set(agents.acked) <= ids and report.receipts == len(agents.acked)
    assert set(report.chains) == {"c0", "c1"}


@pytest.mark.postgres
def test_in_process_app_on_postgres(tmp_path: Path, pg_url: str) -> None:
    dep = make_deployment(tmp_path, pg_url)
    _, auth = dep.agent()
    with dep.client() as client:
        first = client.post("/v1/receipts", json=call("p1"), headers=auth)
        replay = client.post("/v1/receipts", json=call("p1"), headers=auth)
        conflict = client.post("/v1/receipts", json=call("p1", model="o3"), headers=auth)
        batch = client.post("/v1/receipts/batch", json={"calls": [call(f"b{i}")
                                                                  for i in range(20)]},
                            headers=auth)
        listed = client.get("/v1/receipts?limit=7", headers=dep.admin).json()
        ledger = client.get("/v1/ledger", headers=dep.admin).content
    assert (first.status_code, replay.status_code, conflict.status_code) == (201, 200, 409)
    assert batch.status_code == 201 and len(listed["receipts"]) == 7 and listed["next_cursor"]
    report = audit_ledger([ledger], VerifyOptions(workers=1))
    assert report.valid and report.receipts == 21
