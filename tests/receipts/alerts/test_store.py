"""raise_alert: stored once per dedup_key, with one outbox row, in the caller's transaction."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from receipts.alerts.store import list_alerts, raise_alert
from receipts.alerts.tables import AlertOutboxRow
from receipts.storage.database import Database
from tests.receipts.conftest import postgres_schema


def _check(db: Database) -> None:
    db.create_schema()
    with db.write() as conn:
        a = raise_alert(conn, "budget", "team:search", "budget:search:80", {"spent": "8.00"})
        b = raise_alert(conn, "budget", "team:search", "budget:search:80", {"spent": "9.00"})
    assert a == b and a.payload == {"spent": "8.00"}
    with db.write() as conn:
        raise_alert(conn, "budget", "team:x", "rolled-back", {})
        conn.rollback()
    with db.read() as conn:
        assert [x.dedup_key for x in list_alerts(conn)] == ["budget:search:80"]
        outbox = conn.execute(sa.select(AlertOutboxRow.__table__)).all()  # type: ignore[attr-defined]
    assert [r.alert_id for r in outbox] == [a.id]


def test_sqlite(tmp_path: pytest.TempPathFactory) -> None:
    _check(Database(f"sqlite:///{tmp_path}/a.db"))


@pytest.mark.postgres
def test_postgres() -> None:
    with postgres_schema() as url:
        db = Database(url)
        try:
            _check(db)
        finally:
            db.dispose()
