"""No alert lost across kill -9: a running service killed mid-delivery, then restarted.

The receiver holds the first attempt open, the whole service (master and workers) is killed
with SIGKILL while it waits for the answer, so nothing is recorded but the lease. The restarted
service retries once the lease expires: the alert arrives again with the same event id, is
marked delivered, and arrives exactly once more (on PostgreSQL the restarted service runs two
worker processes: the one that did not claim the row leaves it alone). Starting ``receipt
serve`` dominates the time of these tests.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from receipts.alerts.channels import add_channel
from receipts.alerts.listing import list_alert_views
from receipts.alerts.sealing import Sealer
from receipts.alerts.store import raise_alert
from receipts.alerts.tables import AlertDeliveryRow
from receipts.clock import now_ms
from receipts.storage.database import Database
from tests.receipts.alerts.receiver import Received, running_receiver
from tests.receipts.conftest import Server, make_deployment, postgres_schema

SECRET = "whsec-0123456789abcdef"
LEASE_MS = 3000


def _scenario(tmp_path: Path, db_url: str | None, monkeypatch: pytest.MonkeyPatch,
              workers: int) -> None:
    monkeypatch.setenv("RECEIPTS_ALERT_LEASE_MS", str(LEASE_MS))
    monkeypatch.setenv("RECEIPTS_ALERT_RETRY_BASE_MS", "100")
    dep = make_deployment(tmp_path, db_url)
    db = Database(dep.settings.db_url)
    release = threading.Event()

    def hold_the_first(got: Received) -> int:
        if got.headers["x-receipts-attempt"] == "1":
            release.wait(60)
        return 200

    first = second = None
    try:
        with running_receiver() as receiver:
            receiver.respond = hold_the_first
            with db.write() as conn:
                add_channel(conn, Sealer(dep.made.signer), "webhook", receiver.url + "/hook",
                            SECRET, now_ms())
            first = Server(dep)
            first.wait_ready()
            with db.write() as conn:
                alert = raise_alert(conn, "anomaly", "team=search", "anomaly:search:42",
                                    {"summary": "runaway loop", "spend": "512.00"})
            (held,) = receiver.wait_for(1)
            first.kill9()
            release.set()
            with db.read() as conn:
                row = conn.execute(sa.select(AlertDeliveryRow.__table__)).one()  # type: ignore[attr-defined]
            assert row.state == "pending" and row.attempts == 1 and row.lease_until is not None

            second = Server(dep, workers=workers)
            second.wait_ready()
            _, again = receiver.wait_for(2, timeout=60)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with db.read() as conn:
                    (view,) = list_alert_views(conn)
                if view["status"] == "delivered":
                    break
                time.sleep(0.1)
            time.sleep(LEASE_MS / 1000 + 0.5)  # (long enough for a stray second delivery)
            assert len(receiver.requests) == 2
    finally:
        release.set()
        for server in (first, second):
            if server is not None:
                server.stop()
        db.dispose()
    assert view["id"] == alert.id and view["status"] == "delivered"
    (delivery,) = view["deliveries"]
    assert delivery["attempts"] == 2 and delivery["last_status"] == 200
    assert held.headers["x-receipts-event-id"] == again.headers["x-receipts-event-id"] == \
        delivery["id"]
    assert held.json()["alert"] == again.json()["alert"]
    assert again.headers["x-receipts-attempt"] == "2"


def test_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _scenario(tmp_path, None, monkeypatch, workers=1)


@pytest.mark.postgres
def test_postgres(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with postgres_schema() as url:
        _scenario(tmp_path, url, monkeypatch, workers=2)
