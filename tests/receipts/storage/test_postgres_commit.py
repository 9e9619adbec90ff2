"""PostgreSQL: the chain head's UPDATE and the COMMIT travel as one message; a failing UPDATE
commits nothing, nobody is acknowledged, and the next append works on the same chain."""

from __future__ import annotations

from pathlib import Path

import pytest

from receipts.storage.append_sql import AppendConnection
from receipts.storage.queries import LockedHead
from tests.receipts.conftest import call, make_deployment
from verifier.verify import VerifyOptions, audit_ledger


@pytest.mark.postgres
def test_a_failing_head_update_commits_nothing(tmp_path: Path, pg_url: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    dep = make_deployment(tmp_path, pg_url)
    _, auth = dep.agent()
    real = AppendConnection.save_head
    calls = [0]

    def save_head(self: AppendConnection, locked: LockedHead) -> None:
        real(self, locked)
        calls[0] += 1
        if calls[0] == 2 and self._pending_head is not None:  # the second append's UPDATE
            self._pending_head = ("not a number", *self._pending_head[1:])  # refused

    monkeypatch.setattr(AppendConnection, "save_head", save_head)
    with dep.client() as client:
        first = client.post("/v1/receipts", json=call("p1"), headers=auth)
        lost = client.post("/v1/receipts", json=call("p2"), headers=auth)
        again = client.post("/v1/receipts", json=call("p2"), headers=auth)
        batch = client.post("/v1/receipts/batch", json={"calls": [call(f"b{i}")
                                                                  for i in range(5)]},
                            headers=auth)
        ledger = client.get("/v1/ledger", headers=dep.admin).content
    assert first.status_code == 201, first.text
    assert lost.status_code == 503 and again.status_code == 201  # not stored, so not a replay
    assert batch.status_code == 201
    report = audit_ledger([ledger], VerifyOptions(workers=1))
    assert report.valid and report.receipts == 7
