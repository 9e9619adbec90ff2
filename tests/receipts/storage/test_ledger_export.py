"""The ledger: export and GET /v1/ledger verify with the verifier; keys, checkpoints, FX."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

from click.testing import CliRunner

from receipts.cli.main import main
from receipts.deployment.runtime import open_runtime
from tests.receipts.conftest import ROOT, Deployment, call, receipt_cmd
from verifier.keys import PublicKey
from verifier.verify import VerifyOptions, audit_ledger


def _fill(deployment: Deployment, n: int = 12, **client_settings: object) -> None:
    _, auth = deployment.agent()
    with deployment.client(**client_settings) as client:
        for i in range(n):
            assert client.post("/v1/receipts", json=call(f"r{i}"), headers=auth).status_code \
                == 201


def test_export_command_writes_a_ledger_receipt_verify_accepts(deployment: Deployment,
                                                               tmp_path: Path) -> None:
    _fill(deployment)
    out = tmp_path / "ledger.cbor"
    exported = subprocess.run(receipt_cmd("export", "-o", str(out)), env=deployment.env(),
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert exported.returncode == 0, exported.stderr
    assert "12 receipts" in exported.stdout
    verified = subprocess.run(receipt_cmd("verify", str(out), "--key",
                                          str(deployment.made.public_key)),
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "VALID" in verified.stdout and "receipts: 12" in verified.stdout
    rollup = CliRunner().invoke(main, ["rollup", str(out), "--by", "team", "--format", "json"])
    assert rollup.exit_code == 0 and '"team": "search"' in rollup.output


def test_get_ledger_is_admin_only_by_default_and_verifies(deployment: Deployment) -> None:
    _fill(deployment, chains=3)
    _, auth = deployment.agent()
    with deployment.client(chains=3) as client:
        anonymous = client.get("/v1/ledger")
        agent = client.get("/v1/ledger", headers=auth)
        admin = client.get("/v1/ledger", headers=deployment.admin)
        one_chain = client.get("/v1/ledger?chain=c1", headers=deployment.admin)
        no_chain = client.get("/v1/ledger?chain=zz", headers=deployment.admin)
    assert anonymous.status_code == 401 and agent.status_code == 403
    key = PublicKey(deployment.made.signer.public_key)
    report = audit_ledger([admin.content], VerifyOptions(trusted_keys=(key,), workers=1))
    assert report.valid, report.failure
    assert report.receipts == 12 and set(report.chains) == {"c0", "c1", "c2"}
    single = audit_ledger([one_chain.content], VerifyOptions(trusted_keys=(key,), workers=1))
    assert single.valid and set(single.chains) == {"c1"}
    assert no_chain.status_code == 404


def test_public_endpoints_are_a_setting(deployment: Deployment) -> None:
    _fill(deployment, n=2)
    with deployment.client() as client:
        keys = client.get("/v1/keys")
        checkpoint = client.get("/v1/checkpoint")
    assert keys.status_code == 200 and checkpoint.status_code == 200
    key = keys.json()["keys"][0]
    assert key["kid"] == deployment.made.signer.kid.hex()
    assert "PRIVATE" not in keys.text and key["public_key_pem"].startswith("-----BEGIN PUBLIC")
    assert checkpoint.json()["checkpoints"][0]["checkpoint"]["size"] == 2
    with deployment.client(public=frozenset({"ledger"})) as client:
        assert client.get("/v1/keys").status_code == 401
        assert client.get("/v1/checkpoint").status_code == 401
        assert client.get("/v1/ledger").status_code == 200
        assert client.get("/v1/keys", headers=deployment.admin).status_code == 200


def test_checkpoint_file_proves_a_later_ledger_extends_it(deployment: Deployment,
                                                          tmp_path: Path) -> None:
    _fill(deployment, n=3)
    with deployment.client() as client:
        saved = client.get("/v1/checkpoint?format=cbor").content
    (tmp_path / "cp.cbor").write_bytes(saved)
    _, auth = deployment.agent("later")
    with deployment.client() as client:
        assert client.post("/v1/receipts", json=call("x"), headers=auth).status_code == 201
        ledger = client.get("/v1/ledger", headers=deployment.admin).content
    (tmp_path / "ledger.cbor").write_bytes(ledger)
    result = CliRunner().invoke(main, ["verify", str(tmp_path / "ledger.cbor"), "--since",
                                       str(tmp_path / "cp.cbor")])
    assert result.exit_code == 0, result.output
    assert "VALID" in result.output


def test_fx_rate_is_signed_used_and_verified(tmp_path: Path) -> None:
    from tests.receipts.conftest import make_deployment

    deployment = make_deployment(tmp_path, currency="GBP")
    _, auth = deployment.agent()
    today = dt.datetime.now(dt.UTC).date().isoformat()
    with deployment.client() as client:
        before = client.post("/v1/receipts", json=call("before"), headers=auth).json()
        forbidden = client.put(f"/v1/fx/{today}", json={"rate": "0.8"}, headers=auth)
        bad = client.put("/v1/fx/2025-13-01", json={"rate": "0.8"}, headers=deployment.admin)
        zero = client.put(f"/v1/fx/{today}", json={"rate": "0"}, headers=deployment.admin)
        huge = client.put(f"/v1/fx/{today}", json={"rate": "99999999999999999999"},
                          headers=deployment.admin)  # past the database's integers: was a 500
        wrong_quote = client.put(f"/v1/fx/{today}", json={"rate": "1.1", "quote": "EUR"},
                                 headers=deployment.admin)
        put = client.put(f"/v1/fx/{today}", json={"rate": "0.79", "source": "ecb"},
                         headers=deployment.admin)
        after = client.post("/v1/receipts", json=call("after"), headers=auth).json()
        listed = client.get("/v1/fx", headers=deployment.admin).json()
        ledger = client.get("/v1/ledger", headers=deployment.admin).content
    assert forbidden.status_code == 403
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "date"
    assert zero.status_code == 422 and wrong_quote.status_code == 422
    assert huge.status_code == 422 and huge.json()["error"]["fields"][0]["field"] == "rate"
    assert put.status_code == 201 and put.json()["rate"] == "0.790000000"
    assert before["receipt"]["fx"] is None and before["receipt"]["cost_reporting"] is None
    assert after["receipt"]["fx"]["currency"] == "GBP"
    assert after["receipt"]["fx"]["rate"] == "0.790000000"
    assert after["receipt"]["cost_reporting"] == "0.003160000000"  # 0.004 USD x 0.79
    assert listed["rates"][0]["source"] == "ecb"
    report = audit_ledger([ledger], VerifyOptions(workers=1))
    assert report.valid, report.failure
    assert report.totals_reporting == {"GBP": 3_160_000_000}


def test_price_books_are_served(deployment: Deployment) -> None:
    _, auth = deployment.agent()
    with deployment.client() as client:
        books = client.get("/v1/price-books", headers=auth).json()["price_books"]
        one = client.get(f"/v1/price-books/{books[0]['id']}", headers=auth)
        missing = client.get("/v1/price-books/00", headers=auth)
        anonymous = client.get("/v1/price-books")
    assert len(books) == 1 and one.status_code == 200
    assert one.json()["payload"]["currency"] == "USD"
    assert missing.status_code == 404 and anonymous.status_code == 401


def test_agent_admin_routes(deployment: Deployment) -> None:
    _, auth = deployment.agent()
    with deployment.client() as client:
        made = client.post("/v1/agents", json={"team": "ops", "tags": {"project": "x"}},
                           headers=deployment.admin)
        by_agent = client.post("/v1/agents", json={"team": "ops"}, headers=auth)
        key = {"Authorization": f"Bearer {made.json()['key']}"}
        used = client.post("/v1/receipts", json=call(tags={"environment": "e"}), headers=key)
        listed = client.get("/v1/agents", headers=deployment.admin)
        revoked = client.delete(f"/v1/agents/{made.json()['id']}", headers=deployment.admin)
        again = client.delete(f"/v1/agents/{made.json()['id']}", headers=deployment.admin)
        unknown = client.delete("/v1/agents/agt_nope", headers=deployment.admin)
    assert made.status_code == 201 and made.json()["key"].startswith("rk_")
    assert by_agent.status_code == 403
    assert used.status_code == 201
    assert used.json()["receipt"]["tags"] == {"team": "ops", "project": "x", "environment": "e"}
    assert "key" not in listed.text and len(listed.json()["agents"]) == 2
    assert revoked.status_code == 200 and again.status_code == 409
    assert unknown.status_code == 404


def test_secrets_are_stored_only_as_hashes(deployment: Deployment) -> None:
    import sqlite3

    agent_id, auth = deployment.agent()
    key = auth["Authorization"].split()[1]
    db = deployment.settings.data_dir / "receipts.db"
    dump = "\n".join(sqlite3.connect(db).iterdump())
    assert key not in dump and deployment.made.admin_token not in dump
    assert agent_id in dump
    private = deployment.settings.data_dir / "signing-key.pem"
    assert private.stat().st_mode & 0o777 == 0o600
    runtime = open_runtime(deployment.settings)
    try:
        assert "seed" not in repr(runtime.signer).lower()
    finally:
        runtime.close()
