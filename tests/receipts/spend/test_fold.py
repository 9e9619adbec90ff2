"""Folding appended receipts into the spend aggregates: appends write none of it, a fold adds
every committed receipt exactly once (however many folders run at once, on SQLite and on
PostgreSQL), a failed fold adds nothing, a gap in a chain stops it, and a database whose
appends wrote the aggregates (layout 3) is taken as folded to its heads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import sqlalchemy as sa

from receipts.api.schemas import CallIn
from receipts.deployment.runtime import Runtime, create_agent, open_runtime
from receipts.issuing.outcome import Job
from receipts.issuing.prepare import prepare
from receipts.spend import fold, rebuild
from receipts.spend.upsert_sql import SpendWriter
from receipts.storage import queries as store
from receipts.storage.database import Database
from tests.receipts.conftest import BOTH_DATABASES, call, made_on, make_deployment

SPANS = 3


@pytest.fixture(params=BOTH_DATABASES)
def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runtime]:
    def make(at: Path, url: str | None) -> Runtime:
        return open_runtime(make_deployment(at, url).settings)

    for made in made_on(request, tmp_path, make):
        try:
            yield made
        finally:
            made.close()


def _append(runtime: Runtime, n: int, tag: str, per_group: int = 1) -> None:
    agent = create_agent(runtime, "search", {"project": "ranker"})[0]
    for start in range(0, n, per_group):
        calls = [prepare(agent, CallIn.model_validate(call(
            f"{tag}-{i}", usage={"input_tokens": 100 + i, "output_tokens": 7})), ("team",))
            for i in range(start, min(n, start + per_group))]
        runtime.service.append([Job(calls)])


def _counted(db: Database) -> dict[int, int]:
    """Receipts in the buckets, per span (each receipt is in one bucket of each span)."""
    with db.read() as conn:
        return {int(span): int(n) for span, n in conn.execute(sa.text(
            "SELECT span, SUM(receipts) FROM receipts_spend_bucket WHERE category = '' "
            "GROUP BY span"))}


def _stored(db: Database) -> int:
    with db.read() as conn:
        return sum(h.size for h in store.heads(conn))


def test_appends_write_no_aggregate_and_a_fold_adds_each_receipt_once(runtime: Runtime) -> None:
    db = runtime.db
    _append(runtime, 7, "a")
    _append(runtime, 30, "b", per_group=10)
    assert _counted(db) == {}
    assert fold.catch_up(db.engine) == 37
    counted = _counted(db)
    assert len(counted) == SPANS and set(counted.values()) == {37}
    assert fold.catch_up(db.engine) == 0
    _append(runtime, 3, "c")
    assert fold.catch_up(db.engine) == 3
    assert set(_counted(db).values()) == {40}


def test_folders_at_once_with_appends_count_each_receipt_once(runtime: Runtime) -> None:
    """Four folders (each its own engine, as four workers) fold while receipts are appended."""
    url = runtime.settings.db_url
    workers = [Database(url) for _ in range(4)]
    done = threading.Event()
    failures: list[BaseException] = []

    def keep_folding(db: Database) -> None:
        try:
            while not done.is_set():
                fold.catch_up(db.engine)
        except BaseException as e:  # (reported below)
            failures.append(e)

    threads = [threading.Thread(target=keep_folding, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    try:
        _append(runtime, 60, "x", per_group=3)
    finally:
        done.set()
        for t in threads:
            t.join(60)
    assert not failures
    fold.catch_up(workers[0].engine)
    assert set(_counted(runtime.db).values()) == {_stored(runtime.db)} == {60}
    for w in workers:
        w.engine.dispose()


def test_a_failed_fold_adds_nothing(runtime: Runtime) -> None:
    db = runtime.db
    _append(runtime, 5, "f")
    real = SpendWriter.write

    def write_then_fail(self: SpendWriter, delta: Any) -> None:
        real(self, delta)
        raise RuntimeError("the connection dropped")

    with mock.patch.object(SpendWriter, "write", write_then_fail), \
            pytest.raises(RuntimeError):
        fold.Folder(db.engine).catch_up()
    assert _counted(db) == {}
    assert fold.catch_up(db.engine) == 5
    assert set(_counted(db).values()) == {5}


def test_a_gap_in_a_chain_stops_the_fold(runtime: Runtime) -> None:
    db = runtime.db
    _append(runtime, 4, "g")
    with db.write() as conn:
        chain, seq = conn.execute(sa.text(
            "SELECT chain, seq FROM receipts_receipt ORDER BY seq LIMIT 1")).one()
        conn.execute(sa.text("DELETE FROM receipts_receipt WHERE chain = :c AND seq = :s"),
                     {"c": chain, "s": seq})
    with pytest.raises(fold.FoldGap, match="is missing"):
        fold.catch_up(db.engine)
    assert _counted(db) == {}


def test_a_database_of_layout_3_is_folded_to_its_heads(runtime: Runtime) -> None:
    """Its appends wrote the aggregates: taken as they are, none counted twice."""
    db = runtime.db
    _append(runtime, 6, "m")
    fold.catch_up(db.engine)
    with db.write() as conn:
        conn.execute(sa.text("DELETE FROM receipts_spend_fold"))
        store.set_meta(conn, rebuild.SPEND_AGGREGATES, rebuild.FOLDED_IN_APPENDS)
    assert rebuild.ensure_current(db) == 0
    assert fold.catch_up(db.engine) == 0
    assert set(_counted(db).values()) == {6}
    with db.write() as conn:  # an older layout starts over and folds everything again
        store.set_meta(conn, rebuild.SPEND_AGGREGATES, "2")
    assert rebuild.ensure_current(db) == 6
    assert set(_counted(db).values()) == {6}
