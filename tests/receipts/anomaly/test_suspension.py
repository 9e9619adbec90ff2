"""Suspending the agent key an anomaly names (SQLite and PostgreSQL): off by default; when on,
the new alert suspends its top agent, records the alert's id, says so in its payload; the key
gets a 403 ``agent_suspended`` on receipts and authorizations (reads still work, the receipts
already made remain), a spooling client keeps the call; an admin resumes it over HTTP or the
CLI, and a replay of the same incident does not suspend it again.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from receipts.anomaly.runner import AnomalyRunner
from receipts.budgets.raw import Raw
from receipts.client.clients import ReceiptsClient
from receipts.clock import now_ms
from receipts.deployment import suspensions
from receipts.errors import ReceiptRefused
from receipts.storage.database import Database
from tests.receipts.anomaly.test_runner import EXPENSIVE, _anomalies, _post, _wait_for_mid_minute
from tests.receipts.conftest import ROOT, Deployment, call, make_deployment, receipt_cmd

AUTHORIZE = {"provider": "openai", "model": "gpt-4o", "estimated_cost": "0.01"}


def _suspended(db: Database) -> dict[str, suspensions.Suspension]:
    with db.read() as conn:
        return dict(suspensions.active(Raw.of(conn)))


def _burst(dep: Deployment, runner: AnomalyRunner, key: dict[str, str]) -> int:
    """Quiet traffic, then a burst in one minute; the pass at its time (raised alerts)."""
    _post(dep, key, 3, "quiet")
    assert runner.run_once() == 0
    _wait_for_mid_minute()
    _post(dep, key, 3, "burst", EXPENSIVE)
    now = now_ms()
    assert runner.run_once(now) >= 1
    return now


def _refused(answer: Any) -> None:
    assert answer.status_code == 403, answer.text
    error = answer.json()["error"]
    assert error["code"] == "agent_suspended" and "fields" not in error
    assert "receipt agent resume" in error["message"]


def _scenario(dep: Deployment) -> None:
    db = Database(dep.settings.db_url)
    agent, key = dep.agent("search", project="ranker")
    _, other = dep.agent("ads", project="bidder")
    runner = AnomalyRunner(db, "USD", suspend=True)
    now = _burst(dep, runner, key)

    (held,) = _suspended(db).values()
    alerts = _anomalies(db)
    assert held.agent_id == agent and held.alert_id in {a.id for a in alerts.values()}
    assert held.suspended_by == "anomaly alert" and "Spend anomaly" in held.reason
    states = sorted(a.payload["suspension"]["state"] for a in alerts.values())
    assert states.count("suspended") == 1 and set(states) == {"suspended", "already suspended"}
    made = alerts[next(s for s, a in alerts.items() if a.id == held.alert_id)].payload
    assert made["suspension"]["agent"] == agent
    assert made["suspension"]["resume"] == f"receipt agent resume {agent}"

    with dep.client(anomaly_detection=False) as client:
        _refused(client.post("/v1/receipts", json=call("after"), headers=key))
        _refused(client.post("/v1/authorize", json=AUTHORIZE, headers=key))
        ads = call("ads-ok", tags={"project": "bidder", "environment": "prod"})
        assert client.post("/v1/receipts", json=ads, headers=other).status_code == 201
        mine = client.get("/v1/receipts", headers=key)  # (reads still work; nothing lost)
        assert mine.status_code == 200 and len(mine.json()["receipts"]) == 6
        (listed,) = [a for a in client.get("/v1/agents", headers=dep.admin).json()["agents"]
                     if a["id"] == agent]
        assert listed["suspension"]["alert"] == held.alert_id and listed["revoked_at"] is None

        resumed = client.post(f"/v1/agents/{agent}/resume", headers=dep.admin)
        assert resumed.status_code == 200, resumed.text
        ended = resumed.json()["suspension"]
        assert resumed.json()["suspended"] is False and ended["resumed_by"] == "admin"
        assert ended["alert"] == held.alert_id and ended["resumed_at"] is not None
        again = client.post(f"/v1/agents/{agent}/resume", headers=dep.admin)
        assert again.status_code == 409
        assert client.post("/v1/agents/ag_none/resume", headers=dep.admin).status_code == 404
        assert client.post(f"/v1/agents/{agent}/resume", headers=key).status_code == 403
        assert client.post("/v1/receipts", json=call("after"), headers=key).status_code == 201
        allowed = client.post("/v1/authorize", json=AUTHORIZE, headers=key)
        assert allowed.status_code == 200 and allowed.json()["decision"] == "allow"

    assert runner.run_once(now + 1000) == 0  # the same incident: not suspended again
    assert _suspended(db) == {}


def test_anomaly_suspends_and_admin_resumes_sqlite(tmp_path: Path) -> None:
    _scenario(make_deployment(tmp_path))


@pytest.mark.postgres
def test_anomaly_suspends_and_admin_resumes_postgres(tmp_path: Path, pg_url: str) -> None:
    _scenario(make_deployment(tmp_path, pg_url))


def test_off_by_default(tmp_path: Path) -> None:
    dep = make_deployment(tmp_path)
    assert dep.settings.anomaly_suspend is False
    db = Database(dep.settings.db_url)
    _, key = dep.agent("search", project="ranker")
    _burst(dep, AnomalyRunner(db, "USD"), key)
    assert _suspended(db) == {}
    assert not any("suspension" in a.payload for a in _anomalies(db).values())


def _suspend(db: Database, agent: str) -> None:
    with db.write() as conn:
        made, new = suspensions.suspend(Raw.of(conn), agent, by="anomaly alert", reason="test",
                                        alert_id="al_test", now=now_ms())
    assert made is not None and new


def test_authorization_refused_from_the_commit_on(tmp_path: Path) -> None:
    """The edge rereads suspensions once a second; an authorization group reads them in its
    own transaction, so one asked right after the suspension is refused all the same."""
    dep = make_deployment(tmp_path)
    db = Database(dep.settings.db_url)
    agent, key = dep.agent("search", project="ranker")
    with dep.client(anomaly_detection=False) as client:
        assert client.post("/v1/authorize", json=AUTHORIZE, headers=key).status_code == 200
        _suspend(db, agent)
        _refused(client.post("/v1/authorize", json=AUTHORIZE, headers=key))


def test_spooling_client_keeps_the_call(tmp_path: Path) -> None:
    dep = make_deployment(tmp_path)
    db = Database(dep.settings.db_url)
    agent, key = dep.agent("search", project="ranker")
    _suspend(db, agent)
    spool = tmp_path / "spool.db"
    with dep.client(anomaly_detection=False) as http:
        def through_app(request: httpx.Request) -> httpx.Response:
            answer = http.request(request.method, request.url.raw_path.decode(),
                                  content=request.content, headers=dict(request.headers))
            return httpx.Response(answer.status_code, headers=answer.headers,
                                  content=answer.content)

        client = ReceiptsClient("http://testserver", key["Authorization"][7:], spool=spool,
                                transport=httpx.MockTransport(through_app), backoff=0)
        body = call("kept")
        for request_id in ("kept", "behind"):
            with pytest.raises(ReceiptRefused, match="suspended"):
                client.record(provider=body["provider"], model=body["model"],
                              usage=body["usage"], tags=body["tags"], request_id=request_id)
        assert client.spool is not None and client.spool.count() == 2
        with pytest.raises(ReceiptRefused, match="suspended"):
            client.flush()
        assert client.spool.count() == 2  # (kept, not set aside as refused)
        with db.write() as conn:
            suspensions.resume(Raw.of(conn), agent, by="admin", now=now_ms())
        time.sleep(suspensions.CHECK_SECONDS + 0.1)  # (the edge's view of them)
        assert set(client.flush()) == {"kept", "behind"} and client.spool.count() == 0
        client.http.close()


def test_cli_lists_and_resumes(tmp_path: Path) -> None:
    dep = make_deployment(tmp_path)
    db = Database(dep.settings.db_url)
    agent, _ = dep.agent("search", project="ranker")
    _suspend(db, agent)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(receipt_cmd("agent", *args), env=dep.env(), cwd=ROOT, text=True,
                              capture_output=True, timeout=120, check=False)

    listed = run("list")
    assert listed.returncode == 0 and "suspended" in listed.stdout and "al_test" in listed.stdout
    resumed = run("resume", agent)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.startswith(f"agent {agent} resumed") and "al_test" in resumed.stdout
    assert "suspended" not in run("list").stdout
    again = run("resume", agent)
    assert again.returncode != 0 and again.stderr.strip() == (
        f"error: agent {agent} is not suspended") and again.stdout == ""
    assert _suspended(db) == {}
