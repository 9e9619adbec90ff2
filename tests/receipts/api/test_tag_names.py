"""Tag names have one spelling (lowercase ``[a-z][a-z0-9_.:-]{0,63}``): ``Team`` and ``team ``
beside ``team`` split a team's spend, so every other spelling is refused, naming the key,
wherever a tag name comes in: call tags, batch items, agents' bound tags (API and CLI) and the
settings' required tags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from receipts.api.tag_keys import is_tag_key
from receipts.cli.main import main
from receipts.deployment.settings import Settings
from receipts.errors import ConfigError
from tests.receipts.conftest import Deployment, call

REFUSED = ["Team", "team ", " team", "TEAM", "Cost_Center", "1team", "_team", "cost center",
           "cost/center", "é", "team\n", "t" * 65, ""]
ACCEPTED = ["team", "cost_center", "environment", "deployment.environment", "aws:team",
            "cost-center", "k8s.namespace", "t" * 64, "a"]


@pytest.mark.parametrize("name", REFUSED)
def test_other_spellings_are_refused(name: str) -> None:
    assert not is_tag_key(name)


@pytest.mark.parametrize("name", ACCEPTED)
def test_what_tag_names_are_in_practice_is_accepted(name: str) -> None:
    assert is_tag_key(name)


def _tags(name: str) -> dict[str, str]:
    return {"project": "p", "environment": "e", name: "x"}


def _fields(response: Any) -> list[str]:
    return [f["field"] for f in response.json()["error"]["fields"]]


@pytest.mark.parametrize("name", ["Team", "team ", "Cost_Center", "a b"])
def test_a_call_or_batch_item_with_another_spelling_is_a_422_naming_the_key(
        deployment: Deployment, name: str) -> None:
    _, auth = deployment.agent()
    with deployment.client() as client:
        single = client.post("/v1/receipts", json=call("s", tags=_tags(name)), headers=auth)
        batch = client.post("/v1/receipts/batch", json={"calls": [
            call("b0"), call("b1", tags=_tags(name))], "atomic": False}, headers=auth)
        stored = client.get("/v1/receipts", headers=deployment.admin).json()["receipts"]
    assert single.status_code == 422 and _fields(single) == [f"tags.{name}.[key]"]
    results = batch.json()["results"]
    assert [r["status"] for r in results] == [201, 422]
    assert [f["field"] for f in results[1]["error"]["fields"]] == [f"calls.1.tags.{name}.[key]"]
    assert [r["receipt"]["request_id"] for r in stored] == ["b0"]


def test_real_tag_names_are_receipted(deployment: Deployment) -> None:
    _, auth = deployment.agent()
    tags = {"project": "p", "environment": "e", "cost_center": "cc-1", "aws:owner": "x",
            "deployment.environment": "prod"}
    with deployment.client() as client:
        made = client.post("/v1/receipts", json=call("r", tags=tags), headers=auth)
    assert made.status_code == 201 and made.json()["receipt"]["tags"] == {**tags, "team": "search"}


def test_an_agent_bound_to_another_spelling_is_refused(deployment: Deployment) -> None:
    with deployment.client() as client:
        api = client.post("/v1/agents", json={"team": "ops", "tags": {"Project": "x"}},
                          headers=deployment.admin)
        agents = client.get("/v1/agents", headers=deployment.admin).json()["agents"]
    assert api.status_code == 422 and _fields(api) == ["tags.Project.[key]"]
    where = ["--data", str(deployment.settings.data_dir), "--db", deployment.settings.db_url]
    cli = CliRunner().invoke(main, ["agent", "create", "--team", "ops", "--tag", "Project=x",
                                    *where])
    assert cli.exit_code == 1 and cli.stderr.startswith("error: tag name 'Project'")
    assert len(cli.stderr.strip().splitlines()) == 1
    ok = CliRunner().invoke(main, ["agent", "create", "--team", "ops", "--tag",
                                   "cost_center=cc-9", *where])
    assert ok.exit_code == 0, ok.output
    assert agents == []


def test_required_tags_follow_the_same_syntax(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Project"):
        Settings(data_dir=tmp_path, db_url="sqlite:///x.db", required_tags=("team", "Project"))
    assert Settings(data_dir=tmp_path, db_url="sqlite:///x.db",
                    required_tags=("team", "cost_center")).required_tags[1] == "cost_center"
