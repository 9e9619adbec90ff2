"""The most expensive receipts (``sort=-cost``), the team scope of spend queries, and a
database made before the spend aggregates, brought up to date when it is opened."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import sqlalchemy as sa

from receipts.clock import now_ms
from receipts.deployment.runtime import open_runtime
from receipts.spend import local_days
from receipts.spend.query import SpendQuery, run
from receipts.spend.rebuild import SPEND_AGGREGATES
from receipts.storage.database import Database
from tests.receipts.conftest import Deployment, call, make_deployment, postgres_schema


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def dep(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    """A deployment with receipts of two teams, of growing size, and one unpriced."""
    with ExitStack() as stack:
        url = stack.enter_context(postgres_schema()) if request.param == "postgres" else None
        d = make_deployment(tmp_path, url)
        search, support = d.agent("search")[1], d.agent("support")[1]
        with d.client() as client:
            for i in range(8):
                body = call(f"r{i}", usage={"input_tokens": 1000 * (i * 7 % 8 + 1),
                                            "output_tokens": 10})
                assert client.post("/v1/receipts", json=body,
                                   headers=search if i % 2 else support).status_code == 201
            assert client.post("/v1/receipts", json=call("u", model="nobody-prices-this"),
                               headers=search).status_code == 201
        yield d


def _costs(page: dict[str, Any]) -> list[str | None]:
    return [r["receipt"]["cost_reporting"] for r in page["receipts"]]


def test_most_expensive_first_with_cursor_and_filters(dep: Deployment) -> None:
    with dep.client() as client:
        everything = client.get("/v1/receipts?limit=100", headers=dep.admin).json()
        first = client.get("/v1/receipts?sort=-cost&limit=3", headers=dep.admin).json()
        rest = client.get(f"/v1/receipts?sort=-cost&limit=100&cursor={first['next_cursor']}",
                          headers=dep.admin).json()
        team = client.get("/v1/receipts?sort=-cost&team=search", headers=dep.admin).json()
        bad = client.get(f"/v1/receipts?sort=-cost&cursor={everything['next_cursor'] or 'x'}",
                         headers=dep.admin)
        as_csv = client.get("/v1/receipts?sort=-cost&format=csv", headers=dep.admin)
    priced = sorted((c for c in _costs(everything) if c is not None), key=float, reverse=True)
    assert len(priced) == 8 and len(everything["receipts"]) == 9
    assert _costs(first) + _costs(rest) == priced
    assert rest["next_cursor"] is None
    assert {r["receipt"]["tags"]["team"] for r in team["receipts"]} == {"search"}
    assert _costs(team) == sorted(_costs(team), key=lambda c: float(c or 0), reverse=True)
    assert bad.status_code == 422
    assert as_csv.status_code == 200 and len(as_csv.text.strip().splitlines()) == 9


def test_a_team_scope_sees_only_its_team(dep: Deployment) -> None:
    runtime = open_runtime(dep.settings)
    try:
        with runtime.db.read() as conn:
            _, scoped, _ = run(conn, SpendQuery(by=("team",), team="search"))
            _, everyone, _ = run(conn, SpendQuery(by=("team",)))
    finally:
        runtime.close()
    assert {key[0] for key in scoped[0]} == {"search"}
    assert sum(row.receipts for row in scoped[0].values()) == 5
    assert sum(row.receipts for row in everyone[0].values()) == 9


def _make_old(dep: Deployment) -> None:
    """Turn the database into one made before the aggregates: no spend tables, no cost_rank
    column, no meta fact."""
    engine = sa.create_engine(dep.settings.db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE receipts_spend_bucket")
        conn.exec_driver_sql("DROP TABLE receipts_spend_group")
        conn.exec_driver_sql("DROP INDEX ix_receipt_cost")
        conn.exec_driver_sql("ALTER TABLE receipts_receipt DROP COLUMN cost_rank")
        conn.exec_driver_sql(f"DELETE FROM receipts_meta WHERE key = '{SPEND_AGGREGATES}'")
    engine.dispose()


def test_an_older_database_gets_its_aggregates_when_opened(dep: Deployment) -> None:
    with dep.client() as client:
        before = client.get("/v1/spend?by=team&by=model&period=day", headers=dep.admin).json()
        top_before = client.get("/v1/receipts?sort=-cost", headers=dep.admin).json()
    _make_old(dep)
    if dep.settings.db_url.startswith("sqlite"):
        path = dep.settings.db_url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as raw:
            columns = [r[1] for r in raw.execute("PRAGMA table_info(receipts_receipt)")]
        assert "cost_rank" not in columns
    with dep.client() as client:
        after = client.get("/v1/spend?by=team&by=model&period=day", headers=dep.admin).json()
        top_after = client.get("/v1/receipts?sort=-cost", headers=dep.admin).json()
        assert client.post("/v1/receipts", json=call("later"),
                           headers=dep.agent("search")[1]).status_code == 201
        more = client.get("/v1/spend", headers=dep.admin).json()
    assert after == before and after["total"]["receipts"] == 9
    assert top_after == top_before
    assert more["total"]["receipts"] == 10


def test_aggregates_of_an_earlier_layout_are_rebuilt_when_opened(dep: Deployment) -> None:
    """Layout 1 had a row per category, an hour span and other columns: a database that
    still holds it gets the bucket table anew and the same answers."""
    with dep.client() as client:
        before = client.get("/v1/spend?by=team&by=model&period=day", headers=dep.admin).json()
    engine = sa.create_engine(dep.settings.db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE receipts_spend_bucket")
        conn.exec_driver_sql(
            "CREATE TABLE receipts_spend_bucket (span BIGINT NOT NULL, start BIGINT NOT NULL, "
            "group_id BIGINT NOT NULL, chain VARCHAR(64) NOT NULL, category VARCHAR(64) NOT "
            "NULL, receipts BIGINT NOT NULL, priced BIGINT NOT NULL, priced_reporting BIGINT "
            "NOT NULL, tokens BIGINT NOT NULL, cost_hi BIGINT NOT NULL, cost_lo BIGINT NOT "
            "NULL, reporting_hi BIGINT NOT NULL, reporting_lo BIGINT NOT NULL, "
            "PRIMARY KEY (span, start, group_id, chain, category))")
        conn.exec_driver_sql("INSERT INTO receipts_spend_bucket VALUES "
                             "(3600000, 0, 1, 'c', 'input', 1, 1, 1, 5, 0, 7, 0, 7)")
        conn.exec_driver_sql("DROP TABLE receipts_spend_local_day")  # (and days made in it)
        conn.exec_driver_sql(
            "CREATE TABLE receipts_spend_local_day (zone VARCHAR(64) NOT NULL, start BIGINT "
            "NOT NULL, group_id BIGINT NOT NULL, category VARCHAR(64) NOT NULL, receipts "
            "BIGINT NOT NULL, PRIMARY KEY (zone, start, group_id, category))")
        conn.exec_driver_sql("INSERT INTO receipts_spend_zone VALUES ('Asia/Kolkata', 0, "
                             "86400000)")
        conn.exec_driver_sql(f"UPDATE receipts_meta SET value = '1' WHERE key = "
                             f"'{SPEND_AGGREGATES}'")
    engine.dispose()
    with dep.client() as client:
        after = client.get("/v1/spend?by=team&by=model&period=day", headers=dep.admin).json()
    assert after == before and after["total"]["receipts"] == 9
    db = Database(dep.settings.db_url)
    with db.read() as conn:
        assert local_days.made_range(conn, "Asia/Kolkata") is None
    with mock.patch.object(local_days, "now_ms", return_value=now_ms() + 3 * 86_400_000):
        assert local_days.make_days(db, "Asia/Kolkata") > 0  # (into the table made anew)
    db.dispose()


def test_a_day_query_in_a_zone_asks_for_its_local_days(dep: Deployment) -> None:
    with dep.client() as client:
        for query in ("by=team&period=day&tz=Asia/Kolkata", "by=team&period=month&tz=Europe/Paris",
                      "by=team&period=week&tz=UTC"):
            assert client.get(f"/v1/spend?{query}", headers=dep.admin).status_code == 200
    db = Database(dep.settings.db_url)
    with db.read() as conn:
        assert local_days.zones(conn) == ["Asia/Kolkata"]
    db.dispose()
