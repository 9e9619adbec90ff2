"""What the pages ask the spend query: each question once, and the answers they show are the
API's (the overview's totals and unattributed spend come from its top-10 answers)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from receipts.dashboard import views
from receipts.spend.query import SpendQuery
from receipts.spend.report import spend
from tests.receipts.conftest import Deployment, call


def _month_bounds() -> dict[str, str]:
    first = dt.datetime.now(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    after = (first + dt.timedelta(days=32)).replace(day=1)
    return {"since": first.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "until": after.strftime("%Y-%m-%dT%H:%M:%SZ")}


def _sign_in(client: TestClient, token: str) -> None:
    form = client.get("/dashboard/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf
    answer = client.post("/dashboard/login", data={"token": token, "csrf": csrf[1]},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[SpendQuery]:
    """Every spend query the pages ask, in this test."""
    found: list[SpendQuery] = []

    def spy(conn: Any, q: SpendQuery) -> dict[str, Any]:
        found.append(q)
        return spend(conn, q)

    monkeypatch.setattr(views, "spend", spy)  # the name the views call
    return found


def _spend(client: TestClient, admin: dict[str, str], **params: Any) -> dict[str, Any]:
    answer = client.get("/v1/spend?" + urlencode({**_month_bounds(), **params}, doseq=True),
                        headers=admin)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _exact(html: str, testid: str) -> list[str]:
    block = re.search(rf'data-testid="{testid}">(.*?)</(?:p|span)>', html, re.S)
    assert block, testid
    return re.findall(r'data-exact="([^"]*)"', block[1])


def test_the_overview_asks_each_query_once_and_shows_the_apis_totals(
        deployment: Deployment, asked: list[SpendQuery]) -> None:
    _id, search = deployment.agent("search", project="ranker", employee="ana")
    _id2, ads = deployment.agent("ads", employee="bo")
    with deployment.client(required_tags=("team", "environment")) as client:
        for i in range(6):
            tags = {"environment": "prod"}
            answer = client.post("/v1/receipts", headers=search if i % 2 else ads,
                                 json=call(f"r{i}", tags=tags))
            assert answer.status_code == 201, answer.text
        _sign_in(client, deployment.made.admin_token)
        page = client.get("/dashboard/")
        assert page.status_code == 200
        assert len(asked) == len(set(asked)) == 8
        expected = _spend(client, deployment.admin, by=["team", "project"])
        for params in ("currency=native&stack=provider", "stack=model"):
            asked.clear()
            assert client.get("/dashboard/?" + params).status_code == 200
            assert len(asked) == len(set(asked)) == 8
    assert _exact(page.text, "total") == list(expected["total"]["cost"].values())
    receipts = re.search(r'data-testid="receipts">(\d+)<', page.text)
    assert receipts and int(receipts[1]) == expected["total"]["receipts"] == 6
    missing = expected["unattributed"]["project"]
    assert list(missing) == ["USD"] and missing["USD"] is not None  # ads has no project
    unattributed = re.search(r'data-testid="unattributed">(.*?)</ul>', page.text, re.S)
    assert unattributed and "no <code>project</code>" in unattributed[1]
    assert "no <code>team</code>" not in unattributed[1]


def test_the_last_drill_level_asks_one_query_and_shows_the_agents_total(
        deployment: Deployment, asked: list[SpendQuery]) -> None:
    agent, search = deployment.agent("search")
    with deployment.client() as client:
        for i in range(3):
            answer = client.post("/v1/receipts", headers=search, json=call(f"r{i}"))
            assert answer.status_code == 201, answer.text
        _sign_in(client, deployment.made.admin_token)
        page = client.get("/dashboard/drill?" + urlencode(
            {"team": "search", "project": "ranker", "model": "gpt-4o", "agent": agent}))
        assert page.status_code == 200
        assert [q.by for q in asked] == [("team", "project", "model", "agent")]
        by_agent = _spend(client, deployment.admin, by="agent")["rows"]
    assert _exact(page.text, "drill-total") == [by_agent[0]["cost"]]
    assert page.text.count('data-testid="drill-receipts"') == 1
