"""One deployment with varied receipts, its exported ledger and its FOCUS exports, made once
for the FOCUS tests (module scope: they only read them)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from receipts.cli.main import main
from tests.receipts.conftest import Deployment, call, make_deployment


def receipt(*args: str) -> Result:
    """``receipt ARGS`` in-process (stdout and stderr apart)."""
    return CliRunner().invoke(main, list(args))


@dataclass
class Exported:
    """The deployment, its ledger file, and what the service answered for the exports."""

    deployment: Deployment
    ledger: Path
    key: Path
    service_csv: bytes
    service_parquet: bytes
    agent_focus_status: int
    finance_csv: bytes
    team_csv: bytes
    tmp: Path


CALLS: list[tuple[str, dict[str, Any]]] = [
    ("search", call("before-fx")),  # issued before any FX rate: no conversion
    ("search", call("r-openai", usage={"input_tokens": 1200, "output_tokens": 300,
                                       "cache_read_tokens": 1000})),
    ("search", call("=cmd|' /C calc'!A0", model="gpt-4o-mini",
                    tags={"project": "ranker", "environment": "prod", "note": "=1+1"})),
    ("ads", call("r-claude", provider="anthropic", model="claude-sonnet-4", usage={
        "input_tokens": 5000, "output_tokens": 333, "cache_read_tokens": 2000,
        "cache_write_tokens": 1000, "cache_write_1h_tokens": 400},
        tags={"project": "bidder", "environment": "prod"})),
    ("ads", call("r-gemini-long", provider="google", model="gemini-2.5-pro", usage={
        "input_tokens": 250_001, "output_tokens": 1234, "cache_read_tokens": 50_000},
        tags={"project": "bidder", "environment": "prod"})),
    ("ads", call("r-unknown", model="mystery-model-9",
                 tags={"project": "bidder", "environment": "prod"})),
    ("ads", call("r-self-hosted", provider="self-hosted", model="llama-3.1-70b",
                 tags={"project": "bidder", "environment": "dev"})),
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    tmp = tmp_path_factory.mktemp("focus")
    dep = make_deployment(tmp, currency="GBP")
    where = ["--data", str(dep.settings.data_dir), "--db", dep.settings.db_url]
    agents = {"search": dep.agent("search")[1], "ads": dep.agent("ads")[1]}
    _, agent_only = dep.agent("search")
    _, finance = dep.role_token("finance")
    _, ads_lead = dep.role_token("team", "ads")
    with dep.client() as client:
        first = client.post("/v1/receipts", json=CALLS[0][1], headers=agents["search"])
        assert first.status_code == 201, first.text
        done = receipt("fx", "set", "GBP", "0.787654321", "--source", "test-bank", *where)
        assert done.exit_code == 0, done.output
        ids = []
        for team, body in CALLS[1:]:
            answer = client.post("/v1/receipts", json=body, headers=agents[team])
            assert answer.status_code == 201, answer.text
            ids.append(answer.json()["receipt"]["id"])
        retry = call("r-openai-retry", retry_of=ids[0])
        assert client.post("/v1/receipts", json=retry, headers=agents["search"]).status_code \
            == 201
        ledger = tmp / "ledger.cbor"
        ledger.write_bytes(client.get("/v1/ledger", headers=dep.admin).content)
        csv_answer = client.get("/v1/receipts?format=focus", headers=dep.admin)
        parquet_answer = client.get("/v1/receipts?format=focus_parquet", headers=dep.admin)
        agent_status = client.get("/v1/receipts?format=focus", headers=agent_only).status_code
        finance_answer = client.get("/v1/receipts?format=focus", headers=finance)
        team_answer = client.get("/v1/receipts?format=focus", headers=ads_lead)
    assert csv_answer.status_code == 200 and parquet_answer.status_code == 200
    assert finance_answer.status_code == 200 and team_answer.status_code == 200
    return Exported(dep, ledger, dep.made.public_key, csv_answer.content,
                    parquet_answer.content, agent_status, finance_answer.content,
                    team_answer.content, tmp)
