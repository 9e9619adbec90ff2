"""The start-up self-check: the service verifies its ledger and refuses to sign on a broken one."""

from __future__ import annotations

import sqlite3
import subprocess

import pytest

from receipts.deployment.runtime import open_runtime
from receipts.errors import ChainBroken
from receipts.storage.self_check import self_check
from tests.receipts.conftest import ROOT, Deployment, call, receipt_cmd


def _fill(deployment: Deployment, n: int) -> None:
    _, auth = deployment.agent()
    with deployment.client() as client:
        for i in range(n):
            assert client.post("/v1/receipts", json=call(f"r{i}-{n}"), headers=auth) \
                .status_code == 201


def _db(deployment: Deployment) -> sqlite3.Connection:
    return sqlite3.connect(deployment.settings.data_dir / "receipts.db", isolation_level=None)


def _check(deployment: Deployment) -> object:
    runtime = open_runtime(deployment.settings)
    try:
        return self_check(runtime)
    finally:
        runtime.close()


def test_valid_ledger_passes_and_resumes_from_the_last_checkpoint(
        deployment: Deployment) -> None:
    _fill(deployment, 5)  # the app's shutdown stored a checkpoint at size 5
    first = _check(deployment)
    _fill(deployment, 3)
    with _db(deployment) as db:  # drop the shutdown checkpoint at 8: resume from 5
        db.execute("DELETE FROM receipts_checkpoint WHERE size = 8")
    second = _check(deployment)
    assert first.receipts == 5 and first.fully_verified == 0  # type: ignore[attr-defined]
    assert second.receipts == 8 and second.fully_verified == 3  # type: ignore[attr-defined]


@pytest.mark.parametrize("tamper", [
    "UPDATE receipts_receipt SET item = CAST(substr(item, 1, 60) || x'ff' || substr(item, 62) "
    "AS BLOB) WHERE seq = 2",
    "DELETE FROM receipts_receipt WHERE seq = 1",
    "UPDATE receipts_chain_head SET size = size + 1",
    "UPDATE receipts_receipt SET item = (SELECT item FROM receipts_receipt WHERE seq = 0) "
    "WHERE seq = 3",
])
def test_broken_chain_is_refused(deployment: Deployment, tamper: str) -> None:
    _fill(deployment, 5)
    with _db(deployment) as db:
        db.execute("DELETE FROM receipts_checkpoint")  # so every receipt is fully checked
        db.execute(tamper)
    with pytest.raises(ChainBroken, match="refusing to sign"):
        _check(deployment)
    with pytest.raises(ChainBroken), deployment.client():
        pass
    served = subprocess.run(receipt_cmd("serve", "--port", "1"), env=deployment.env(),
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert served.returncode == 1
    lines = served.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the stored ledger does not verify")


def test_tampering_covered_by_a_checkpoint_is_still_caught(deployment: Deployment) -> None:
    _fill(deployment, 5)  # checkpoint at 5 stored at shutdown
    with _db(deployment) as db:
        db.execute("UPDATE receipts_receipt SET item = CAST(substr(item, 1, 60) || x'ff' || "
                   "substr(item, 62) AS BLOB) WHERE seq = 2")
    with pytest.raises(ChainBroken):
        _check(deployment)


def test_wrong_signing_key_is_refused(deployment: Deployment) -> None:
    from receipts.deployment.signing_key import Signer, write_key_pair
    from receipts.errors import KeyFileError

    data = deployment.settings.data_dir
    (data / "signing-key.pem").unlink()
    (data / "signing-key.pub.pem").unlink()
    write_key_pair(data, Signer.generate())
    with pytest.raises(KeyFileError, match="not the key this database"):
        open_runtime(deployment.settings)
