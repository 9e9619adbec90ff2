"""Signing in to the dashboard: cookies, CSRF, who may sign in, and revocation."""

from __future__ import annotations

import re
import subprocess

import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.receipts.conftest import Deployment, call, receipt_cmd


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def _sign_in(client: TestClient, token: str) -> tuple[int, str]:
    form = client.get("/dashboard/login")
    answer = client.post("/dashboard/login", data={"token": token, "csrf": _csrf(form.text)},
                         follow_redirects=False)
    return answer.status_code, answer.text


def test_sign_in_sets_a_strict_http_only_cookie_and_stores_no_token(
        deployment: Deployment) -> None:
    token = deployment.made.admin_token
    with deployment.client() as client:
        status, _ = _sign_in(client, token)
        assert status == 303
        cookie = client.cookies.get("receipts_session")
        assert cookie
        page = client.get("/dashboard/")
        assert page.status_code == 200 and "Total spend" in page.text
        assert token not in page.text
        assert "default-src 'none'" in page.headers["content-security-policy"]
    engine = sa.create_engine(deployment.settings.db_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM receipts_dashboard_session")).all()
    engine.dispose()
    assert rows and all(cookie.encode() not in b"".join(
        v if isinstance(v, bytes) else str(v).encode() for v in row) for row in rows)


def test_set_cookie_flags(deployment: Deployment) -> None:
    with deployment.client() as client:
        form = client.get("/dashboard/login")
        answer = client.post("/dashboard/login", follow_redirects=False, data={
            "token": deployment.made.admin_token, "csrf": _csrf(form.text)})
        header = answer.headers["set-cookie"].lower()
        assert "httponly" in header and "samesite=strict" in header and "path=/dashboard" in header


def test_a_form_without_the_csrf_value_or_from_another_site_is_refused(
        deployment: Deployment) -> None:
    with deployment.client() as client:
        client.get("/dashboard/login")
        forged = client.post("/dashboard/login", data={
            "token": deployment.made.admin_token, "csrf": "guess"}, follow_redirects=False)
        assert forged.status_code == 403 and not client.cookies.get("receipts_session")
        form = client.get("/dashboard/login")
        cross = client.post("/dashboard/login", headers={"Origin": "https://evil.example"},
                            data={"token": deployment.made.admin_token,
                                  "csrf": _csrf(form.text)}, follow_redirects=False)
        assert cross.status_code == 403
        _sign_in(client, deployment.made.admin_token)
        out = client.post("/dashboard/logout", data={"csrf": "guess"}, follow_redirects=False)
        assert out.status_code == 403
        assert client.get("/dashboard/").status_code == 200


def test_agent_keys_and_unknown_tokens_cannot_sign_in(deployment: Deployment) -> None:
    _agent, headers = deployment.agent("search")
    key = headers["Authorization"].split()[1]
    with deployment.client() as client:
        status, text = _sign_in(client, key)
        assert status == 403 and "agent" in text
        status, text = _sign_in(client, "ra_not-a-token")
        assert status == 401 and "unknown or revoked key" in text
        assert client.get("/dashboard/").status_code == 401  # the sign-in form


def test_revoking_the_token_ends_its_sessions_and_sign_out_works(
        deployment: Deployment) -> None:
    made = subprocess.run(receipt_cmd("token", "create", "--role", "finance"),
                          env=deployment.env(), capture_output=True, text=True, check=True)
    token = made.stdout.strip().splitlines()[-1]
    listed = subprocess.run(receipt_cmd("token", "list"),
                            env=deployment.env(), capture_output=True, text=True, check=True)
    token_id = re.findall(r"\btok_[0-9a-f]+", listed.stdout)[0]
    _agent, agent = deployment.agent("search")
    with deployment.client() as client:
        assert client.post("/v1/receipts", json=call("r1"), headers=agent).status_code == 201
        assert _sign_in(client, token)[0] == 303
        page = client.get("/dashboard/")
        assert page.status_code == 200
        out = client.post("/dashboard/logout", data={"csrf": _csrf(page.text)},
                          follow_redirects=False)
        assert out.status_code == 303 and client.get("/dashboard/").status_code == 401
        assert _sign_in(client, token)[0] == 303
        subprocess.run(receipt_cmd("token", "revoke", token_id), env=deployment.env(),
                       check=True, capture_output=True)
        assert client.get("/dashboard/").status_code == 401
