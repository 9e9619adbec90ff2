"""What the app does once at start-up for the request path: pricing loaded, start-up heap
exempt from garbage collection while serving, released at shutdown."""

from __future__ import annotations

import gc

from tests.receipts.conftest import Deployment, call


def test_startup_loads_pricing_and_freezes_the_heap_until_shutdown(
        deployment: Deployment) -> None:
    _, auth = deployment.agent()
    with deployment.client() as client:
        ctx = client.app.state.ctx  # type: ignore[attr-defined]
        assert ctx.runtime.service.pricing.books, "price books loaded before the first call"
        assert gc.get_freeze_count() > 1000
        assert client.post("/v1/receipts", json=call("a"), headers=auth).status_code == 201
    assert gc.get_freeze_count() == 0


def test_opening_an_older_database_creates_the_tables_it_lacks(deployment: Deployment) -> None:
    """A database initialised by an earlier version (no alert tables) gains them at open, so an
    upgrade needs no manual step; existing tables and rows are left as they are."""
    import sqlalchemy as sa

    from receipts.deployment.runtime import open_runtime

    engine = sa.create_engine(deployment.settings.db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE receipts_alert_outbox")
    engine.dispose()
    runtime = open_runtime(deployment.settings)
    try:
        assert sa.inspect(runtime.db.engine).has_table("receipts_alert_outbox")
    finally:
        runtime.close()
