"""The demo's second half: spend you can act on, over HTTP against the running service.

A budget with ``at_limit: deny`` on one team, a pre-flight authorization whose estimate does
not fit (denied, naming the budget), then a runaway loop from another team's agent, and the
``anomaly`` alert the service's detector raises for it (polled from ``GET /v1/alerts``, with
how long after the loop's receipts it appeared).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

RUNAWAY_CALLS = 6
RUNAWAY_USAGE = {"input_tokens": 20_000, "output_tokens": 1_000_000}
"""About 10 USD of gpt-4o each: the loop's minute passes the floor a new scope is held to."""
WAIT_S = 60.0


def show_budget_and_denial(url: str, admin: dict[str, str], key: str, team: str,
                           say: Callable[[str], None]) -> None:
    """A deny budget on ``team`` and an authorization refused at its limit."""
    budget = httpx.post(f"{url}/v1/budgets", headers=admin, timeout=30, json={
        "name": f"{team}-monthly", "scope": {"team": team}, "period": "month",
        "limit": "250", "thresholds": [50, 80, 100], "at_limit": "deny"})
    budget.raise_for_status()
    b = budget.json()
    say(f"POST /v1/budgets: {b['name']} (team={team}, month, deny at the limit): limit "
        f"{b['limit']} {b['currency']}, spent {b['spent']}, remaining {b['remaining']}")
    auth = httpx.post(f"{url}/v1/authorize", headers={"Authorization": f"Bearer {key}"},
                      timeout=30, json={
                          "provider": "openai", "model": "gpt-4o",
                          "tags": {"project": "ranker", "environment": "prod"},
                          "estimated_cost": "400"})
    auth.raise_for_status()
    a = auth.json()
    say(f"POST /v1/authorize for a 400 {b['currency']} call -> decision {a['decision']!r}: "
        f"{a.get('reason')}")


def _anomalies(url: str, admin: dict[str, str]) -> list[dict[str, Any]]:
    r = httpx.get(f"{url}/v1/alerts", headers=admin, timeout=30)
    r.raise_for_status()
    return [a for a in r.json()["alerts"] if a["kind"] == "anomaly"]


def show_anomaly(url: str, admin: dict[str, str], key: str, team: str, project: str,
                 say: Callable[[str], None]) -> bool:
    """A runaway loop from ``team``'s agent and the anomaly alert it raises; whether it came."""
    before = {a["id"] for a in _anomalies(url, admin)}
    headers = {"Authorization": f"Bearer {key}"}
    stamp = int(time.time())
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        for i in range(RUNAWAY_CALLS):
            client.post("/v1/receipts", json={
                "request_id": f"loop-{stamp}-{i}", "provider": "openai", "model": "gpt-4o",
                "usage": RUNAWAY_USAGE, "tags": {"project": project, "environment": "prod",
                                                 "employee": "dev-7"}}).raise_for_status()
    sent = time.monotonic()
    say(f"a runaway loop: {RUNAWAY_CALLS} long gpt-4o calls from team {team}'s agent in "
        "seconds")
    scope = f"team={team}"
    while time.monotonic() - sent < WAIT_S:
        new = [a for a in _anomalies(url, admin)
               if a["id"] not in before and a["scope"] == scope]
        if new:
            p = new[0]["payload"]
            top = {k: (v or {}).get("value") for k, v in p["top"].items()}
            say(f"anomaly alert {time.monotonic() - sent:.1f} s later: {p['summary']}")
            say(f"  scope {scope}: spend {p['spend']} {p['currency']} ({p['horizon']}), baseline "
                f"{p['baseline']}, threshold {p['threshold']}, factor {p['factor']}; top agent "
                f"{top['agent']}, employee {top['employee']}, project {top['project']}, "
                f"model {top['model']}")
            return True
        time.sleep(0.5)
    say(f"no anomaly alert within {WAIT_S:.0f} s")
    return False
