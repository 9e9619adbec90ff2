"""The dashboard in a real browser: headless Chromium drives a running ``receipt serve``.

It signs in with a finance token, checks that the totals on screen are the spend API's to the
last digit, drills team -> project -> model -> agent -> receipt, then signs in with a team
token and checks that no other team is visible, even by typing its URL. A screenshot of the
overview is saved (``RECEIPTS_SCREENSHOTS`` names a directory to keep it in; CI sets none).

Chromium is Debian's ``chromium`` package (``.ci/run`` installs it); without it the test skips,
except with ``RECEIPTS_REQUIRE_BROWSER=1`` (CI), where that is a failure.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.receipts.conftest import Deployment, Server, call, receipt_cmd

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _browser_or_skip() -> str:
    if CHROMIUM is None:
        if os.environ.get("RECEIPTS_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium required (RECEIPTS_REQUIRE_BROWSER=1) but not installed")
        pytest.skip("chromium not installed (apt-get install chromium)")
    return CHROMIUM


def _token(dep: Deployment, *args: str) -> str:
    done = subprocess.run(receipt_cmd("token", "create", *args), env=dep.env(),
                          capture_output=True, text=True, check=True)
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture
def served(deployment: Deployment) -> Iterator[tuple[Server, Deployment]]:
    """A running service with receipts of two teams, several projects, models and agents."""
    _id1, search = deployment.agent("search", employee="ana")
    _id2, ads = deployment.agent("ads", employee="bo")
    server = Server(deployment)
    try:
        server.wait_ready()
        made = httpx.post(server.url + "/v1/budgets", headers=deployment.admin, json={
            "name": "search-monthly", "scope": {"team": "search"}, "period": "month",
            "limit": "100", "thresholds": [50, 80, 100], "at_limit": "notify"})
        assert made.status_code in (200, 201), made.text
        for i in range(12):
            headers, project = (search, "ranker" if i % 3 else "indexer") if i % 2 else (
                ads, "bidder")
            model = "gpt-4o" if i % 4 else "gpt-4o-mini"
            body = call(f"r{i}", model=model, tags={"project": project, "environment": "prod"})
            answer = httpx.post(server.url + "/v1/receipts", json=body, headers=headers)
            assert answer.status_code == 201, answer.text
        yield server, deployment
    finally:
        server.stop()


def _spend(server: Server, token: str, **params: Any) -> dict[str, Any]:
    month = dt.datetime.now(dt.UTC).strftime("%Y-%m")
    first = dt.datetime.strptime(month + "-01", "%Y-%m-%d").replace(tzinfo=dt.UTC)
    after = (first + dt.timedelta(days=32)).replace(day=1)
    query = {"since": first.isoformat().replace("+00:00", "Z"),
             "until": after.isoformat().replace("+00:00", "Z"), **params}
    answer = httpx.get(server.url + "/v1/spend", params=query,
                       headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _sign_in(page: Any, server: Server, token: str) -> None:
    page.goto(server.url + "/dashboard/")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=total]")


def test_totals_drill_down_and_team_isolation_in_chromium(
        served: tuple[Server, Deployment], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    executable = _browser_or_skip()
    server, dep = served
    finance = _token(dep, "--role", "finance")
    team = _token(dep, "--role", "team", "--team", "search")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            _sign_in(page, server, finance)
            assert finance not in page.url
            expected = _spend(server, finance)["total"]["cost"]
            shown = page.locator("[data-testid=total] [data-exact]")
            assert {shown.nth(i).get_attribute("data-currency"): shown.nth(i).get_attribute(
                "data-exact") for i in range(shown.count())} == expected
            cookies = {c["name"]: c for c in page.context.cookies()}
            assert cookies["receipts_session"]["httpOnly"] is True
            assert cookies["receipts_session"]["sameSite"] == "Strict"
            shots = Path(os.environ.get("RECEIPTS_SCREENSHOTS") or tmp_path)
            shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shots / "dashboard-overview.png"), full_page=True)
            assert (shots / "dashboard-overview.png").stat().st_size > 10_000

            budgets = httpx.get(server.url + "/v1/budgets", headers=dep.admin).json()
            assert page.get_attribute("[data-testid=budget-spent]", "data-exact") == (
                budgets["budgets"][0]["spent"])

            by_team = {r["team"]: r["cost"] for r in _spend(server, finance, by="team")["rows"]}
            page.click("[data-testid=drivers-team] a:text-is('search')")
            assert page.locator("[data-testid=drill-total] [data-exact]").first.get_attribute(
                "data-exact") == by_team["search"]
            for _level in ("project", "model", "agent"):
                page.locator("[data-testid=drill-rows] a").first.click()
                page.wait_for_selector("[data-testid=crumbs]")
            page.locator("[data-testid=drill-receipts] a").first.click()
            receipt_id = page.inner_text("[data-testid=receipt-id]")
            assert receipt_id and page.inner_text("[data-testid=receipt-seq]").isdigit()

            phone = browser.new_page(viewport={"width": 390, "height": 844})
            _sign_in(phone, server, team)
            teams = phone.locator("[data-testid=drivers-team] tbody td:first-child")
            assert [teams.nth(i).inner_text() for i in range(teams.count())] == ["search"]
            mine = _spend(server, team)["total"]["cost"]
            shown = phone.locator("[data-testid=total] [data-exact]")
            assert shown.first.get_attribute("data-exact") == next(iter(mine.values()))
            other = phone.goto(server.url + "/dashboard/drill?team=ads")
            assert other is not None and other.status == 403
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, "the page scrolls sideways on a phone"
        finally:
            browser.close()

