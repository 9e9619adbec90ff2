"""The detector loop on a real database (SQLite and PostgreSQL): a burst after quiet traffic
raises one ``anomaly`` alert naming its top contributors, once, whoever holds the lease.

Passes run with explicit times just after the receipts were issued; the app's own loop is off
(``anomaly_detection=False``) so only the runners under test hold the lease.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from receipts.alerts.store import list_alerts
from receipts.anomaly import runner as loop
from receipts.anomaly.runner import AnomalyRunner
from receipts.clock import now_ms
from receipts.storage.database import Database
from tests.receipts.conftest import Deployment, call, make_deployment

EXPENSIVE = {"input_tokens": 1000, "output_tokens": 1_000_000}
"""About 10 USD of gpt-4o output: three in a minute pass the 10 USD floor of a new scope."""


def _post(dep: Deployment, key: dict[str, str], n: int, prefix: str,
          usage: dict[str, int] | None = None, **tags: str) -> None:
    with dep.client(anomaly_detection=False) as client:
        for i in range(n):
            body: dict[str, Any] = call(f"{prefix}-{i}")
            if usage is not None:
                body["usage"] = usage
            body["tags"] = {**body["tags"], **tags}
            assert client.post("/v1/receipts", json=body, headers=key).status_code == 201


def _anomalies(db: Database) -> dict[str, Any]:
    with db.read() as conn:
        return {a.scope: a for a in list_alerts(conn) if a.kind == "anomaly"}


def _wait_for_mid_minute() -> None:
    """The burst must fall in one minute, after the previous one has settled (in a minute's
    first ``SETTLE_MS`` the peek is still at the minute before): wait out the edges."""
    into = now_ms() % loop.MINUTE_MS
    start = loop.SETTLE_MS + 500
    if into > loop.MINUTE_MS - 10_000:
        into -= loop.MINUTE_MS
    if into < start:
        time.sleep((start - into) / 1000)


def _scenario(dep: Deployment) -> None:
    db = Database(dep.settings.db_url)
    agent, key = dep.agent("search", project="ranker")
    _, other = dep.agent("ads", project="bidder")
    first = AnomalyRunner(db, "USD")
    second = AnomalyRunner(db, "USD")
    _post(dep, key, 3, "quiet")
    _post(dep, other, 2, "ads", project="bidder")
    assert first.run_once() == 0
    assert second.run_once() == 0  # (not the holder: does nothing)
    assert _anomalies(db) == {}

    _wait_for_mid_minute()
    _post(dep, key, 3, "burst", EXPENSIVE, employee="ana")
    now = now_ms()
    raised = first.run_once(now)  # the minute is still under way: the peek sees it
    found = _anomalies(db)
    assert raised == len(found) >= 1
    team = found["team=search"]
    assert {"team=search,project=ranker", f"team=search,agent={agent}"} <= found.keys()
    assert not any("ads" in scope for scope in found)
    p = team.payload
    assert p["currency"] == "USD" and p["horizon"] == "minute" and p["basis"] == "floor"
    assert float(p["spend"]) > 10 and p["baseline"] == "0.000000000000"
    assert p["top"]["agent"]["value"] == agent
    assert p["top"]["employee"]["value"] == "ana"
    assert p["top"]["project"]["value"] == "ranker"
    assert p["top"]["model"]["value"] == "gpt-4o"
    assert team.dedup_key.startswith("anomaly:team=search:")

    assert first.run_once(now + 1000) == 0  # the same incident: no second alert
    assert second.run_once(now + 1000) == 0
    # the holder stops renewing; after the lease lapses the other takes over, replays the
    # stored minutes (the burst's included, once settled) and finds the same incident
    later = now + loop.LEASE_MS + 61_000
    assert second.run_once(later) == 0
    assert first.run_once(later) == 0
    after = _anomalies(db)
    assert after.keys() == found.keys()
    assert {a.id for a in after.values()} == {a.id for a in found.values()}


def test_burst_raises_one_alert_sqlite(tmp_path: Path) -> None:
    _scenario(make_deployment(tmp_path))


@pytest.mark.postgres
def test_burst_raises_one_alert_postgres(tmp_path: Path, pg_url: str) -> None:
    _scenario(make_deployment(tmp_path, pg_url))
