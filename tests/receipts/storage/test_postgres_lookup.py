"""PostgreSQL: the idempotency lookup of every append probes the unique index, whatever the
statistics say (a table never analyzed made PostgreSQL scan all of an agent's receipts, which
grew each append's cost with the ledger)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from receipts.storage.append_sql import pg_stored_sql
from receipts.storage.database import Database
from tests.receipts.conftest import Deployment, call, make_deployment


def _fill(dep: Deployment, batches: int) -> tuple[dict[str, str], str]:
    """``batches`` batches of 1,000 receipts of one agent; (its auth header, its id)."""
    agent_id, auth = dep.agent()
    with dep.client() as client:
        for b in range(batches):
            r = client.post("/v1/receipts/batch", headers=auth,
                            json={"calls": [call(f"b{b}-{i}") for i in range(1000)]})
            assert r.status_code == 201
    return auth, agent_id


def _explain(db: Database, sql: str, params: tuple[Any, ...]) -> str:
    """``EXPLAIN ANALYZE`` of ``sql`` as text."""
    raw = db.engine.raw_connection()
    try:
        cur = raw.driver_connection.cursor()
        cur.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {sql}", params)
        return "\n".join(row[0] for row in cur.fetchall())
    finally:
        raw.close()


@pytest.mark.postgres
def test_lookup_probes_the_unique_index_on_a_table_never_analyzed(tmp_path: Path,
                                                                   pg_url: str) -> None:
    dep = make_deployment(tmp_path, pg_url)
    _, agent_id = _fill(dep, 3)
    db = Database(dep.settings.db_url)
    try:
        ids = [f"b1-{i}" for i in range(0, 64, 2)] + [f"new-{i}" for i in range(32)]
        plan = _explain(db, pg_stored_sql("receipts_receipt", "item"), (ids, agent_id))
    finally:
        db.dispose()
    assert "uq_receipt_agent_request" in plan
    assert "Rows Removed by Filter" not in plan, plan
    assert "rows=32 loops=1" in plan.splitlines()[0], plan  # the 32 stored ones, found


@pytest.mark.postgres
def test_replays_and_conflicts_among_many_receipts_on_postgres(tmp_path: Path,
                                                               pg_url: str) -> None:
    """The lookup answers replays (200), conflicts (409) and new calls (201) in one batch."""
    dep = make_deployment(tmp_path, pg_url)
    auth, _ = _fill(dep, 2)
    with dep.client() as client:
        r = client.post("/v1/receipts/batch", headers=auth, json={"atomic": False, "calls": [
            call("b0-7"), call("b1-999"), call("b1-3", model="o3"), call("fresh")]})
        again = client.post("/v1/receipts", headers=auth, json=call("fresh"))
    assert [x["status"] for x in r.json()["results"]] == [200, 200, 409, 201]
    assert again.status_code == 200
    assert again.json()["receipt"]["id"] == r.json()["results"][3]["receipt"]["id"]
