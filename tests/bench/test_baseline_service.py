"""The unsigned baseline bench/issue.py compares the service with behaves as the service does:
same replays, same conflicts, same per-item batch answers, so the figures compare like with
like (its lookups are batched the same way, past one IN chunk)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.receipts.conftest import Deployment, call, make_deployment


def _baseline_replays(dep: Deployment) -> None:
    from baseline_service import baseline_app

    _, auth = dep.agent()
    with TestClient(baseline_app(dep.settings)) as client:
        first = client.post("/v1/receipts", json=call("b1"), headers=auth)
        again = client.post("/v1/receipts", json=call("b1"), headers=auth)
        other = client.post("/v1/receipts", json=call("b1", runtime_ms=1), headers=auth)
        batch = client.post("/v1/receipts/batch", headers=auth, json={
            "atomic": False, "calls": [call("b1"), call("b2"), call("b1", runtime_ms=2),
                                       *(call(f"n{i}") for i in range(450))]})
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 409)
    assert again.json() == first.json() and first.json()["cose"] == ""
    assert first.json()["receipt"]["chain"] == "baseline"
    statuses = [r["status"] for r in batch.json()["results"]]
    assert statuses[:3] == [200, 201, 409] and set(statuses[3:]) == {201}
    assert batch.json()["results"][0]["receipt"] == first.json()["receipt"]
    engine = sa.create_engine(dep.settings.db_url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT count(*) FROM receipts_baseline")).scalar()
            signed = conn.execute(sa.text("SELECT count(*) FROM receipts_receipt")).scalar()
    finally:
        engine.dispose()
    assert (stored, signed) == (452, 0)  # b1, b2, n0..n449; nothing signed into the ledger


def test_the_baseline_answers_replays_and_conflicts_as_the_service(tmp_path: Path) -> None:
    _baseline_replays(make_deployment(tmp_path))


@pytest.mark.postgres
def test_the_baseline_answers_replays_and_conflicts_as_the_service_on_postgres(
        tmp_path: Path, pg_url: str) -> None:
    _baseline_replays(make_deployment(tmp_path, pg_url))


def test_a_new_deployment_has_no_baseline_table(tmp_path: Path) -> None:
    """The service never makes the baseline's table: only the benchmark's server does."""
    dep = make_deployment(tmp_path)
    engine = sa.create_engine(dep.settings.db_url)
    try:
        assert "receipts_baseline" not in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
