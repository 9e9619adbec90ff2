"""A running service (``receipt serve``, two worker processes) alerts on a spend spike within
60 seconds, once: the burst of expensive receipts after quiet traffic appears in
``GET /v1/alerts`` as one ``anomaly`` alert per scope, raised by whichever worker holds the
detector's lease. Starting the service dominates the test's time.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from receipts.anomaly.lease import LeaseRow
from receipts.storage.database import Database
from tests.receipts.conftest import Server, call, make_deployment

EXPENSIVE = {"input_tokens": 1000, "output_tokens": 1_000_000}


def _anomalies(url: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    r = httpx.get(url + "/v1/alerts", headers=headers, timeout=10)
    r.raise_for_status()
    return [a for a in r.json()["alerts"] if a["kind"] == "anomaly"]


def _scenario(tmp_path: Path, db_url: str | None) -> None:
    dep = make_deployment(tmp_path, db_url)
    agent, key = dep.agent("search", project="ranker")
    server = Server(dep, workers=2, chains=2)
    try:
        server.wait_ready()
        with httpx.Client(base_url=server.url, headers=key, timeout=10) as client:
            for i in range(3):
                assert client.post("/v1/receipts", json=call(f"q-{i}")).status_code == 201
            time.sleep(3)
            assert _anomalies(server.url, dep.admin) == []
            sent = time.monotonic()
            for i in range(4):
                body = call(f"burst-{i}", usage=EXPENSIVE)
                assert client.post("/v1/receipts", json=body).status_code == 201
        found: list[dict[str, Any]] = []
        while time.monotonic() - sent < 60 and not any(a["scope"] == "team=search"
                                                       for a in found):
            time.sleep(0.5)
            found = _anomalies(server.url, dep.admin)
        assert any(a["scope"] == "team=search" for a in found), "no anomaly alert in 60 s"
        time.sleep(5)  # (both workers keep passing: still one alert per scope)
        found = _anomalies(server.url, dep.admin)
        scopes = [a["scope"] for a in found]
        assert len(scopes) == len(set(scopes))
        team = next(a for a in found if a["scope"] == "team=search")
        assert team["payload"]["top"]["agent"]["value"] == agent
        db = Database(dep.settings.db_url)
        with db.read() as conn:
            leases = conn.execute(sa.select(LeaseRow.__table__)  # type: ignore[attr-defined]
                                  .where(LeaseRow.name == "anomaly")).all()
        assert len(leases) == 1
    finally:
        server.stop()


def test_spike_alerted_within_a_minute_once_across_workers_sqlite(tmp_path: Path) -> None:
    _scenario(tmp_path, None)


@pytest.mark.postgres
def test_spike_alerted_within_a_minute_once_across_workers_postgres(tmp_path: Path,
                                                                   pg_url: str) -> None:
    _scenario(tmp_path, pg_url)
