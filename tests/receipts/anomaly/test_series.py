"""The per-minute series is exact: the minute rows written by folding the appended receipts sum
to the receipts' reporting costs, per minute, and rebuilding the aggregates from the ledger
gives the same rows; and a group's scopes are the documented ones."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from receipts.anomaly import series
from receipts.spend import fold, rebuild
from receipts.storage import queries as store
from receipts.storage.database import Database
from tests.receipts.conftest import Deployment, call, make_deployment
from verifier import cose
from verifier.encoding import decode_strict


def _payload_minutes(db: Database) -> dict[int, int]:
    found: dict[int, int] = defaultdict(int)
    with db.read() as conn:
        for head in store.heads(conn):
            for item in store.chain_items(conn, head.chain, 0, head.size):
                p = decode_strict(cose.parse(item).payload)
                if p["cost_reporting"]:
                    found[p["issued_at"] // 60_000] += p["cost_reporting"]
    return dict(found)


def _stored_minutes(db: Database) -> dict[int, int]:
    fold.catch_up(db.engine)  # (as the detector does before each pass)
    with db.read() as conn:
        return {m: sum(g.values()) for m, g in series.read_minutes(conn, 0).items()}


def _scenario(dep: Deployment) -> None:
    db = Database(dep.settings.db_url)
    _, key = dep.agent("search", project="ranker")
    with dep.client(anomaly_detection=False) as client:
        for i in range(12):
            body = call(f"s-{i}", model="gpt-4o-mini" if i % 3 else "gpt-4o",
                        usage={"input_tokens": 1000 + 37 * i, "output_tokens": 11 * i})
            assert client.post("/v1/receipts", json=body, headers=key).status_code == 201
        batch = [call(f"b-{i}", usage={"input_tokens": 5 + i, "output_tokens": 3})
                 for i in range(20)]
        assert client.post("/v1/receipts/batch", json={"calls": batch},
                           headers=key).status_code in (200, 201, 207)
    expected = _payload_minutes(db)
    assert expected and _stored_minutes(db) == expected
    with db.write() as conn:
        store.set_meta(conn, rebuild.SPEND_AGGREGATES, "0")
    assert rebuild.ensure_current(db) == 32
    assert _stored_minutes(db) == expected


def test_minutes_exact_sqlite(tmp_path: Path) -> None:
    _scenario(make_deployment(tmp_path))


@pytest.mark.postgres
def test_minutes_exact_postgres(tmp_path: Path, pg_url: str) -> None:
    _scenario(make_deployment(tmp_path, pg_url))


def test_scopes_of_a_group() -> None:
    group = series.Group("agt_1", "gpt-4o", {"team": "search", "project": "ranker",
                                             "cost_center": "cc-1", "environment": "prod"})
    assert series.scopes_of(group, [("cost_center",), ("team", "environment"), ("owner",)]) == [
        "team=search", "team=search,project=ranker", "team=search,agent=agt_1",
        "model=gpt-4o", "cost_center=cc-1", "team=search,environment=prod"]
    assert series.scopes_of(series.Group("a", "m", {}), []) == ["agent=a", "model=m"]
