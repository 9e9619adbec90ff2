"""A kill -9 of the receipts service during a run of calls: no receipt lost, none charged twice.

The agent keeps calling through the outage: calls in flight when the service dies are retried
with their request id, calls made while it is down wait in the spool, and once the service is
back the spool is delivered, oldest first, before the new calls. The exported ledger then holds
every request id exactly once, in the order the calls were made, and verifies.
"""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from receipts.client import ReceiptsClient, Spool
from tests.receipts.client.conftest import start_service
from verifier import VerifyOptions, audit_ledger, cose
from verifier.encoding import decode_strict, split_sequence

pytestmark = pytest.mark.slow
USAGE = {"input_tokens": 40, "output_tokens": 8}


def _ledger_receipts(url: str, admin: dict[str, str]) -> tuple[bool, list[dict[str, object]]]:
    data = httpx.get(url + "/v1/ledger", headers=admin, timeout=60).content
    valid = audit_ledger([data], VerifyOptions(workers=1)).valid
    found = []
    for _, item in split_sequence([data]):
        envelope = cose.parse(item)
        if envelope.content_type == cose.RECEIPT:
            found.append(decode_strict(envelope.payload))
    return valid, found


def test_kill_9_mid_run_loses_no_receipt_and_charges_none_twice(tmp_path: Path) -> None:
    svc = start_service(tmp_path / "svc")
    spool = tmp_path / "spool.sqlite"
    client = ReceiptsClient(svc.url, svc.key, spool=spool, retries=1, backoff=0.01,
                            timeout=2.0, keep_cose=False)
    delivered: list[str] = []
    killed = threading.Event()

    def killer() -> None:
        while len(delivered) < 10:
            threading.Event().wait(0.005)
        svc.server.kill9()  # while the next calls are in flight
        killed.set()

    thread = threading.Thread(target=killer)
    thread.start()
    ids = [f"k9-{i:03d}" for i in range(60)]
    server = svc.server
    try:
        for n, request_id in enumerate(ids):
            if n == 40:
                thread.join()
                assert killed.is_set() and Spool(spool).count() > 0
                server = server.restart()
                server.wait_ready()
            got = client.record(provider="anthropic", model="claude-sonnet-4", usage=USAGE,
                                usage_format="anthropic", request_id=request_id)
            if got.receipt is not None:
                delivered.append(request_id)
        client.close()  # flushes what is left
        assert Spool(spool).count() == 0 and Spool(spool).refused_items() == []
        valid, receipts = _ledger_receipts(server.url, svc.dep.admin)
    finally:
        thread.join()
        server.stop()
    assert valid
    mine = sorted((r for r in receipts if str(r["request_id"]).startswith("k9-")),
                  key=lambda r: (r["chain"], r["seq"]))
    assert [r["request_id"] for r in mine] == ids  # each once, in the order made
