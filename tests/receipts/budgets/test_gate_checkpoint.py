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
        calls.append(threading.current_thread().name)
        checkpoint(self)

    monkeypatch.setattr(Database, "checkpoint", counted)
    dep = make_deployment(tmp_path)
    _, key = dep.agent("search", project="ranker")
    with dep.client(anomaly_detection=False) as client:
        for i in range(21):  # (one at a time: each its own group)
            answer = client.post("/v1/authorize", json={**ASK, "request_id": f"a{i}"},
                                 headers=key)
            assert answer.status_code == 200 and answer.json()["decision"] == "allow"
        deadline = time.monotonic() + 10
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    # every 5 groups, one at a time (a slow one delays the next): 3 or 4 for 21 groups
    assert 3 <= len(calls) <= 4
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
