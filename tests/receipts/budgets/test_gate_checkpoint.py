"""SQLite: authorization groups commit without checkpointing the write-ahead log; the gate has
it checkpointed on a worker thread every ``CHECKPOINT_GROUPS`` groups, so the log is still
copied into the database under authorizations alone, and never on the event loop."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from receipts.budgets import gate
from receipts.storage.database import Database
from tests.receipts.conftest import make_deployment

ASK = {"provider": "openai", "model": "gpt-4o", "estimated_cost": "0.01"}


def test_groups_checkpoint_off_the_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gate, "CHECKPOINT_GROUPS", 5)
    calls: list[str] = []
    checkpoint = Database.checkpoint

    def counted(self: Database) -> None:
        checkpoint(self)
        calls.append(threading.current_thread().name)  # (once done)

    monkeypatch.setattr(Database, "checkpoint", counted)
    dep = make_deployment(tmp_path)
    _, key = dep.agent("search", project="ranker")
    with dep.client(anomaly_detection=False) as client:
        for round_ in range(4):
            for i in range(5):  # (one at a time: each its own group)
                answer = client.post("/v1/authorize", headers=key,
                                     json={**ASK, "request_id": f"a{round_}-{i}"})
                assert answer.status_code == 200 and answer.json()["decision"] == "allow"
            deadline = time.monotonic() + 30  # (the checkpoint flushes to disk: wait for it)
            while len(calls) <= round_ and time.monotonic() < deadline:
                time.sleep(0.02)
    assert len(calls) == 4  # (after the 5th, 10th, 15th and 20th group)
    assert threading.main_thread().name not in calls  # (a worker thread, not the loop's)


def test_relaxed_commit_leaves_the_checkpoint(tmp_path: Path) -> None:
    """A ``durable=False`` commit past SQLite's 1,000-page mark leaves the log where it is (the
    database file does not grow); the next durable commit checkpoints it, as SQLite does."""
    dep = make_deployment(tmp_path)
    db = Database(dep.settings.db_url)
    db_file = Path(dep.settings.db_url.removeprefix("sqlite:///"))
    blob = "x" * 3000
    try:
        with db.write() as conn:
            conn.exec_driver_sql("CREATE TABLE filler (v TEXT)")
        before = db_file.stat().st_size
        with db.write(durable=False) as conn:
            for _ in range(1500):  # (about 4.5 MB: over 1,000 pages of 4 KiB)
                conn.exec_driver_sql("INSERT INTO filler VALUES (?)", (blob,))
        assert db_file.stat().st_size < before + 1_000_000
        with db.write() as conn:
            conn.exec_driver_sql("INSERT INTO filler VALUES ('durable')")
        assert db_file.stat().st_size > before + 4_000_000
    finally:
        db.dispose()


@pytest.mark.postgres
def test_a_lost_connection_is_replaced(tmp_path: Path, pg_url: str) -> None:
    """The gate keeps one connection; when the server ends it (a restart, an idle timeout),
    the next group is answered on a new one, not failed."""
    import psycopg

    dep = make_deployment(tmp_path, pg_url)
    _, key = dep.agent("search", project="ranker")
    with dep.client(anomaly_detection=False) as client:
        assert client.post("/v1/authorize", json=ASK, headers=key).status_code == 200
        kept = client.app.state.budget_gate._conn  # type: ignore[attr-defined]
        pid = kept.connection.driver_connection.info.backend_pid
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test",
                             autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        answer = client.post("/v1/authorize", json=ASK, headers=key)
        assert answer.status_code == 200 and answer.json()["decision"] == "allow", answer.text
