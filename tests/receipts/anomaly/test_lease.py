"""The lease that makes a background job run once across workers, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from receipts.anomaly import lease
from receipts.storage.database import Database
from tests.receipts.conftest import BOTH_DATABASES, bare_database


@pytest.fixture(params=BOTH_DATABASES)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from bare_database(request, tmp_path)


def _take(db: Database, holder: str, now: int) -> bool:
    with db.write() as conn:
        return lease.take(conn, "job", holder, now, 1000)


def test_one_holder_at_a_time_until_the_lease_lapses(db: Database) -> None:
    assert _take(db, "a", 0)  # (the first take inserts the row)
    assert not _take(db, "b", 500)  # (the row exists and a holds it)
    assert _take(db, "a", 900)  # renewed, until 1900
    assert not _take(db, "b", 1800)
    assert _take(db, "b", 1900)  # lapsed: taken over
    assert not _take(db, "a", 2000)
    with db.write() as conn:
        lease.release(conn, "job", "b")
    assert _take(db, "a", 2001)
