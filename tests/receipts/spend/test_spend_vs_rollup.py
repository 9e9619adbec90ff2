"""``GET /v1/spend`` against ``receipt rollup`` on the exported ledger: the same numbers, to the
last digit, on SQLite and PostgreSQL; and the other parts of the answer on real receipts."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from receipts.api.spend_schemas import SpendAnswer
from receipts.cli.main import main as receipt_main
from receipts.deployment.runtime import open_runtime, publish_fx_rate
from receipts.issuing import service as service_module
from tests.receipts.conftest import Deployment, call, make_deployment, postgres_schema


def _ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
        second: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp() * 1000)


TIMES = [  # increasing issue times across day, ISO week, month, quarter and year boundaries
    _ms(2027, 3, 28, 23, 59), _ms(2027, 3, 29, 0, 1), _ms(2027, 3, 31, 22, 30),
    _ms(2027, 3, 31, 23, 59, 59), _ms(2027, 4, 1, 0, 0), _ms(2027, 4, 1, 0, 20),
    _ms(2027, 4, 2, 12, 0), _ms(2027, 4, 3, 3, 0), _ms(2027, 4, 3, 4, 10),
    _ms(2027, 12, 31, 23, 0), _ms(2028, 1, 1, 0, 5), _ms(2028, 1, 3, 9, 0),
]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def seeded(request: pytest.FixtureRequest, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Deployment, TestClient]]:
    """A EUR-reporting deployment (USD book) with receipts at :data:`TIMES`: several teams,
    agents and models, an unknown model, a retry, a missing tag; an FX rate from 2027-04-01
    only, so earlier receipts have no reporting cost."""
    with ExitStack() as stack:
        url = stack.enter_context(postgres_schema()) if request.param == "postgres" else None
        dep = make_deployment(tmp_path, url, currency="EUR", required_tags=("team",))
        runtime = open_runtime(dep.settings)
        try:
            publish_fx_rate(runtime, "2027-04-01", "0.912345678", base="USD")
        finally:
            runtime.close()
        agents = [dep.agent("search", project="ranker")[1], dep.agent("search")[1],
                  dep.agent("support", project="triage")[1]]
        clock = [TIMES[0]]
        monkeypatch.setattr(service_module, "now_ms", lambda: clock[0])
        client = stack.enter_context(dep.client())
        first_id = None
        for i, at in enumerate(TIMES):
            clock[0] = at
            body = call(f"r{i}", model=("gpt-4o", "gpt-4o-mini", "claude-sonnet-4")[i % 3],
                        provider=("openai", "openai", "anthropic")[i % 3],
                        usage={"input_tokens": 1000 + 137 * i, "output_tokens": 77 * i + 1,
                               "cache_read_tokens": 50 * (i % 4)},
                        tags={"environment": "prod", **({"project": "x"} if i == 4 else {})})
            if i == 5:
                body["model"] = "a-model-nobody-prices"
            if i == 7:
                body["retry_of"] = first_id
            if i == 4:
                body["tags"]["cost_center"] = "cc-9"
            r = client.post("/v1/receipts", json=body, headers=agents[i % 3])
            assert r.status_code == 201, r.text
            first_id = first_id or r.json()["receipt"]["id"]
        yield dep, client


def _rollup(ledger: Path, *args: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(receipt_main, ["rollup", str(ledger), "--format", "json",
                                                *args])
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


ROLLUP_FIELDS = ("period", "currency", "receipts", "unpriced", "retries", "cost", "tokens")


BYS = [("team", "project"), ("provider", "model"), ("agent",),
       ("cost_center", "team")]


def test_the_same_numbers_as_rollup_on_the_exported_ledger(
        seeded: tuple[Deployment, TestClient], tmp_path: Path) -> None:
    dep, client = seeded
    exported = client.get("/v1/ledger", headers=dep.admin)
    assert exported.status_code == 200
    ledger = tmp_path / "ledger.cbor"
    ledger.write_bytes(exported.content)
    for by in BYS:
        for period in (None, "day", "month"):
            for currency in ("native", "reporting"):
                args = [a for name in by for a in ("--by", name)] + ["--currency", currency]
                params: list[tuple[str, str | int | float | bool | None]] = [
                    ("by", name) for name in by]
                params.append(("currency", currency))
                if period:
                    args += ["--period", period]
                    params.append(("period", period))
                expected = _rollup(ledger, *args)
                r = client.get("/v1/spend", params=params, headers=dep.admin)
                assert r.status_code == 200, r.text
                got = [{k: row[k] for k in (*by, *ROLLUP_FIELDS) if k in row}
                       for row in r.json()["rows"]]
                assert got == expected, (by, period, currency)
                assert len(expected) > 1
    assert any(row["cost"] is None for row in _rollup(ledger, "--currency", "reporting",
                                                      "--by", "model"))


def test_week_quarter_and_time_zone_boundaries(seeded: tuple[Deployment, TestClient]) -> None:
    dep, client = seeded

    def periods(**params: str) -> list[tuple[str, int]]:
        r = client.get("/v1/spend", params={**params, "currency": "native"}, headers=dep.admin)
        assert r.status_code == 200, r.text
        return [(row["period"], row["receipts"]) for row in r.json()["rows"]]

    # 2027-03-28 is a Sunday (ISO week 12), 2027-03-29 a Monday; 2028-01-01 is in 2027-W52
    assert periods(period="week") == [("2027-W12", 1), ("2027-W13", 8), ("2027-W52", 2),
                                      ("2028-W01", 1)]
    assert periods(period="quarter") == [("2027-Q1", 4), ("2027-Q2", 5), ("2027-Q4", 1),
                                         ("2028-Q1", 2)]
    # in New York (UTC-4 in spring, -5 in winter) the quarters start 4 and 5 hours later
    assert periods(period="quarter", tz="America/New_York") == [
        ("2027-Q1", 6), ("2027-Q2", 3), ("2027-Q4", 2), ("2028-Q1", 1)]
    # Kolkata is UTC+5:30: 2027-03-31 22:30 UTC is already April 1st there
    assert periods(period="month", tz="Asia/Kolkata") == [
        ("2027-03", 2), ("2027-04", 7), ("2028-01", 3)]
    assert periods(period="day", since="2027-04-01T00:00:00Z", until="2027-04-02T00:00:00Z") \
        == [("2027-04-01", 2)]
    assert periods(period="day", since="2030-01-01T00:00:00Z") == []  # after everything


def test_top_share_previous_and_unattributed(seeded: tuple[Deployment, TestClient]) -> None:
    dep, client = seeded
    everything = client.get("/v1/spend?by=agent&currency=native", headers=dep.admin).json()
    for answer in (everything, client.get("/v1/spend?by=team&by=project&period=week",
                                          headers=dep.admin).json()):
        SpendAnswer.model_validate(answer)  # what the OpenAPI document declares
    top = client.get("/v1/spend?by=agent&currency=native&top=2", headers=dep.admin).json()
    costs = sorted((row["cost"] for row in everything["rows"]), key=float, reverse=True)
    assert [row["cost"] for row in top["rows"]] == costs[:2]
    assert top["total"] == everything["total"]
    assert sum(float(row["share"]) for row in everything["rows"]) == pytest.approx(1, abs=1e-5)
    monthly = client.get("/v1/spend?by=team&period=month&currency=native",
                         headers=dep.admin).json()["rows"]
    by_month = {(row["team"], row["period"]): row for row in monthly}
    assert by_month[("search", "2027-04")]["previous_cost"] == \
        by_month[("search", "2027-03")]["cost"]
    assert by_month[("search", "2027-03")]["previous_cost"] is None
    centers = client.get("/v1/spend?by=cost_center&currency=native",
                         headers=dep.admin).json()
    no_center = next(row for row in centers["rows"] if row["cost_center"] is None)
    assert centers["unattributed"] == {"cost_center": {"USD": no_center["cost"]}}
    for row in everything["rows"]:
        assert row["agents"] == 1
        if row["cost"] is not None:
            assert sum(int(v.replace(".", "")) for v in row["cost_by_category"].values()) == \
                int(row["cost"].replace(".", ""))


def test_csv_matches_json(seeded: tuple[Deployment, TestClient]) -> None:
    dep, client = seeded
    as_json = client.get("/v1/spend?by=team&by=model&period=month",
                         headers=dep.admin).json()["rows"]
    as_csv = client.get("/v1/spend?by=team&by=model&period=month&format=csv",
                        headers=dep.admin)
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [(r["team"], r["model"], r["period"], r["cost"] or None) for r in lines] == \
        [(r["team"], r["model"], r["period"], r["cost"]) for r in as_json]
    assert all(int(line["tokens_input"]) == row["tokens"].get("input", 0)
               for line, row in zip(lines, as_json, strict=True))


def test_bad_parameters_are_422_naming_the_field(
        seeded: tuple[Deployment, TestClient]) -> None:
    dep, client = seeded
    for query, field in (("by=Team", "by"), ("by=status", "by"), ("by=currency", "by"),
                         ("by=team&by=team", "by"),
                         ("tz=Mars/Olympus", "tz"), ("period=year", "period"),
                         ("since=2027-04-01T00:07:00Z", "since"), ("top=0", "top"),
                         ("since=2027-04-02T00:00:00Z&until=2027-04-01T00:00:00Z", "until")):
        r = client.get(f"/v1/spend?{query}", headers=dep.admin)
        assert r.status_code == 422, (query, r.text)
        assert field in {f["field"].split(".")[-1] for f in r.json()["error"]["fields"]}, r.text
    agent = client.get("/v1/spend", headers=dep.agent("search")[1])
    assert agent.status_code == 403
