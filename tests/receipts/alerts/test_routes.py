"""/v1/alert-channels and /v1/alerts over HTTP, and the receipt alerts commands."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from receipts.alerts.store import raise_alert
from receipts.cli.main import main
from receipts.storage.database import Database
from tests.receipts.alerts.receiver import running_receiver
from tests.receipts.conftest import (
    BOTH_DATABASES,
    Deployment,
    call,
    made_on,
    make_deployment,
)

SECRET = "whsec-0123456789abcdef"


def test_channels_add_list_remove_never_show_a_secret(deployment: Deployment) -> None:
    _, agent = deployment.agent()
    with deployment.client() as client:
        made = client.post("/v1/alert-channels", headers=deployment.admin, json={
            "kind": "slack", "url": "https://hooks.slack.com/services/T0/B0/SECRETPATH"})
        assert made.status_code == 201, made.text
        hook = client.post("/v1/alert-channels", headers=deployment.admin, json={
            "kind": "webhook", "url": "https://ops.example.com/hook", "secret": SECRET})
        assert hook.status_code == 201
        listed = client.get("/v1/alert-channels", headers=deployment.admin)
        assert listed.status_code == 200
        text = listed.text + made.text + hook.text
        assert SECRET not in text and "SECRETPATH" not in text
        assert [(c["kind"], c["url"], c["has_secret"]) for c in listed.json()["channels"]] == [
            ("slack", "https://hooks.slack.com/...", False),
            ("webhook", "https://ops.example.com/hook", True)]
        relay = client.post("/v1/alert-channels", headers=deployment.admin, json={
            "kind": "webhook", "secret": SECRET,
            "url": "https://user:pw@relay.example.com:8443/hooks/0a1b2c3d4e5f6a7b8c9d/in?k=v"})
        assert relay.json()["url"] == "https://relay.example.com:8443/hooks/***/in"
        client.delete(f"/v1/alert-channels/{relay.json()['id']}", headers=deployment.admin)
        channel_id = made.json()["id"]
        gone = client.delete(f"/v1/alert-channels/{channel_id}", headers=deployment.admin)
        assert gone.json() == {"id": channel_id, "removed": True}
        again = client.delete(f"/v1/alert-channels/{channel_id}", headers=deployment.admin)
        assert again.status_code == 409
        assert client.delete("/v1/alert-channels/ch_nope", headers=deployment.admin
                             ).status_code == 404
        assert len(client.get("/v1/alert-channels", headers=deployment.admin
                              ).json()["channels"]) == 1
        for method, path in (("GET", "/v1/alert-channels"), ("GET", "/v1/alerts"),
                             ("POST", "/v1/alert-channels")):
            assert client.request(method, path, headers=agent, json={}).status_code == 403
            assert client.request(method, path, json={}).status_code == 401


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "webhook", "url": "https://x.example/h"}, "secret"),
    ({"kind": "webhook", "url": "https://x.example/h", "secret": "short"}, "secret"),
    ({"kind": "pagerduty", "url": "https://events.pagerduty.com/v2/enqueue"}, "secret"),
    ({"kind": "slack", "url": "https://hooks.slack.com/x", "secret": SECRET}, "secret"),
    ({"kind": "webhook", "url": "ftp://x.example/h", "secret": SECRET}, "url"),
    ({"kind": "webhook", "url": "https:///nohost", "secret": SECRET}, "url"),
    ({"kind": "webhook", "url": "https://x.example:99999/", "secret": SECRET}, "url"),
    ({"kind": "webhook", "url": "https://x.example/a b", "secret": SECRET}, "url"),
    ({"kind": "email", "url": "https://x.example/h"}, "kind"),
    ({"kind": "webhook", "url": "https://x.example/h", "secret": SECRET, "extra": 1}, "extra"),
])
def test_bad_channels_are_422s_naming_the_field(deployment: Deployment, body: dict[str, object],
                                                field: str) -> None:
    with deployment.client() as client:
        r = client.post("/v1/alert-channels", headers=deployment.admin, json=body)
    assert r.status_code == 422, r.text
    assert [f["field"] for f in r.json()["error"]["fields"]] == [field]


def test_alerts_list_and_retry(deployment: Deployment) -> None:
    db = Database(deployment.settings.db_url)
    try:
        with db.write() as conn:
            raised = raise_alert(conn, "anomaly", "team=search", "anomaly:search:1",
                                 {"summary": "spend 12x baseline", "spend": "40.00"})
    finally:
        db.dispose()
    with deployment.client() as client:
        r = client.get("/v1/alerts", headers=deployment.admin)
        assert r.status_code == 200
        (view,) = r.json()["alerts"]
        assert view["id"] == raised.id and view["status"] == "pending"
        assert view["payload"] == {"summary": "spend 12x baseline", "spend": "40.00"}
        assert view["deliveries"] == []
        assert client.get("/v1/alerts?status=failed", headers=deployment.admin
                          ).json() == {"alerts": []}
        assert client.get("/v1/alerts?status=nope", headers=deployment.admin
                          ).status_code == 422
        ok = client.post(f"/v1/alerts/{raised.id}/retry", headers=deployment.admin)
        assert ok.json() == {"id": raised.id, "requeued": 0}
        assert client.post("/v1/alerts/al_nope/retry", headers=deployment.admin
                           ).status_code == 404


def test_the_service_delivers_to_a_channel_added_over_http(tmp_path: Path) -> None:
    """End to end in one app: a channel added over HTTP, an alert raised in the database, the
    app's own worker delivers it within seconds."""
    dep = make_deployment(tmp_path, alert_retry_base_ms=50)
    with running_receiver() as receiver, dep.client() as client:
        r = client.post("/v1/alert-channels", headers=dep.admin,
                        json={"kind": "webhook", "url": receiver.url + "/in", "secret": SECRET})
        assert r.status_code == 201
        receiver.respond = lambda got: 500 if len(receiver.requests) == 1 else 200
        db = Database(dep.settings.db_url)
        try:
            with db.write() as conn:
                raise_alert(conn, "budget", "team=search", "budget:x:100", {"spent": "1.00"})
        finally:
            db.dispose()
        receiver.wait_for(2, timeout=20)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            (view,) = client.get("/v1/alerts", headers=dep.admin).json()["alerts"]
            if view["status"] == "delivered":
                break
            time.sleep(0.05)
    assert view["status"] == "delivered" and view["deliveries"][0]["attempts"] == 2


def _run(dep: Deployment, *args: str, env: dict[str, str] | None = None) -> Result:
    where = ["--data", str(dep.settings.data_dir), "--db", dep.settings.db_url]
    return CliRunner().invoke(main, ["alerts", *args, *where], env=env)


def test_cli_channel_add_list_remove_test_and_list(deployment: Deployment) -> None:
    env = {"RECEIPTS_ALERT_CHANNEL_SECRET": SECRET}
    added = _run(deployment, "channel", "add", "--kind", "webhook", "--url",
                 "https://ops.example.com/hook?k=v", env=env)
    assert added.exit_code == 0, added.output
    channel_id = added.stdout.split()[2]
    assert channel_id.startswith("ch_") and SECRET not in added.stdout
    listed = _run(deployment, "channel", "list")
    assert f"{channel_id}  webhook  https://ops.example.com/hook" in listed.stdout
    assert "secret set" in listed.stdout and "k=v" not in listed.stdout
    bad = _run(deployment, "channel", "add", "--kind", "webhook", "--url", "https://x.example/")
    assert bad.exit_code == 1 and bad.stderr.count("\n") == 1
    assert "secret" in bad.stderr and "Traceback" not in bad.stderr
    raised = _run(deployment, "test", "--message", "hello")
    assert raised.exit_code == 0, raised.output
    alert_id = raised.stdout.split()[1]
    shown = _run(deployment, "list")
    assert alert_id in shown.stdout and "test  deployment  pending" in shown.stdout
    assert "(no alerts)" in _run(deployment, "list", "--team", "search").stdout
    as_json = json.loads(_run(deployment, "list", "--json").stdout)
    assert as_json["alerts"][0]["payload"] == {"summary": "hello", "severity": "info"}
    removed = _run(deployment, "channel", "remove", channel_id)
    assert removed.exit_code == 0 and "removed" in removed.stdout
    twice = _run(deployment, "channel", "remove", channel_id)
    assert twice.exit_code == 1 and "already removed" in twice.stderr
    assert _run(deployment, "retry", "al_nope").exit_code == 1


@pytest.fixture(params=BOTH_DATABASES)
def dep(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    yield from made_on(request, tmp_path, make_deployment)


def test_finance_reads_every_alert_and_a_team_token_its_teams(dep: Deployment) -> None:
    scopes = ["team=search", "project=ranker,team=search", "environment=prod,team=search,x=y",
              "team=searchers", "team=support", "team=s%", "*"]
    db = Database(dep.settings.db_url)
    try:
        with db.write() as conn:
            for i, scope in enumerate(scopes):
                raise_alert(conn, "budget_threshold", scope, f"k{i}", {}, at=1000 + i)
    finally:
        db.dispose()
    _, search = dep.role_token("team", "search")
    _, odd = dep.role_token("team", "s%")
    _, finance = dep.role_token("finance")
    _, agent = dep.agent()
    with dep.client() as client:
        def seen(header: dict[str, str], query: str = "") -> list[str]:
            r = client.get("/v1/alerts" + query, headers=header)
            assert r.status_code == 200, r.text
            return [a["scope"] for a in r.json()["alerts"]]

        assert seen(finance) == seen(dep.admin) == scopes[::-1]
        assert seen(search) == scopes[2::-1] == seen(search, "?team=search")
        assert seen(odd) == ["team=s%"]  # (a LIKE wildcard in a team name matches itself)
        assert seen(finance, "?team=support") == ["team=support"]
        other = client.get("/v1/alerts?team=support", headers=search)
        assert other.status_code == 403
        assert other.json()["error"]["fields"][0]["field"] == "team"
        for header in (search, finance, agent):
            assert client.get("/v1/alert-channels", headers=header).status_code == 403
            assert client.post("/v1/alerts/al_x/retry", headers=header).status_code == 403
        assert client.get("/v1/alerts", headers=agent).status_code == 403


def test_a_budget_threshold_reaches_the_webhook(tmp_path: Path) -> None:
    """The whole path in one app: a receipt crosses a budget's threshold, the append raises
    the alert with its outbox row, the app's worker delivers it, signed, to the receiver."""
    from receipts.alerts.messages import verify_signature

    dep = make_deployment(tmp_path)
    _, agent = dep.agent("search")
    with running_receiver() as receiver, dep.client() as client:
        client.post("/v1/alert-channels", headers=dep.admin,
                    json={"kind": "webhook", "url": receiver.url, "secret": SECRET})
        made = client.post("/v1/budgets", headers=dep.admin, json={
            "name": "search", "scope": {"team": "search"}, "period": "month",
            "limit": "0.000001", "thresholds": [100], "at_limit": "notify"})
        assert made.status_code == 201, made.text
        assert client.post("/v1/receipts", json=call("r1"), headers=agent).status_code == 201
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # (the limit may be alerted too: "notify")
            kinds = {r.json()["alert"]["kind"]: r for r in receiver.wait_for(1)}
            if "budget_threshold" in kinds:
                break
            time.sleep(0.05)
    got = kinds["budget_threshold"]
    assert got.json()["alert"]["scope"] == "team=search"
    assert verify_signature(SECRET, got.headers["x-receipts-timestamp"], got.body,
                            got.headers["x-receipts-signature"], int(time.time()))
