"""Alert delivery from the outbox to a local receiver, on SQLite and PostgreSQL.

Workers are driven pass by pass (``run_once``), so each test sees exactly which attempt did
what; the running service's loop around it is tested in test_kill9.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from receipts.alerts.channels import add_channel, remove_channel
from receipts.alerts.listing import list_alert_views
from receipts.alerts.messages import verify_signature
from receipts.alerts.outbox import RetryPolicy, claim
from receipts.alerts.sealing import Sealer
from receipts.alerts.store import Alert, raise_alert
from receipts.alerts.tables import AlertChannelRow
from receipts.alerts.worker import DeliveryWorker
from receipts.clock import now_ms
from receipts.deployment.signing_key import Signer
from receipts.storage.database import Database
from tests.receipts.alerts.receiver import Receiver, running_receiver
from tests.receipts.conftest import postgres_schema

SECRET = "whsec-0123456789abcdef"
FAST = RetryPolicy(base_ms=20, cap_ms=100, max_attempts=3, lease_ms=1500)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty service schema on SQLite or on a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path}/alerts.db")
        database.create_schema()
        yield database
        database.dispose()
        return
    with postgres_schema() as url:
        database = Database(url)
        database.create_schema()
        try:
            yield database
        finally:
            database.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


SIGNER = Signer.generate()


def _worker(db: Database, policy: RetryPolicy = FAST) -> DeliveryWorker:
    return DeliveryWorker(db, Sealer(SIGNER), "test-issuer", policy)


def _channel(db: Database, kind: str, url: str, secret: str | None) -> str:
    with db.write() as conn:
        return add_channel(conn, Sealer(SIGNER), kind, url, secret, now_ms()).id


def _raise(db: Database, key: str = "budget:search:80", **payload: object) -> Alert:
    with db.write() as conn:
        return raise_alert(conn, "budget", "team=search", key,
                           {"summary": "search at 80% of its monthly budget",
                            "spent": "8000.00", **payload})


def _drain(worker: DeliveryWorker, db: Database, alert_id: str, timeout: float = 20) -> dict:
    """Passes until the alert's deliveries are all delivered or failed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        worker.run_once()
        with db.read() as conn:
            view = next(v for v in list_alert_views(conn) if v["id"] == alert_id)
        if view["deliveries"] and all(d["state"] != "pending" for d in view["deliveries"]):
            return view
        time.sleep(0.02)
    raise AssertionError(f"not settled: {view}")


def test_webhook_is_signed_over_timestamp_and_body(db: Database, receiver: Receiver) -> None:
    _channel(db, "webhook", receiver.url + "/hook", SECRET)
    alert = _raise(db)
    worker = _worker(db)
    try:
        view = _drain(worker, db, alert.id)
    finally:
        worker.stop()
    (got,) = receiver.requests
    assert view["status"] == "delivered" and view["deliveries"][0]["attempts"] == 1
    ts, sig = got.headers["x-receipts-timestamp"], got.headers["x-receipts-signature"]
    assert abs(int(ts) - time.time()) < 60
    assert verify_signature(SECRET, ts, got.body, sig, int(time.time()))
    assert not verify_signature("another-secret-123456", ts, got.body, sig, int(time.time()))
    assert not verify_signature(SECRET, ts, got.body + b" ", sig, int(time.time()))
    assert not verify_signature(SECRET, ts, got.body, sig, int(ts) + 301)  # a replay, later
    body = got.json()
    assert got.path == "/hook" and got.headers["content-type"] == "application/json"
    assert body["event_id"] == got.headers["x-receipts-event-id"] == view["deliveries"][0]["id"]
    assert body["alert"] == {"id": alert.id, "kind": "budget", "scope": "team=search",
                             "dedup_key": "budget:search:80", "created_at": view["created_at"],
                             "payload": alert.payload}


def test_slack_and_pagerduty_payloads(db: Database, receiver: Receiver) -> None:
    slack = _channel(db, "slack", receiver.url + "/services/T0/B0/XYZ", None)
    pd = _channel(db, "pagerduty", receiver.url + "/v2/enqueue", "R0UTINGKEY0123456789abcdefABCDEF")
    alert = _raise(db, severity="critical")
    worker = _worker(db)
    try:
        view = _drain(worker, db, alert.id)
    finally:
        worker.stop()
    assert view["status"] == "delivered"
    assert {d["channel"] for d in view["deliveries"]} == {slack, pd}
    by_path = {r.path: r.json() for r in receiver.requests}
    message = by_path["/services/T0/B0/XYZ"]
    assert set(message) == {"text", "blocks"}
    assert message["text"] == "search at 80% of its monthly budget"
    assert [b["type"] for b in message["blocks"]] == ["header", "section", "section", "context"]
    assert message["blocks"][0]["text"] == {"type": "plain_text", "emoji": False,
                                            "text": "budget: team=search"}
    assert {"type": "mrkdwn", "text": "*spent*\n8000.00"} in message["blocks"][2]["fields"]
    event = by_path["/v2/enqueue"]
    assert event["routing_key"] == "R0UTINGKEY0123456789abcdefABCDEF"
    assert event["event_action"] == "trigger" and event["dedup_key"] == "budget:search:80"
    payload = event["payload"]
    assert payload["summary"] == "search at 80% of its monthly budget"
    assert payload["severity"] == "critical" and payload["source"] == "test-issuer"
    assert payload["component"] == "team=search" and payload["group"] == "budget"
    assert payload["custom_details"]["spent"] == "8000.00"
    assert payload["custom_details"]["alert_id"] == alert.id
    assert payload["timestamp"] == view["created_at"]


def test_retried_after_500_with_the_same_event_id(db: Database, receiver: Receiver) -> None:
    _channel(db, "webhook", receiver.url, SECRET)
    statuses = iter([500, 503])
    receiver.respond = lambda _r: next(statuses, 200)
    alert = _raise(db)
    worker = _worker(db)
    try:
        view = _drain(worker, db, alert.id)
    finally:
        worker.stop()
    first, second, third = receiver.requests
    (delivery,) = view["deliveries"]
    assert delivery["state"] == "delivered" and delivery["attempts"] == 3
    assert delivery["last_status"] == 200 and delivery["last_error"] is None
    ids = {r.headers["x-receipts-event-id"] for r in receiver.requests}
    assert ids == {delivery["id"]}
    assert [r.headers["x-receipts-attempt"] for r in (first, second, third)] == ["1", "2", "3"]
    assert first.body == second.body == third.body  # (only the timestamp and signature move)


def test_gives_up_after_the_last_attempt_and_stays_listed(db: Database, receiver: Receiver,
                                                          ) -> None:
    _channel(db, "webhook", receiver.url, SECRET)
    receiver.respond = lambda _r: 500
    alert = _raise(db)
    worker = _worker(db)
    try:
        view = _drain(worker, db, alert.id)
        assert len(receiver.requests) == FAST.max_attempts
        (delivery,) = view["deliveries"]
        assert view["status"] == "failed" and delivery["state"] == "failed"
        assert delivery["last_status"] == 500 and delivery["last_error"].startswith("HTTP 500")
        with db.read() as conn:
            assert [v["id"] for v in list_alert_views(conn, status="failed")] == [alert.id]
            assert list_alert_views(conn, status="delivered") == []
        receiver.respond = lambda _r: 200
        from receipts.alerts.outbox import retry_failed

        with db.write() as conn:
            assert retry_failed(conn, alert.id, now_ms()) == 1
        view = _drain(worker, db, alert.id)
    finally:
        worker.stop()
    assert view["status"] == "delivered"
    assert {r.headers["x-receipts-event-id"] for r in receiver.requests} == {delivery["id"]}


def test_unreachable_receiver_is_retried(db: Database, receiver: Receiver) -> None:
    port = receiver.server.server_address[1]
    receiver.server.shutdown()
    receiver.server.server_close()  # (nothing listens there now)
    _channel(db, "webhook", f"http://127.0.0.1:{port}/", SECRET)
    alert = _raise(db)
    worker = _worker(db)
    try:
        view = _drain(worker, db, alert.id)
    finally:
        worker.stop()
    (delivery,) = view["deliveries"]
    assert delivery["state"] == "failed" and delivery["attempts"] == FAST.max_attempts
    assert delivery["last_status"] is None and "Connect" in delivery["last_error"]


def test_waits_for_a_first_channel(db: Database, receiver: Receiver) -> None:
    alert = _raise(db)
    worker = _worker(db)
    try:
        assert worker.run_once() == 0
        with db.read() as conn:
            (view,) = list_alert_views(conn)
        assert view["status"] == "pending" and view["deliveries"] == []
        _channel(db, "webhook", receiver.url, SECRET)
        assert _drain(worker, db, alert.id)["status"] == "delivered"
        _channel(db, "webhook", receiver.url + "/second", SECRET)
        later = _raise(db, key="budget:search:100")
        view = _drain(worker, db, later.id)
    finally:
        worker.stop()
    assert len(view["deliveries"]) == 2 and len(receiver.requests) == 3


def test_a_removed_channel_ends_its_pending_deliveries(db: Database, receiver: Receiver) -> None:
    channel = _channel(db, "webhook", receiver.url, SECRET)
    receiver.respond = lambda _r: 500
    _raise(db)
    worker = _worker(db, RetryPolicy(base_ms=60_000, max_attempts=5, lease_ms=1500))
    try:
        worker.run_once()
        with db.write() as conn:
            remove_channel(conn, channel, now_ms())
        worker.run_once()
    finally:
        worker.stop()
    with db.read() as conn:
        (view,) = list_alert_views(conn)
    assert view["status"] == "failed" and len(receiver.requests) == 1
    assert view["deliveries"][0]["last_error"] == "channel removed"


def test_a_lease_is_held_until_it_expires(db: Database) -> None:
    """A second worker cannot take a row another holds; once the lease runs out (the holder
    was killed) it can, and the attempt count says so."""
    with db.write() as conn:
        add_channel(conn, Sealer(SIGNER), "webhook", "http://127.0.0.1:9/", SECRET, now_ms())
    _raise(db)
    from receipts.alerts.outbox import fan_out

    now = now_ms()
    with db.write() as conn:
        fan_out(conn, now)
    with db.write() as conn:
        (first,) = claim(conn, now, 1000, "worker-a", 8)
    with db.write() as conn:
        assert claim(conn, now + 999, 1000, "worker-b", 8) == []
    with db.write() as conn:
        (again,) = claim(conn, now + 1000, 1000, "worker-b", 8)
    assert again.id == first.id and (first.attempt, again.attempt) == (1, 2)


def test_secrets_are_sealed_at_rest(db: Database) -> None:
    channel = _channel(db, "webhook", "https://hooks.example.com/x?token=abc", SECRET)
    with db.read() as conn:
        row = conn.execute(sa.select(AlertChannelRow.__table__)).one()  # type: ignore[attr-defined]
    assert row.id == channel and row.display_url == "https://hooks.example.com/x"
    assert SECRET.encode() not in bytes(row.sealed) and b"token=abc" not in bytes(row.sealed)
    assert Sealer(SIGNER).open(channel, bytes(row.sealed)) == (
        "https://hooks.example.com/x?token=abc", SECRET)
    with pytest.raises(Exception, match="another signing key"):
        Sealer(Signer.generate()).open(channel, bytes(row.sealed))
    with pytest.raises(Exception, match="another signing key"):
        Sealer(SIGNER).open("ch_other", bytes(row.sealed))
