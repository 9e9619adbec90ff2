"""``receipt import`` and ``POST /v1/import``: backfilled receipts that verify, carry
``imported`` and the call's own time, a second import that adds nothing, refused lines listed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from receipts.cli.main import main
from receipts.imports.reading import read_log
from tests.receipts.conftest import Deployment, make_deployment
from verifier import VerifyOptions, audit_ledger, cose
from verifier.encoding import decode_strict, split_sequence

LOGS = Path(__file__).resolve().parents[3] / "examples" / "logs"
GATEWAY = LOGS / "gateway.jsonl"


def _import(dep: Deployment, *args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(main, ["import", *args, "--format", "json", "--data",
                                       str(dep.settings.data_dir), "--db", dep.settings.db_url])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.output)


def _receipts(ledger: bytes) -> list[dict[str, Any]]:
    return [decode_strict(cose.parse(item).payload) for _, item in split_sequence([ledger])
            if cose.peek_content_type(item) == cose.RECEIPT]


def _ledger(dep: Deployment) -> bytes:
    with dep.client() as client:
        return client.get("/v1/ledger", headers=dep.admin).content


def _agents(dep: Deployment) -> list[str]:
    return [a for team in ("search", "support")
            for a in ["--agent", dep.agent(team, environment="prod")[0]]]


def _check_import_twice(dep: Deployment) -> None:
    agents = _agents(dep)
    code, first = _import(dep, str(GATEWAY), *agents)
    assert code == 1  # some lines refused (teams without an agent, a missing project tag)
    assert first["added"] == 6 and first["already_imported"] == 1  # gw line 5 repeats line 3
    refused = {r["line"]: r["reason"] for r in first["refused"]}
    assert set(refused) == {4, 6, 7, 11}
    assert "project" in refused[4] and "growth" in refused[6] and "research" in refused[11]
    ledger = _ledger(dep)
    code, second = _import(dep, str(GATEWAY), *agents)
    assert (second["added"], second["already_imported"]) == (0, 7)
    assert second["refused"] == first["refused"]
    again = _ledger(dep)
    assert len(_receipts(again)) == len(_receipts(ledger)) == 6
    report = audit_ledger([again], VerifyOptions(workers=1))
    assert report.valid and report.receipts == 6, report.failure
    sha = hashlib.sha256(GATEWAY.read_bytes()).digest()
    lines = GATEWAY.read_text().splitlines()
    for r in _receipts(again):
        assert r["imported"]["sha256"] == sha
        logged = json.loads(lines[r["imported"]["line"] - 1])
        assert logged["request_id"] == r["request_id"]
        assert r["started_at"] < r["issued_at"]  # the call's own time, logged months before


def test_a_log_imported_twice_adds_nothing_the_second_time_and_verifies(
        deployment: Deployment) -> None:
    _check_import_twice(deployment)


def test_the_same_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    _check_import_twice(make_deployment(tmp_path, pg_url))


def test_refused_lines_are_listed_and_the_rest_imported(deployment: Deployment,
                                                         tmp_path: Path) -> None:
    log = tmp_path / "mixed.jsonl"
    good = GATEWAY.read_text().splitlines()[0]
    timeless = json.loads(good)
    del timeless["timestamp"], timeless["response"]["created"]
    log.write_text("\n".join([good, "{not json", json.dumps({"hello": 1}), "",
                              json.dumps({**timeless, "request_id": "gw-new"})]) + "\n")
    code, out = _import(deployment, str(log), "--agent",
                        deployment.agent("search", environment="prod")[0])
    assert code == 1 and out["added"] == 1
    refused = {r["line"]: r["reason"] for r in out["refused"]}
    assert set(refused) == {2, 3, 5}
    assert "not JSON" in refused[2] and "no known shape" in refused[3]
    assert "timestamp" in refused[5]


def test_aggregated_rows_and_unknown_agents_are_refused(deployment: Deployment) -> None:
    agent = deployment.agent("search", environment="prod")[0]
    code, out = _import(deployment, str(LOGS / "openai-usage-page.json"), "--agent", agent)
    assert code == 1 and out["added"] == 0
    assert "aggregated" in out["refused"][0]["reason"]
    result = CliRunner().invoke(main, ["import", str(GATEWAY), "--agent", "agt_nope", "--data",
                                       str(deployment.settings.data_dir)])
    assert result.exit_code != 0 and "agt_nope" in result.output
    assert "Traceback" not in result.output


def test_a_csv_row_is_refused_alone(tmp_path: Path) -> None:
    rows = (LOGS / "litellm-spend.csv").read_text().splitlines()
    data = ("\n".join([rows[0], rows[1], "a,b", rows[2]]) + "\n").encode()
    log = read_log("x.csv", data)
    assert [(line.number, line.refusal is None, len(line.calls)) for line in log.lines] == \
        [(2, True, 1), (3, False, 0), (4, True, 1)]
    assert log.sha256 == hashlib.sha256(data).digest()


def test_post_import_needs_the_admin_token(deployment: Deployment) -> None:
    agent, agent_auth = deployment.agent("search", environment="prod")
    support = deployment.agent("support", environment="prod")[0]
    _, finance = deployment.role_token("finance")
    text = GATEWAY.read_text()
    body = {"agents": [agent, support], "name": "gateway.jsonl", "content": text}
    with deployment.client() as client:
        for auth in (agent_auth, finance):
            assert client.post("/v1/import", json=body, headers=auth).status_code == 403
        assert client.post("/v1/import", json=body).status_code == 401
        first = client.post("/v1/import", json=body, headers=deployment.admin)
        second = client.post("/v1/import", json=body, headers=deployment.admin)
        unknown = client.post("/v1/import", json={**body, "agents": ["agt_nope"]},
                              headers=deployment.admin)
        ledger = client.get("/v1/ledger", headers=deployment.admin).content
    assert first.status_code == 200, first.text
    assert (first.json()["added"], first.json()["already_imported"]) == (6, 1)
    assert (second.json()["added"], second.json()["already_imported"]) == (0, 7)
    assert [r["line"] for r in second.json()["refused"]] == [4, 6, 7, 11]
    assert unknown.status_code == 404
    assert [f["field"] for f in unknown.json()["error"]["fields"]] == ["agents"]
    receipts = _receipts(ledger)
    assert len(receipts) == 6
    assert {r["imported"]["sha256"] for r in receipts} == {
        hashlib.sha256(text.encode()).digest()}
    assert audit_ledger([ledger], VerifyOptions(workers=1)).valid


def test_a_line_of_several_calls_is_imported_whole_or_not_at_all(deployment: Deployment,
                                                                 tmp_path: Path) -> None:
    first, second = (json.loads(line) for line in GATEWAY.read_text().splitlines()[:2])
    other = {**first, "request_id": "gw-pair"}
    log = tmp_path / "pairs.jsonl"
    log.write_text(json.dumps([first, second]) + "\n" + json.dumps([first, other]) + "\n")
    agent = deployment.agent("search", environment="prod")[0]
    code, out = _import(deployment, str(log), "--agent", agent)
    # line 1: its second call is of team support, which contradicts the agent's binding
    assert code == 1 and [r["line"] for r in out["refused"]] == [1]
    assert out["added"] == 2
    receipts = _receipts(_ledger(deployment))
    assert sorted(r["request_id"] for r in receipts) == ["gw-0001", "gw-pair"]
    assert {r["imported"]["line"] for r in receipts} == {2}
