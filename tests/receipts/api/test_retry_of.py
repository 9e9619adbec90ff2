"""``retry_of`` end to end: the API takes the id of the receipt a call retries (spec §6.1), the
receipt carries it, the exported ledger verifies, and rollups count retries or leave them out.

An auditor follows ``retry_of`` to the receipt retried (ids are unique in a ledger; request ids
only per agent); FinOps sees what retrying costs (``retries``) and first-attempt spend
(``--exclude-retries``).
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner

from receipts.cli.main import main
from tests.receipts.conftest import Deployment, call
from verifier.keys import PublicKey
from verifier.verify import VerifyOptions, audit_ledger


def test_the_api_documents_retry_of_as_the_id_of_the_receipt_retried(
        deployment: Deployment) -> None:
    with deployment.client() as client:
        spec = client.get("/openapi.json").json()
    description = spec["components"]["schemas"]["CallIn"]["properties"]["retry_of"][
        "description"]
    assert "id of the receipt" in description and "not the request_id" in description


def _rollup(path: Path, *args: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(main, ["rollup", str(path), "--by", "team", "--format", "json",
                                       *args])
    assert result.exit_code == 0, result.output
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


def test_a_retry_points_to_the_receipt_it_retries_verifies_and_rollups_count_it(
        deployment: Deployment, tmp_path: Path) -> None:
    _, auth = deployment.agent()
    with deployment.client() as client:
        first = client.post("/v1/receipts", headers=auth,
                            json=call("req-1", status="timeout"))
        assert first.status_code == 201
        first_id = first.json()["receipt"]["id"]
        retry = client.post("/v1/receipts", headers=auth,
                            json=call("req-1-retry-1", retry_of=first_id))
        assert retry.status_code == 201
        other = client.post("/v1/receipts", headers=auth, json=call("req-2"))
        assert other.status_code == 201
        ledger = client.get("/v1/ledger", headers=deployment.admin).content
        listed = client.get("/v1/receipts?format=csv", headers=deployment.admin).text
    assert retry.json()["receipt"]["retry_of"] == first_id
    assert "retry_of" not in first.json()["receipt"]
    key = PublicKey(deployment.made.signer.public_key)
    report = audit_ledger([ledger], VerifyOptions(trusted_keys=(key,), workers=1))
    assert report.valid, report.failure
    assert report.receipts == 3
    by_request = {r["request_id"]: r for r in csv.DictReader(io.StringIO(listed))}
    assert by_request["req-1-retry-1"]["retry_of"] == by_request["req-1"]["id"] == first_id

    path = tmp_path / "ledger.cbor"
    path.write_bytes(ledger)
    (row,) = _rollup(path)
    assert (row["team"], row["receipts"], row["retries"]) == ("search", 3, 1)
    (first_attempts,) = _rollup(path, "--exclude-retries")
    assert (first_attempts["receipts"], first_attempts["retries"]) == (2, 0)
    # the retry is billed spend: leaving it out lowers the total by exactly its cost
    assert Decimal(str(row["cost"])) - Decimal(str(first_attempts["cost"])) == Decimal(
        retry.json()["receipt"]["cost"])

    table = CliRunner().invoke(main, ["rollup", str(path), "--by", "team",
                                      "--exclude-retries"])
    assert table.exit_code == 0, table.output
    assert "retries" in table.stdout.splitlines()[0]
    assert "1 retry receipt(s) left out (--exclude-retries)." in table.stdout
    as_csv = CliRunner().invoke(main, ["rollup", str(path), "--by", "team", "--format", "csv"])
    assert next(csv.DictReader(io.StringIO(as_csv.stdout)))["retries"] == "1"
